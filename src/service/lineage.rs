//! Token-for-token provenance and lineage (issue 10) over the store: finds the token a request's
//! original-token attributes name (by its own reference id or the fingerprint of its own number),
//! links a new token to its original when it is created, and walks a token's whole lineage.
//!
//! [`lineage_of`] is the staff view: a token's ancestors (its original, the original's original, …)
//! and every descendant. [`on_state_change`] is the original-death policy's hook, called where a
//! token's state changes; [`suspend_descendants`] carries out a `suspend` after TSH was answered.
//!
//! The lookups work the same inside a write transaction (`dyn Tx`) and in a read
//! (`StoreReader`), through the small [`TokenLookup`] trait. Must not: decide anything (the rules
//! do, from the facts `service::facts` builds out of a [`Provenance`]).

use std::collections::{HashSet, VecDeque};

use crate::domain::lineage::{
    clears_on_resume, descendant_action, is_death, resolve, DescendantAction, OnOriginalDeath,
    OriginalDeath, Provenance,
};
use crate::domain::{OriginalToken, TokenRecord, TokenState};
use crate::store::{StoreError, StoreReader, Tx, TxError};

/// At most this many of our tokens are read per attribute: more would be corrupt data, and the
/// answer (inconsistent) is the same with two.
const MAX_MATCHES: usize = 8;

/// The token queries lineage needs, inside or outside a transaction.
pub(crate) trait TokenLookup {
    type Error;
    fn token(&self, virtual_card_id: &str) -> Result<Option<TokenRecord>, Self::Error>;
    fn ids_by_reference(&self, reference_id: &str) -> Result<Vec<String>, Self::Error>;
    fn ids_by_fingerprint(&self, fingerprint: &str) -> Result<Vec<String>, Self::Error>;
    fn ids_made_from(&self, virtual_card_id: &str) -> Result<Vec<String>, Self::Error>;
}

impl TokenLookup for dyn Tx + '_ {
    type Error = TxError;
    fn token(&self, virtual_card_id: &str) -> Result<Option<TokenRecord>, TxError> {
        Tx::token(self, virtual_card_id)
    }
    fn ids_by_reference(&self, reference_id: &str) -> Result<Vec<String>, TxError> {
        self.token_ids_by_reference(reference_id)
    }
    fn ids_by_fingerprint(&self, fingerprint: &str) -> Result<Vec<String>, TxError> {
        self.token_ids_by_number_fingerprint(fingerprint)
    }
    fn ids_made_from(&self, virtual_card_id: &str) -> Result<Vec<String>, TxError> {
        self.token_ids_made_from(virtual_card_id)
    }
}

impl TokenLookup for StoreReader<'_> {
    type Error = StoreError;
    fn token(&self, virtual_card_id: &str) -> Result<Option<TokenRecord>, StoreError> {
        StoreReader::token(self, virtual_card_id)
    }
    fn ids_by_reference(&self, reference_id: &str) -> Result<Vec<String>, StoreError> {
        self.token_ids_by_reference(reference_id)
    }
    fn ids_by_fingerprint(&self, fingerprint: &str) -> Result<Vec<String>, StoreError> {
        self.token_ids_by_number_fingerprint(fingerprint)
    }
    fn ids_made_from(&self, virtual_card_id: &str) -> Result<Vec<String>, StoreError> {
        self.token_ids_made_from(virtual_card_id)
    }
}

fn load<L: TokenLookup + ?Sized>(
    store: &L,
    ids: Vec<String>,
) -> Result<Vec<TokenRecord>, L::Error> {
    let mut tokens = Vec::new();
    for id in ids.into_iter().take(MAX_MATCHES) {
        if let Some(token) = store.token(&id)? {
            tokens.push(token);
        }
    }
    Ok(tokens)
}

