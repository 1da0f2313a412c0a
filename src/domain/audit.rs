//! The staff audit trail (tree `auditid_auditentry`): one append-only entry per staff write — who
//! (the staff token's name), what, when, on what, with which outcome. Entries are never updated
//! or deleted; the API only lists them. Never holds card data or secrets.

use serde::{Deserialize, Serialize};

/// How a staff write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// Done (e.g. a card upserted, rules reloaded).
    Succeeded,
    /// Accepted by TSH, waiting for its confirming notification.
    Pending,
    /// Validated but failed (TSH down or refusing, reload refused, internal error).
    Failed,
    /// Refused before anything was attempted (bad body, unknown target, illegal transition).
    Refused,
}

impl AuditOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            AuditOutcome::Succeeded => "succeeded",
            AuditOutcome::Pending => "pending",
            AuditOutcome::Failed => "failed",
            AuditOutcome::Refused => "refused",
        }
    }
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// 16 hex digits of a monotonic id: string order is time order.
    pub audit_id: String,
    /// The staff token's name (`bootstrap` for `staff.bootstrap_token`).
    pub who: String,
    pub role: String,
    /// What was asked, e.g. `tokentransition.create`, `card.block`, `card.upsert`, `rules.reload`.
    pub what: String,
    /// What it was about, e.g. `token:VC-1`, `card:<issuerCardRefId>`.
    pub target: String,
    pub outcome: AuditOutcome,
    /// The HTTP status answered to staff.
    pub http_status: u16,
    /// The `x-correlation-id` of the resulting TSH operation, when there is one.
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// Parameters and error text (reason code, requested state, TSH's refusal) — never card data.
    #[serde(default)]
    pub detail: Option<String>,
    pub created_time: String,
}
