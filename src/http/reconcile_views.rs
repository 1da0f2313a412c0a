//! The staff API's view of a reconciliation run (`/api/v1/reconciliations`): the wire shape of
//! `domain::ReconciliationReport`, built at the handler so a change of the stored record never
//! changes the API by accident. Tokens appear by `virtual_card_id` only; there is no card or
//! token number in a report to leak. Must not: add a field the domain record does not carry.

use serde::Serialize;

use crate::domain::reconciliation::{Drift, ReconcileFailure};
use crate::domain::ReconciliationReport;
use crate::store::Paged;

/// One difference between our view of a token and TSH's, and what was done about it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DriftView {
    pub virtual_card_id: String,
    pub issuer_card_ref_id: String,
    /// Our state before the run (null: we did not know the token).
    pub ours: Option<String>,
    /// TSH's status as it answered (null: TSH does not list the token).
    pub tsh: Option<String>,
    /// `transitioned`, `created`, `kept_deleted`, `unknown_to_tsh` or `unreadable_status`.
    #[schema(pattern = "^(transitioned|created|kept_deleted|unknown_to_tsh|unreadable_status)$")]
    pub action: &'static str,
}

/// A card TSH could not be asked about; its tokens were left unchanged.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReconcileFailureView {
    pub issuer_card_ref_id: String,
    pub error: String,
}

/// One reconciliation run.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReconciliationView {
    /// `rec-` + 16 hex digits (string order is time order).
    pub reconciliation_id: String,
    /// `card:<issuer_card_ref_id>` or `all`.
    pub scope: String,
    /// `cli`, `staff:<name>` or `schedule`.
    pub requested_by: String,
    /// `running`, `completed` or `completed_with_failures`.
    #[schema(pattern = "^(running|completed|completed_with_failures)$")]
    pub status: &'static str,
    pub cards_checked: usize,
    pub tokens_checked: usize,
    pub drift: Vec<DriftView>,
    pub failures: Vec<ReconcileFailureView>,
    pub started_time: String,
    pub finished_time: Option<String>,
}

impl From<&Drift> for DriftView {
    fn from(d: &Drift) -> Self {
        DriftView {
            virtual_card_id: d.virtual_card_id.clone(),
            issuer_card_ref_id: d.issuer_card_ref_id.clone(),
            ours: d.ours.clone(),
            tsh: d.tsh.clone(),
            action: d.action.as_str(),
        }
    }
}

impl From<&ReconcileFailure> for ReconcileFailureView {
    fn from(f: &ReconcileFailure) -> Self {
        ReconcileFailureView {
            issuer_card_ref_id: f.issuer_card_ref_id.clone(),
            error: f.error.clone(),
        }
    }
}

impl From<&ReconciliationReport> for ReconciliationView {
    fn from(r: &ReconciliationReport) -> Self {
        ReconciliationView {
            reconciliation_id: r.reconciliation_id.clone(),
            scope: r.scope.clone(),
            requested_by: r.requested_by.clone(),
            status: r.status.as_str(),
            cards_checked: r.cards_checked,
            tokens_checked: r.tokens_checked,
            drift: r.drift.iter().map(DriftView::from).collect(),
            failures: r.failures.iter().map(ReconcileFailureView::from).collect(),
            started_time: r.started_time.clone(),
            finished_time: r.finished_time.clone(),
        }
    }
}

/// A page of runs as views.
pub fn paged(page: &Paged<ReconciliationReport>) -> Paged<ReconciliationView> {
    Paged {
        count: page.count,
        start_index: page.start_index,
        end_index: page.end_index,
        is_more: page.is_more,
        data: page.data.iter().map(ReconciliationView::from).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reconciliation::DriftAction;
    use crate::domain::ReconcileStatus;

    /// The view keeps the JSON the domain record had when it was serialized directly.
    #[test]
    fn the_view_serializes_like_the_record_it_replaced() {
        let report = ReconciliationReport {
            reconciliation_id: "rec-0000000000000001".into(),
            scope: "card:abc".into(),
            requested_by: "cli".into(),
            status: ReconcileStatus::CompletedWithFailures,
            cards_checked: 2,
            tokens_checked: 3,
            drift: vec![Drift {
                virtual_card_id: "VC-1".into(),
                issuer_card_ref_id: "abc".into(),
                ours: Some("ACTIVE".into()),
                tsh: None,
                action: DriftAction::UnknownToTsh,
            }],
            failures: vec![ReconcileFailure {
                issuer_card_ref_id: "def".into(),
                error: "TSH did not answer within 500 ms".into(),
            }],
            started_time: "2026-12-01T00:00:00Z".into(),
            finished_time: None,
        };
        let view = serde_json::to_value(ReconciliationView::from(&report)).unwrap();
        let record = serde_json::to_value(&report).unwrap();
        assert_eq!(view, record);
    }
}
