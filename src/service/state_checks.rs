//! Stale events never regress state (issue 11). TSH sends no timestamps, so a notification that
//! contradicts recent history may be an old one delivered late. [`screen`] runs inside
//! `notifyVirtualCardChange`'s transaction: such a notification is recorded and *held* (answered
//! 200, no state change); [`run_due`], on the background worker, then asks TSH's `getTokenInfo`
//! and the token takes TSH's state. Without a TSH the ordering rule decides at once and the doubt
//! is recorded on the token; with a TSH that stays unreachable for `lifecycle.check_max_attempts`
//! attempts, the same.
//!
//! Why asynchronous (docs/decisions.md): the callback never waits on TSH, and the hold is durable
//! (in the store), so a restart resumes the check instead of losing it.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::LifecycleSettings;
use crate::domain::lineage::OnOriginalDeath;
use crate::domain::time::{now_rfc3339, parse_rfc3339};
use crate::domain::token::{plan_notification, transition_type, StatePlan};
use crate::domain::token_sync::{
    state_from_tsh, suspicion, Ambiguity, CheckResult, HeldNotification, StateCheck,
};
use crate::domain::{
    LifecycleAction, NotificationOutcome, TokenRecord, TokenState, TokenSync, Transition,
};
use crate::service::lineage::{self, DeathFollowup};
use crate::service::staff_actions::AnswerStatus;
use crate::service::tsh_word::{self, Settlement, TshWord};
use crate::service::Services;
use crate::store::{StoreError, Tx, TxError};
use crate::tsh_client::new_correlation_id;

/// Sync records read per worker round.
const BATCH: usize = 100;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What `screen` needs from the service, read before the transaction.
#[derive(Debug, Clone, Copy)]
pub struct ScreenContext {
    pub window_secs: u64,
    pub tsh_configured: bool,
}

/// One notification, as `screen` sees it.
#[derive(Debug)]
pub struct Screened<'a> {
    pub virtual_card_id: &'a str,
    pub issuer_card_ref_id: &'a str,
    pub action: &'a LifecycleAction,
    pub source: Option<String>,
    pub correlation_id: &'a str,
    pub has_error: bool,
    pub now: &'a str,
}

/// Inside the notification's transaction, after the ordering rule planned: holds a suspect
/// notification for a check with TSH (no state change), or — without TSH — keeps the rule's plan
/// and records the doubt. Notifications answering our own issuer operation are never suspect.
pub fn screen(
    tx: &dyn Tx,
    ctx: ScreenContext,
    existing: Option<&TokenRecord>,
    n: &Screened<'_>,
    plan: StatePlan,
) -> Result<StatePlan, TxError> {
    let Some(token) = existing.filter(|_| !n.has_error) else {
        return Ok(plan);
    };
    let mut sync = tx
        .token_sync(n.virtual_card_id)?
        .unwrap_or_else(|| TokenSync::new(n.virtual_card_id));
    let ours = tx
        .tsh_operation(n.correlation_id)?
        .is_some_and(|op| op.covers(n.virtual_card_id, n.issuer_card_ref_id));
    let unix = |t: &str| parse_rfc3339(t).map(|t| t.unix_timestamp());
    let last_resume = sync.last_resume_time.as_deref().and_then(unix);
    let now_unix = unix(n.now).unwrap_or_default();
    let suspect = (!ours)
        .then(|| {
            suspicion(
                token.state,
                n.action,
                last_resume,
                now_unix,
                ctx.window_secs,
            )
        })
        .flatten();
    let mut changed = false;
    if *n.action == LifecycleAction::Resume {
        sync.last_resume_time = Some(n.now.to_owned());
        changed = true;
    }
    let plan = match suspect {
        None => plan,
        Some(suspicion) if ctx.tsh_configured => {
            sync.hold(
                n.issuer_card_ref_id,
                HeldNotification {
                    action: n.action.as_str().to_owned(),
                    correlation_id: n.correlation_id.to_owned(),
                    suspicion,
                    source: n.source.clone(),
                    received_time: n.now.to_owned(),
                },
            );
            changed = true;
            StatePlan {
                outcome: NotificationOutcome::HeldForCheck,
                transition: None,
            }
        }
        Some(suspicion) => {
            sync.note_ambiguity(Ambiguity {
                action: n.action.as_str().to_owned(),
                correlation_id: n.correlation_id.to_owned(),
                suspicion,
                outcome: plan.outcome.as_str().to_owned(),
                why: "TSH is not configured (tsh.base_url is empty): the ordering rule decided"
                    .to_owned(),
                created_time: n.now.to_owned(),
            });
            changed = true;
            plan
        }
    };
    if changed {
        tx.put_token_sync(&sync)?;
    }
    Ok(plan)
}

