//! Staff lifecycle actions (issue 6): token transitions in Marqeta's shape, card block / unblock /
//! replace, sent to TSH as `updateCardState` / `updateCard`. Nothing changes a token here: the
//! operation is recorded as pending under a fresh correlation id, TSH is called, and the state is
//! applied only when TSH's `notifyVirtualCardChange` carrying that correlation id arrives
//! ([`match_issuer_operation`], called by `lifecycle::notify` inside its transaction).
//!
//! Every attempt is audited: refusals (`refused`), TSH failures (`failed`), accepted calls
//! (`pending`). Must not: log card data (a new PAN only travels sealed for TSH).

use crate::domain::time::now_rfc3339;
use crate::domain::token::transition_type;
use crate::domain::{
    AuditOutcome, CardRecord, Expiry, LifecycleAction, NotificationOutcome, OperationConfirmation,
    OperationStatus, Pan, Secret, SkippedToken, TokenRecord, TokenState, TshOperation,
};
use crate::service::audit::{self, Actor, AuditDraft};
use crate::service::Services;
use crate::store::{Page, StoreError, Tx, TxError};
use crate::tsh_client::{
    new_correlation_id, CardStateAction, TshError, UpdateCard, UpdateCardStateRequest,
};

/// The state staff ask for, in Marqeta's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestedState {
    Active,
    Suspended,
    Terminated,
}

impl RequestedState {
    pub fn parse(raw: &str) -> Option<RequestedState> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "ACTIVE" => Some(RequestedState::Active),
            "SUSPENDED" => Some(RequestedState::Suspended),
            "TERMINATED" => Some(RequestedState::Terminated),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            RequestedState::Active => "ACTIVE",
            RequestedState::Suspended => "SUSPENDED",
            RequestedState::Terminated => "TERMINATED",
        }
    }
}

/// Marqeta's name for one of our token states (`DELETED` is Marqeta's `TERMINATED`).
pub fn marqeta_state(state: TokenState) -> &'static str {
    match state {
        TokenState::Deleted => "TERMINATED",
        other => other.as_str(),
    }
}

/// Marqeta's reason codes (seed 002): two digits, `00` to `21`.
pub fn is_reason_code(code: &str) -> bool {
    code.len() == 2
        && code.bytes().all(|b| b.is_ascii_digit())
        && code.parse::<u8>().is_ok_and(|n| n <= 21)
}

/// `POST /api/v1/tokentransitions`, validated.
#[derive(Debug, Clone)]
pub struct TransitionRequest {
    pub virtual_card_id: String,
    pub state: RequestedState,
    pub reason_code: String,
    pub reason: Option<String>,
}

/// `POST /api/v1/cards/{ref}/replace`, validated except for the PAN (checked here).
pub struct ReplaceRequest {
    pub pan: Option<Secret>,
    pub exp: String,
}

/// Why a staff action did not go through.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{error} (operation {correlation_id}; nothing was changed)")]
    Tsh {
        error: TshError,
        correlation_id: String,
    },
    #[error("unexpected server error")]
    Store(#[from] StoreError),
}

/// Which `updateCardState` action moves a token from `current` to `requested`, and the state it
/// enters; refuses transitions out of terminal or declined states and no-op requests.
pub fn plan_staff_transition(
    current: TokenState,
    requested: RequestedState,
) -> Result<(CardStateAction, TokenState), String> {
    use RequestedState as R;
    use TokenState as S;
    match (current, requested) {
        (S::Deleted, _) => Err(
            "the token is TERMINATED (DELETED), a terminal state: no transition out of it".into(),
        ),
        (S::RequestDeclined, _) => {
            Err("the token's request was declined (REQUEST_DECLINED): its state cannot be changed".into())
        }
        (S::Suspended, R::Active) => Ok((CardStateAction::Resume, S::Active)),
        (S::Active, R::Active) => Err("the token is already ACTIVE".into()),
        (S::Requested, R::Active) => Err(
            "a REQUESTED token becomes ACTIVE through the cardholder's activation; TSH's updateCardState cannot activate it"
                .into(),
        ),
        (S::Active | S::Requested, R::Suspended) => Ok((CardStateAction::Suspend, S::Suspended)),
        (S::Suspended, R::Suspended) => Err("the token is already SUSPENDED".into()),
        (_, R::Terminated) => Ok((CardStateAction::Delete, S::Deleted)),
    }
}

