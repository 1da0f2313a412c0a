//! Tokens (virtual cards), their state machine and transitions (contract §6, Marqeta-style records).
//!
//! `plan_notification` is the pure heart of `notifyVirtualCardChange`: given the token as stored (or
//! none) and one notification, it says what changes. It is order-safe by construction: a terminal
//! token never comes back, a late `ACTIVATE` cannot undo a later suspension, and repeating an action
//! on a token already in the target state changes nothing.

use serde::{Deserialize, Serialize};

use crate::domain::decision::DecisionSummary;
use crate::domain::lineage::OriginalDeath;
use crate::domain::OriginalToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenState {
    Requested,
    Active,
    Suspended,
    Deleted,
    RequestDeclined,
}

impl TokenState {
    pub fn as_str(&self) -> &'static str {
        match self {
            TokenState::Requested => "REQUESTED",
            TokenState::Active => "ACTIVE",
            TokenState::Suspended => "SUSPENDED",
            TokenState::Deleted => "DELETED",
            TokenState::RequestDeclined => "REQUEST_DECLINED",
        }
    }

    pub fn is_terminal(&self) -> bool {
        matches!(self, TokenState::Deleted)
    }
}

/// A lifecycle action as TSH names it; unknown values are kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum LifecycleAction {
    Activate,
    Suspend,
    Resume,
    Delete,
    DeleteFromApp,
    Update,
    Erase,
    Other(String),
}

impl LifecycleAction {
    pub fn as_str(&self) -> &str {
        match self {
            LifecycleAction::Activate => "ACTIVATE",
            LifecycleAction::Suspend => "SUSPEND",
            LifecycleAction::Resume => "RESUME",
            LifecycleAction::Delete => "DELETE",
            LifecycleAction::DeleteFromApp => "DELETE_FROM_APP",
            LifecycleAction::Update => "UPDATE",
            LifecycleAction::Erase => "ERASE",
            LifecycleAction::Other(other) => other,
        }
    }

    /// The state this action leads to, if it is a state change.
    pub fn target_state(&self) -> Option<TokenState> {
        match self {
            LifecycleAction::Activate | LifecycleAction::Resume => Some(TokenState::Active),
            LifecycleAction::Suspend => Some(TokenState::Suspended),
            LifecycleAction::Delete | LifecycleAction::DeleteFromApp | LifecycleAction::Erase => {
                Some(TokenState::Deleted)
            }
            LifecycleAction::Update | LifecycleAction::Other(_) => None,
        }
    }
}

impl From<String> for LifecycleAction {
    fn from(raw: String) -> Self {
        match raw.trim().to_ascii_uppercase().as_str() {
            "ACTIVATE" => LifecycleAction::Activate,
            "SUSPEND" => LifecycleAction::Suspend,
            "RESUME" => LifecycleAction::Resume,
            "DELETE" => LifecycleAction::Delete,
            "DELETE_FROM_APP" => LifecycleAction::DeleteFromApp,
            "UPDATE" => LifecycleAction::Update,
            "ERASE" => LifecycleAction::Erase,
            other => LifecycleAction::Other(other.to_owned()),
        }
    }
}

impl From<LifecycleAction> for String {
    fn from(action: LifecycleAction) -> Self {
        action.as_str().to_owned()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenRequestorInfo {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub wallet_id: Option<String>,
    #[serde(default)]
    pub merchant_id: Option<String>,
}

/// The token's own number (from `tokenInfo`), masked and fingerprinted; never in clear.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenNumberInfo {
    pub token_fingerprint: String,
    pub token_masked: String,
    pub token_last4: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenError {
    pub error_code: i64,
    pub action: String,
    pub correlation_id: String,
    pub created_time: String,
}

/// A token as stored (tree `virtualcardid_token`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub virtual_card_id: String,
    pub issuer_card_ref_id: String,
    pub state: TokenState,
    #[serde(default)]
    pub wallet_provider_id: Option<String>,
    #[serde(default)]
    pub token_requestor: Option<TokenRequestorInfo>,
    #[serde(default)]
    pub capture_method: Option<String>,
    #[serde(default)]
    pub token_storage_id: Option<String>,
    #[serde(default)]
    pub wallet_card_ref_id: Option<String>,
    #[serde(default)]
    pub wallet_virtual_card_id: Option<String>,
    #[serde(default)]
    pub is_primary: Option<bool>,
    #[serde(default)]
    pub device_binding_reference: Option<String>,
    #[serde(default)]
    pub token_number: Option<TokenNumberInfo>,
    /// The token's own reference id (from `tokenInfo`): how a later token-for-token request names
    /// this token as its original (`originalTokenReferenceID`).
    #[serde(default)]
    pub token_reference_id: Option<String>,
    /// The enrolment this token came from, when known.
    #[serde(default)]
    pub correlation_id: Option<String>,
    #[serde(default)]
    pub decision: Option<DecisionSummary>,
    #[serde(default)]
    pub original_token: Option<OriginalToken>,
    /// Lineage: the token this one was made from, set in the transaction that created this token
    /// and never changed (see `domain::lineage` for why that rules out cycles).
    #[serde(default)]
    pub original_virtual_card_id: Option<String>,
    /// Set by the `token_for_token.on_original_death` policy when an ancestor died.
    #[serde(default)]
    pub original_death: Option<OriginalDeath>,
    #[serde(default)]
    pub last_error: Option<TokenError>,
    /// Set the first time the token became ACTIVE; lets a late ACTIVATE be recognised.
    #[serde(default)]
    pub activated_time: Option<String>,
    pub created_time: String,
    pub last_modified_time: String,
}

/// A state transition (tree `virtualcardid_transitions`), oldest first per token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Transition {
    pub virtual_card_id: String,
    /// None when the transition created the token.
    pub from_state: Option<TokenState>,
    pub state: TokenState,
    #[serde(rename = "type")]
    pub transition_type: String,
    pub action: String,
    pub channel: String,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub reason_code: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    pub correlation_id: String,
    pub created_time: String,
}

