//! `notifyVirtualCardChange` (contract §3.4): keeps token records, their state machine and
//! transition history. Duplicates are recorded once (a keyed fingerprint of virtualCardId, action,
//! correlation id and body marks a message as seen, atomically with its effects); late messages
//! cannot undo newer states (see `domain::token::plan_notification`); `errorCode` is recorded
//! without a state change; an unknown `virtualCardId` creates the token. A notification whose
//! correlation id names one of our own TSH operations confirms it (`service::staff_actions`).
//!
//! Steps: check the card is known → fingerprint the token numbers → in one transaction: skip a
//! duplicate, plan the change, update (or create) the token, confirm our own operation, record the
//! transition, link the enrolment.

use super::lineage::{self, DeathFollowup};
use super::staff_actions::{match_issuer_operation, IssuerOperationMatch, CHANNEL_API};
use super::state_checks::{screen, ScreenContext, Screened};
use super::{original_token_record, CallContext, Refusal, Services};
use crate::domain::callbacks::{MessageBody, NotificationInput};
use crate::domain::decision::{DecisionSummary, LevelOfTrust};
use crate::domain::lineage::OnOriginalDeath;
use crate::domain::time::now_rfc3339;
use crate::domain::token::{plan_notification, transition_type, StatePlan, TokenNumberInfo};
use crate::domain::{
    Enrollment, LifecycleAction, NotificationOutcome, NotificationRef, OriginalToken, Pan, Secret,
    TokenError, TokenRecord, TokenState, Transition,
};
use crate::store::{StoreError, Tx, TxError};

/// Channel name for changes reported by TSH (Marqeta's `TOKEN_SERVICE_PROVIDER`).
pub const CHANNEL_TSP: &str = "TOKEN_SERVICE_PROVIDER";

/// The state an unknown token starts in when nothing names one: declined if the enrolment's last
/// decision was red, else requested.
pub(crate) fn initial_state(
    tx: &dyn Tx,
    enrollment: Option<&Enrollment>,
) -> Result<(TokenState, Option<DecisionSummary>), TxError> {
    let Some(last) = enrollment.and_then(|e| e.decision_ids.last()) else {
        return Ok((TokenState::Requested, None));
    };
    let decision = tx.decision(last)?;
    let summary = decision.as_ref().map(DecisionSummary::from);
    let state = match decision.map(|d| d.level_of_trust) {
        Some(LevelOfTrust::Red) => TokenState::RequestDeclined,
        _ => TokenState::Requested,
    };
    Ok((state, summary))
}

/// A keyed fingerprint identifying one message, for duplicate detection.
pub(crate) fn message_fingerprint(
    svc: &Services,
    kind: &str,
    parts: &[&str],
    body: &MessageBody,
) -> String {
    let mut material = String::new();
    for part in parts {
        material.push_str(part);
        material.push('\u{1f}');
    }
    material.push_str(body.0.expose());
    svc.fingerprints.fingerprint(kind, material.as_bytes())
}

/// One notification, ready to apply inside a transaction.
struct Change {
    input: NotificationInput,
    correlation_id: String,
    original: Option<OriginalToken>,
    token_number: Option<TokenNumberInfo>,
    dedupe: String,
    /// `token_for_token.on_original_death`.
    policy: OnOriginalDeath,
    /// How suspect notifications are screened (issue 11).
    screen: ScreenContext,
}

/// What a notification did, and the original-death policy's follow-up: tokens to suspend through
/// TSH, which the HTTP layer starts once TSH has its answer.
#[derive(Debug)]
pub struct Notified {
    pub outcome: NotificationOutcome,
    pub lineage: DeathFollowup,
}

