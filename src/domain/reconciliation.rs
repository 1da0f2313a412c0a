//! A reconciliation run as recorded (tree `reconciliationid_report`): which cards were compared
//! with TSH, every difference found (drift) and what was done about it, and every card TSH could
//! not answer for. Pure data.

use serde::{Deserialize, Serialize};

/// What a difference between our state and TSH's led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriftAction {
    /// Our token moved to TSH's state (a transition, channel SYSTEM, source reconciliation).
    Transitioned,
    /// TSH knows a token we did not: created in TSH's state.
    Created,
    /// Ours is DELETED and TSH says otherwise: kept deleted (a deleted token never comes back).
    KeptDeleted,
    /// We know the token, TSH does not list it under the card: reported only.
    UnknownToTsh,
    /// TSH gave a status we cannot read: reported only.
    UnreadableStatus,
}

impl DriftAction {
    pub fn as_str(&self) -> &'static str {
        match self {
            DriftAction::Transitioned => "transitioned",
            DriftAction::Created => "created",
            DriftAction::KeptDeleted => "kept_deleted",
            DriftAction::UnknownToTsh => "unknown_to_tsh",
            DriftAction::UnreadableStatus => "unreadable_status",
        }
    }
}

/// One difference between our view and TSH's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Drift {
    pub virtual_card_id: String,
    pub issuer_card_ref_id: String,
    /// Our state before (None: we did not know the token).
    #[serde(default)]
    pub ours: Option<String>,
    /// TSH's status as it answered (None: TSH does not list the token).
    #[serde(default)]
    pub tsh: Option<String>,
    pub action: DriftAction,
}

/// A card TSH could not be asked about; its tokens were left unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReconcileFailure {
    pub issuer_card_ref_id: String,
    pub error: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReconcileStatus {
    Running,
    /// Every card answered.
    Completed,
    /// At least one card could not be compared (see `failures`).
    CompletedWithFailures,
}

impl ReconcileStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            ReconcileStatus::Running => "running",
            ReconcileStatus::Completed => "completed",
            ReconcileStatus::CompletedWithFailures => "completed_with_failures",
        }
    }
}

/// One run (`tsh-issuer reconcile`, `POST /api/v1/reconciliations`, or the periodic job).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReconciliationReport {
    /// `rec-` + 16 hex digits of a store sequence (string order is time order).
    pub reconciliation_id: String,
    /// `card:<issuerCardRefId>` or `all`.
    pub scope: String,
    /// `cli`, `staff:<name>` or `schedule`.
    pub requested_by: String,
    pub status: ReconcileStatus,
    #[serde(default)]
    pub cards_checked: usize,
    #[serde(default)]
    pub tokens_checked: usize,
    #[serde(default)]
    pub drift: Vec<Drift>,
    #[serde(default)]
    pub failures: Vec<ReconcileFailure>,
    pub started_time: String,
    #[serde(default)]
    pub finished_time: Option<String>,
}

/// Drift entries kept per report (a registry-wide run on a badly drifted store stays bounded; the
/// counters still count every one).
pub const MAX_DRIFT_KEPT: usize = 1000;

/// `rec-` + 16 hex digits.
pub fn reconciliation_id(sequence: u64) -> String {
    format!("rec-{sequence:016x}")
}

/// The sequence inside a reconciliation id.
pub fn reconciliation_sequence(id: &str) -> Option<u64> {
    let hex = id.strip_prefix("rec-")?;
    (hex.len() == 16)
        .then(|| u64::from_str_radix(hex, 16).ok())
        .flatten()
}

impl ReconciliationReport {
    pub fn note_drift(&mut self, drift: Drift) {
        if self.drift.len() < MAX_DRIFT_KEPT {
            self.drift.push(drift);
        }
    }

    /// Closes the run: completed, or completed with failures.
    pub fn finish(&mut self, now: &str) {
        self.status = if self.failures.is_empty() {
            ReconcileStatus::Completed
        } else {
            ReconcileStatus::CompletedWithFailures
        };
        self.finished_time = Some(now.to_owned());
    }
}
