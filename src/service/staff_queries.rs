//! Staff read use cases: cards, tokens, token lineage, transitions, enrolments, decisions, TSH
//! operations, the audit trail, and the rules' shadow and stand-in reports. Shared by the staff
//! API and the staff console, so they answer in domain records (never HTTP or view types) and say
//! `NotFound` in words, leaving the status and the shape to the caller. Reads only; nothing
//! returned holds card data in clear (records never do).

use std::collections::BTreeMap;

use super::cards::{effective_product, CardView};
use super::lineage::{lineage_of, Lineage};
use super::Services;
use crate::domain::{
    AuditEntry, CardRecord, DecidedBy, DecisionRecord, Enrollment, ReconciliationReport,
    TokenRecord, Transition, TshOperation,
};
use crate::store::{Page, Paged, StoreError, StoreReader};

/// Why a staff read found nothing to show.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The named thing (`card`, `token`, …) does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("unexpected server error")]
    Store(#[from] StoreError),
}

/// Which tokens to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFilter {
    All,
    OfCard(String),
    /// Token-for-token lineage: COF tokens made from this original token reference id.
    ByOriginalReference(String),
}

/// An enrolment with the decisions it references (those still stored), oldest first.
#[derive(Debug, Clone)]
pub struct EnrollmentDetail {
    pub enrollment: Enrollment,
    pub decisions: Vec<DecisionRecord>,
}

/// The shadow rules' agreement with the live rules over every recorded decision, and one page of
/// the decisions where they disagree.
#[derive(Debug, Clone)]
pub struct ShadowSummary {
    pub shadow_version: Option<String>,
    pub evaluated: usize,
    pub agreements: usize,
    /// `live→shadow` outcome pairs, e.g. `green→red`.
    pub by_outcome: BTreeMap<String, usize>,
    pub disagreeing: Paged<DecisionRecord>,
}

impl ShadowSummary {
    pub fn disagreements(&self) -> usize {
        self.evaluated - self.agreements
    }
}

/// Everything the console's token page shows.
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

/// The rules in force: their status and a readable description of live (and shadow) rules.
#[derive(Debug, Clone)]
pub struct RulesOverview {
    pub status: super::rules_state::RulesStatus,
    pub live: String,
    pub shadow: Option<String>,
}

fn found<T>(value: Option<T>, what: &'static str) -> Result<T, QueryError> {
    value.ok_or(QueryError::NotFound(what))
}

/// One card, with its effective product (its own, else the BIN-range table's).
pub async fn card(svc: &Services, issuer_card_ref_id: &str) -> Result<CardView, QueryError> {
    let reference = issuer_card_ref_id.to_owned();
    let card = found(svc.store.read(move |r| r.card(&reference)).await?, "card")?;
    Ok(CardView::of(
        &card,
        effective_product(&card, &svc.settings.cards),
    ))
}

/// The tokens of a card that exists.
pub async fn tokens_of_card(
    svc: &Services,
    issuer_card_ref_id: &str,
    page: Page,
) -> Result<Paged<TokenRecord>, QueryError> {
    let reference = issuer_card_ref_id.to_owned();
    let tokens = svc
        .store
        .read(move |r| match r.card(&reference)? {
            Some(_) => with_traces(r, r.tokens_of_card(&reference, page)?).map(Some),
            None => Ok(None),
        })
        .await?;
    found(tokens, "card")
}

/// Tokens, all of them or filtered; an unknown card or reference is an empty page.
pub async fn tokens(
    svc: &Services,
    filter: TokenFilter,
    page: Page,
) -> Result<Paged<TokenRecord>, QueryError> {
    let tokens = svc
        .store
        .read(move |r| {
            let tokens = match &filter {
                TokenFilter::ByOriginalReference(original) => {
                    r.tokens_by_original_reference(original, page)?
                }
                TokenFilter::OfCard(card) => r.tokens_of_card(card, page)?,
                TokenFilter::All => r.tokens(page)?,
            };
            with_traces(r, tokens)
        })
        .await?;
    Ok(tokens)
}

