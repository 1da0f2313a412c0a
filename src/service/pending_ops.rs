//! Issuer operations that finish (issue 11). One operation at a time per token: recording a new
//! `updateCardState` / `updateCard` is refused (409) while one of its tokens waits for another
//! ([`blocking_operation`], [`mark_pending`], inside the transaction that records it). And an
//! operation still PENDING after `lifecycle.pending_timeout_secs` — TSH never notified — is
//! settled by asking TSH's `getTokenInfo` for each token that did not answer ([`settle_expired`],
//! on the background worker): a token at the asked state confirms it, any other state fails it,
//! and our token takes TSH's state either way.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::domain::lineage::OnOriginalDeath;
use crate::domain::time::{now_rfc3339, parse_rfc3339};
use crate::domain::token_sync::state_from_tsh;
use crate::domain::{
    OperationConfirmation, OperationExpiry, OperationStatus, TokenState, TokenSync, TshOperation,
};
use crate::service::lineage::DeathFollowup;
use crate::service::staff_actions::AnswerStatus;
use crate::service::tsh_word::{self, TshWord};
use crate::service::Services;
use crate::store::{StoreError, Tx, TxError};
use crate::tsh_client::new_correlation_id;

/// Pending operations looked at per worker round.
const BATCH: usize = 100;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Inside a transaction: the message refusing a new operation on these tokens, when one of them
/// still waits for another operation.
pub fn blocking_operation(
    tx: &dyn Tx,
    virtual_card_ids: &[String],
) -> Result<Option<String>, TxError> {
    for vcid in virtual_card_ids {
        let Some(cid) = tx.token_sync(vcid)?.and_then(|s| s.pending_operation) else {
            continue;
        };
        if let Some(op) = tx.tsh_operation(&cid)? {
            if op.status == OperationStatus::Pending {
                return Ok(Some(format!(
                    "token {vcid} is waiting for operation {cid} ({} {}, since {}): try again once it is confirmed, failed or expired",
                    op.operation, op.action, op.created_time
                )));
            }
        }
    }
    Ok(None)
}

/// Inside the same transaction: records the operation and marks each of its tokens as waiting.
pub fn mark_pending(tx: &dyn Tx, operation: &TshOperation) -> Result<(), TxError> {
    tx.put_tsh_operation(operation)?;
    for vcid in &operation.expected_virtual_card_ids {
        let mut sync = tx.token_sync(vcid)?.unwrap_or_else(|| TokenSync::new(vcid));
        sync.pending_operation = Some(operation.correlation_id.clone());
        tx.put_token_sync(&sync)?;
    }
    Ok(())
}

/// Records a new operation unless a token is busy: `Ok(Err(message))` when refused.
pub fn record_pending(
    tx: &dyn Tx,
    operation: &TshOperation,
) -> Result<Result<(), String>, TxError> {
    if let Some(message) = blocking_operation(tx, &operation.expected_virtual_card_ids)? {
        return Ok(Err(message));
    }
    mark_pending(tx, operation)?;
    Ok(Ok(()))
}

fn is_due(op: &TshOperation, timeout_secs: u64, now_unix: i64, now_ms: u64) -> bool {
    let expired = parse_rfc3339(&op.created_time)
        .is_some_and(|t| now_unix - t.unix_timestamp() >= timeout_secs as i64);
    expired
        && op
            .expiry
            .as_ref()
            .is_none_or(|e| e.next_attempt_at_ms <= now_ms)
}

/// Settles every expired pending operation (bounded batch); returns how many were looked at.
pub async fn settle_expired(svc: &Services, answer: AnswerStatus) -> Result<usize, StoreError> {
    let timeout = svc.settings.lifecycle.pending_timeout_secs;
    let now_unix = time::OffsetDateTime::now_utc().unix_timestamp();
    let now = now_ms();
    let due: Vec<TshOperation> = svc
        .store
        .read(|r| r.pending_tsh_operations(BATCH))
        .await?
        .into_iter()
        .filter(|op| is_due(op, timeout, now_unix, now))
        .collect();
    for op in &due {
        settle(svc, op, answer).await?;
    }
    Ok(due.len())
}

