//! TSH's word on one token, applied inside a transaction: the one place where our state moves
//! to the state TSH reports (reconciliation, stale-event checks, expired issuer operations).
//!
//! The change is a transition with channel `SYSTEM` and source `reconciliation`; a token TSH
//! knows and we do not is created in TSH's state; a DELETED token is never revived, whatever TSH
//! says (`domain::token_sync::take_tsh_state`). Must not call TSH (callers bring its answer).

use crate::domain::lineage::OnOriginalDeath;
use crate::domain::time::now_rfc3339;
use crate::domain::token::transition_type;
use crate::domain::token_sync::take_tsh_state;
use crate::domain::{TokenRecord, TokenState, Transition};
use crate::service::lineage::{self, DeathFollowup};
use crate::store::{Tx, TxError};

/// Channel of transitions the service makes on its own (Marqeta's `SYSTEM`).
pub const CHANNEL_SYSTEM: &str = "SYSTEM";
/// Source of every transition taken from TSH's answer.
pub const SOURCE_RECONCILIATION: &str = "reconciliation";

/// What TSH said, and why we asked.
#[derive(Debug, Clone)]
pub struct TshWord {
    pub virtual_card_id: String,
    pub issuer_card_ref_id: String,
    pub state: TokenState,
    /// Transition `action` (`RECONCILE`, `STALE_CHECK`, `EXPIRED_OPERATION`).
    pub action: &'static str,
    pub reason: String,
    /// Staff reason code carried over (an expired staff operation settled by TSH).
    pub reason_code: Option<String>,
    /// The `x-correlation-id` of the call that asked TSH.
    pub correlation_id: String,
    pub wallet_provider_id: Option<String>,
}

/// What applying it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Our state already was TSH's.
    Unchanged,
    Moved {
        from: TokenState,
        to: TokenState,
    },
    /// We did not know the token: created in TSH's state.
    Created(TokenState),
    /// Ours is DELETED, TSH says otherwise: kept deleted.
    KeptDeleted,
}

/// Applies TSH's state to the token (creating it under `issuer_card_ref_id` if unknown), and
/// runs the original-death policy on the change like any other state change
/// (`service::lineage::on_state_change`); the caller completes the follow-up after the commit.
pub fn apply(
    tx: &dyn Tx,
    word: &TshWord,
    policy: OnOriginalDeath,
) -> Result<(Settlement, DeathFollowup), TxError> {
    let now = now_rfc3339();
    let (mut token, from) = match tx.token(&word.virtual_card_id)? {
        Some(token) => {
            let Some(to) = take_tsh_state(token.state, word.state) else {
                let settled = if token.state.is_terminal() && word.state != token.state {
                    Settlement::KeptDeleted
                } else {
                    Settlement::Unchanged
                };
                return Ok((settled, DeathFollowup::default()));
            };
            let from = token.state;
            let mut token = token;
            token.state = to;
            (token, Some(from))
        }
        None => (new_token(word, &now), None),
    };
    if token.state == TokenState::Active && token.activated_time.is_none() {
        token.activated_time = Some(now.clone());
    }
    token.last_modified_time.clone_from(&now);
    tx.append_transition(&Transition {
        virtual_card_id: word.virtual_card_id.clone(),
        from_state: from,
        state: word.state,
        transition_type: transition_type(from, word.state).to_owned(),
        action: word.action.to_owned(),
        channel: CHANNEL_SYSTEM.to_owned(),
        source: Some(SOURCE_RECONCILIATION.to_owned()),
        reason_code: word.reason_code.clone(),
        reason: Some(word.reason.clone()),
        correlation_id: word.correlation_id.clone(),
        created_time: now,
    })?;
    tx.put_token(&token)?;
    let followup = lineage::on_state_change(
        tx,
        &token,
        (from, word.state),
        policy,
        &word.correlation_id,
        &token.last_modified_time,
    )?;
    let settled = match from {
        Some(from) => Settlement::Moved {
            from,
            to: word.state,
        },
        None => Settlement::Created(word.state),
    };
    Ok((settled, followup))
}

/// After the transaction committed: counts what the policy flagged and suspends through TSH what
/// it asked to (the same follow-up a notification runs); `answer` gives the audit trail its status.
pub async fn complete_followup(
    svc: &super::Services,
    followup: DeathFollowup,
    answer: super::staff_actions::AnswerStatus,
) {
    lineage::count_flagged(&followup);
    if !followup.suspend.is_empty() {
        lineage::suspend_descendants(svc, followup, answer).await;
    }
}

/// A token learnt from TSH: its identifiers and state, nothing else is known yet.
fn new_token(word: &TshWord, now: &str) -> TokenRecord {
    TokenRecord {
        virtual_card_id: word.virtual_card_id.clone(),
        issuer_card_ref_id: word.issuer_card_ref_id.clone(),
        state: word.state,
        wallet_provider_id: word.wallet_provider_id.clone(),
        token_requestor: None,
        capture_method: None,
        token_storage_id: None,
        wallet_card_ref_id: None,
        wallet_virtual_card_id: None,
        is_primary: None,
        device_binding_reference: None,
        token_number: None,
        correlation_id: None,
        decision: None,
        original_token: None,
        token_reference_id: None,
        original_virtual_card_id: None,
        original_death: None,
        last_error: None,
        activated_time: None,
        created_time: now.to_owned(),
        last_modified_time: now.to_owned(),
    }
}
