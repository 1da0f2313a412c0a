//! Card close (issue 11 item 4): the card is marked CLOSED in the registry (the issuer's card
//! master is the source of truth, as for replace), then every live token of the card is deleted at
//! TSH with its own `updateCardState` (`DELETE` naming the token). One call per token, so a TSH
//! refusal or failure on one token, or one token still waiting for another operation (409 rule,
//! per token), never stops the others; each token gets its own outcome. Tokens already DELETED
//! (terminal) or declined are skipped and say so. Closing again retries what is left.
//!
//! Must not: change a token's state here: as for every staff action, TSH's notification carrying
//! the operation's correlation id does (`staff_actions::match_issuer_operation`).

use crate::domain::time::now_rfc3339;
use crate::domain::{AuditOutcome, CardStatus, TokenRecord, TokenState};
use crate::service::audit::{self, Actor, AuditDraft};
use crate::service::staff_actions::{self, ActionError, AnswerStatus, AuditSubject, OperationPlan};
use crate::service::Services;
use crate::store::{StoreError, TxError};
use crate::tsh_client::{new_correlation_id, CardStateAction, TshError};

/// What happened to one token of a closed card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseOutcome {
    /// `updateCardState DELETE` accepted by TSH; the token is deleted when TSH's notification
    /// confirms it (follow the operation by its correlation id).
    Sent,
    /// Already DELETED: terminal, nothing to send.
    SkippedDeleted,
    /// REQUEST_DECLINED: never provisioned, nothing to send.
    SkippedDeclined,
    /// Another operation on the token is still pending (the 409 rule): try again later.
    Conflict,
    /// TSH refused or could not be reached for this token; it is unchanged.
    Failed,
}

impl CloseOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            CloseOutcome::Sent => "sent",
            CloseOutcome::SkippedDeleted => "skipped_deleted",
            CloseOutcome::SkippedDeclined => "skipped_declined",
            CloseOutcome::Conflict => "conflict",
            CloseOutcome::Failed => "failed",
        }
    }
}

/// One token's outcome.
#[derive(Debug, Clone)]
pub struct TokenClosure {
    pub virtual_card_id: String,
    /// The token's state when the close was asked.
    pub state: TokenState,
    pub outcome: CloseOutcome,
    /// The operation sent to TSH (sent, or failed after it was recorded).
    pub correlation_id: Option<String>,
    /// Why it was not sent or failed; never card data.
    pub error: Option<String>,
}

/// The result of closing a card.
#[derive(Debug, Clone)]
pub struct CardClosure {
    pub issuer_card_ref_id: String,
    pub previous_status: CardStatus,
    pub status: CardStatus,
    pub reason_code: String,
    pub reason: Option<String>,
    pub tokens: Vec<TokenClosure>,
}

/// `POST /api/v1/cards/{ref}/close` (and the console's close): marks the card CLOSED, then asks
/// TSH to delete each live token. Refused (nothing changed) for an unknown card or without TSH.
pub async fn close_card(
    svc: &Services,
    actor: &Actor,
    issuer_card_ref_id: &str,
    reason_code: String,
    reason: Option<String>,
    answer: AnswerStatus,
) -> Result<CardClosure, ActionError> {
    let subject = AuditSubject {
        answer,
        what: "card.close",
        target: format!("card:{issuer_card_ref_id}"),
        detail: format!("action=DELETE reason_code={reason_code}"),
    };
    if staff_actions::card(svc, issuer_card_ref_id)
        .await?
        .is_none()
    {
        let error = ActionError::NotFound("card");
        return Err(staff_actions::refuse(svc, actor, &subject, error).await);
    }
    if !svc.tsh.is_configured() {
        let cid = new_correlation_id();
        let result = Err(TshError::NotConfigured);
        return Err(staff_actions::fail_before_recording(svc, actor, subject, cid, result).await);
    }
    let previous_status = mark_closed(svc, issuer_card_ref_id).await?;
    let mut tokens = Vec::new();
    for token in staff_actions::tokens_of_card(svc, issuer_card_ref_id).await? {
        let plan = DeletePlan {
            reason_code: &reason_code,
            reason: reason.as_deref(),
            answer,
        };
        tokens.push(close_token(svc, actor, &token, plan).await);
    }
    let closure = CardClosure {
        issuer_card_ref_id: issuer_card_ref_id.to_owned(),
        previous_status,
        status: CardStatus::Closed,
        reason_code,
        reason,
        tokens,
    };
    audit_closure(svc, actor, &closure, answer).await;
    Ok(closure)
}