/// The parts of a `TshOperation` a use case decides; the rest is filled in by `start_operation`.
pub(super) struct OperationPlan {
    pub operation: &'static str,
    pub action: String,
    pub issuer_card_ref_id: String,
    pub virtual_card_id: Option<String>,
    pub expected_virtual_card_ids: Vec<String>,
    pub target_state: Option<TokenState>,
    pub from_state: Option<TokenState>,
    pub reason_code: Option<String>,
    pub reason: Option<String>,
}

/// The status the caller is answered with for an action's outcome (`Ok` = accepted), recorded in
/// the audit trail. Chosen by the caller's layer (`http::error::staff_action_status`), so the
/// mapping from these errors to HTTP exists once.
pub type AnswerStatus = fn(Result<(), &ActionError>) -> u16;

/// What to audit about an action, and how its answer's status is chosen.
pub(super) struct AuditSubject {
    pub what: &'static str,
    pub target: String,
    pub detail: String,
    pub answer: AnswerStatus,
}

pub(super) async fn refuse(
    svc: &Services,
    actor: &Actor,
    subject: &AuditSubject,
    error: ActionError,
) -> ActionError {
    let status = (subject.answer)(Err(&error));
    audit::record_or_log(
        &svc.store,
        AuditDraft::new(
            actor,
            subject.what,
            subject.target.clone(),
            AuditOutcome::Refused,
            status,
        )
        .detail(format!("{}; refused: {error}", subject.detail)),
    )
    .await;
    error
}

fn operation_record(
    plan: OperationPlan,
    correlation_id: &str,
    actor: &Actor,
    now: &str,
) -> TshOperation {
    TshOperation {
        correlation_id: correlation_id.to_owned(),
        operation: plan.operation.to_owned(),
        action: plan.action,
        issuer_card_ref_id: plan.issuer_card_ref_id,
        virtual_card_id: plan.virtual_card_id,
        expected_virtual_card_ids: plan.expected_virtual_card_ids,
        skipped: Vec::new(),
        target_state: plan.target_state,
        from_state: plan.from_state,
        reason_code: plan.reason_code,
        reason: plan.reason,
        requested_by: actor.name.clone(),
        status: OperationStatus::Pending,
        error: None,
        tsh_accepted_time: None,
        confirmations: Vec::new(),
        expiry: None,
        created_time: now.to_owned(),
        last_modified_time: now.to_owned(),
    }
}

/// Records TSH's answer on the operation and audits it, in one transaction.
async fn finish_operation(
    svc: &Services,
    actor: &Actor,
    subject: AuditSubject,
    correlation_id: String,
    result: Result<(), TshError>,
) -> Result<TshOperation, ActionError> {
    let answer = subject.answer;
    let draft_base = AuditDraft::new(
        actor,
        subject.what,
        subject.target,
        AuditOutcome::Pending,
        answer(Ok(())),
    )
    .correlation_id(correlation_id.clone());
    let detail = subject.detail;
    let cid = correlation_id.clone();
    let outcome = result.clone();
    let operation = svc
        .store
        .write(move |tx| {
            let now = now_rfc3339();
            let mut op = tx
                .tsh_operation(&cid)?
                .ok_or_else(|| TxError::abort("the pending operation vanished"))?;
            let mut draft = draft_base.clone();
            match &outcome {
                Ok(()) => {
                    op.tsh_accepted_time = Some(now.clone());
                    draft.outcome = match op.status {
                        // The notification may have overtaken TSH's 200.
                        OperationStatus::Confirmed => AuditOutcome::Succeeded,
                        OperationStatus::Failed => AuditOutcome::Failed,
                        OperationStatus::Pending => AuditOutcome::Pending,
                    };
                    draft = draft.detail(format!("{detail}; accepted by TSH"));
                }
                Err(e) => {
                    if op.status == OperationStatus::Pending {
                        op.status = OperationStatus::Failed;
                        op.error = Some(e.to_string());
                    }
                    draft.outcome = AuditOutcome::Failed;
                    draft.http_status = answer(Err(&ActionError::Tsh {
                        error: e.clone(),
                        correlation_id: cid.clone(),
                    }));
                    draft = draft.detail(format!("{detail}; {e}"));
                }
            }
            op.last_modified_time.clone_from(&now);
            tx.put_tsh_operation(&op)?;
            audit::append_in_tx(tx, &draft, &now)?;
            Ok(op)
        })
        .await?;
    match result {
        Ok(()) => Ok(operation),
        Err(error) => Err(ActionError::Tsh {
            error,
            correlation_id,
        }),
    }
}