/// Marqeta's transition `type` for a move between two states.
pub fn transition_type(from: Option<TokenState>, to: TokenState) -> &'static str {
    match (from, to) {
        (_, TokenState::Requested) => "fulfillment.requested",
        (Some(TokenState::Suspended), TokenState::Active) => "state.reinstated",
        (_, TokenState::Active) => "state.activated",
        (_, TokenState::Suspended) => "state.suspended",
        (_, TokenState::Deleted) => "state.terminated",
        (_, TokenState::RequestDeclined) => "state.request_declined",
    }
}

/// What one notification did to a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationOutcome {
    /// The token was created by this notification.
    Created,
    /// The state changed.
    Applied,
    /// Attributes updated (action UPDATE); state unchanged.
    Updated,
    /// Already in the target state, or an unknown action: nothing to change.
    NoChange,
    /// A late notification that would undo a newer state (e.g. ACTIVATE after a suspension).
    StaleIgnored,
    /// The token is deleted; terminal states never come back.
    TerminalIgnored,
    /// `errorCode` present: the requested change failed; recorded, no state change.
    ErrorRecorded,
    /// The exact same notification was received before.
    Duplicate,
    /// It contradicts recent history: recorded and held until TSH's `getTokenInfo` says which
    /// state is right (`service::state_checks`); no state change yet.
    HeldForCheck,
}

impl NotificationOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            NotificationOutcome::Created => "created",
            NotificationOutcome::Applied => "applied",
            NotificationOutcome::Updated => "updated",
            NotificationOutcome::NoChange => "no_change",
            NotificationOutcome::StaleIgnored => "stale_ignored",
            NotificationOutcome::TerminalIgnored => "terminal_ignored",
            NotificationOutcome::ErrorRecorded => "error_recorded",
            NotificationOutcome::Duplicate => "duplicate",
            NotificationOutcome::HeldForCheck => "held_for_check",
        }
    }
}

/// The state change one notification asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatePlan {
    pub outcome: NotificationOutcome,
    /// `Some((from, to))` when a transition must be recorded; `from` is None on creation.
    pub transition: Option<(Option<TokenState>, TokenState)>,
}