/// Sets the card's status to CLOSED (once); the status it had.
async fn mark_closed(svc: &Services, issuer_card_ref_id: &str) -> Result<CardStatus, StoreError> {
    let reference = issuer_card_ref_id.to_owned();
    svc.store
        .write(move |tx| {
            let mut card = tx
                .card(&reference)?
                .ok_or_else(|| TxError::abort("the card vanished while it was being closed"))?;
            let previous = card.status.clone();
            if previous != CardStatus::Closed {
                card.status = CardStatus::Closed;
                card.last_modified_time = now_rfc3339();
                tx.put_card(&card)?;
            }
            Ok(previous)
        })
        .await
}

/// The parts of one token's deletion that are the same for every token of the card.
struct DeletePlan<'a> {
    reason_code: &'a str,
    reason: Option<&'a str>,
    answer: AnswerStatus,
}

/// One token: skipped when terminal or declined, else its own `updateCardState DELETE`.
async fn close_token(
    svc: &Services,
    actor: &Actor,
    token: &TokenRecord,
    plan: DeletePlan<'_>,
) -> TokenClosure {
    let vcid = token.virtual_card_id.clone();
    let skipped = match token.state {
        TokenState::Deleted => Some(CloseOutcome::SkippedDeleted),
        TokenState::RequestDeclined => Some(CloseOutcome::SkippedDeclined),
        _ => None,
    };
    let outcome = |outcome, correlation_id, error| TokenClosure {
        virtual_card_id: vcid.clone(),
        state: token.state,
        outcome,
        correlation_id,
        error,
    };
    if let Some(skipped) = skipped {
        return outcome(skipped, None, None);
    }
    let subject = AuditSubject {
        answer: plan.answer,
        what: "card.close",
        target: format!("token:{vcid}"),
        detail: format!(
            "card {} closed: action=DELETE reason_code={}",
            token.issuer_card_ref_id, plan.reason_code
        ),
    };
    let operation = OperationPlan {
        operation: "updateCardState",
        action: CardStateAction::Delete.as_str().to_owned(),
        issuer_card_ref_id: token.issuer_card_ref_id.clone(),
        virtual_card_id: Some(vcid.clone()),
        expected_virtual_card_ids: vec![vcid.clone()],
        target_state: Some(TokenState::Deleted),
        from_state: Some(token.state),
        reason_code: Some(plan.reason_code.to_owned()),
        reason: plan.reason.map(str::to_owned),
    };
    let result =
        staff_actions::run_state_change(svc, actor, subject, operation, CardStateAction::Delete)
            .await;
    match result {
        Ok(op) => outcome(CloseOutcome::Sent, Some(op.correlation_id), None),
        Err(ActionError::Conflict(message)) => outcome(CloseOutcome::Conflict, None, Some(message)),
        Err(ActionError::Tsh {
            error,
            correlation_id,
        }) => outcome(
            CloseOutcome::Failed,
            Some(correlation_id),
            Some(error.to_string()),
        ),
        Err(other) => outcome(CloseOutcome::Failed, None, Some(other.to_string())),
    }
}

/// One card-level audit entry summing the close up (each token's call has its own entry).
async fn audit_closure(svc: &Services, actor: &Actor, closure: &CardClosure, answer: AnswerStatus) {
    let count = |o: CloseOutcome| closure.tokens.iter().filter(|t| t.outcome == o).count();
    let failed = count(CloseOutcome::Failed) + count(CloseOutcome::Conflict);
    let detail = format!(
        "status {} (was {}); tokens: {} sent, {} already deleted, {} declined, {} busy, {} failed",
        closure.status.as_str(),
        closure.previous_status.as_str(),
        count(CloseOutcome::Sent),
        count(CloseOutcome::SkippedDeleted),
        count(CloseOutcome::SkippedDeclined),
        count(CloseOutcome::Conflict),
        count(CloseOutcome::Failed),
    );
    let outcome = if failed > 0 {
        AuditOutcome::Failed
    } else if count(CloseOutcome::Sent) > 0 {
        AuditOutcome::Pending
    } else {
        AuditOutcome::Succeeded
    };
    let target = format!("card:{}", closure.issuer_card_ref_id);
    let draft =
        AuditDraft::new(actor, "card.close", target, outcome, answer(Ok(()))).detail(detail);
    audit::record_or_log(&svc.store, draft).await;
}
