//! The staff audit trail: who did what, when, to what, and how it ended. Every staff write goes
//! through here (successes, TSH failures and refusals alike). Append-only by construction: the
//! store offers `append_audit` and nothing that updates or deletes an entry.

use crate::config::StaffRole;
use crate::domain::time::now_rfc3339;
use crate::domain::{AuditEntry, AuditOutcome};
use crate::store::{Store, StoreError, Tx, TxError};

/// The authenticated staff member behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The staff token's configured name (`bootstrap` for `staff.bootstrap_token`).
    pub name: String,
    pub role: StaffRole,
}

/// An audit entry before it gets its id and time.
#[derive(Debug, Clone)]
pub struct AuditDraft {
    pub who: String,
    pub role: String,
    pub what: &'static str,
    pub target: String,
    pub outcome: AuditOutcome,
    pub http_status: u16,
    pub correlation_id: Option<String>,
    pub detail: Option<String>,
}

impl AuditDraft {
    pub fn new(
        actor: &Actor,
        what: &'static str,
        target: impl Into<String>,
        outcome: AuditOutcome,
        http_status: u16,
    ) -> AuditDraft {
        AuditDraft {
            who: actor.name.clone(),
            role: actor.role.as_str().to_owned(),
            what,
            target: target.into(),
            outcome,
            http_status,
            correlation_id: None,
            detail: None,
        }
    }

    pub fn correlation_id(mut self, correlation_id: impl Into<String>) -> AuditDraft {
        self.correlation_id = Some(correlation_id.into());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> AuditDraft {
        let detail: String = detail.into();
        // Bounded and single-line: it ends up in a list staff read.
        self.detail = Some(
            detail
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(500)
                .collect(),
        );
        self
    }
}

/// Appends an entry inside a transaction (atomically with the write it describes).
pub fn append_in_tx(tx: &dyn Tx, draft: &AuditDraft, now: &str) -> Result<AuditEntry, TxError> {
    let id = tx.next_id()?;
    let entry = AuditEntry {
        audit_id: format!("{id:016x}"),
        who: draft.who.clone(),
        role: draft.role.clone(),
        what: draft.what.to_owned(),
        target: draft.target.clone(),
        outcome: draft.outcome,
        http_status: draft.http_status,
        correlation_id: draft.correlation_id.clone(),
        detail: draft.detail.clone(),
        created_time: now.to_owned(),
    };
    tx.append_audit(&entry)?;
    Ok(entry)
}

/// Appends an entry on its own, durable on return.
pub async fn record(store: &Store, draft: AuditDraft) -> Result<AuditEntry, StoreError> {
    let entry = store
        .write(move |tx| append_in_tx(tx, &draft, &now_rfc3339()))
        .await?;
    tracing::info!(
        who = %entry.who,
        what = %entry.what,
        target = %entry.target,
        outcome = entry.outcome.as_str(),
        "staff action audited"
    );
    Ok(entry)
}

/// Like [`record`], for paths where the answer is already decided: a failure to audit is logged
/// loudly (the action's own result still stands).
pub async fn record_or_log(store: &Store, draft: AuditDraft) {
    if let Err(e) = record(store, draft).await {
        tracing::error!(error = %e, "could not append to the audit trail");
    }
}
