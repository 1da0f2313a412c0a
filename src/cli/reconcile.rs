//! `tsh-issuer reconcile [--card REF | --all] [--json]`: one reconciliation run with TSH on a store
//! the service is not using (sled locks its directory). Exit code 1 when TSH could not answer for
//! some card (their tokens are left unchanged); the drift is printed either way.

use super::{load_settings, Cli, CliError};
use crate::domain::{ReconcileStatus, ReconciliationReport};
use crate::service::reconcile::{self, ReconcileError, Scope};

/// The status the audit trail would record for a policy suspension started by this run.
fn audit_status(outcome: Result<(), &crate::service::staff_actions::ActionError>) -> u16 {
    crate::http::error::staff_action_status(outcome)
}

pub fn run(cli: &Cli, card: Option<&str>, json: bool) -> Result<(), CliError> {
    let settings = load_settings(cli)?;
    let services =
        crate::startup::build_services(settings).map_err(|e| CliError::usage(e.to_string()))?;
    let scope = match card {
        Some(card) => Scope::Card(card.to_owned()),
        None => Scope::All,
    };
    let report = actix_web::rt::System::new()
        .block_on(async { reconcile::run(&services, scope, "cli", audit_status).await })
        .map_err(|e| match e {
            ReconcileError::Store(e) => CliError::runtime(e.to_string()),
            other => CliError::usage(other.to_string()),
        })?;
    services
        .store
        .flush_blocking()
        .map_err(|e| CliError::runtime(e.to_string()))?;
    if json {
        let text =
            serde_json::to_string_pretty(&report).map_err(|e| CliError::runtime(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", render(&report));
    }
    match report.status {
        ReconcileStatus::CompletedWithFailures => Err(CliError::runtime(format!(
            "TSH could not answer for {} card(s); their tokens are unchanged",
            report.failures.len()
        ))),
        _ => Ok(()),
    }
}

/// The report for a terminal: one line per difference and per failure, then a summary.
pub fn render(report: &ReconciliationReport) -> String {
    let mut out = String::new();
    for d in &report.drift {
        out.push_str(&format!(
            "drift {} (card {}): ours {}, TSH {} -> {}\n",
            d.virtual_card_id,
            d.issuer_card_ref_id,
            d.ours.as_deref().unwrap_or("unknown"),
            d.tsh.as_deref().unwrap_or("not listed"),
            d.action.as_str()
        ));
    }
    for f in &report.failures {
        out.push_str(&format!(
            "failed card {}: {}\n",
            f.issuer_card_ref_id, f.error
        ));
    }
    out.push_str(&format!(
        "{} {}: {} card(s), {} token(s) compared, {} difference(s), {} failure(s)\n",
        report.reconciliation_id,
        report.status.as_str(),
        report.cards_checked,
        report.tokens_checked,
        report.drift.len(),
        report.failures.len()
    ));
    out
}
