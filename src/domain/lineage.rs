//! Token-for-token provenance and lineage (issue 10), pure: which of our tokens a request's
//! original-token attributes name ([`resolve`]), what that says about the request
//! ([`Provenance`]), and what happens to COF tokens when their original dies ([`OnOriginalDeath`],
//! [`OriginalDeath`]). No I/O: the service looks the candidates up and hands them in.
//!
//! Why a lineage can never have a cycle: a token's link to its original
//! (`TokenRecord::original_virtual_card_id`) is set only in the transaction that creates the token,
//! only to a token that already exists then, and never changed afterwards. Every link therefore
//! points to a strictly older token, and following links always ends.

use serde::{Deserialize, Serialize};

use crate::domain::{OriginalToken, TokenRecord, TokenState};

/// What our records say about the original token a request names.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    /// At least one of our tokens carries the given reference id or token number.
    pub known: bool,
    /// The attributes name one token and it contradicts none of them (false when the reference id
    /// names one token and the number another, or several of our tokens match).
    pub consistent: bool,
    /// The one token the attributes name, when known and consistent.
    pub original: Option<TokenRecord>,
}

impl Provenance {
    pub fn unknown() -> Provenance {
        Provenance {
            known: false,
            consistent: true,
            original: None,
        }
    }
}

fn push_unique(into: &mut Vec<TokenRecord>, token: &TokenRecord) {
    if !into
        .iter()
        .any(|t| t.virtual_card_id == token.virtual_card_id)
    {
        into.push(token.clone());
    }
}

/// True when `token` holds a value for an attribute the request also gives, and they differ.
fn contradicts(token: &TokenRecord, given: &OriginalToken) -> bool {
    let reference_differs = match (&token.token_reference_id, &given.token_reference_id) {
        (Some(own), Some(named)) => own != named,
        _ => false,
    };
    let number_differs = match (&token.token_number, &given.token_fingerprint) {
        (Some(own), Some(named)) => &own.token_fingerprint != named,
        _ => false,
    };
    reference_differs || number_differs
}

/// Resolves the original token from our tokens found by the given reference id and by the given
/// number's fingerprint.
pub fn resolve(
    given: &OriginalToken,
    by_reference: &[TokenRecord],
    by_number: &[TokenRecord],
) -> Provenance {
    let mut matched: Vec<TokenRecord> = Vec::new();
    for token in by_reference.iter().chain(by_number) {
        push_unique(&mut matched, token);
    }
    match matched.as_slice() {
        [] => Provenance::unknown(),
        [only] if !contradicts(only, given) => Provenance {
            known: true,
            consistent: true,
            original: Some(only.clone()),
        },
        _ => Provenance {
            known: true,
            consistent: false,
            original: None,
        },
    }
}

/// Whole days between two RFC 3339 times (0 when `since` is in the future or unreadable).
pub fn age_days(since: &str, now: time::OffsetDateTime) -> Option<f64> {
    let since = crate::domain::time::parse_rfc3339(since)?;
    let days = (now - since).whole_days().max(0);
    // Small counts: exact as f64.
    Some(days as f64)
}

/// Two requestor ids agree (trimmed, ignoring ASCII case: some senders send numbers, some strings).
pub fn requestor_ids_agree(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// `token_for_token.on_original_death`: what happens to the COF tokens made from a token that is
/// suspended or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnOriginalDeath {
    /// Nothing is recorded.
    None,
    /// Each live descendant is flagged: listed at `GET /api/v1/lineage/orphans`, counted in metrics.
    Flag,
    /// Flagged, and suspended through TSH's `updateCardState` (audited, reason recorded).
    Suspend,
}

impl OnOriginalDeath {
    pub fn parse(raw: &str) -> Option<OnOriginalDeath> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "none" => Some(OnOriginalDeath::None),
            "flag" => Some(OnOriginalDeath::Flag),
            "suspend" => Some(OnOriginalDeath::Suspend),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            OnOriginalDeath::None => "none",
            OnOriginalDeath::Flag => "flag",
            OnOriginalDeath::Suspend => "suspend",
        }
    }
}

/// Recorded on a COF token whose original (or an earlier ancestor) was suspended or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OriginalDeath {
    /// The ancestor that died.
    pub original_virtual_card_id: String,
    /// The state it entered: `SUSPENDED` or `DELETED`.
    pub original_state: TokenState,
    /// The policy in force when it happened.
    pub policy: OnOriginalDeath,
    /// Why (also the reason sent to TSH with a suspension).
    pub reason: String,
    /// Correlation id of the notification that reported the death.
    pub correlation_id: String,
    pub created_time: String,
}

/// A state that makes a token's descendants orphans.
pub fn is_death(state: TokenState) -> bool {
    matches!(state, TokenState::Suspended | TokenState::Deleted)
}