pub async fn token(svc: &Services, virtual_card_id: &str) -> Result<TokenRecord, QueryError> {
    let vcid = virtual_card_id.to_owned();
    let token = svc
        .store
        .read(move |r| r.token(&vcid)?.map(|t| with_trace(r, t)).transpose())
        .await?;
    found(token, "token")
}

/// A token as staff see it: its decision summary with the rule trace, which the token record
/// does not store (the decision record holds it once; see `DecisionSummary::rules`).
fn with_trace(r: &StoreReader<'_>, mut token: TokenRecord) -> Result<TokenRecord, StoreError> {
    if let Some(summary) = token.decision.as_mut().filter(|s| s.rules.is_empty()) {
        if let Some(record) = r.decision(&summary.decision_id)? {
            summary.complete_from(&record);
        }
    }
    Ok(token)
}

fn with_traces(
    r: &StoreReader<'_>,
    mut tokens: Paged<TokenRecord>,
) -> Result<Paged<TokenRecord>, StoreError> {
    tokens.data = tokens
        .data
        .into_iter()
        .map(|t| with_trace(r, t))
        .collect::<Result<_, _>>()?;
    Ok(tokens)
}

/// A token's state transitions, oldest first.
pub async fn transitions(
    svc: &Services,
    virtual_card_id: &str,
    page: Page,
) -> Result<Paged<Transition>, QueryError> {
    let vcid = virtual_card_id.to_owned();
    let transitions = svc
        .store
        .read(move |r| match r.token(&vcid)? {
            Some(_) => r.transitions(&vcid, page).map(Some),
            None => Ok(None),
        })
        .await?;
    found(transitions, "token")
}

pub async fn enrollment(
    svc: &Services,
    correlation_id: &str,
) -> Result<EnrollmentDetail, QueryError> {
    let cid = correlation_id.to_owned();
    let detail = svc
        .store
        .read(move |r| {
            let Some(enrollment) = r.enrollment(&cid)? else {
                return Ok(None);
            };
            let decisions = decisions_of(r, &enrollment)?;
            Ok(Some(EnrollmentDetail {
                enrollment,
                decisions,
            }))
        })
        .await?;
    found(detail, "enrollment")
}

/// Decisions, newest first.
pub async fn decisions(svc: &Services, page: Page) -> Result<Paged<DecisionRecord>, QueryError> {
    Ok(svc.store.read(move |r| r.decisions(page)).await?)
}

pub async fn decision(svc: &Services, decision_id: &str) -> Result<DecisionRecord, QueryError> {
    let id = decision_id.to_owned();
    found(svc.store.read(move |r| r.decision(&id)).await?, "decision")
}

/// Every decision, oldest first: the input of a backtest (`tsh-issuer replay`).
pub async fn all_decisions(svc: &Services) -> Result<Vec<DecisionRecord>, QueryError> {
    Ok(svc.store.read(|r| r.all_decisions_oldest_first()).await?)
}

/// A staff-initiated TSH operation (a token transition or card action) and its progress.
pub async fn operation(svc: &Services, correlation_id: &str) -> Result<TshOperation, QueryError> {
    let cid = correlation_id.to_owned();
    found(
        svc.store.read(move |r| r.tsh_operation(&cid)).await?,
        "transition",
    )
}

/// The audit trail, newest first.
pub async fn audit(svc: &Services, page: Page) -> Result<Paged<AuditEntry>, QueryError> {
    Ok(svc.store.read(move |r| r.audit(page)).await?)
}

pub fn rules_overview(svc: &Services) -> RulesOverview {
    let pair = svc.rules_pair();
    RulesOverview {
        status: svc.rules.status(),
        live: pair.live.describe(),
        shadow: pair.shadow.as_ref().map(|s| s.describe()),
    }
}

