//! `notifyVirtualCardChange` (contract §3.4): keeps token records, their state machine and
//! transition history. Duplicates are recorded once (a keyed fingerprint of virtualCardId, action,
//! correlation id and body marks a message as seen, atomically with its effects); late messages
//! cannot undo newer states (see `domain::token::plan_notification`); `errorCode` is recorded
//! without a state change; an unknown `virtualCardId` creates the token. A notification whose
//! correlation id names one of our own TSH operations confirms it (`service::staff_actions`).

use serde_json::Value;

use super::lineage::DeathFollowup;
use super::{check_id, original_token_record, CallContext, Refusal, Services};
use crate::contract::notification::NotifyVirtualCardChangeRequest;
use crate::contract::original_token;
use crate::domain::decision::{DecisionSummary, LevelOfTrust};
use crate::domain::time::now_rfc3339;
use crate::domain::token::{plan_notification, transition_type, TokenNumberInfo};
use crate::domain::{
    Enrollment, LifecycleAction, NotificationOutcome, NotificationRef, Pan, TokenError,
    TokenRecord, TokenState, Transition,
};
use crate::store::{Tx, TxError};

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
    body: &Value,
) -> String {
    let mut material = String::new();
    for part in parts {
        material.push_str(part);
        material.push('\u{1f}');
    }
    // serde_json's map is ordered by key, so this is a canonical form of the body.
    material.push_str(&body.to_string());
    svc.fingerprints.fingerprint(kind, material.as_bytes())
}

/// The abort reason of a notification naming a known token under another card.
const TOKEN_OF_ANOTHER_CARD: &str = "the token belongs to another card";