/// Which of our tokens the attributes name (see `domain::lineage::resolve`).
pub(crate) fn resolve_original<L: TokenLookup + ?Sized>(
    store: &L,
    given: &OriginalToken,
) -> Result<Provenance, L::Error> {
    let by_reference = match &given.token_reference_id {
        Some(reference) => load(store, store.ids_by_reference(reference)?)?,
        None => Vec::new(),
    };
    let by_number = match &given.token_fingerprint {
        Some(fingerprint) => load(store, store.ids_by_fingerprint(fingerprint)?)?,
        None => Vec::new(),
    };
    Ok(resolve(given, &by_reference, &by_number))
}

/// The provenance of a request's original token, read from the store (None without attributes).
pub async fn provenance(
    store: &crate::store::Store,
    original: Option<&OriginalToken>,
) -> Result<Option<Provenance>, StoreError> {
    let Some(given) = original.filter(|o| !o.is_empty()).cloned() else {
        return Ok(None);
    };
    store
        .lookup(move |r| resolve_original(r, &given).map(Some))
        .await
}

/// Links a token being created to its original: the one token its original-token attributes name
/// consistently, which must already exist (it is looked up before `token` is written). Called
/// only in the transaction that creates `token`; the link is never changed afterwards, so every
/// link points to an older token and a lineage can have no cycle.
pub(crate) fn link_at_creation(tx: &dyn Tx, token: &mut TokenRecord) -> Result<(), TxError> {
    let Some(given) = token.original_token.as_ref().filter(|o| !o.is_empty()) else {
        return Ok(());
    };
    let provenance = resolve_original(tx, given)?;
    token.original_virtual_card_id = provenance
        .original
        .map(|o| o.virtual_card_id)
        .filter(|id| *id != token.virtual_card_id);
    Ok(())
}

/// Bounds of one lineage walk. Lineages are acyclic by construction; the bounds (and the visited
/// set) keep a damaged store from turning a staff read into an endless one.
pub const MAX_ANCESTORS: usize = 64;
pub const MAX_DESCENDANTS: usize = 1000;

/// A descendant and its generation (1 = made from the token asked about).
pub type Descendant = (TokenRecord, usize);

/// A token's whole lineage.
#[derive(Debug, Clone)]
pub struct Lineage {
    pub token: TokenRecord,
    /// The original, then the original's original, … (nearest first).
    pub ancestors: Vec<TokenRecord>,
    /// Every descendant, breadth first, with its generation (1 = made from this token).
    pub descendants: Vec<Descendant>,
    /// True when a bound was reached and the lists are incomplete.
    pub truncated: bool,
}

/// Follows the links to the original, nearest first.
fn ancestors_of<L: TokenLookup + ?Sized>(
    store: &L,
    token: &TokenRecord,
    seen: &mut HashSet<String>,
) -> Result<(Vec<TokenRecord>, bool), L::Error> {
    let mut ancestors = Vec::new();
    let mut next = token.original_virtual_card_id.clone();
    while let Some(id) = next {
        if ancestors.len() == MAX_ANCESTORS || !seen.insert(id.clone()) {
            return Ok((ancestors, true));
        }
        let Some(original) = store.token(&id)? else {
            break;
        };
        next = original.original_virtual_card_id.clone();
        ancestors.push(original);
    }
    Ok((ancestors, false))
}

/// Every token made from `token`, directly or not, breadth first.
fn descendants_of<L: TokenLookup + ?Sized>(
    store: &L,
    token: &TokenRecord,
    seen: &mut HashSet<String>,
) -> Result<(Vec<Descendant>, bool), L::Error> {
    let mut found = Vec::new();
    let mut queue = VecDeque::from([(token.virtual_card_id.clone(), 0usize)]);
    while let Some((parent, generation)) = queue.pop_front() {
        for child in store.ids_made_from(&parent)? {
            if !seen.insert(child.clone()) {
                continue;
            }
            if found.len() == MAX_DESCENDANTS {
                return Ok((found, true));
            }
            if let Some(record) = store.token(&child)? {
                queue.push_back((child, generation + 1));
                found.push((record, generation + 1));
            }
        }
    }
    Ok((found, false))
}

