//! Reconciliation with TSH as the authority (issue 11): for each card in scope, ask TSH's
//! `getCardInfo` for the card's tokens (and `getTokenInfo` for a token we know that TSH does not
//! list under the card), and record every difference as a transition taken from TSH's word
//! (`service::tsh_word`: channel `SYSTEM`, source `reconciliation`, action `RECONCILE`; a deleted
//! token is never revived). Each run is a report (`ReconciliationReport`) written when it starts,
//! after each card and when it ends, so drift is visible while a long run goes on.
//!
//! A TSH that cannot answer for a card leaves that card's tokens unchanged and is reported as a
//! failure of the run. Used by `tsh-issuer reconcile`, `POST /api/v1/reconciliations` and the
//! periodic job ([`periodically`], `lifecycle.reconcile_interval_secs`). Must not hold a
//! transaction across a TSH call.

use std::sync::Arc;
use std::time::Duration;

use super::lineage::DeathFollowup;
use super::staff_actions::AnswerStatus;
use super::tsh_word::{self, Settlement, TshWord};
use super::Services;
use crate::domain::reconciliation::{reconciliation_id, Drift, DriftAction, ReconcileFailure};
use crate::domain::time::now_rfc3339;
use crate::domain::token_sync::state_from_tsh;
use crate::domain::{ReconcileStatus, ReconciliationReport};
use crate::store::{Page, StoreError};
use crate::tsh_client::{new_correlation_id, TshError};

/// Which cards a run compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Card(String),
    All,
}