/// Decides what a notification does, given the current state (None = unknown token).
/// `initial` is the state an unknown token starts in when the action itself names no state
/// (REQUESTED after an approval, REQUEST_DECLINED after a red decision).
pub fn plan_notification(
    current: Option<TokenState>,
    action: &LifecycleAction,
    has_error: bool,
    was_activated: bool,
    initial: TokenState,
) -> StatePlan {
    let none = |outcome| StatePlan {
        outcome,
        transition: None,
    };
    let Some(current) = current else {
        let target = if has_error {
            initial
        } else {
            action.target_state().unwrap_or(initial)
        };
        return StatePlan {
            outcome: if has_error {
                NotificationOutcome::ErrorRecorded
            } else {
                NotificationOutcome::Created
            },
            transition: Some((None, target)),
        };
    };
    if has_error {
        return none(NotificationOutcome::ErrorRecorded);
    }
    if current.is_terminal() {
        return none(if action.target_state() == Some(TokenState::Deleted) {
            NotificationOutcome::NoChange
        } else {
            NotificationOutcome::TerminalIgnored
        });
    }
    match action {
        LifecycleAction::Update => none(NotificationOutcome::Updated),
        LifecycleAction::Other(_) => none(NotificationOutcome::NoChange),
        // An activation arriving while suspended is older than the suspension: the token
        // cannot be suspended before it was activated, so the activation happened first.
        LifecycleAction::Activate if current == TokenState::Suspended => {
            none(NotificationOutcome::StaleIgnored)
        }
        LifecycleAction::Activate if current == TokenState::Active || was_activated => {
            none(if current == TokenState::Active {
                NotificationOutcome::NoChange
            } else {
                NotificationOutcome::StaleIgnored
            })
        }
        _ => match action.target_state() {
            Some(target) if target == current => none(NotificationOutcome::NoChange),
            Some(target) => StatePlan {
                outcome: NotificationOutcome::Applied,
                transition: Some((Some(current), target)),
            },
            None => none(NotificationOutcome::NoChange),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LifecycleAction as A;
    use NotificationOutcome as O;
    use TokenState as S;

    #[test]
    fn state_machine_table() {
        // (name, current, action, has_error, was_activated, expected outcome, expected transition)
        type Row = (
            &'static str,
            Option<S>,
            A,
            bool,
            bool,
            O,
            Option<(Option<S>, S)>,
        );
        let rows: Vec<Row> = vec![
            (
                "unknown token activated is created active",
                None,
                A::Activate,
                false,
                false,
                O::Created,
                Some((None, S::Active)),
            ),
            (
                "unknown token suspended is created suspended",
                None,
                A::Suspend,
                false,
                false,
                O::Created,
                Some((None, S::Suspended)),
            ),
            (
                "unknown token with update starts requested",
                None,
                A::Update,
                false,
                false,
                O::Created,
                Some((None, S::Requested)),
            ),
            (
                "unknown token with error starts requested",
                None,
                A::Activate,
                true,
                false,
                O::ErrorRecorded,
                Some((None, S::Requested)),
            ),
            (
                "requested activates",
                Some(S::Requested),
                A::Activate,
                false,
                false,
                O::Applied,
                Some((Some(S::Requested), S::Active)),
            ),
            (
                "active activate again is no change",
                Some(S::Active),
                A::Activate,
                false,
                true,
                O::NoChange,
                None,
            ),
            (
                "active suspends",
                Some(S::Active),
                A::Suspend,
                false,
                true,
                O::Applied,
                Some((Some(S::Active), S::Suspended)),
            ),
            (
                "late activate after suspend is stale",
                Some(S::Suspended),
                A::Activate,
                false,
                true,
                O::StaleIgnored,
                None,
            ),
            (
                "suspended resumes",
                Some(S::Suspended),
                A::Resume,
                false,
                true,
                O::Applied,
                Some((Some(S::Suspended), S::Active)),
            ),
            (
                "suspend twice is no change",
                Some(S::Suspended),
                A::Suspend,
                false,
                true,
                O::NoChange,
                None,
            ),
            (
                "deleted never comes back on resume",
                Some(S::Deleted),
                A::Resume,
                false,
                true,
                O::TerminalIgnored,
                None,
            ),
            (
                "deleted never comes back on activate",
                Some(S::Deleted),
                A::Activate,
                false,
                true,
                O::TerminalIgnored,
                None,
            ),
            (
                "delete twice is no change",
                Some(S::Deleted),
                A::Erase,
                false,
                true,
                O::NoChange,
                None,
            ),
            (
                "error changes nothing",
                Some(S::Active),
                A::Suspend,
                true,
                true,
                O::ErrorRecorded,
                None,
            ),
            (
                "update keeps state",
                Some(S::Active),
                A::Update,
                false,
                true,
                O::Updated,
                None,
            ),
            (
                "unknown action keeps state",
                Some(S::Active),
                A::Other("REFRESH".into()),
                false,
                true,
                O::NoChange,
                None,
            ),
            (
                "declined token activated by the network",
                Some(S::RequestDeclined),
                A::Activate,
                false,
                false,
                O::Applied,
                Some((Some(S::RequestDeclined), S::Active)),
            ),
            (
                "delete from app terminates",
                Some(S::Suspended),
                A::DeleteFromApp,
                false,
                true,
                O::Applied,
                Some((Some(S::Suspended), S::Deleted)),
            ),
        ];
        for (name, current, action, has_error, was_activated, outcome, transition) in rows {
            let plan = plan_notification(current, &action, has_error, was_activated, S::Requested);
            assert_eq!(plan.outcome, outcome, "case: {name}");
            assert_eq!(plan.transition, transition, "case: {name}");
        }
    }

    #[test]
    fn transition_types_follow_marqeta() {
        assert_eq!(
            transition_type(Some(S::Suspended), S::Active),
            "state.reinstated"
        );
        assert_eq!(
            transition_type(Some(S::Requested), S::Active),
            "state.activated"
        );
        assert_eq!(transition_type(None, S::Active), "state.activated");
        assert_eq!(
            transition_type(Some(S::Active), S::Suspended),
            "state.suspended"
        );
        assert_eq!(
            transition_type(Some(S::Active), S::Deleted),
            "state.terminated"
        );
        assert_eq!(
            transition_type(None, S::RequestDeclined),
            "state.request_declined"
        );
        assert_eq!(transition_type(None, S::Requested), "fulfillment.requested");
    }

    #[test]
    fn actions_parse_case_insensitively_and_keep_unknown_values() {
        assert_eq!(A::from("activate".to_owned()), A::Activate);
        assert_eq!(A::from("Delete_From_App".to_owned()), A::DeleteFromApp);
        assert_eq!(A::from("freeze".to_owned()), A::Other("FREEZE".into()));
    }
}
