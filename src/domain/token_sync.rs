//! Keeping a token's state in step with TSH, the authority (issue 11): what the service remembers
//! per token beyond the token record itself (tree `virtualcardid_tokensync`), and the pure rules
//! that decide when a notification is suspect and what TSH's word does to our state.
//!
//! TSH sends no timestamps, so a notification that contradicts recent history — a RESUME for an
//! ACTIVE token, a SUSPEND just after a RESUME, an ACTIVATE on a SUSPENDED token — may be old news
//! delivered late. Such a notification is recorded and *held*; the token keeps its state until
//! TSH's `getTokenInfo` says what it is ([`StateCheck`]). Pure data and decisions: no I/O here.

use serde::{Deserialize, Serialize};

use crate::domain::{LifecycleAction, TokenState};

/// Why a notification was held for a check with TSH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Suspicion {
    /// RESUME while ACTIVE: a RESUME older than a later SUSPEND would be undone by it.
    ResumeWhileActive,
    /// SUSPEND within `lifecycle.resume_suspend_window_secs` of a RESUME: possibly delivered after
    /// the RESUME that followed it.
    SuspendJustAfterResume,
    /// ACTIVATE while SUSPENDED: normally older than the suspension.
    ActivateWhileSuspended,
}

impl Suspicion {
    pub fn as_str(&self) -> &'static str {
        match self {
            Suspicion::ResumeWhileActive => "resume_while_active",
            Suspicion::SuspendJustAfterResume => "suspend_just_after_resume",
            Suspicion::ActivateWhileSuspended => "activate_while_suspended",
        }
    }
}

/// Does this notification contradict recent history? `last_resume_unix` is when the last RESUME
/// for the token was received (applied or held).
pub fn suspicion(
    current: TokenState,
    action: &LifecycleAction,
    last_resume_unix: Option<i64>,
    now_unix: i64,
    window_secs: u64,
) -> Option<Suspicion> {
    match (action, current) {
        (LifecycleAction::Resume, TokenState::Active) => Some(Suspicion::ResumeWhileActive),
        (LifecycleAction::Activate, TokenState::Suspended) => {
            Some(Suspicion::ActivateWhileSuspended)
        }
        (LifecycleAction::Suspend, TokenState::Active | TokenState::Suspended) => {
            let recent = last_resume_unix
                .is_some_and(|at| now_unix.saturating_sub(at).unsigned_abs() <= window_secs);
            recent.then_some(Suspicion::SuspendJustAfterResume)
        }
        _ => None,
    }
}

/// A notification held until TSH confirms the token's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldNotification {
    pub action: String,
    pub correlation_id: String,
    pub suspicion: Suspicion,
    #[serde(default)]
    pub source: Option<String>,
    pub received_time: String,
}

/// A pending check of one token against TSH's `getTokenInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCheck {
    pub issuer_card_ref_id: String,
    pub held: Vec<HeldNotification>,
    #[serde(default)]
    pub attempts: u32,
    /// Unix milliseconds before which TSH is not asked again (backoff after a failure).
    #[serde(default)]
    pub next_attempt_at_ms: u64,
    #[serde(default)]
    pub last_error: Option<String>,
    pub created_time: String,
}

/// A notification whose order could not be checked (no TSH configured, or TSH unreachable until
/// the check gave up): today's ordering rule decided, and the doubt is kept for staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ambiguity {
    pub action: String,
    pub correlation_id: String,
    pub suspicion: Suspicion,
    /// The notification outcome the ordering rule gave (`applied`, `no_change`, `stale_ignored`).
    pub outcome: String,
    /// Why TSH was not asked (`tsh not configured`, or the last error).
    pub why: String,
    pub created_time: String,
}

/// How the last check ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// TSH's state as read, or None when the check gave up.
    #[serde(default)]
    pub tsh_state: Option<String>,
    pub state_before: TokenState,
    pub state_after: TokenState,
    pub held: Vec<HeldNotification>,
    pub created_time: String,
}

/// Per-token synchronisation record (tree `virtualcardid_tokensync`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSync {
    pub virtual_card_id: String,
    /// RFC 3339 time the last RESUME was received for the token (applied or held).
    #[serde(default)]
    pub last_resume_time: Option<String>,
    /// The correlation id of the issuer operation last started on this token; it blocks another
    /// while that operation is still pending (409).
    #[serde(default)]
    pub pending_operation: Option<String>,
    #[serde(default)]
    pub check: Option<StateCheck>,
    #[serde(default)]
    pub last_check: Option<CheckResult>,
    /// The most recent ambiguities, oldest first (bounded by [`MAX_AMBIGUITIES`]).
    #[serde(default)]
    pub ambiguities: Vec<Ambiguity>,
}

/// Ambiguities kept per token.
pub const MAX_AMBIGUITIES: usize = 20;
/// Held notifications kept per check (a flood of contradicting messages cannot grow a record).
pub const MAX_HELD: usize = 20;

impl TokenSync {
    pub fn new(virtual_card_id: &str) -> TokenSync {
        TokenSync {
            virtual_card_id: virtual_card_id.to_owned(),
            last_resume_time: None,
            pending_operation: None,
            check: None,
            last_check: None,
            ambiguities: Vec::new(),
        }
    }

