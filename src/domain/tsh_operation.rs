//! Issuer-initiated lifecycle operations (contract §5) as recorded: one record per call to TSH,
//! keyed by the `x-correlation-id` sent with it, moving `pending` → `confirmed` | `failed`.
//!
//! A staff token transition is such an operation; it is "pending" until the
//! `notifyVirtualCardChange` carrying the same correlation id confirms it, and only then does the
//! token's state change. Pure data: no I/O here.

use serde::{Deserialize, Serialize};

use crate::domain::TokenState;

/// Where an operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperationStatus {
    /// Recorded, sent (or being sent) to TSH; waiting for its notification(s).
    Pending,
    /// Every expected token was confirmed by a notification carrying the correlation id.
    Confirmed,
    /// TSH refused or could not be reached, or a notification reported an `errorCode`.
    Failed,
}

impl OperationStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            OperationStatus::Pending => "PENDING",
            OperationStatus::Confirmed => "CONFIRMED",
            OperationStatus::Failed => "FAILED",
        }
    }
}

/// One notification matched to an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OperationConfirmation {
    pub virtual_card_id: String,
    pub action: String,
    /// The notification's outcome (`applied`, `no_change`, `error_recorded`, ...).
    pub outcome: String,
    #[serde(default)]
    pub error_code: Option<i64>,
    pub created_time: String,
}

/// An issuer-initiated operation (tree `correlationid_tshoperation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TshOperation {
    /// The `x-correlation-id` sent to TSH; also the transition's `token` in the staff API.
    pub correlation_id: String,
    /// `updateCardState` or `updateCard`.
    pub operation: String,
    /// `SUSPEND`, `RESUME`, `DELETE` (updateCardState) or `UPDATE` (updateCard).
    pub action: String,
    pub issuer_card_ref_id: String,
    /// Set when the operation targets one token.
    #[serde(default)]
    pub virtual_card_id: Option<String>,
    /// Tokens the operation is expected to change (one for a token transition, the card's
    /// matching tokens for block / unblock / replace).
    #[serde(default)]
    pub expected_virtual_card_ids: Vec<String>,
    /// Tokens of the card the operation did not send for (deleted or declined), so its per-token
    /// outcome says so (a card-level `updateCard`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedToken>,
    /// The state asked for (None for updateCard).
    #[serde(default)]
    pub target_state: Option<TokenState>,
    /// The token's state when the request was made (single-token operations).
    #[serde(default)]
    pub from_state: Option<TokenState>,
    /// Marqeta's two-digit reason code given by staff.
    #[serde(default)]
    pub reason_code: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    /// Who asked (the staff token's name).
    pub requested_by: String,
    pub status: OperationStatus,
    /// Why it failed (TSH's answer or the transport error); never card data.
    #[serde(default)]
    pub error: Option<String>,
    /// When TSH acknowledged the call (HTTP 200).
    #[serde(default)]
    pub tsh_accepted_time: Option<String>,
    #[serde(default)]
    pub confirmations: Vec<OperationConfirmation>,
    /// Set once the operation outlived `lifecycle.pending_timeout_secs` without every notification:
    /// it is then settled by asking TSH (`service::pending_ops`).
    #[serde(default)]
    pub expiry: Option<OperationExpiry>,
    pub created_time: String,
    pub last_modified_time: String,
}

/// How an expired operation is being (or was) settled with TSH's `getTokenInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OperationExpiry {
    pub expired_time: String,
    /// `getTokenInfo` rounds that failed (TSH unreachable); retried with backoff.
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub next_attempt_at_ms: u64,
    #[serde(default)]
    pub last_error: Option<String>,
    /// When TSH's answers settled it (CONFIRMED or FAILED).
    #[serde(default)]
    pub settled_time: Option<String>,
}

/// A token of the card left out of a card-level operation, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedToken {
    pub virtual_card_id: String,
    /// The state that left it out (`DELETED`: terminal; `REQUEST_DECLINED`: never provisioned).
    pub state: TokenState,
}