/// TSH's answer for one token: its state, the status as written, the wallet.
type Answer = Result<(TokenState, String, Option<String>), String>;

/// Settles every due check (bounded batch); returns how many were looked at.
pub async fn run_due(svc: &Services, answer: AnswerStatus) -> Result<usize, StoreError> {
    let now = now_ms();
    let due: Vec<TokenSync> = svc
        .store
        .read(|r| r.tokens_with_checks(BATCH))
        .await?
        .into_iter()
        .filter(|s| {
            s.check
                .as_ref()
                .is_some_and(|c| c.next_attempt_at_ms <= now)
        })
        .collect();
    for sync in &due {
        settle(svc, sync, answer).await?;
    }
    Ok(due.len())
}

/// Asks TSH about one token with a held notification, then records what follows.
async fn settle(
    svc: &Services,
    sync: &TokenSync,
    audit_status: AnswerStatus,
) -> Result<(), StoreError> {
    let Some(check) = &sync.check else {
        return Ok(());
    };
    let asked = check.held.len();
    let correlation_id = new_correlation_id();
    let answer: Answer = if svc.tsh.is_configured() {
        match svc
            .tsh
            .get_token_info(
                &correlation_id,
                &check.issuer_card_ref_id,
                &sync.virtual_card_id,
            )
            .await
        {
            Ok(info) => {
                let status = info.status.unwrap_or_default();
                match state_from_tsh(&status) {
                    Some(state) => Ok((state, status, info.wallet_provider_id)),
                    None => Err(format!("TSH answered a status we cannot read ({status:?})")),
                }
            }
            Err(e) => Err(e.to_string()),
        }
    } else {
        Err("TSH is not configured (tsh.base_url is empty)".to_owned())
    };
    let give_up_now = !svc.tsh.is_configured();
    let settings = svc.settings.lifecycle.clone();
    let policy = svc.settings.token_for_token.on_original_death;
    let vcid = sync.virtual_card_id.clone();
    let outcome = svc
        .store
        .write(move |tx| {
            let Some(mut sync) = tx.token_sync(&vcid)? else {
                return Ok(None);
            };
            let Some(check) = sync.check.take() else {
                return Ok(None);
            };
            let outcome = match &answer {
                Ok((state, status, wallet)) => {
                    let word = (*state, status.as_str(), wallet.clone());
                    conclude(tx, &mut sync, check, asked, word, &correlation_id, policy)?
                }
                Err(error) if give_up_now || check.attempts + 1 >= settings.check_max_attempts => {
                    give_up(tx, &mut sync, check, asked, error, policy)?
                }
                Err(error) => {
                    sync.check = Some(retry_later(check, error, &settings));
                    ("failed_attempt", DeathFollowup::default())
                }
            };
            tx.put_token_sync(&sync)?;
            Ok(Some(outcome))
        })
        .await?;
    if let Some((outcome, followup)) = outcome {
        crate::metrics::state_check(outcome);
        tracing::info!(virtual_card_id = %sync.virtual_card_id, outcome, "held notification checked with TSH");
        tsh_word::complete_followup(svc, followup, audit_status).await;
    }
    Ok(())
}

fn retry_later(mut check: StateCheck, error: &str, settings: &LifecycleSettings) -> StateCheck {
    check.attempts += 1;
    check.last_error = Some(error.to_owned());
    let pause = settings
        .check_backoff_initial_ms
        .saturating_mul(1 << check.attempts.min(16).saturating_sub(1))
        .min(60_000);
    check.next_attempt_at_ms = now_ms() + pause;
    check
}

/// Splits the check: the first `asked` notifications were held before TSH was asked; later ones
/// stay held for another check (TSH's answer may predate them).
fn split(mut check: StateCheck, asked: usize) -> (Vec<HeldNotification>, Option<StateCheck>) {
    let later = check.held.split_off(asked.min(check.held.len()));
    let answered = std::mem::take(&mut check.held);
    let rest = if later.is_empty() {
        None
    } else {
        Some(StateCheck {
            held: later,
            attempts: 0,
            next_attempt_at_ms: 0,
            last_error: None,
            ..check
        })
    };
    (answered, rest)
}