/// Records the pending operation (so a fast notification finds it), then calls `updateCardState`.
pub(super) async fn run_state_change(
    svc: &Services,
    actor: &Actor,
    subject: AuditSubject,
    plan: OperationPlan,
    action: CardStateAction,
) -> Result<TshOperation, ActionError> {
    let correlation_id = new_correlation_id();
    if !svc.tsh.is_configured() {
        let result = Err(TshError::NotConfigured);
        return Err(fail_before_recording(svc, actor, subject, correlation_id, result).await);
    }
    let request = UpdateCardStateRequest {
        issuer_card_ref_id: plan.issuer_card_ref_id.clone(),
        virtual_card_id: plan.virtual_card_id.clone(),
        action,
        reason: plan.reason.clone(),
        reason_code: plan.reason_code.clone(),
    };
    let record = operation_record(plan, &correlation_id, actor, &now_rfc3339());
    // One operation at a time per token (issue 11): 409 while one of them waits for another.
    let busy = svc
        .store
        .write(move |tx| super::pending_ops::record_pending(tx, &record))
        .await?;
    if let Err(message) = busy {
        return Err(refuse(svc, actor, &subject, ActionError::Conflict(message)).await);
    }
    let result = svc.tsh.update_card_state(&correlation_id, &request).await;
    finish_operation(svc, actor, subject, correlation_id, result).await
}

/// A TSH failure known before any operation was recorded (not configured): audited, no record.
pub(super) async fn fail_before_recording(
    svc: &Services,
    actor: &Actor,
    subject: AuditSubject,
    correlation_id: String,
    result: Result<(), TshError>,
) -> ActionError {
    let error = result.err().unwrap_or(TshError::NotConfigured);
    let detail = format!("{}; {error}", subject.detail);
    let error = ActionError::Tsh {
        error,
        correlation_id,
    };
    let status = (subject.answer)(Err(&error));
    audit::record_or_log(
        &svc.store,
        AuditDraft::new(
            actor,
            subject.what,
            subject.target,
            AuditOutcome::Failed,
            status,
        )
        .detail(detail),
    )
    .await;
    error
}

/// `POST /api/v1/tokentransitions`: validates, asks TSH, answers with the pending transition.
pub async fn transition_token(
    svc: &Services,
    actor: &Actor,
    request: TransitionRequest,
    answer: AnswerStatus,
) -> Result<TshOperation, ActionError> {
    let subject = AuditSubject {
        answer,
        what: "tokentransition.create",
        target: format!("token:{}", request.virtual_card_id),
        detail: format!(
            "state={} reason_code={}",
            request.state.as_str(),
            request.reason_code
        ),
    };
    let vcid = request.virtual_card_id.clone();
    let token = match svc.store.read(move |r| r.token(&vcid)).await? {
        Some(token) => token,
        None => return Err(refuse(svc, actor, &subject, ActionError::NotFound("token")).await),
    };
    let (action, target) = match plan_staff_transition(token.state, request.state) {
        Ok(planned) => planned,
        Err(message) => {
            let error = ActionError::Conflict(format!(
                "illegal transition for token {}: {message}",
                token.virtual_card_id
            ));
            return Err(refuse(svc, actor, &subject, error).await);
        }
    };
    let plan = OperationPlan {
        operation: "updateCardState",
        action: action.as_str().to_owned(),
        issuer_card_ref_id: token.issuer_card_ref_id.clone(),
        virtual_card_id: Some(token.virtual_card_id.clone()),
        expected_virtual_card_ids: vec![token.virtual_card_id.clone()],
        target_state: Some(target),
        from_state: Some(token.state),
        reason_code: Some(request.reason_code),
        reason: request.reason,
    };
    run_state_change(svc, actor, subject, plan, action).await
}

/// Every token of a card (all pages).
pub(super) async fn tokens_of_card(
    svc: &Services,
    issuer_card_ref_id: &str,
) -> Result<Vec<TokenRecord>, StoreError> {
    let reference = issuer_card_ref_id.to_owned();
    svc.store
        .read(move |r| {
            let mut all = Vec::new();
            let mut start = 0;
            loop {
                let page = r.tokens_of_card(&reference, Page::new(start, Page::MAX_COUNT))?;
                let more = page.is_more;
                start += page.data.len();
                all.extend(page.data);
                if !more {
                    return Ok(all);
                }
            }
        })
        .await
}