pub async fn notify(
    svc: &Services,
    ctx: &CallContext,
    input: NotificationInput,
) -> Result<Notified, Refusal> {
    let lookup = input.card_ref.as_str().to_owned();
    if svc.store.lookup(move |r| r.card(&lookup)).await?.is_none() {
        return Err(Refusal::UnknownCard);
    }
    let dedupe = message_fingerprint(
        svc,
        "notification",
        &[
            input.virtual_card_id.as_str(),
            input.action.as_str(),
            &ctx.correlation_id,
        ],
        &input.message,
    );
    let change = Change {
        original: original_token_record(&svc.fingerprints, &input.original_token),
        token_number: token_number_info(svc, input.token_number.as_ref()),
        correlation_id: ctx.correlation_id.clone(),
        dedupe,
        policy: svc.settings.token_for_token.on_original_death,
        screen: ScreenContext {
            window_secs: svc.settings.lifecycle.resume_suspend_window_secs,
            tsh_configured: svc.tsh.is_configured(),
        },
        input,
    };
    let (outcome, followup) = svc
        .store
        .write(move |tx| apply(tx, &change))
        .await
        .map_err(|e| match e {
            StoreError::Aborted(reason) if reason == TOKEN_OF_ANOTHER_CARD => {
                Refusal::UnknownVirtualCard
            }
            other => Refusal::from(other),
        })?;
    lineage::count_flagged(&followup);
    tracing::info!(
        outcome = outcome.as_str(),
        flagged_descendants = followup.flagged.len(),
        "notification recorded"
    );
    Ok(Notified {
        outcome,
        lineage: followup,
    })
}

/// The abort reason of a notification naming a known token under another card.
const TOKEN_OF_ANOTHER_CARD: &str = "the token belongs to another card";

/// Contract §3.4 (resolved): a known `virtualCardId` under another card's `issuerCardRefId` is
/// refused (119) and changes nothing, except `UPDATE`, which re-links the token (card replacement).
fn names_another_cards_token(existing: Option<&TokenRecord>, input: &NotificationInput) -> bool {
    existing.is_some_and(|t| t.issuer_card_ref_id != input.card_ref.as_str())
        && input.action != LifecycleAction::Update
}

/// The token's own number, fingerprinted and masked; the number itself is not kept.
fn token_number_info(svc: &Services, number: Option<&Secret>) -> Option<TokenNumberInfo> {
    let token = Pan::parse_token(number?.expose()).ok()?;
    Some(TokenNumberInfo {
        token_fingerprint: svc
            .fingerprints
            .fingerprint("token", token.expose().as_bytes()),
        token_masked: token.masked(),
        token_last4: token.last4().to_owned(),
    })
}