/// How often the shadow rules agreed with the live ones, and where they did not.
pub async fn shadow_summary(svc: &Services, page: Page) -> Result<ShadowSummary, QueryError> {
    let shadow_version = svc
        .rules_pair()
        .shadow
        .as_ref()
        .map(|s| s.version().to_owned());
    let summary = svc
        .store
        .read(move |r| {
            let mut counts = ShadowCounts::default();
            r.for_each_decision(|d| counts.add(d))?;
            let disagreeing =
                r.decisions_where(page, |d| d.shadow.as_ref().is_some_and(|s| !s.agrees))?;
            Ok(ShadowSummary {
                shadow_version,
                evaluated: counts.evaluated,
                agreements: counts.agreements,
                by_outcome: counts.by_outcome,
                disagreeing,
            })
        })
        .await?;
    Ok(summary)
}

#[derive(Default)]
struct ShadowCounts {
    evaluated: usize,
    agreements: usize,
    by_outcome: BTreeMap<String, usize>,
}

impl ShadowCounts {
    fn add(&mut self, decision: &DecisionRecord) {
        let Some(shadow) = &decision.shadow else {
            return;
        };
        self.evaluated += 1;
        if shadow.agrees {
            self.agreements += 1;
        }
        let key = format!(
            "{}→{}",
            decision.level_of_trust.as_str(),
            shadow.level_of_trust.as_str()
        );
        *self.by_outcome.entry(key).or_insert(0) += 1;
    }
}

/// Decisions the network took in our place, newest first; `only_mismatches` keeps those whose
/// review did (`Some(true)`) or did not (`Some(false)`) find our rules disagreeing.
pub async fn standins(
    svc: &Services,
    only_mismatches: Option<bool>,
    page: Page,
) -> Result<Paged<DecisionRecord>, QueryError> {
    let standins = svc
        .store
        .read(move |r| {
            r.decisions_where(page, |d| {
                d.decided_by == DecidedBy::Network
                    && only_mismatches
                        .is_none_or(|want| d.review.as_ref().is_some_and(|rv| rv.mismatch) == want)
            })
        })
        .await?;
    Ok(standins)
}

/// A token's token-for-token lineage: its ancestors and every descendant.
pub async fn lineage(svc: &Services, virtual_card_id: &str) -> Result<Lineage, QueryError> {
    let lineage = found(lineage_of(&svc.store, virtual_card_id).await?, "token")?;
    let completed = svc
        .store
        .read(move |r| {
            let mut lineage = lineage;
            lineage.token = with_trace(r, lineage.token)?;
            lineage.ancestors = (lineage.ancestors.into_iter())
                .map(|t| with_trace(r, t))
                .collect::<Result<_, _>>()?;
            lineage.descendants = (lineage.descendants.into_iter())
                .map(|(t, generation)| Ok((with_trace(r, t)?, generation)))
                .collect::<Result<_, StoreError>>()?;
            Ok(lineage)
        })
        .await?;
    Ok(completed)
}

/// COF tokens flagged because a token they were made from was suspended or deleted
/// (`token_for_token.on_original_death`), by virtual card id.
pub async fn orphans(svc: &Services, page: Page) -> Result<Paged<TokenRecord>, QueryError> {
    let orphans = super::lineage::orphans(&svc.store, page).await?;
    Ok(svc.store.read(move |r| with_traces(r, orphans)).await?)
}

/// A token's neighbours on a page: (original, derived, siblings), each direction capped.
type Neighbours = (Option<TokenRecord>, Vec<TokenRecord>, Vec<TokenRecord>);

/// Most lineage entries a token page lists per direction (the full lineage has its own query).
const NEIGHBOUR_LIMIT: usize = 50;

fn decisions_of(
    r: &StoreReader<'_>,
    enrollment: &Enrollment,
) -> Result<Vec<DecisionRecord>, StoreError> {
    let mut decisions = Vec::with_capacity(enrollment.decision_ids.len());
    for id in &enrollment.decision_ids {
        decisions.extend(r.decision(id)?);
    }
    Ok(decisions)
}