pub(super) async fn card(
    svc: &Services,
    issuer_card_ref_id: &str,
) -> Result<Option<CardRecord>, StoreError> {
    let reference = issuer_card_ref_id.to_owned();
    svc.store.read(move |r| r.card(&reference)).await
}

/// Card-level suspend (`block = true`: every ACTIVE token) or resume (every SUSPENDED token) with
/// one `updateCardState` naming the card.
pub async fn block_card(
    svc: &Services,
    actor: &Actor,
    issuer_card_ref_id: &str,
    block: bool,
    reason_code: String,
    reason: Option<String>,
    answer: AnswerStatus,
) -> Result<TshOperation, ActionError> {
    let (what, action, from, to) = if block {
        (
            "card.block",
            CardStateAction::Suspend,
            TokenState::Active,
            TokenState::Suspended,
        )
    } else {
        (
            "card.unblock",
            CardStateAction::Resume,
            TokenState::Suspended,
            TokenState::Active,
        )
    };
    let subject = AuditSubject {
        answer,
        what,
        target: format!("card:{issuer_card_ref_id}"),
        detail: format!("action={} reason_code={reason_code}", action.as_str()),
    };
    if card(svc, issuer_card_ref_id).await?.is_none() {
        return Err(refuse(svc, actor, &subject, ActionError::NotFound("card")).await);
    }
    let affected: Vec<String> = tokens_of_card(svc, issuer_card_ref_id)
        .await?
        .into_iter()
        .filter(|t| t.state == from)
        .map(|t| t.virtual_card_id)
        .collect();
    if affected.is_empty() {
        let error = ActionError::Conflict(format!(
            "the card has no {} token to {}",
            from.as_str(),
            if block { "suspend" } else { "resume" }
        ));
        return Err(refuse(svc, actor, &subject, error).await);
    }
    let plan = OperationPlan {
        operation: "updateCardState",
        action: action.as_str().to_owned(),
        issuer_card_ref_id: issuer_card_ref_id.to_owned(),
        virtual_card_id: None,
        expected_virtual_card_ids: affected,
        target_state: Some(to),
        from_state: Some(from),
        reason_code: Some(reason_code),
        reason,
    };
    run_state_change(svc, actor, subject, plan, action).await
}

/// Card replace / renew: `updateCard` with the new PAN and/or expiry sealed for TSH. The card
/// registry is updated first (the issuer's card master is the source of truth; a new PAN gets its
/// own card record so the confirming notifications, which name the new `issuerCardRefId`, are
/// accepted); tokens change only when TSH's `UPDATE` notifications arrive.
pub async fn replace_card(
    svc: &Services,
    actor: &Actor,
    issuer_card_ref_id: &str,
    request: ReplaceRequest,
    answer: AnswerStatus,
) -> Result<TshOperation, ActionError> {
    let mut subject = AuditSubject {
        answer,
        what: "card.replace",
        target: format!("card:{issuer_card_ref_id}"),
        // Names what was asked, never the values: a bad `exp` could be anything, even a PAN.
        detail: format!("new_pan={} new_exp=given", request.pan.is_some()),
    };
    let (old, exp, pan) = match validate_replacement(svc, issuer_card_ref_id, &request).await {
        Ok(valid) => valid,
        Err(error) => return Err(refuse(svc, actor, &subject, error).await),
    };
    let new_card = pan
        .as_ref()
        .map(|pan| replacement_card(svc, &old, pan, exp));
    let new_reference = new_card
        .as_ref()
        .map(|c| c.issuer_card_ref_id.clone())
        .filter(|r| r != issuer_card_ref_id);
    if let Some(new_card) = &new_card {
        subject.detail = format!("{}; new card {}", subject.detail, new_card.pan_masked);
    }
    let (expected, skipped) = live_tokens(svc, issuer_card_ref_id).await?;
    let correlation_id = new_correlation_id();
    if let Some(error) = cannot_send_card_data(svc) {
        return Err(fail_before_recording(svc, actor, subject, correlation_id, Err(error)).await);
    }
    let plan = OperationPlan {
        operation: "updateCard",
        action: "UPDATE".to_owned(),
        issuer_card_ref_id: issuer_card_ref_id.to_owned(),
        virtual_card_id: None,
        expected_virtual_card_ids: expected,
        target_state: None,
        from_state: None,
        reason_code: None,
        reason: None,
    };
    let mut record = operation_record(plan, &correlation_id, actor, &now_rfc3339());
    record.skipped = skipped;
    // One operation at a time per token (issue 11): 409 while one of them waits for another.
    if let Err(message) = record_replacement(svc, issuer_card_ref_id, new_card, exp, record).await?
    {
        return Err(refuse(svc, actor, &subject, ActionError::Conflict(message)).await);
    }
    let update = UpdateCard {
        issuer_card_ref_id: issuer_card_ref_id.to_owned(),
        new_issuer_card_ref_id: new_reference,
        old_exp: Some(old.exp.mmyy()),
        new_pan: pan.as_ref().map(|p| p.expose()),
        new_exp: exp.mmyy(),
    };
    let result = svc.tsh.update_card(&correlation_id, &update).await;
    drop(update);
    finish_operation(svc, actor, subject, correlation_id, result).await
}