/// Contract §3.4 (resolved): a known `virtualCardId` under another card's `issuerCardRefId` is
/// refused (119) and changes nothing, except `UPDATE`, which re-links the token (card replacement).
fn names_another_cards_token(
    existing: Option<&TokenRecord>,
    card_ref: &str,
    action: &LifecycleAction,
) -> bool {
    existing.is_some_and(|t| t.issuer_card_ref_id != card_ref) && *action != LifecycleAction::Update
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
    request: NotifyVirtualCardChangeRequest,
    body: &Value,
) -> Result<Notified, Refusal> {
    let card_ref = check_id(
        "issuerCardRefId",
        request.issuer_card_ref_id.as_deref(),
        48,
        true,
    )?
    .unwrap_or_default()
    .to_owned();
    let vcid = check_id(
        "virtualCardId",
        request.virtual_card_id.as_deref(),
        64,
        true,
    )?
    .unwrap_or_default()
    .to_owned();
    check_id(
        "walletProviderId",
        request.wallet_provider_id.as_deref(),
        64,
        true,
    )?;
    for (field, value) in [
        ("tokenStorageId", &request.token_storage_id),
        ("walletCardRefId", &request.wallet_card_ref_id),
        ("walletVirtualCardId", &request.wallet_virtual_card_id),
        (
            "primaryWalletVirtualCardId",
            &request.primary_wallet_virtual_card_id,
        ),
        ("deviceBindingReference", &request.device_binding_reference),
    ] {
        check_id(field, value.as_deref(), 128, false)?;
    }
    // `action` is optional in the contract: a notification without one is recorded and changes
    // no state (read as an unknown action).
    let action_raw = check_id("action", request.action.as_deref(), 32, false)?;
    let action = LifecycleAction::from(action_raw.unwrap_or("").to_owned());

    let lookup = card_ref.clone();
    let card_known = svc.store.read(move |r| r.card(&lookup)).await?.is_some();
    if !card_known {
        return Err(Refusal::UnknownCard);
    }

    let original = original_token_record(&svc.fingerprints, &original_token::extract(body))?;
    let token_info = original_token::token_info(body);
    let token_number = token_info
        .token_number
        .as_ref()
        .and_then(|t| Pan::parse_token(t.expose()).ok())
        .map(|t| TokenNumberInfo {
            token_fingerprint: svc.fingerprints.fingerprint("token", t.expose().as_bytes()),
            token_masked: t.masked(),
            token_last4: t.last4().to_owned(),
        });
    // The token's own reference id: how a later token-for-token request names it as original.
    let own_reference = check_id(
        "tokenInfo.tokenReferenceId",
        token_info.token_reference_id.as_deref(),
        64,
        false,
    )?
    .map(str::to_owned);
    drop(token_info);
    let dedupe = message_fingerprint(
        svc,
        "notification",
        &[&vcid, action.as_str(), &ctx.correlation_id],
        body,
    );
    let correlation_id = ctx.correlation_id.clone();
    let policy = svc.settings.token_for_token.on_original_death;

    let (outcome, followup) = svc
        .store
        .write(move |tx| {
            let now = now_rfc3339();
            if tx.mark_seen(&dedupe, &now)? {
                return Ok((NotificationOutcome::Duplicate, DeathFollowup::default()));
            }
            let existing = tx.token(&vcid)?;
            if names_another_cards_token(existing.as_ref(), &card_ref, &action) {
                // Rolls back the `mark_seen` above: a refused message changes nothing.
                return Err(TxError::abort(TOKEN_OF_ANOTHER_CARD));
            }
            let mut enrollment = tx.enrollment(&correlation_id)?;
            // A lifecycle notification carries its own correlation id; the enrolment it belongs
            // to is found through the token when the message is not part of one.
            let (initial, summary) = initial_state(tx, enrollment.as_ref())?;
            let plan = plan_notification(
                existing.as_ref().map(|t| t.state),
                &action,
                request.error_code.is_some(),
                existing
                    .as_ref()
                    .is_some_and(|t| t.activated_time.is_some()),
                initial,
            );
            let mut token = existing.clone().unwrap_or_else(|| TokenRecord {
                virtual_card_id: vcid.clone(),
                issuer_card_ref_id: card_ref.clone(),
                state: initial,
                wallet_provider_id: None,
                token_requestor: None,
                capture_method: enrollment.as_ref().and_then(|e| e.capture_method.clone()),
                token_storage_id: None,
                wallet_card_ref_id: None,
                wallet_virtual_card_id: None,
                is_primary: None,
                device_binding_reference: None,
                token_number: None,
                token_reference_id: None,
                correlation_id: enrollment.as_ref().map(|e| e.correlation_id.clone()),
                decision: summary.clone(),
                original_token: enrollment.as_ref().and_then(|e| e.original_token.clone()),
                original_virtual_card_id: None,
                original_death: None,
                last_error: None,
                activated_time: None,
                created_time: now.clone(),
                last_modified_time: now.clone(),
            });
            if token.issuer_card_ref_id != card_ref {
                // updateCard with a new issuerCardRefId moves the token to the new card.
                token.issuer_card_ref_id.clone_from(&card_ref);
            }
            let terminal_or_stale = matches!(
                plan.outcome,
                NotificationOutcome::TerminalIgnored | NotificationOutcome::StaleIgnored
            );
            if !terminal_or_stale {
                fn set<T: Clone>(slot: &mut Option<T>, value: &Option<T>) {
                    if value.is_some() {
                        slot.clone_from(value);
                    }
                }
                set(&mut token.wallet_provider_id, &request.wallet_provider_id);
                set(&mut token.token_storage_id, &request.token_storage_id);
                set(&mut token.wallet_card_ref_id, &request.wallet_card_ref_id);
                set(
                    &mut token.wallet_virtual_card_id,
                    &request.wallet_virtual_card_id,
                );
                set(&mut token.is_primary, &request.is_primary);
                set(
                    &mut token.device_binding_reference,
                    &request.device_binding_reference,
                );
                set(&mut token.token_number, &token_number);
                set(&mut token.token_reference_id, &own_reference);
                if let Some(requestor) = &request.token_requestor {
                    token.token_requestor = Some(requestor.to_domain());
                }
            }
            if let Some(original) = &original {
                token.original_token = Some(match token.original_token.take() {
                    Some(existing) => existing.merged_with(original),
                    None => original.clone(),
                });
            }
            if existing.is_none() {
                super::lineage::link_at_creation(tx, &mut token)?;
            }
            if token.decision.is_none() {
                token.decision.clone_from(&summary);
            }
            if let Some(code) = request.error_code {
                token.last_error = Some(TokenError {
                    error_code: code,
                    action: action.as_str().to_owned(),
                    correlation_id: correlation_id.clone(),
                    created_time: now.clone(),
                });
            }
            // An answer to one of our own updateCardState / updateCard calls: confirm it and
            // record the transition as the staff action it is (channel API, staff reason).
            let issuer_operation = super::staff_actions::match_issuer_operation(
                tx,
                &correlation_id,
                &vcid,
                &card_ref,
                &action,
                request.error_code,
                plan.outcome,
                &now,
            )?;
            if let Some((from, to)) = plan.transition {
                token.state = to;
                if to == TokenState::Active && token.activated_time.is_none() {
                    token.activated_time = Some(now.clone());
                }
                tx.append_transition(&Transition {
                    virtual_card_id: vcid.clone(),
                    from_state: from,
                    state: to,
                    transition_type: transition_type(from, to).to_owned(),
                    action: action.as_str().to_owned(),
                    channel: match &issuer_operation {
                        Some(_) => super::staff_actions::CHANNEL_API.to_owned(),
                        None => CHANNEL_TSP.to_owned(),
                    },
                    source: request.source.clone().map(|s| s.to_ascii_uppercase()),
                    reason_code: match &issuer_operation {
                        Some(m) => m.reason_code.clone(),
                        None => request.reason_code.clone(),
                    },
                    reason: match &issuer_operation {
                        Some(m) => m.reason.clone().or_else(|| request.reason.clone()),
                        None => request.reason.clone(),
                    },
                    correlation_id: correlation_id.clone(),
                    created_time: now.clone(),
                })?;
            }
            token.last_modified_time.clone_from(&now);
            tx.put_token(&token)?;
            // The original-death policy, for the tokens made from this one.
            let followup = match plan.transition {
                Some(change) => super::lineage::on_state_change(
                    tx,
                    &token,
                    change,
                    policy,
                    &correlation_id,
                    &now,
                )?,
                None => DeathFollowup::default(),
            };

            // Link to the enrolment: the one of this call, else the one that created the token.
            if enrollment.is_none() {
                if let Some(origin) = &token.correlation_id {
                    enrollment = tx.enrollment(origin)?;
                }
            }
            if let Some(mut enrollment) = enrollment {
                Enrollment::push_bounded(
                    &mut enrollment.notifications,
                    NotificationRef {
                        virtual_card_id: vcid.clone(),
                        action: action.as_str().to_owned(),
                        outcome: Some(plan.outcome.as_str().to_owned()),
                        error_code: request.error_code,
                        created_time: now.clone(),
                    },
                );
                if !enrollment.virtual_card_ids.contains(&vcid) {
                    Enrollment::push_bounded(&mut enrollment.virtual_card_ids, vcid.clone());
                }
                enrollment.last_modified_time.clone_from(&now);
                tx.put_enrollment(&enrollment)?;
            }
            Ok((plan.outcome, followup))
        })
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Aborted(reason) if reason == TOKEN_OF_ANOTHER_CARD => {
                Refusal::UnknownVirtualCard
            }
            other => Refusal::from(other),
        })?;
    super::lineage::count_flagged(&followup);
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
