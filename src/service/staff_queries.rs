//! Staff read use cases: cards, tokens, token lineage, transitions, enrolments, decisions, TSH
//! operations, the audit trail, and the rules' shadow and stand-in reports. Shared by the staff
//! API and the staff console, so they answer in domain records (never HTTP or view types) and say
//! `NotFound` in words, leaving the status and the shape to the caller. Reads only.

use std::collections::BTreeMap;

use super::cards::{effective_product, CardView};
use super::lineage::{lineage_of, Lineage};
use super::Services;
use crate::domain::{
    AuditEntry, DecidedBy, DecisionRecord, Enrollment, TokenRecord, Transition, TshOperation,
};
use crate::store::{Page, Paged, StoreError};

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
            Some(_) => r.tokens_of_card(&reference, page).map(Some),
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
        .read(move |r| match &filter {
            TokenFilter::ByOriginalReference(original) => {
                r.tokens_by_original_reference(original, page)
            }
            TokenFilter::OfCard(card) => r.tokens_of_card(card, page),
            TokenFilter::All => r.tokens(page),
        })
        .await?;
    Ok(tokens)
}

pub async fn token(svc: &Services, virtual_card_id: &str) -> Result<TokenRecord, QueryError> {
    let vcid = virtual_card_id.to_owned();
    found(svc.store.read(move |r| r.token(&vcid)).await?, "token")
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
            let mut decisions = Vec::with_capacity(enrollment.decision_ids.len());
            for id in &enrollment.decision_ids {
                decisions.extend(r.decision(id)?);
            }
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
    found(lineage_of(&svc.store, virtual_card_id).await?, "token")
}

/// COF tokens flagged because a token they were made from was suspended or deleted
/// (`token_for_token.on_original_death`), by virtual card id.
pub async fn orphans(svc: &Services, page: Page) -> Result<Paged<TokenRecord>, QueryError> {
    Ok(super::lineage::orphans(&svc.store, page).await?)
}