/// TSH's answer for one token: (vcid, status as written, card reference, wallet).
type Answer = (String, String, Option<String>, Option<String>);

/// The tokens that have not confirmed the operation yet.
fn unanswered(op: &TshOperation) -> Vec<String> {
    op.expected_virtual_card_ids
        .iter()
        .filter(|v| {
            !op.confirmations
                .iter()
                .any(|c| &c.virtual_card_id == *v && c.error_code.is_none())
        })
        .cloned()
        .collect()
}

/// Asks TSH about every unanswered token, then records the settlement (or the failed round).
async fn settle(svc: &Services, op: &TshOperation, answer: AnswerStatus) -> Result<(), StoreError> {
    let correlation_id = new_correlation_id();
    let mut answers: Vec<Answer> = Vec::new();
    let mut failure = None;
    for vcid in unanswered(op) {
        let lookup = vcid.clone();
        let card = svc
            .store
            .read(move |r| r.token(&lookup))
            .await?
            .map_or_else(|| op.issuer_card_ref_id.clone(), |t| t.issuer_card_ref_id);
        match svc.tsh.get_token_info(&correlation_id, &card, &vcid).await {
            Ok(info) => answers.push((
                vcid,
                info.status.unwrap_or_default(),
                info.issuer_card_ref_id,
                info.wallet_provider_id,
            )),
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        }
    }
    let cid = op.correlation_id.clone();
    let timeout = svc.settings.lifecycle.pending_timeout_secs;
    let policy = svc.settings.token_for_token.on_original_death;
    let result = svc
        .store
        .write(move |tx| {
            let Some(mut op) = tx.tsh_operation(&cid)? else {
                return Ok(None);
            };
            if op.status != OperationStatus::Pending {
                return Ok(None);
            }
            let now = now_rfc3339();
            let expiry = op.expiry.get_or_insert_with(|| OperationExpiry {
                expired_time: now.clone(),
                attempts: 0,
                next_attempt_at_ms: 0,
                last_error: None,
                settled_time: None,
            });
            let outcome = match &failure {
                Some(error) => {
                    expiry.attempts += 1;
                    expiry.last_error = Some(error.clone());
                    let pause = 1000u64 << expiry.attempts.min(6);
                    expiry.next_attempt_at_ms = now_ms() + pause;
                    ("tsh_unavailable", DeathFollowup::default())
                }
                None => apply_answers(tx, &mut op, &answers, &correlation_id, timeout, policy)?,
            };
            op.last_modified_time = now;
            tx.put_tsh_operation(&op)?;
            Ok(Some(outcome))
        })
        .await?;
    if let Some((outcome, followup)) = result {
        crate::metrics::expired_operation(outcome);
        tracing::info!(correlation_id = %op.correlation_id, outcome, "expired issuer operation settled with TSH");
        tsh_word::complete_followup(svc, followup, answer).await;
    }
    Ok(())
}