/// Where one token of an operation stands (the per-token outcome of a card-level action).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TokenOutcome {
    pub virtual_card_id: String,
    /// `pending`, `confirmed` (TSH's notification or, after expiry, its getTokenInfo),
    /// `failed` (an errorCode, or TSH reports another state) or `skipped` (not sent: `detail`
    /// gives the token's state, DELETED or REQUEST_DECLINED).
    pub outcome: &'static str,
    pub error_code: Option<i64>,
    /// The notification's or settlement's own outcome word (`applied`, `settled_by_tsh`, ...).
    pub detail: Option<String>,
}

impl TshOperation {
    /// One entry per token the operation is expected to change, from its confirmations, then one
    /// per token it left out.
    pub fn token_outcomes(&self) -> Vec<TokenOutcome> {
        let skipped = self.skipped.iter().map(|s| TokenOutcome {
            virtual_card_id: s.virtual_card_id.clone(),
            outcome: "skipped",
            error_code: None,
            detail: Some(s.state.as_str().to_owned()),
        });
        self.expected_virtual_card_ids
            .iter()
            .map(|vcid| {
                let mine: Vec<&OperationConfirmation> = self
                    .confirmations
                    .iter()
                    .filter(|c| &c.virtual_card_id == vcid)
                    .collect();
                let failed = mine
                    .iter()
                    .find(|c| c.error_code.is_some() || c.outcome == "tsh_disagrees");
                let confirmed = mine.iter().find(|c| c.error_code.is_none());
                let (outcome, chosen) = match (failed, confirmed) {
                    (Some(f), _) => ("failed", Some(*f)),
                    (None, Some(c)) => ("confirmed", Some(*c)),
                    (None, None) if self.status == OperationStatus::Failed => ("failed", None),
                    (None, None) => ("pending", None),
                };
                TokenOutcome {
                    virtual_card_id: vcid.clone(),
                    outcome,
                    error_code: chosen.and_then(|c| c.error_code),
                    detail: chosen.map(|c| c.outcome.clone()),
                }
            })
            .chain(skipped)
            .collect()
    }

    /// True when this operation is about the given token (directly or through its card).
    pub fn covers(&self, virtual_card_id: &str, issuer_card_ref_id: &str) -> bool {
        match &self.virtual_card_id {
            Some(own) => own == virtual_card_id,
            None => {
                self.expected_virtual_card_ids
                    .iter()
                    .any(|v| v == virtual_card_id)
                    || self.issuer_card_ref_id == issuer_card_ref_id
            }
        }
    }