/// A descendant the policy still applies to: neither deleted nor declined.
pub fn is_live_descendant(token: &TokenRecord) -> bool {
    !matches!(
        token.state,
        TokenState::Deleted | TokenState::RequestDeclined
    )
}

/// Listed at `GET /api/v1/lineage/orphans`: flagged, and not deleted itself (a deleted COF token
/// keeps its flag as history but needs no one's attention).
pub fn is_listed_orphan(token: &TokenRecord) -> bool {
    token.original_death.is_some() && token.state != TokenState::Deleted
}

/// What the policy does to one descendant when an ancestor enters a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DescendantAction {
    /// Nothing: not a death, not live, or already flagged for this (or an earlier) death.
    Leave,
    /// Flag it (or update its flag: the same ancestor went from suspended to deleted).
    Flag,
    /// Flag it and ask TSH to suspend it (first flag, policy `suspend`, token not suspended).
    FlagAndSuspend,
}

/// Decides for one descendant. A descendant already flagged keeps its first flag (a cascade — the
/// COF token suspended by the policy dying in turn — or a repeated notification flags nothing
/// new), except that the same ancestor's deletion after its suspension updates the flag.
pub fn descendant_action(
    descendant: &TokenRecord,
    ancestor: &str,
    state: TokenState,
    policy: OnOriginalDeath,
) -> DescendantAction {
    if policy == OnOriginalDeath::None || !is_death(state) || !is_live_descendant(descendant) {
        return DescendantAction::Leave;
    }
    match &descendant.original_death {
        Some(flag) => {
            let escalates = flag.original_virtual_card_id == ancestor
                && flag.original_state == TokenState::Suspended
                && state == TokenState::Deleted;
            if escalates {
                DescendantAction::Flag
            } else {
                DescendantAction::Leave
            }
        }
        None if policy == OnOriginalDeath::Suspend
            && matches!(descendant.state, TokenState::Active | TokenState::Requested) =>
        {
            DescendantAction::FlagAndSuspend
        }
        None => DescendantAction::Flag,
    }
}