/// Every unanswered token takes TSH's state; the operation is confirmed when each is at the state
/// it asked for (or, for `updateCard`, known to TSH), failed otherwise.
fn apply_answers(
    tx: &dyn Tx,
    op: &mut TshOperation,
    answers: &[Answer],
    correlation_id: &str,
    timeout_secs: u64,
    policy: OnOriginalDeath,
) -> Result<(&'static str, DeathFollowup), TxError> {
    let now = now_rfc3339();
    let mut disagreements = Vec::new();
    let mut followup = DeathFollowup::default();
    for (vcid, status, tsh_card, wallet) in answers {
        let Some(state) = state_from_tsh(status) else {
            disagreements.push(format!("{vcid}: TSH's status {status:?} cannot be read"));
            continue;
        };
        if op.operation == "updateCard" {
            relink(tx, vcid, tsh_card.as_deref())?;
        }
        let agrees = op.target_state.is_none_or(|target| target == state);
        let word = TshWord {
            virtual_card_id: vcid.clone(),
            issuer_card_ref_id: tsh_card
                .clone()
                .unwrap_or_else(|| op.issuer_card_ref_id.clone()),
            state,
            action: "EXPIRED_OPERATION",
            reason: format!(
                "{} {} not notified within {timeout_secs} s; TSH's getTokenInfo reports {status}",
                op.operation, op.action
            ),
            reason_code: op.reason_code.clone(),
            correlation_id: correlation_id.to_owned(),
            wallet_provider_id: wallet.clone(),
        };
        let (_, more) = tsh_word::apply(tx, &word, policy)?;
        followup.absorb(more);
        op.confirmations.push(OperationConfirmation {
            virtual_card_id: vcid.clone(),
            action: op.action.clone(),
            outcome: if agrees {
                "settled_by_tsh"
            } else {
                "tsh_disagrees"
            }
            .to_owned(),
            error_code: None,
            created_time: now.clone(),
        });
        if !agrees {
            disagreements.push(format!(
                "{vcid}: TSH reports {status}, not {}",
                op.target_state.map_or("-", |t| t.as_str())
            ));
        }
    }
    if let Some(expiry) = op.expiry.as_mut() {
        expiry.settled_time = Some(now);
    }
    if disagreements.is_empty() {
        op.status = OperationStatus::Confirmed;
        op.error = None;
        Ok(("confirmed", followup))
    } else {
        op.status = OperationStatus::Failed;
        op.error = Some(format!(
            "expired without TSH's notification; {}",
            disagreements.join("; ")
        ));
        Ok(("failed", followup))
    }
}

/// `updateCard` with a new card reference: TSH's answer names the token's card now.
fn relink(tx: &dyn Tx, vcid: &str, tsh_card: Option<&str>) -> Result<(), TxError> {
    let (Some(card), Some(mut token)) = (tsh_card, tx.token(vcid)?) else {
        return Ok(());
    };
    if token.issuer_card_ref_id != card
        && tx.card(card)?.is_some()
        && token.state != TokenState::Deleted
    {
        token.issuer_card_ref_id = card.to_owned();
        token.last_modified_time = now_rfc3339();
        tx.put_token(&token)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_is_due_once_it_outlived_the_timeout_and_its_backoff() {
        let mut op = TshOperation {
            correlation_id: "c".into(),
            operation: "updateCardState".into(),
            action: "SUSPEND".into(),
            issuer_card_ref_id: "card".into(),
            virtual_card_id: Some("A".into()),
            expected_virtual_card_ids: vec!["A".into()],
            skipped: Vec::new(),
            target_state: Some(TokenState::Suspended),
            from_state: Some(TokenState::Active),
            reason_code: None,
            reason: None,
            requested_by: "ops".into(),
            status: OperationStatus::Pending,
            error: None,
            tsh_accepted_time: None,
            confirmations: Vec::new(),
            expiry: None,
            created_time: "2026-01-01T00:00:00Z".into(),
            last_modified_time: "2026-01-01T00:00:00Z".into(),
        };
        let created = parse_rfc3339(&op.created_time).unwrap().unix_timestamp();
        assert!(!is_due(&op, 300, created + 299, 0));
        assert!(is_due(&op, 300, created + 300, 0));
        op.expiry = Some(OperationExpiry {
            expired_time: "t".into(),
            attempts: 1,
            next_attempt_at_ms: 5_000,
            last_error: Some("down".into()),
            settled_time: None,
        });
        assert!(!is_due(&op, 300, created + 400, 4_999));
        assert!(is_due(&op, 300, created + 400, 5_000));
        assert_eq!(unanswered(&op), ["A"]);
    }
}