    /// Records one matched notification and moves the status: any `errorCode` fails the
    /// operation; it is confirmed once every expected token has answered.
    pub fn confirm(&mut self, confirmation: OperationConfirmation) {
        let failed = confirmation.error_code.is_some();
        let error_code = confirmation.error_code;
        if !self.confirmations.iter().any(|c| {
            c.virtual_card_id == confirmation.virtual_card_id && c.action == confirmation.action
        }) {
            self.confirmations.push(confirmation);
        }
        if failed {
            self.status = OperationStatus::Failed;
            self.error = Some(format!(
                "TSH reported errorCode {} for a token of this operation",
                error_code.unwrap_or_default()
            ));
            return;
        }
        // A notification is TSH's word that the change happened: it confirms the operation even
        // when the call itself was reported as failed (e.g. TSH answered after our timeout).
        let any_error = self.confirmations.iter().any(|c| c.error_code.is_some());
        let all = self.expected_virtual_card_ids.iter().all(|v| {
            self.confirmations
                .iter()
                .any(|c| &c.virtual_card_id == v && c.error_code.is_none())
        });
        if all && !any_error {
            self.status = OperationStatus::Confirmed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(expected: &[&str]) -> TshOperation {
        TshOperation {
            correlation_id: "c".into(),
            operation: "updateCardState".into(),
            action: "SUSPEND".into(),
            issuer_card_ref_id: "card".into(),
            virtual_card_id: None,
            expected_virtual_card_ids: expected.iter().map(|s| (*s).to_owned()).collect(),
            skipped: Vec::new(),
            target_state: Some(TokenState::Suspended),
            from_state: None,
            reason_code: Some("06".into()),
            reason: None,
            requested_by: "ops".into(),
            status: OperationStatus::Pending,
            error: None,
            tsh_accepted_time: None,
            confirmations: Vec::new(),
            expiry: None,
            created_time: "t".into(),
            last_modified_time: "t".into(),
        }
    }

    fn confirmation(vcid: &str, error_code: Option<i64>) -> OperationConfirmation {
        OperationConfirmation {
            virtual_card_id: vcid.into(),
            action: "SUSPEND".into(),
            outcome: "applied".into(),
            error_code,
            created_time: "t".into(),
        }
    }

    #[test]
    fn a_card_level_operation_is_confirmed_when_every_token_answered() {
        let mut op = op(&["A", "B"]);
        op.confirm(confirmation("A", None));
        assert_eq!(op.status, OperationStatus::Pending);
        op.confirm(confirmation("A", None));
        assert_eq!(
            op.confirmations.len(),
            1,
            "a repeated confirmation is kept once"
        );
        op.confirm(confirmation("B", None));
        assert_eq!(op.status, OperationStatus::Confirmed);
    }

    #[test]
    fn a_late_notification_confirms_an_operation_whose_call_timed_out() {
        let mut op = op(&["A"]);
        op.status = OperationStatus::Failed;
        op.error = Some("TSH did not answer within 500 ms".into());
        op.confirm(confirmation("A", None));
        assert_eq!(op.status, OperationStatus::Confirmed);
    }

    #[test]
    fn an_error_code_fails_the_operation() {
        let mut op = op(&["A"]);
        op.confirm(confirmation("A", Some(221)));
        assert_eq!(op.status, OperationStatus::Failed);
        assert!(op.error.as_deref().unwrap().contains("221"));
    }

    #[test]
    fn each_token_of_a_card_level_operation_has_its_own_outcome() {
        let mut op = op(&["A", "B", "C"]);
        op.confirm(confirmation("A", None));
        op.confirm(confirmation("B", Some(221)));
        let outcomes: Vec<(String, &str, Option<i64>)> = op
            .token_outcomes()
            .into_iter()
            .map(|t| (t.virtual_card_id, t.outcome, t.error_code))
            .collect();
        assert_eq!(
            outcomes,
            [
                ("A".to_owned(), "confirmed", None),
                ("B".to_owned(), "failed", Some(221)),
                ("C".to_owned(), "failed", None)
            ],
            "the operation failed as a whole, so C (never answered) is failed too"
        );
    }

    #[test]
    fn tokens_left_out_of_a_card_level_operation_are_listed_as_skipped() {
        let mut op = op(&["A"]);
        op.skipped.push(SkippedToken {
            virtual_card_id: "Z".into(),
            state: TokenState::Deleted,
        });
        op.confirm(confirmation("A", None));
        assert_eq!(
            op.status,
            OperationStatus::Confirmed,
            "skipped tokens are not waited for"
        );
        let outcomes: Vec<(String, &str, Option<String>)> = op
            .token_outcomes()
            .into_iter()
            .map(|t| (t.virtual_card_id, t.outcome, t.detail))
            .collect();
        assert_eq!(
            outcomes,
            [
                ("A".to_owned(), "confirmed", Some("applied".to_owned())),
                ("Z".to_owned(), "skipped", Some("DELETED".to_owned()))
            ]
        );
        let stored = serde_json::to_value(&op).unwrap();
        assert_eq!(stored["skipped"][0]["state"], "DELETED");
        let mut plain = op.clone();
        plain.skipped.clear();
        let stored = serde_json::to_value(&plain).unwrap();
        assert!(
            stored.get("skipped").is_none(),
            "absent when empty: {stored}"
        );
    }

    #[test]
    fn an_operation_covers_its_token_or_its_card() {
        let mut single = op(&["A"]);
        single.virtual_card_id = Some("A".into());
        assert!(single.covers("A", "other"));
        assert!(!single.covers("B", "card"));
        let card = op(&["A"]);
        assert!(card.covers("Z", "card"));
        assert!(!card.covers("Z", "other"));
    }
}