    /// Holds a notification, opening a check (due at once) if none is pending.
    pub fn hold(&mut self, issuer_card_ref_id: &str, held: HeldNotification) {
        let check = self.check.get_or_insert_with(|| StateCheck {
            issuer_card_ref_id: issuer_card_ref_id.to_owned(),
            held: Vec::new(),
            attempts: 0,
            next_attempt_at_ms: 0,
            last_error: None,
            created_time: held.received_time.clone(),
        });
        if check.held.len() < MAX_HELD {
            check.held.push(held);
        }
    }

    pub fn note_ambiguity(&mut self, ambiguity: Ambiguity) {
        if self.ambiguities.len() >= MAX_AMBIGUITIES {
            self.ambiguities.remove(0);
        }
        self.ambiguities.push(ambiguity);
    }
}

/// TSH's token status (`getCardInfo` / `getTokenInfo` `status`) in our states; None when unknown.
pub fn state_from_tsh(status: &str) -> Option<TokenState> {
    match status.trim().to_ascii_uppercase().as_str() {
        "ACTIVE" | "ACTIVATED" | "RESUMED" => Some(TokenState::Active),
        "SUSPENDED" | "SUSPEND" | "INACTIVE" => Some(TokenState::Suspended),
        "DELETED" | "DELETE" | "ERASED" | "REMOVED" | "TERMINATED" => Some(TokenState::Deleted),
        "REQUESTED" | "PENDING" | "PENDING_ACTIVATION" => Some(TokenState::Requested),
        _ => None,
    }
}

/// What TSH's word does to our state: `Some(new)` when the token must move. A deleted token never
/// comes back, whatever TSH says (its drift is reported, not applied).
pub fn take_tsh_state(ours: TokenState, tsh: TokenState) -> Option<TokenState> {
    if ours == tsh || ours.is_terminal() {
        return None;
    }
    Some(tsh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use LifecycleAction as A;
    use TokenState as S;

    #[test]
    fn suspect_notifications_are_the_three_named_in_the_issue() {
        let now = 1_000_000;
        type Row = (&'static str, S, A, Option<i64>, Option<Suspicion>);
        let rows: Vec<Row> = vec![
            (
                "resume for an active token",
                S::Active,
                A::Resume,
                None,
                Some(Suspicion::ResumeWhileActive),
            ),
            (
                "resume for a suspended token is normal",
                S::Suspended,
                A::Resume,
                None,
                None,
            ),
            (
                "activate on a suspended token",
                S::Suspended,
                A::Activate,
                None,
                Some(Suspicion::ActivateWhileSuspended),
            ),
            (
                "activate on a requested token is normal",
                S::Requested,
                A::Activate,
                None,
                None,
            ),
            (
                "suspend 10 s after a resume",
                S::Active,
                A::Suspend,
                Some(now - 10),
                Some(Suspicion::SuspendJustAfterResume),
            ),
            (
                "suspend after a held resume, still suspended",
                S::Suspended,
                A::Suspend,
                Some(now - 1),
                Some(Suspicion::SuspendJustAfterResume),
            ),
            (
                "suspend long after a resume is normal",
                S::Active,
                A::Suspend,
                Some(now - 61),
                None,
            ),
            (
                "suspend with no resume is normal",
                S::Active,
                A::Suspend,
                None,
                None,
            ),
            (
                "delete is never held",
                S::Active,
                A::Delete,
                Some(now),
                None,
            ),
            (
                "nothing on a deleted token",
                S::Deleted,
                A::Resume,
                None,
                None,
            ),
        ];
        for (name, current, action, last_resume, expected) in rows {
            assert_eq!(
                suspicion(current, &action, last_resume, now, 60),
                expected,
                "case: {name}"
            );
        }
    }

    #[test]
    fn tsh_states_are_read_tolerantly_and_never_revive_a_deleted_token() {
        assert_eq!(state_from_tsh("active"), Some(S::Active));
        assert_eq!(state_from_tsh("SUSPENDED"), Some(S::Suspended));
        assert_eq!(state_from_tsh("Deleted"), Some(S::Deleted));
        assert_eq!(state_from_tsh("FROZEN"), None);
        assert_eq!(take_tsh_state(S::Active, S::Suspended), Some(S::Suspended));
        assert_eq!(take_tsh_state(S::Suspended, S::Suspended), None);
        assert_eq!(take_tsh_state(S::Deleted, S::Active), None);
        assert_eq!(take_tsh_state(S::Requested, S::Active), Some(S::Active));
    }

    #[test]
    fn holding_opens_one_check_and_bounds_it() {
        let mut sync = TokenSync::new("VC");
        for i in 0..(MAX_HELD + 5) {
            sync.hold(
                "CARD",
                HeldNotification {
                    action: "RESUME".into(),
                    correlation_id: format!("c{i}"),
                    suspicion: Suspicion::ResumeWhileActive,
                    source: None,
                    received_time: "t".into(),
                },
            );
        }
        let check = sync.check.unwrap();
        assert_eq!(check.held.len(), MAX_HELD);
        assert_eq!(check.held[0].correlation_id, "c0");
    }
}