/// The card being replaced, and the new expiry and PAN, or why the request is refused.
async fn validate_replacement(
    svc: &Services,
    issuer_card_ref_id: &str,
    request: &ReplaceRequest,
) -> Result<(CardRecord, Expiry, Option<Pan>), ActionError> {
    let old = card(svc, issuer_card_ref_id)
        .await?
        .ok_or(ActionError::NotFound("card"))?;
    let exp =
        Expiry::parse_mmyy(&request.exp).map_err(|e| ActionError::Invalid(format!("exp: {e}")))?;
    let pan = match request.pan.as_ref().map(|p| Pan::parse(p.expose())) {
        None => None,
        Some(Ok(pan)) => Some(pan),
        Some(Err(e)) => return Err(ActionError::Invalid(format!("pan: {e}"))),
    };
    Ok((old, exp, pan))
}

/// The registry record of a new PAN: fingerprinted and masked, the rest taken from the old card.
fn replacement_card(svc: &Services, old: &CardRecord, pan: &Pan, exp: Expiry) -> CardRecord {
    let now = now_rfc3339();
    CardRecord {
        issuer_card_ref_id: svc.fingerprints.issuer_card_ref_id(pan.expose()),
        pan_fingerprint: svc.fingerprints.fingerprint("pan", pan.expose().as_bytes()),
        pan_masked: pan.masked(),
        bin: pan.bin().to_owned(),
        last4: pan.last4().to_owned(),
        exp,
        status: old.status.clone(),
        product_id: old.product_id.clone(),
        cardholder_name: old.cardholder_name.clone(),
        phone: old.phone.clone(),
        email: old.email.clone(),
        created_time: now.clone(),
        last_modified_time: now,
    }
}

/// The card's tokens TSH is expected to update (neither terminal nor declined), and the others.
async fn live_tokens(
    svc: &Services,
    issuer_card_ref_id: &str,
) -> Result<(Vec<String>, Vec<SkippedToken>), StoreError> {
    let (live, left_out): (Vec<TokenRecord>, Vec<TokenRecord>) =
        tokens_of_card(svc, issuer_card_ref_id)
            .await?
            .into_iter()
            .partition(|t| !t.state.is_terminal() && t.state != TokenState::RequestDeclined);
    let skipped = left_out
        .into_iter()
        .map(|t| SkippedToken {
            virtual_card_id: t.virtual_card_id,
            state: t.state,
        })
        .collect();
    Ok((
        live.into_iter().map(|t| t.virtual_card_id).collect(),
        skipped,
    ))
}

/// Why card data cannot be sent to TSH now, if it cannot.
fn cannot_send_card_data(svc: &Services) -> Option<TshError> {
    if !svc.tsh.is_configured() {
        Some(TshError::NotConfigured)
    } else if !svc.tsh.can_encrypt() {
        Some(TshError::NoEncryptionCert)
    } else {
        None
    }
}

