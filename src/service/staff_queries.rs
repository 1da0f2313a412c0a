//! Staff read use cases shared by the staff API and the console: a token with its history,
//! lineage and decisions; a card with its tokens; an enrolment with its decisions; the stand-in
//! review queue; the shadow-rules agreement. Domain records in, domain records out (each caller
//! renders its own view); reads only, through [`crate::store::StoreReader`].
//!
//! Must not: write, or return anything that holds card data in clear (records never do).

use std::collections::BTreeMap;

use crate::domain::{CardRecord, DecidedBy, DecisionRecord, Enrollment, TokenRecord, Transition};
use crate::store::{Page, Paged, Store, StoreError, StoreReader};

/// Everything a token page shows.
#[derive(Debug, Clone)]
pub struct TokenDetail {
    pub token: TokenRecord,
    pub transitions: Paged<Transition>,
    /// Token-for-token, upwards: the original token this one was made from, when we issued it.
    pub original: Option<TokenRecord>,
    /// Token-for-token, downwards: tokens made from this one.
    pub derived: Vec<TokenRecord>,
    /// Other tokens made from the same original token reference id (siblings).
    pub siblings: Vec<TokenRecord>,
    /// The decisions of the enrolment that created it, oldest first.
    pub decisions: Vec<DecisionRecord>,
}

/// Lineage of one token: (original, derived, siblings).
type Lineage = (Option<TokenRecord>, Vec<TokenRecord>, Vec<TokenRecord>);

/// Most lineage entries listed per direction.
const LINEAGE_LIMIT: usize = 50;

fn decisions_of(
    r: &StoreReader<'_>,
    enrollment: &Enrollment,
) -> Result<Vec<DecisionRecord>, StoreError> {
    let mut decisions = Vec::with_capacity(enrollment.decision_ids.len());
    for id in &enrollment.decision_ids {
        if let Some(d) = r.decision(id)? {
            decisions.push(d);
        }
    }
    Ok(decisions)
}

fn tokens_by_ids(r: &StoreReader<'_>, ids: &[String]) -> Result<Vec<TokenRecord>, StoreError> {
    let mut tokens = Vec::new();
    for id in ids.iter().take(LINEAGE_LIMIT) {
        if let Some(token) = r.token(id)? {
            tokens.push(token);
        }
    }
    Ok(tokens)
}

/// Upwards through the resolved parent (`original_virtual_card_id`), downwards through the
/// lineage index, sideways through the original token reference id.
fn lineage(r: &StoreReader<'_>, token: &TokenRecord) -> Result<Lineage, StoreError> {
    let original = match token.original_virtual_card_id.as_deref() {
        Some(parent) => r.token(parent)?,
        None => None,
    };
    let derived = tokens_by_ids(r, &r.token_ids_made_from(&token.virtual_card_id)?)?;
    let siblings = match token
        .original_token
        .as_ref()
        .and_then(|o| o.token_reference_id.as_ref())
    {
        Some(reference) => r
            .tokens_by_original_reference(reference, Page::new(0, LINEAGE_LIMIT))?
            .data
            .into_iter()
            .filter(|t| t.virtual_card_id != token.virtual_card_id)
            .collect(),
        None => Vec::new(),
    };
    Ok((original, derived, siblings))
}

/// One token with its transitions (`page` of them, oldest first), lineage both ways and decisions.
pub async fn token_detail(
    store: &Store,
    virtual_card_id: &str,
    page: Page,
) -> Result<Option<TokenDetail>, StoreError> {
    let vcid = virtual_card_id.to_owned();
    store
        .read(move |r| {
            let Some(token) = r.token(&vcid)? else {
                return Ok(None);
            };
            let transitions = r.transitions(&vcid, page)?;
            let (original, derived, siblings) = lineage(r, &token)?;
            let decisions = match token.correlation_id.as_deref() {
                Some(cid) => match r.enrollment(cid)? {
                    Some(enrollment) => decisions_of(r, &enrollment)?,
                    None => Vec::new(),
                },
                None => Vec::new(),
            };
            Ok(Some(TokenDetail {
                token,
                transitions,
                original,
                derived,
                siblings,
                decisions,
            }))
        })
        .await
}

/// A card and a page of its tokens.
pub async fn card_with_tokens(
    store: &Store,
    issuer_card_ref_id: &str,
    page: Page,
) -> Result<Option<(CardRecord, Paged<TokenRecord>)>, StoreError> {
    let reference = issuer_card_ref_id.to_owned();
    store
        .read(move |r| {
            let Some(card) = r.card(&reference)? else {
                return Ok(None);
            };
            Ok(Some((card, r.tokens_of_card(&reference, page)?)))
        })
        .await
}

/// An enrolment session with its decisions, oldest first.
pub async fn enrollment_with_decisions(
    store: &Store,
    correlation_id: &str,
) -> Result<Option<(Enrollment, Vec<DecisionRecord>)>, StoreError> {
    let cid = correlation_id.to_owned();
    store
        .read(move |r| {
            let Some(enrollment) = r.enrollment(&cid)? else {
                return Ok(None);
            };
            let decisions = decisions_of(r, &enrollment)?;
            Ok(Some((enrollment, decisions)))
        })
        .await
}

fn is_mismatch(d: &DecisionRecord) -> bool {
    d.review.as_ref().is_some_and(|review| review.mismatch)
}

/// Network stand-in decisions to review: mismatches (network approved what our rules refuse)
/// first, then the rest, each newest first.
pub async fn standin_review_queue(
    store: &Store,
    page: Page,
) -> Result<Paged<DecisionRecord>, StoreError> {
    store
        .read(move |r| {
            let (mut mismatches, mut others) = (Vec::new(), Vec::new());
            r.for_each_decision(|d| {
                if d.decided_by == DecidedBy::Network {
                    if is_mismatch(d) {
                        mismatches.push(d.clone());
                    } else {
                        others.push(d.clone());
                    }
                }
            })?;
            Paged::from_iter(mismatches.into_iter().chain(others).map(Ok), page)
        })
        .await
}

/// How the shadow rules compare with the live ones over every recorded decision.
#[derive(Debug, Clone)]
pub struct ShadowAgreement {
    pub evaluated: usize,
    pub agreements: usize,
    /// `live→shadow` outcome pairs, e.g. `green→red`.
    pub by_outcome: BTreeMap<String, usize>,
    /// A page of the disagreeing decisions, newest first.
    pub disagreeing: Paged<DecisionRecord>,
}

impl ShadowAgreement {
    pub fn disagreements(&self) -> usize {
        self.evaluated - self.agreements
    }
}

pub async fn shadow_agreement(store: &Store, page: Page) -> Result<ShadowAgreement, StoreError> {
    store
        .read(move |r| {
            let (mut evaluated, mut agreements) = (0, 0);
            let mut by_outcome = BTreeMap::new();
            r.for_each_decision(|d| {
                if let Some(shadow) = &d.shadow {
                    evaluated += 1;
                    if shadow.agrees {
                        agreements += 1;
                    }
                    let key = format!(
                        "{}→{}",
                        d.level_of_trust.as_str(),
                        shadow.level_of_trust.as_str()
                    );
                    *by_outcome.entry(key).or_insert(0) += 1;
                }
            })?;
            let disagreeing =
                r.decisions_where(page, |d| d.shadow.as_ref().is_some_and(|s| !s.agrees))?;
            Ok(ShadowAgreement {
                evaluated,
                agreements,
                by_outcome,
                disagreeing,
            })
        })
        .await
}