impl Scope {
    fn label(&self) -> String {
        match self {
            Scope::Card(reference) => format!("card:{reference}"),
            Scope::All => "all".to_owned(),
        }
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("card not found")]
    UnknownCard,
    #[error("TSH is not configured (tsh.base_url is empty)")]
    TshNotConfigured,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One token as TSH reported it.
#[derive(Debug, Clone)]
struct TshToken {
    virtual_card_id: String,
    status: String,
    wallet_provider_id: Option<String>,
}

/// What TSH said about one card: its tokens and the tokens we hold under it that TSH does not
/// know, or why it could not say.
type CardAnswer = Result<(Vec<TshToken>, Vec<String>), TshError>;

/// Starts a run: checks the scope and records the report (status `running`).
pub async fn start(
    svc: &Services,
    scope: &Scope,
    requested_by: &str,
) -> Result<ReconciliationReport, ReconcileError> {
    if !svc.tsh.is_configured() {
        return Err(ReconcileError::TshNotConfigured);
    }
    if let Scope::Card(reference) = scope {
        let lookup = reference.clone();
        if svc.store.read(move |r| r.card(&lookup)).await?.is_none() {
            return Err(ReconcileError::UnknownCard);
        }
    }
    let (label, by) = (scope.label(), requested_by.to_owned());
    let report = svc
        .store
        .write(move |tx| {
            let report = ReconciliationReport {
                reconciliation_id: reconciliation_id(tx.next_id()?),
                scope: label.clone(),
                requested_by: by.clone(),
                status: ReconcileStatus::Running,
                cards_checked: 0,
                tokens_checked: 0,
                drift: Vec::new(),
                failures: Vec::new(),
                started_time: now_rfc3339(),
                finished_time: None,
            };
            tx.put_reconciliation(&report)?;
            Ok(report)
        })
        .await?;
    Ok(report)
}

/// Runs a started report to its end: every card of the scope, then the closing status.
pub async fn finish(
    svc: &Services,
    mut report: ReconciliationReport,
    scope: &Scope,
    audit_status: AnswerStatus,
) -> Result<ReconciliationReport, StoreError> {
    match scope {
        Scope::Card(reference) => {
            reconcile_card(svc, &mut report, reference, audit_status).await?;
        }
        Scope::All => {
            let mut start = 0;
            loop {
                let page = Page::new(start, Page::MAX_COUNT);
                let cards = svc.store.read(move |r| r.cards(page)).await?;
                for card in &cards.data {
                    if svc.background.is_stopping() {
                        report.failures.push(ReconcileFailure {
                            issuer_card_ref_id: card.issuer_card_ref_id.clone(),
                            error: "the service stopped before this card was compared".to_owned(),
                        });
                        break;
                    }
                    reconcile_card(svc, &mut report, &card.issuer_card_ref_id, audit_status)
                        .await?;
                }
                if !cards.is_more {
                    break;
                }
                start += Page::MAX_COUNT;
            }
        }
    }
    report.finish(&now_rfc3339());
    save(svc, &report).await?;
    crate::metrics::reconciliation_run(report.status.as_str());
    tracing::info!(
        reconciliation_id = %report.reconciliation_id,
        cards = report.cards_checked,
        tokens = report.tokens_checked,
        drift = report.drift.len(),
        failures = report.failures.len(),
        "reconciliation finished"
    );
    Ok(report)
}

/// `start` then `finish`, for callers that wait (the CLI, the periodic job).
pub async fn run(
    svc: &Services,
    scope: Scope,
    requested_by: &str,
    audit_status: AnswerStatus,
) -> Result<ReconciliationReport, ReconcileError> {
    let report = start(svc, &scope, requested_by).await?;
    Ok(finish(svc, report, &scope, audit_status).await?)
}

async fn save(svc: &Services, report: &ReconciliationReport) -> Result<(), StoreError> {
    let report = report.clone();
    svc.store
        .write(move |tx| tx.put_reconciliation(&report))
        .await
}

/// Compares one card: asks TSH, applies its word to each token in one transaction (with the
/// report's progress), then completes the original-death follow-up.
async fn reconcile_card(
    svc: &Services,
    report: &mut ReconciliationReport,
    reference: &str,
    audit_status: AnswerStatus,
) -> Result<(), StoreError> {
    report.cards_checked += 1;
    let answer = ask_tsh(svc, reference).await?;
    let (tokens, unknown) = match answer {
        Ok(known) => known,
        Err(error) => {
            report.failures.push(ReconcileFailure {
                issuer_card_ref_id: reference.to_owned(),
                error: error.to_string(),
            });
            return save(svc, report).await;
        }
    };
    report.tokens_checked += tokens.len();
    let correlation_id = new_correlation_id();
    let policy = svc.settings.token_for_token.on_original_death;
    let (card, progress) = (reference.to_owned(), report.clone());
    let (drift, followup) = svc
        .store
        .write(move |tx| {
            let mut drift = Vec::new();
            let mut followup = DeathFollowup::default();
            for token in &tokens {
                let ours = tx.token(&token.virtual_card_id)?.map(|t| t.state);
                let Some(state) = state_from_tsh(&token.status) else {
                    drift.push(drift_of(&card, token, ours, DriftAction::UnreadableStatus));
                    continue;
                };
                let word = word_of(&card, token, state, &correlation_id);
                let (settled, more) = tsh_word::apply(tx, &word, policy)?;
                followup.absorb(more);
                if let Some(action) = drift_action(settled) {
                    drift.push(drift_of(&card, token, ours, action));
                }
            }
            for vcid in &unknown {
                let ours = tx.token(vcid)?.map(|t| t.state.as_str().to_owned());
                drift.push(Drift {
                    virtual_card_id: vcid.clone(),
                    issuer_card_ref_id: card.clone(),
                    ours,
                    tsh: None,
                    action: DriftAction::UnknownToTsh,
                });
            }
            // The report as it will stand after this card (the transaction may be retried).
            let mut progress = progress.clone();
            for entry in &drift {
                progress.note_drift(entry.clone());
            }
            tx.put_reconciliation(&progress)?;
            Ok((drift, followup))
        })
        .await?;
    for entry in drift {
        crate::metrics::drift(entry.action.as_str());
        report.note_drift(entry);
    }
    tsh_word::complete_followup(svc, followup, audit_status).await;
    Ok(())
}

fn drift_action(settled: Settlement) -> Option<DriftAction> {
    match settled {
        Settlement::Unchanged => None,
        Settlement::Moved { .. } => Some(DriftAction::Transitioned),
        Settlement::Created(_) => Some(DriftAction::Created),
        Settlement::KeptDeleted => Some(DriftAction::KeptDeleted),
    }
}

fn drift_of(
    card: &str,
    token: &TshToken,
    ours: Option<crate::domain::TokenState>,
    action: DriftAction,
) -> Drift {
    Drift {
        virtual_card_id: token.virtual_card_id.clone(),
        issuer_card_ref_id: card.to_owned(),
        ours: ours.map(|s| s.as_str().to_owned()),
        tsh: Some(token.status.clone()),
        action,
    }
}

fn word_of(
    card: &str,
    token: &TshToken,
    state: crate::domain::TokenState,
    correlation_id: &str,
) -> TshWord {
    TshWord {
        virtual_card_id: token.virtual_card_id.clone(),
        issuer_card_ref_id: card.to_owned(),
        state,
        action: "RECONCILE",
        reason: format!("reconciliation: TSH's getCardInfo reports {}", token.status),
        reason_code: None,
        correlation_id: correlation_id.to_owned(),
        wallet_provider_id: token.wallet_provider_id.clone(),
    }
}

/// TSH's tokens of the card (`getCardInfo`), plus — through `getTokenInfo` — each live token we
/// hold under the card that TSH's list leaves out (an answer without it is unknown to TSH there).
async fn ask_tsh(svc: &Services, reference: &str) -> Result<CardAnswer, StoreError> {
    let correlation_id = new_correlation_id();
    let info = match svc.tsh.get_card_info(&correlation_id, reference).await {
        Ok(info) => info,
        Err(e) => return Ok(Err(e)),
    };
    let mut tokens: Vec<TshToken> = info
        .virtual_card_list
        .into_iter()
        .filter_map(|v| {
            Some(TshToken {
                virtual_card_id: v.virtual_card_id?,
                status: v.status?,
                wallet_provider_id: v.wallet_provider_id,
            })
        })
        .collect();
    let mut unknown = Vec::new();
    for vcid in unlisted_tokens(svc, reference, &tokens).await? {
        match svc
            .tsh
            .get_token_info(&correlation_id, reference, &vcid)
            .await
        {
            Ok(token) => tokens.extend(token.status.map(|status| TshToken {
                virtual_card_id: vcid,
                status,
                wallet_provider_id: token.wallet_provider_id,
            })),
            // TSH refusing the question (e.g. unknown token) is an answer, not an outage.
            Err(TshError::Refused { .. }) => unknown.push(vcid),
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok((tokens, unknown)))
}

/// Our live tokens of the card that TSH's card list does not name.
async fn unlisted_tokens(
    svc: &Services,
    reference: &str,
    listed: &[TshToken],
) -> Result<Vec<String>, StoreError> {
    let card = reference.to_owned();
    let ours = svc
        .store
        .read(move |r| r.tokens_of_card(&card, Page::new(0, Page::MAX_COUNT)))
        .await?;
    Ok(ours
        .data
        .into_iter()
        .filter(|t| !t.state.is_terminal())
        .filter(|t| {
            !listed
                .iter()
                .any(|l| l.virtual_card_id == t.virtual_card_id)
        })
        .map(|t| t.virtual_card_id)
        .collect())
}

/// The periodic job: every `lifecycle.reconcile_interval_secs` (0 = never) reconciles every card,
/// until shutdown begins. A run in progress finishes its current card first.
pub async fn periodically(svc: Arc<Services>, audit_status: AnswerStatus) {
    let every = svc.settings.lifecycle.reconcile_interval_secs;
    if every == 0 || !svc.tsh.is_configured() {
        return;
    }
    let mut ticks = tokio::time::interval(Duration::from_secs(every));
    ticks.tick().await; // the first tick is immediate: wait one interval after startup
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = svc.background.stopping() => return,
        }
        if let Err(e) = run(&svc, Scope::All, "schedule", audit_status).await {
            tracing::error!(error = %e, "periodic reconciliation failed");
        }
    }
}