/// Writes the new card (or the old card's new expiry) and the pending operation, together;
/// `Ok(Err(message))` writes nothing: a token of the card waits for another operation.
async fn record_replacement(
    svc: &Services,
    old_reference: &str,
    new_card: Option<CardRecord>,
    exp: Expiry,
    operation: TshOperation,
) -> Result<Result<(), String>, StoreError> {
    let old_reference = old_reference.to_owned();
    svc.store
        .write(move |tx| {
            if let Some(message) =
                super::pending_ops::blocking_operation(tx, &operation.expected_virtual_card_ids)?
            {
                return Ok(Err(message));
            }
            let now = now_rfc3339();
            match &new_card {
                Some(card) if card.issuer_card_ref_id != old_reference => {
                    let mut card = card.clone();
                    if let Some(existing) = tx.card(&card.issuer_card_ref_id)? {
                        card.created_time = existing.created_time;
                    }
                    tx.put_card(&card)?;
                }
                _ => {
                    if let Some(mut current) = tx.card(&old_reference)? {
                        if current.exp != exp {
                            current.exp = exp;
                            current.last_modified_time.clone_from(&now);
                            tx.put_card(&current)?;
                        }
                    }
                }
            }
            super::pending_ops::mark_pending(tx, &operation)?;
            Ok::<_, TxError>(Ok(()))
        })
        .await
}

/// What `notifyVirtualCardChange` needs to know when it answers an issuer-initiated operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerOperationMatch {
    pub reason_code: Option<String>,
    pub reason: Option<String>,
}

/// Channel of transitions confirmed for staff actions (Marqeta's `API`).
pub const CHANNEL_API: &str = "API";

/// Inside the notification's transaction: when `correlation_id` names an issuer-initiated
/// operation covering this token, records the confirmation (pending → confirmed / failed) and
/// returns the staff reason to put on the transition.
#[allow(clippy::too_many_arguments)]
pub fn match_issuer_operation(
    tx: &dyn Tx,
    correlation_id: &str,
    virtual_card_id: &str,
    issuer_card_ref_id: &str,
    action: &LifecycleAction,
    error_code: Option<i64>,
    outcome: NotificationOutcome,
    now: &str,
) -> Result<Option<IssuerOperationMatch>, TxError> {
    let Some(mut operation) = tx.tsh_operation(correlation_id)? else {
        return Ok(None);
    };
    if !operation.covers(virtual_card_id, issuer_card_ref_id) {
        return Ok(None);
    }
    operation.confirm(OperationConfirmation {
        virtual_card_id: virtual_card_id.to_owned(),
        action: action.as_str().to_owned(),
        outcome: outcome.as_str().to_owned(),
        error_code,
        created_time: now.to_owned(),
    });
    operation.last_modified_time = now.to_owned();
    tx.put_tsh_operation(&operation)?;
    Ok(Some(IssuerOperationMatch {
        reason_code: operation.reason_code,
        reason: operation.reason,
    }))
}

/// The Marqeta `type` a pending operation will record when confirmed.
pub fn pending_type(operation: &TshOperation) -> Option<&'static str> {
    operation
        .target_state
        .map(|to| transition_type(operation.from_state, to))
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequestedState as R;
    use TokenState as S;

    #[test]
    fn staff_transitions_follow_the_state_machine() {
        let rows = [
            (
                "suspend an active token",
                S::Active,
                R::Suspended,
                Some((CardStateAction::Suspend, S::Suspended)),
            ),
            (
                "resume a suspended token",
                S::Suspended,
                R::Active,
                Some((CardStateAction::Resume, S::Active)),
            ),
            (
                "terminate a suspended token",
                S::Suspended,
                R::Terminated,
                Some((CardStateAction::Delete, S::Deleted)),
            ),
            (
                "terminate a requested token",
                S::Requested,
                R::Terminated,
                Some((CardStateAction::Delete, S::Deleted)),
            ),
            ("nothing leaves DELETED", S::Deleted, R::Active, None),
            (
                "DELETED cannot be terminated again",
                S::Deleted,
                R::Terminated,
                None,
            ),
            (
                "declined tokens stay declined",
                S::RequestDeclined,
                R::Active,
                None,
            ),
            ("already active", S::Active, R::Active, None),
            ("already suspended", S::Suspended, R::Suspended, None),
            (
                "requested cannot be activated by the issuer",
                S::Requested,
                R::Active,
                None,
            ),
        ];
        for (name, current, requested, expected) in rows {
            assert_eq!(
                plan_staff_transition(current, requested).ok(),
                expected,
                "case: {name}"
            );
        }
    }

    #[test]
    fn reason_codes_are_marqetas_two_digit_list() {
        for ok in ["00", "06", "15", "21"] {
            assert!(is_reason_code(ok), "{ok}");
        }
        for bad in ["", "0", "22", "99", "1a", "001", " 1"] {
            assert!(!is_reason_code(bad), "{bad:?}");
        }
    }
}