fn tokens_by_ids(r: &StoreReader<'_>, ids: &[String]) -> Result<Vec<TokenRecord>, StoreError> {
    let mut tokens = Vec::new();
    for id in ids.iter().take(NEIGHBOUR_LIMIT) {
        tokens.extend(r.token(id)?);
    }
    Ok(tokens)
}

/// Upwards through the resolved parent (`original_virtual_card_id`), downwards through the
/// lineage index, sideways through the original token reference id.
fn neighbours(r: &StoreReader<'_>, token: &TokenRecord) -> Result<Neighbours, StoreError> {
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
            .tokens_by_original_reference(reference, Page::new(0, NEIGHBOUR_LIMIT))?
            .data
            .into_iter()
            .filter(|t| t.virtual_card_id != token.virtual_card_id)
            .collect(),
        None => Vec::new(),
    };
    Ok((original, derived, siblings))
}

fn creating_decisions(
    r: &StoreReader<'_>,
    token: &TokenRecord,
) -> Result<Vec<DecisionRecord>, StoreError> {
    let Some(cid) = token.correlation_id.as_deref() else {
        return Ok(Vec::new());
    };
    match r.enrollment(cid)? {
        Some(enrollment) => decisions_of(r, &enrollment),
        None => Ok(Vec::new()),
    }
}

/// One token with a page of its transitions (oldest first), its neighbours in the lineage and
/// the decisions of the enrolment that created it.
pub async fn token_detail(
    svc: &Services,
    virtual_card_id: &str,
    page: Page,
) -> Result<TokenDetail, QueryError> {
    let vcid = virtual_card_id.to_owned();
    let detail = svc
        .store
        .read(move |r| {
            let Some(token) = r.token(&vcid)? else {
                return Ok(None);
            };
            let token = with_trace(r, token)?;
            let transitions = r.transitions(&vcid, page)?;
            let (original, derived, siblings) = neighbours(r, &token)?;
            let decisions = creating_decisions(r, &token)?;
            Ok(Some(TokenDetail {
                token,
                transitions,
                original,
                derived,
                siblings,
                decisions,
            }))
        })
        .await?;
    found(detail, "token")
}

/// A card (the stored record) and a page of its tokens.
pub async fn card_with_tokens(
    svc: &Services,
    issuer_card_ref_id: &str,
    page: Page,
) -> Result<(CardRecord, Paged<TokenRecord>), QueryError> {
    let reference = issuer_card_ref_id.to_owned();
    let found_card = svc
        .store
        .read(move |r| {
            let Some(card) = r.card(&reference)? else {
                return Ok(None);
            };
            Ok(Some((card, r.tokens_of_card(&reference, page)?)))
        })
        .await?;
    found(found_card, "card")
}

fn is_mismatch(d: &DecisionRecord) -> bool {
    d.review.as_ref().is_some_and(|review| review.mismatch)
}

/// Network stand-in decisions to review: mismatches (network approved what our rules refuse)
/// first, then the rest, each newest first.
pub async fn standin_review_queue(
    svc: &Services,
    page: Page,
) -> Result<Paged<DecisionRecord>, QueryError> {
    let queue = svc
        .store
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
        .await?;
    Ok(queue)
}

/// Reconciliation runs with their drift, newest first.
pub async fn reconciliations(
    svc: &Services,
    page: Page,
) -> Result<Paged<ReconciliationReport>, QueryError> {
    Ok(svc.store.read(move |r| r.reconciliations(page)).await?)
}

/// One reconciliation run.
pub async fn reconciliation(
    svc: &Services,
    reconciliation_id: &str,
) -> Result<ReconciliationReport, QueryError> {
    let id = reconciliation_id.to_owned();
    let report = svc.store.read(move |r| r.reconciliation(&id)).await?;
    found(report, "reconciliation")
}