fn apply(tx: &dyn Tx, change: &Change) -> Result<(NotificationOutcome, DeathFollowup), TxError> {
    let now = now_rfc3339();
    if tx.mark_seen(&change.dedupe, &now)? {
        return Ok((NotificationOutcome::Duplicate, DeathFollowup::default()));
    }
    let input = &change.input;
    let existing = tx.token(input.virtual_card_id.as_str())?;
    if names_another_cards_token(existing.as_ref(), input) {
        // Rolls back the `mark_seen` above: a refused message changes nothing.
        return Err(TxError::abort(TOKEN_OF_ANOTHER_CARD));
    }
    // A lifecycle notification carries its own correlation id; the enrolment it belongs to is
    // found through the token when the message is not part of one.
    let enrollment = tx.enrollment(&change.correlation_id)?;
    let (initial, summary) = initial_state(tx, enrollment.as_ref())?;
    let plan = plan_notification(
        existing.as_ref().map(|t| t.state),
        &input.action,
        input.error_code.is_some(),
        existing
            .as_ref()
            .is_some_and(|t| t.activated_time.is_some()),
        initial,
    );
    // Issue 11: a notification contradicting recent history waits for TSH's word.
    let plan = screen(
        tx,
        change.screen,
        existing.as_ref(),
        &Screened {
            virtual_card_id: input.virtual_card_id.as_str(),
            issuer_card_ref_id: input.card_ref.as_str(),
            action: &input.action,
            source: input.source.clone().map(|s| s.to_ascii_uppercase()),
            correlation_id: &change.correlation_id,
            has_error: input.error_code.is_some(),
            now: &now,
        },
        plan,
    )?;
    let is_new = existing.is_none();
    let mut token = existing
        .unwrap_or_else(|| new_token(change, enrollment.as_ref(), initial, summary.clone(), &now));
    update_token(&mut token, change, &plan, summary, &now);
    if is_new {
        lineage::link_at_creation(tx, &mut token)?;
    }
    // An answer to one of our own updateCardState / updateCard calls: confirm it and record the
    // transition as the staff action it is (channel API, staff reason).
    let issuer_operation = match_issuer_operation(
        tx,
        &change.correlation_id,
        input.virtual_card_id.as_str(),
        input.card_ref.as_str(),
        &input.action,
        input.error_code,
        plan.outcome,
        &now,
    )?;
    if let Some((from, to)) = plan.transition {
        record_transition(tx, &mut token, change, (from, to), issuer_operation, &now)?;
    }
    token.last_modified_time.clone_from(&now);
    tx.put_token(&token)?;
    // The original-death policy, for the tokens made from this one.
    let followup = match plan.transition {
        Some(entered) => lineage::on_state_change(
            tx,
            &token,
            entered,
            change.policy,
            &change.correlation_id,
            &now,
        )?,
        None => DeathFollowup::default(),
    };
    link_enrollment(tx, enrollment, &token, change, plan.outcome, &now)?;
    Ok((plan.outcome, followup))
}

/// A token first heard of through this notification.
fn new_token(
    change: &Change,
    enrollment: Option<&Enrollment>,
    initial: TokenState,
    summary: Option<DecisionSummary>,
    now: &str,
) -> TokenRecord {
    TokenRecord {
        virtual_card_id: change.input.virtual_card_id.to_string(),
        issuer_card_ref_id: change.input.card_ref.to_string(),
        state: initial,
        wallet_provider_id: None,
        token_requestor: None,
        capture_method: enrollment.and_then(|e| e.capture_method.clone()),
        token_storage_id: None,
        wallet_card_ref_id: None,
        wallet_virtual_card_id: None,
        is_primary: None,
        device_binding_reference: None,
        token_number: None,
        token_reference_id: None,
        correlation_id: enrollment.map(|e| e.correlation_id.clone()),
        decision: summary,
        original_token: enrollment.and_then(|e| e.original_token.clone()),
        original_virtual_card_id: None,
        original_death: None,
        last_error: None,
        activated_time: None,
        created_time: now.to_owned(),
        last_modified_time: now.to_owned(),
    }
}

/// What the notification tells about the token, except its state. A terminal or stale message
/// changes none of the wallet attributes.
fn update_token(
    token: &mut TokenRecord,
    change: &Change,
    plan: &StatePlan,
    summary: Option<DecisionSummary>,
    now: &str,
) {
    let input = &change.input;
    if token.issuer_card_ref_id != input.card_ref.as_str() {
        // updateCard with a new issuerCardRefId moves the token to the new card (any other action
        // naming another card's token was refused).
        token.issuer_card_ref_id = input.card_ref.to_string();
    }
    let terminal_or_stale = matches!(
        plan.outcome,
        NotificationOutcome::TerminalIgnored
            | NotificationOutcome::StaleIgnored
            | NotificationOutcome::HeldForCheck
    );
    if !terminal_or_stale {
        update_wallet_attributes(token, change);
    }
    OriginalToken::merge_into(&mut token.original_token, change.original.as_ref());
    if token.decision.is_none() {
        token.decision = summary;
    }
    if let Some(code) = input.error_code {
        token.last_error = Some(TokenError {
            error_code: code,
            action: input.action.as_str().to_owned(),
            correlation_id: change.correlation_id.clone(),
            created_time: now.to_owned(),
        });
    }
}