/// Walks a token's lineage (None when the token is unknown).
pub(crate) fn walk<L: TokenLookup + ?Sized>(
    store: &L,
    virtual_card_id: &str,
) -> Result<Option<Lineage>, L::Error> {
    let Some(token) = store.token(virtual_card_id)? else {
        return Ok(None);
    };
    let mut seen = HashSet::from([token.virtual_card_id.clone()]);
    let (ancestors, ancestors_cut) = ancestors_of(store, &token, &mut seen)?;
    let (descendants, descendants_cut) = descendants_of(store, &token, &mut seen)?;
    Ok(Some(Lineage {
        token,
        ancestors,
        descendants,
        truncated: ancestors_cut || descendants_cut,
    }))
}

/// `GET /api/v1/tokens/{virtual_card_id}/lineage`: the token, its ancestors and descendants.
pub async fn lineage_of(
    store: &crate::store::Store,
    virtual_card_id: &str,
) -> Result<Option<Lineage>, StoreError> {
    let id = virtual_card_id.to_owned();
    store.read(move |r| walk(r, &id)).await
}

/// What the original-death policy did inside a notification's transaction, and what is left to
/// do once TSH has been answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeathFollowup {
    /// Descendants flagged (or re-flagged) by this change.
    pub flagged: Vec<String>,
    /// Descendants to suspend through TSH (policy `suspend`).
    pub suspend: Vec<String>,
    /// The policy and the dead ancestor's new state, for metrics and the suspension reason.
    pub policy: Option<OnOriginalDeath>,
    pub original_state: Option<TokenState>,
    pub reason: String,
}

impl DeathFollowup {
    /// Adds another change's follow-up (several tokens changed in one transaction). The policy,
    /// state and reason are the last non-empty one's (the suspension reason names one original).
    pub fn absorb(&mut self, other: DeathFollowup) {
        if other.flagged.is_empty() && other.suspend.is_empty() {
            return;
        }
        self.flagged.extend(other.flagged);
        self.suspend.extend(other.suspend);
        self.policy = other.policy;
        self.original_state = other.original_state;
        self.reason = other.reason;
    }
}

/// The hook for every token state change (called where a notification changes a state, inside its
/// transaction): when `token` has just entered SUSPENDED or DELETED, flags its live descendants
/// by `policy`; when it has just been resumed, clears the `flag`-policy flags its suspension set.
pub(crate) fn on_state_change(
    tx: &dyn Tx,
    token: &TokenRecord,
    (left, entered): (Option<TokenState>, TokenState),
    policy: OnOriginalDeath,
    correlation_id: &str,
    now: &str,
) -> Result<DeathFollowup, TxError> {
    let mut followup = DeathFollowup::default();
    let resumed = left == Some(TokenState::Suspended) && entered == TokenState::Active;
    if policy == OnOriginalDeath::None || !(is_death(entered) || resumed) {
        return Ok(followup);
    }
    let Some(lineage) = walk(tx, &token.virtual_card_id)? else {
        return Ok(followup);
    };
    let ancestor = token.virtual_card_id.as_str();
    let reason = format!(
        "token-for-token: token {ancestor} this token was made from is {}",
        entered.as_str()
    );
    for (mut descendant, _) in lineage.descendants {
        if resumed {
            if clears_on_resume(&descendant, ancestor) {
                descendant.original_death = None;
                descendant.last_modified_time = now.to_owned();
                tx.put_token(&descendant)?;
            }
            continue;
        }
        let action = descendant_action(&descendant, ancestor, entered, policy);
        if action == DescendantAction::Leave {
            continue;
        }
        descendant.original_death = Some(OriginalDeath {
            original_virtual_card_id: ancestor.to_owned(),
            original_state: entered,
            policy,
            reason: reason.clone(),
            correlation_id: correlation_id.to_owned(),
            created_time: now.to_owned(),
        });
        descendant.last_modified_time = now.to_owned();
        tx.put_token(&descendant)?;
        if action == DescendantAction::FlagAndSuspend {
            followup.suspend.push(descendant.virtual_card_id.clone());
        }
        followup.flagged.push(descendant.virtual_card_id);
    }
    if !followup.flagged.is_empty() {
        followup.policy = Some(policy);
        followup.original_state = Some(entered);
        followup.reason = reason;
    }
    Ok(followup)
}