/// TSH answered: the token takes its state.
fn conclude(
    tx: &dyn Tx,
    sync: &mut TokenSync,
    check: StateCheck,
    asked: usize,
    (state, status, wallet): (TokenState, &str, Option<String>),
    correlation_id: &str,
    policy: OnOriginalDeath,
) -> Result<(&'static str, DeathFollowup), TxError> {
    let card = check.issuer_card_ref_id.clone();
    let (held, rest) = split(check, asked);
    let before = tx.token(&sync.virtual_card_id)?.map(|t| t.state);
    let actions: Vec<&str> = held.iter().map(|h| h.action.as_str()).collect();
    let word = TshWord {
        virtual_card_id: sync.virtual_card_id.clone(),
        issuer_card_ref_id: card,
        state,
        action: "STALE_CHECK",
        reason: format!(
            "held {} (contradicting recent history); TSH's getTokenInfo reports {status}",
            actions.join(", ")
        ),
        reason_code: None,
        correlation_id: correlation_id.to_owned(),
        wallet_provider_id: wallet,
    };
    let (settled, followup) = tsh_word::apply(tx, &word, policy)?;
    let after = match settled {
        Settlement::Moved { to, .. } | Settlement::Created(to) => to,
        Settlement::Unchanged | Settlement::KeptDeleted => before.unwrap_or(state),
    };
    sync.last_check = Some(CheckResult {
        tsh_state: Some(status.to_owned()),
        state_before: before.unwrap_or(after),
        state_after: after,
        held,
        created_time: now_rfc3339(),
    });
    sync.check = rest;
    let outcome = match settled {
        Settlement::Moved { .. } | Settlement::Created(_) => "corrected",
        Settlement::Unchanged | Settlement::KeptDeleted => "confirmed",
    };
    Ok((outcome, followup))
}

/// TSH could not be asked: the ordering rule decides each held notification, in arrival order,
/// and the doubt is recorded.
fn give_up(
    tx: &dyn Tx,
    sync: &mut TokenSync,
    check: StateCheck,
    asked: usize,
    error: &str,
    policy: OnOriginalDeath,
) -> Result<(&'static str, DeathFollowup), TxError> {
    let (held, rest) = split(check, asked);
    let now = now_rfc3339();
    let Some(mut token) = tx.token(&sync.virtual_card_id)? else {
        sync.check = rest;
        return Ok(("gave_up", DeathFollowup::default()));
    };
    let before = token.state;
    let mut followup = DeathFollowup::default();
    for h in &held {
        let action = LifecycleAction::from(h.action.clone());
        let plan = plan_notification(
            Some(token.state),
            &action,
            false,
            token.activated_time.is_some(),
            TokenState::Requested,
        );
        if let Some((from, to)) = plan.transition {
            token.state = to;
            tx.append_transition(&Transition {
                virtual_card_id: token.virtual_card_id.clone(),
                from_state: from,
                state: to,
                transition_type: transition_type(from, to).to_owned(),
                action: h.action.clone(),
                channel: super::lifecycle::CHANNEL_TSP.to_owned(),
                source: h.source.clone(),
                reason_code: None,
                reason: Some(format!("held for a TSH check that could not be made ({error}); decided by the ordering rule")),
                correlation_id: h.correlation_id.clone(),
                created_time: now.clone(),
            })?;
            tx.put_token(&token)?;
            let more =
                lineage::on_state_change(tx, &token, (from, to), policy, &h.correlation_id, &now)?;
            merge(&mut followup, more);
        }
        sync.note_ambiguity(Ambiguity {
            action: h.action.clone(),
            correlation_id: h.correlation_id.clone(),
            suspicion: h.suspicion,
            outcome: plan.outcome.as_str().to_owned(),
            why: error.to_owned(),
            created_time: now.clone(),
        });
    }
    if token.state != before {
        token.last_modified_time.clone_from(&now);
        tx.put_token(&token)?;
    }
    sync.last_check = Some(CheckResult {
        tsh_state: None,
        state_before: before,
        state_after: token.state,
        held,
        created_time: now,
    });
    sync.check = rest;
    Ok(("gave_up", followup))
}

/// Several state changes in one transaction: their policy follow-ups, together.
fn merge(into: &mut DeathFollowup, more: DeathFollowup) {
    if more.flagged.is_empty() {
        return;
    }
    into.flagged.extend(more.flagged);
    into.suspend.extend(more.suspend);
    into.policy = more.policy;
    into.original_state = more.original_state;
    into.reason = more.reason;
}