/// Each attribute the notification carries replaces the recorded one.
fn update_wallet_attributes(token: &mut TokenRecord, change: &Change) {
    fn set(slot: &mut Option<String>, value: Option<&impl ToString>) {
        if let Some(value) = value {
            *slot = Some(value.to_string());
        }
    }
    let (input, wallet) = (&change.input, &change.input.wallet);
    set(
        &mut token.wallet_provider_id,
        Some(&input.wallet_provider_id),
    );
    set(
        &mut token.token_storage_id,
        wallet.token_storage_id.as_ref(),
    );
    set(
        &mut token.wallet_card_ref_id,
        wallet.wallet_card_ref_id.as_ref(),
    );
    set(
        &mut token.wallet_virtual_card_id,
        wallet.wallet_virtual_card_id.as_ref(),
    );
    set(
        &mut token.device_binding_reference,
        wallet.device_binding_reference.as_ref(),
    );
    if wallet.is_primary.is_some() {
        token.is_primary = wallet.is_primary;
    }
    if change.token_number.is_some() {
        token.token_number.clone_from(&change.token_number);
    }
    if input.token_reference_id.is_some() {
        token
            .token_reference_id
            .clone_from(&input.token_reference_id);
    }
    if input.token_requestor.is_some() {
        token.token_requestor.clone_from(&input.token_requestor);
    }
}

/// Moves the token to its new state and appends the transition; a confirmation of our own
/// operation carries the staff member's reason and the `API` channel.
fn record_transition(
    tx: &dyn Tx,
    token: &mut TokenRecord,
    change: &Change,
    (from, to): (Option<TokenState>, TokenState),
    issuer_operation: Option<IssuerOperationMatch>,
    now: &str,
) -> Result<(), TxError> {
    let input = &change.input;
    token.state = to;
    if to == TokenState::Active && token.activated_time.is_none() {
        token.activated_time = Some(now.to_owned());
    }
    let (channel, reason_code, reason) = match issuer_operation {
        Some(m) => (
            CHANNEL_API,
            m.reason_code,
            m.reason.or_else(|| input.reason.clone()),
        ),
        None => (CHANNEL_TSP, input.reason_code.clone(), input.reason.clone()),
    };
    tx.append_transition(&Transition {
        virtual_card_id: input.virtual_card_id.to_string(),
        from_state: from,
        state: to,
        transition_type: transition_type(from, to).to_owned(),
        action: input.action.as_str().to_owned(),
        channel: channel.to_owned(),
        source: input.source.clone().map(|s| s.to_ascii_uppercase()),
        reason_code,
        reason,
        correlation_id: change.correlation_id.clone(),
        created_time: now.to_owned(),
    })
}

/// Links the notification to the enrolment: the one of this call, else the one that created the
/// token.
fn link_enrollment(
    tx: &dyn Tx,
    enrollment: Option<Enrollment>,
    token: &TokenRecord,
    change: &Change,
    outcome: NotificationOutcome,
    now: &str,
) -> Result<(), TxError> {
    let enrollment = match (enrollment, &token.correlation_id) {
        (Some(enrollment), _) => Some(enrollment),
        (None, Some(origin)) => tx.enrollment(origin)?,
        (None, None) => None,
    };
    let Some(mut enrollment) = enrollment else {
        return Ok(());
    };
    let vcid = change.input.virtual_card_id.to_string();
    Enrollment::push_bounded(
        &mut enrollment.notifications,
        NotificationRef {
            virtual_card_id: vcid.clone(),
            action: change.input.action.as_str().to_owned(),
            outcome: Some(outcome.as_str().to_owned()),
            error_code: change.input.error_code,
            created_time: now.to_owned(),
        },
    );
    if !enrollment.virtual_card_ids.contains(&vcid) {
        Enrollment::push_bounded(&mut enrollment.virtual_card_ids, vcid);
    }
    enrollment.last_modified_time = now.to_owned();
    tx.put_enrollment(&enrollment)
}