/// Counts what the policy flagged (after the transaction committed).
pub fn count_flagged(followup: &DeathFollowup) {
    if let (Some(policy), Some(state)) = (followup.policy, followup.original_state) {
        crate::metrics::token_for_token_orphans(
            policy.as_str(),
            state.as_str(),
            followup.flagged.len() as u64,
        );
    }
}

/// Marqeta reason code sent with a policy suspension: 15, initiated by the issuer.
pub const POLICY_REASON_CODE: &str = "15";

/// Suspends the descendants the `suspend` policy named, through TSH like a staff action (actor
/// `lineage-policy`): pending until TSH's notification confirms each one, every attempt audited.
/// Runs after TSH's notification was answered; `answer` gives the audit trail its status, as for
/// a staff request.
pub async fn suspend_descendants(
    svc: &super::Services,
    followup: DeathFollowup,
    answer: super::staff_actions::AnswerStatus,
) {
    let actor = super::audit::Actor {
        name: "lineage-policy".to_owned(),
        role: crate::config::StaffRole::Operator,
    };
    for virtual_card_id in followup.suspend {
        let request = super::staff_actions::TransitionRequest {
            virtual_card_id: virtual_card_id.clone(),
            state: super::staff_actions::RequestedState::Suspended,
            reason_code: POLICY_REASON_CODE.to_owned(),
            reason: Some(followup.reason.clone()),
        };
        match super::staff_actions::transition_token(svc, &actor, request, answer).await {
            Ok(_) => {
                tracing::warn!(virtual_card_id = %virtual_card_id, "original token died: suspension requested from TSH")
            }
            Err(e) => {
                tracing::error!(virtual_card_id = %virtual_card_id, error = %e, "original token died: suspension failed (the token stays flagged)")
            }
        }
    }
}

/// `GET /api/v1/lineage/orphans`: flagged COF tokens, by virtual card id.
pub async fn orphans(
    store: &crate::store::Store,
    page: crate::store::Page,
) -> Result<crate::store::Paged<TokenRecord>, StoreError> {
    store.read(move |r| r.orphans(page)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn token(vcid: &str, original: Option<&str>) -> TokenRecord {
        let mut t: TokenRecord = serde_json::from_value(serde_json::json!({
            "virtual_card_id": vcid, "issuer_card_ref_id": "CARD", "state": "ACTIVE",
            "created_time": "2026-01-01T00:00:00Z", "last_modified_time": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        t.original_virtual_card_id = original.map(str::to_owned);
        t
    }

    #[test]
    fn a_damaged_store_with_a_cycle_still_gives_a_bounded_walk() {
        // Cannot happen through the service (links are set once, at creation, to older
        // tokens); written by hand here to prove the walk ends anyway.
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sled(dir.path()).unwrap();
        store
            .transact_blocking(|tx| {
                tx.put_token(&token("A", Some("B")))?;
                tx.put_token(&token("B", Some("A")))?;
                tx.put_token(&token("C", Some("A")))
            })
            .unwrap();
        let lineage = walk(&store.reader(), "A").unwrap().unwrap();
        let ancestors: Vec<&str> = lineage
            .ancestors
            .iter()
            .map(|t| t.virtual_card_id.as_str())
            .collect();
        assert_eq!(ancestors, ["B"]);
        assert!(lineage.truncated);
        let descendants: Vec<&str> = lineage
            .descendants
            .iter()
            .map(|(t, _)| t.virtual_card_id.as_str())
            .collect();
        assert_eq!(descendants, ["C"], "B was already seen as an ancestor");
        assert!(walk(&store.reader(), "nobody").unwrap().is_none());
    }
}