/// When an ancestor comes back (SUSPENDED → ACTIVE), a `flag`-policy flag it caused is cleared: the
/// COF token is no longer an orphan. A `suspend`-policy flag stays: that token was suspended on
/// purpose and staff decide whether to resume it.
pub fn clears_on_resume(descendant: &TokenRecord, ancestor: &str) -> bool {
    descendant.original_death.as_ref().is_some_and(|flag| {
        flag.original_virtual_card_id == ancestor
            && flag.original_state == TokenState::Suspended
            && flag.policy == OnOriginalDeath::Flag
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::token::TokenNumberInfo;

    fn token(vcid: &str, reference: Option<&str>, fingerprint: Option<&str>) -> TokenRecord {
        let mut t: TokenRecord = serde_json::from_value(serde_json::json!({
            "virtual_card_id": vcid, "issuer_card_ref_id": "CARD", "state": "ACTIVE",
            "created_time": "2026-01-01T00:00:00Z", "last_modified_time": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        t.token_reference_id = reference.map(str::to_owned);
        t.token_number = fingerprint.map(|fp| TokenNumberInfo {
            token_fingerprint: fp.to_owned(),
            token_masked: "489537******0000".to_owned(),
            token_last4: "0000".to_owned(),
        });
        t
    }

    fn given(reference: Option<&str>, fingerprint: Option<&str>) -> OriginalToken {
        OriginalToken {
            token_reference_id: reference.map(str::to_owned),
            token_fingerprint: fingerprint.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn resolution_table() {
        let a = token("A", Some("REF-A"), Some("FP-A"));
        let b = token("B", Some("REF-B"), Some("FP-B"));
        let a_without_number = token("A", Some("REF-A"), None);
        // (case, given, found by reference, found by number, known, consistent, original)
        type Row<'a> = (
            &'a str,
            OriginalToken,
            Vec<TokenRecord>,
            Vec<TokenRecord>,
            bool,
            bool,
            Option<&'a str>,
        );
        #[rustfmt::skip]
        let rows: Vec<Row> = vec![
            ("nothing found", given(Some("REF-X"), Some("FP-X")), vec![], vec![], false, true, None),
            ("both name the same token", given(Some("REF-A"), Some("FP-A")), vec![a.clone()], vec![a.clone()], true, true, Some("A")),
            ("reference only", given(Some("REF-A"), None), vec![a.clone()], vec![], true, true, Some("A")),
            ("number only", given(None, Some("FP-A")), vec![], vec![a.clone()], true, true, Some("A")),
            ("reference of one, number of another", given(Some("REF-A"), Some("FP-B")), vec![a.clone()], vec![b.clone()], true, false, None),
            ("reference found, number unknown but the token has another", given(Some("REF-A"), Some("FP-X")), vec![a.clone()], vec![], true, false, None),
            ("reference found, token has no number on record", given(Some("REF-A"), Some("FP-X")), vec![a_without_number], vec![], true, true, Some("A")),
            ("number found, token has another reference", given(Some("REF-X"), Some("FP-A")), vec![], vec![a.clone()], true, false, None),
            ("two of our tokens claim the reference", given(Some("REF-A"), None), vec![a.clone(), token("C", Some("REF-A"), None)], vec![], true, false, None),
        ];
        for (name, given, by_reference, by_number, known, consistent, original) in rows {
            let p = resolve(&given, &by_reference, &by_number);
            assert_eq!((p.known, p.consistent), (known, consistent), "case: {name}");
            assert_eq!(
                p.original.as_ref().map(|t| t.virtual_card_id.as_str()),
                original,
                "case: {name}"
            );
        }
    }

    #[test]
    fn age_is_in_whole_days_and_never_negative() {
        let now = crate::domain::time::parse_rfc3339("2026-01-11T12:00:00Z").unwrap();
        assert_eq!(age_days("2026-01-01T13:00:00Z", now), Some(9.0));
        assert_eq!(age_days("2026-02-01T00:00:00Z", now), Some(0.0));
        assert_eq!(age_days("yesterday", now), None);
    }

    fn flagged(by: &str, state: TokenState, policy: OnOriginalDeath) -> OriginalDeath {
        OriginalDeath {
            original_virtual_card_id: by.to_owned(),
            original_state: state,
            policy,
            reason: String::new(),
            correlation_id: String::new(),
            created_time: String::new(),
        }
    }

    #[test]
    fn what_a_death_does_to_a_descendant() {
        use DescendantAction::{Flag, FlagAndSuspend, Leave};
        use OnOriginalDeath as P;
        use TokenState as S;
        let live = token("COF", None, None);
        let mut suspended = live.clone();
        suspended.state = S::Suspended;
        let mut deleted = live.clone();
        deleted.state = S::Deleted;
        let mut flagged_by_suspension = live.clone();
        flagged_by_suspension.original_death = Some(flagged("DEV", S::Suspended, P::Flag));
        // (case, descendant, ancestor's new state, policy, expected)
        #[rustfmt::skip]
        let rows = [
            ("policy none", &live, S::Suspended, P::None, Leave),
            ("not a death", &live, S::Active, P::Suspend, Leave),
            ("flag on suspension", &live, S::Suspended, P::Flag, Flag),
            ("flag on deletion", &live, S::Deleted, P::Flag, Flag),
            ("suspend an active COF", &live, S::Deleted, P::Suspend, FlagAndSuspend),
            ("an already suspended COF is only flagged", &suspended, S::Deleted, P::Suspend, Flag),
            ("a deleted COF is left alone", &deleted, S::Deleted, P::Suspend, Leave),
            ("already flagged: the first flag stays", &flagged_by_suspension, S::Suspended, P::Suspend, Leave),
            ("same ancestor deleted after suspended: flag updated", &flagged_by_suspension, S::Deleted, P::Suspend, Flag),
        ];
        for (name, descendant, state, policy, expected) in rows {
            assert_eq!(
                descendant_action(descendant, "DEV", state, policy),
                expected,
                "case: {name}"
            );
        }
        assert_eq!(
            descendant_action(&flagged_by_suspension, "OTHER", S::Deleted, P::Flag),
            Leave
        );
        assert!(clears_on_resume(&flagged_by_suspension, "DEV"));
        assert!(!clears_on_resume(&flagged_by_suspension, "OTHER"));
        let mut suspended_by_policy = live.clone();
        suspended_by_policy.original_death = Some(flagged("DEV", S::Suspended, P::Suspend));
        assert!(!clears_on_resume(&suspended_by_policy, "DEV"));
        assert!(is_listed_orphan(&flagged_by_suspension));
        let mut gone = flagged_by_suspension.clone();
        gone.state = S::Deleted;
        assert!(!is_listed_orphan(&gone));
    }

    #[test]
    fn policy_names_parse_ignoring_case() {
        assert_eq!(
            OnOriginalDeath::parse(" Flag "),
            Some(OnOriginalDeath::Flag)
        );
        assert_eq!(
            OnOriginalDeath::parse("SUSPEND"),
            Some(OnOriginalDeath::Suspend)
        );
        assert_eq!(OnOriginalDeath::parse("none"), Some(OnOriginalDeath::None));
        assert_eq!(OnOriginalDeath::parse("delete"), None);
        assert!(requestor_ids_agree("40010030273", " 40010030273"));
        assert!(!requestor_ids_agree("40010030273", "40010030274"));
    }
}
