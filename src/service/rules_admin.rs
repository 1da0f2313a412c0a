//! Staff use cases on the decision rules, shared by the staff API and the console: the audited
//! hot reload, and the backtest of a candidate rules file against every recorded decision
//! (`crate::replay`), which never applies the candidate.

use std::sync::Arc;

use crate::domain::AuditOutcome;
use crate::replay::{replay, ReplayReport};
use crate::rules::RuleSet;
use crate::service::audit::{self, Actor, AuditDraft};
use crate::service::rules_state::RulesStatus;
use crate::service::Services;
use crate::store::StoreError;

/// Largest candidate rules file a backtest accepts (the shipped file is a few KB).
pub const MAX_CANDIDATE_BYTES: usize = 256 * 1024;

/// Why a reload did not take effect (the rules in force stay).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Invalid(String),
    #[error("reload did not complete")]
    Interrupted,
}

/// Re-reads the rules files (all or nothing) and audits the attempt as `rules.reload`.
/// Takes the shared services by `Arc`: the file reads and compilation run off the async workers.
pub async fn reload(
    svc: Arc<Services>,
    actor: &Actor,
    reason: Option<&str>,
) -> Result<RulesStatus, ReloadError> {
    let worker = svc.clone();
    let result = tokio::task::spawn_blocking(move || worker.rules.reload())
        .await
        .map_err(|_| ReloadError::Interrupted)
        .and_then(|r| r.map_err(ReloadError::Invalid));
    let (outcome, status, detail) = match &result {
        Ok(status) => (
            AuditOutcome::Succeeded,
            200,
            format!("live version {}", status.live_version),
        ),
        Err(e) => (AuditOutcome::Failed, 422, format!("refused: {e}")),
    };
    let detail = match reason {
        Some(reason) => format!("{detail}; reason: {reason}"),
        None => detail,
    };
    audit::record_or_log(
        &svc.store,
        AuditDraft::new(actor, "rules.reload", "rules", outcome, status).detail(detail),
    )
    .await;
    match &result {
        Ok(status) => tracing::info!(version = %status.live_version, "rules reloaded by staff"),
        Err(e) => tracing::warn!(error = %e, "rules reload refused; previous rules stay in force"),
    }
    result
}

/// Why a backtest could not run.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error("the candidate rules file is larger than {MAX_CANDIDATE_BYTES} bytes")]
    TooLarge,
    #[error("the candidate rules file is not valid: {0}")]
    Invalid(String),
    #[error("unexpected server error")]
    Store(#[from] StoreError),
}

/// Compiles `candidate` (versioned by its SHA-256, like a loaded file) and replays every recorded
/// decision under it. Nothing is applied.
pub async fn backtest(svc: &Services, candidate: &str) -> Result<ReplayReport, BacktestError> {
    if candidate.len() > MAX_CANDIDATE_BYTES {
        return Err(BacktestError::TooLarge);
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, candidate.as_bytes());
    let rules = RuleSet::from_toml_str(candidate, hex::encode(digest.as_ref()))
        .map_err(|e| BacktestError::Invalid(e.to_string()))?;
    let report = svc
        .store
        .read(move |r| {
            let decisions = r.all_decisions_oldest_first()?;
            Ok(replay(&rules, &decisions, None, |_| {}))
        })
        .await?;
    Ok(report)
}
