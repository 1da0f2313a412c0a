//! `notifyStandInProcess` (contract §3.5, resolved): the network decided without the issuer.
//! Recorded as a decision `decided_by: network`, linked to the enrolment and (when named) the token.
//! It never changes an existing token's state: lifecycle goes through `updateCardState`.
//!
//! Steps: find the card → review the network's decision against our live rules → in one
//! transaction: skip a duplicate, record the decision, fill the enrolment's gaps, attach the
//! decision to the token (creating it when unknown) → answer; a mismatch may then suspend the token.

use time::OffsetDateTime;

use super::card_data::resolve_card;
use super::cards::effective_product;
use super::digitization::decide;
use super::facts::{
    decision_facts, effective_status, provenance_facts, CardFacts, Cvv2Result, RequestFacts,
};
use super::lifecycle::{message_fingerprint, CHANNEL_TSP};
use super::{lineage, original_token_record, CallContext, Refusal, Services};
use crate::domain::callbacks::StandInInput;
use crate::domain::decision::{DecisionSummary, LevelOfTrust, StandInReview};
use crate::domain::signals::Signals;
use crate::domain::time::now_rfc3339;
use crate::domain::token::transition_type;
use crate::domain::{
    CardRecord, DecidedBy, DecisionRecord, Enrollment, EnrollmentNote, OriginalToken, TokenRecord,
    TokenState, Transition,
};
use crate::rules::Facts;
use crate::store::{Tx, TxError};

/// What the stand-in notification did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandInOutcome {
    Recorded,
    Duplicate,
}

/// One stand-in, ready to record inside a transaction.
struct StandIn {
    decision: DecisionRecord,
    note: EnrollmentNote,
    virtual_card_id: Option<String>,
    dedupe: String,
}

pub async fn notify(
    svc: &Services,
    ctx: &CallContext,
    input: StandInInput,
) -> Result<StandInResult, Refusal> {
    let card = resolve_card(svc, &input.card)
        .await?
        .card
        .ok_or(Refusal::UnknownCard)?;
    let level = input
        .network_decision
        .as_deref()
        .map(LevelOfTrust::from_network_value)
        .unwrap_or(LevelOfTrust::Unknown);
    let original = original_token_record(&svc.fingerprints, &input.original_token);
    // The facts this notification carries by itself, provenance of its original token included,
    // are recorded with the network's decision (replay skips network decisions).
    let own_facts = notification_facts(svc, &input, &card, original.as_ref()).await?;
    let review = review(svc, ctx, &card, own_facts.clone(), level).await?;
    if review.mismatch {
        tracing::warn!(
            network = level.as_str(),
            ours = review.our_level_of_trust.as_str(),
            "stand-in approved a digitization our rules would refuse"
        );
    }
    let mismatch = review.mismatch;
    let standin = stand_in(
        svc,
        ctx,
        &input,
        &card,
        original,
        level,
        (own_facts, review),
    );
    let outcome = svc.store.write(move |tx| record(tx, &standin)).await?;
    if outcome == StandInOutcome::Recorded {
        crate::metrics::decision(level, DecidedBy::Network);
    }
    let auto_suspend = (outcome == StandInOutcome::Recorded
        && mismatch
        && svc.settings.rules.standin_auto_suspend)
        .then(|| input.virtual_card_id.map(|v| v.into_string()))
        .flatten();
    tracing::info!(
        level_of_trust = level.as_str(),
        duplicate = (outcome == StandInOutcome::Duplicate),
        "stand-in recorded"
    );
    Ok(StandInResult {
        outcome,
        auto_suspend,
    })
}

/// The network's decision as it will be recorded, with what it tells about the enrolment.
fn stand_in(
    svc: &Services,
    ctx: &CallContext,
    input: &StandInInput,
    card: &CardRecord,
    original: Option<OriginalToken>,
    level: LevelOfTrust,
    (facts, review): (Facts, StandInReview),
) -> StandIn {
    let vcid = input.virtual_card_id.as_ref().map(|v| v.to_string());
    let dedupe = message_fingerprint(
        svc,
        "standin",
        &[vcid.as_deref().unwrap_or(""), &ctx.correlation_id],
        &input.message,
    );
    let decision = DecisionRecord {
        decision_id: String::new(),
        correlation_id: ctx.correlation_id.clone(),
        issuer_card_ref_id: Some(card.issuer_card_ref_id.clone()),
        virtual_card_id: vcid.clone(),
        level_of_trust: level,
        decided_by: DecidedBy::Network,
        reason: input
            .reason
            .clone()
            .unwrap_or_else(|| "network stand-in decision".to_owned()),
        decided_by_rule: None,
        rules: Vec::new(),
        rules_version: None,
        facts,
        idv_methods: Vec::new(),
        capture_method: input.capture_method.clone(),
        token_for_token: input.capture_method.as_deref() == Some("TOKEN"),
        original_token: original.clone(),
        network_decision: input.network_decision.clone(),
        shadow: None,
        review: Some(review),
        created_time: String::new(),
    };
    let note = EnrollmentNote {
        issuer_card_ref_id: card.issuer_card_ref_id.clone(),
        capture_method: input.capture_method.clone(),
        wallet_provider_id: input.wallet_provider_id.as_ref().map(|w| w.to_string()),
        token_requestor: input.token_requestor.clone(),
        original_token: original,
    };
    StandIn {
        decision,
        note,
        virtual_card_id: vcid,
        dedupe,
    }
}

fn record(tx: &dyn Tx, standin: &StandIn) -> Result<StandInOutcome, TxError> {
    let now = now_rfc3339();
    if tx.mark_seen(&standin.dedupe, &now)? {
        return Ok(StandInOutcome::Duplicate);
    }
    let mut decision = standin.decision.clone();
    decision.decision_id = format!("{:016x}", tx.next_id()?);
    decision.created_time.clone_from(&now);
    tx.put_decision(&decision)?;
    let mut enrollment = tx
        .enrollment(&decision.correlation_id)?
        .unwrap_or_else(|| Enrollment::new(&decision.correlation_id, &now));
    enrollment.fill_gaps(&standin.note);
    Enrollment::push_bounded(&mut enrollment.decision_ids, decision.decision_id.clone());
    if let Some(vcid) = &standin.virtual_card_id {
        let token = match tx.token(vcid)? {
            Some(token) => with_network_decision(token, &decision, standin, &now),
            None => new_token(tx, vcid, &decision, standin, &enrollment, &now)?,
        };
        tx.put_token(&token)?;
        if !enrollment.virtual_card_ids.contains(vcid) {
            Enrollment::push_bounded(&mut enrollment.virtual_card_ids, vcid.clone());
        }
    }
    enrollment.last_modified_time.clone_from(&now);
    tx.put_enrollment(&enrollment)?;
    Ok(StandInOutcome::Recorded)
}

/// A known token gets the network's decision attached; its state is left alone.
fn with_network_decision(
    mut token: TokenRecord,
    decision: &DecisionRecord,
    standin: &StandIn,
    now: &str,
) -> TokenRecord {
    token.decision = Some(DecisionSummary::from(decision));
    OriginalToken::merge_into(
        &mut token.original_token,
        standin.note.original_token.as_ref(),
    );
    token.last_modified_time = now.to_owned();
    token
}

/// An unknown token is created `REQUESTED` (or `REQUEST_DECLINED` for a red), with its first
/// transition.
fn new_token(
    tx: &dyn Tx,
    vcid: &str,
    decision: &DecisionRecord,
    standin: &StandIn,
    enrollment: &Enrollment,
    now: &str,
) -> Result<TokenRecord, TxError> {
    let state = if decision.level_of_trust == LevelOfTrust::Red {
        TokenState::RequestDeclined
    } else {
        TokenState::Requested
    };
    tx.append_transition(&Transition {
        virtual_card_id: vcid.to_owned(),
        from_state: None,
        state,
        transition_type: transition_type(None, state).to_owned(),
        action: "STAND_IN".to_owned(),
        channel: CHANNEL_TSP.to_owned(),
        source: Some("NETWORK".to_owned()),
        reason_code: None,
        reason: Some(decision.reason.clone()),
        correlation_id: decision.correlation_id.clone(),
        created_time: now.to_owned(),
    })?;
    let mut created = TokenRecord {
        virtual_card_id: vcid.to_owned(),
        issuer_card_ref_id: standin.note.issuer_card_ref_id.clone(),
        state,
        wallet_provider_id: standin.note.wallet_provider_id.clone(),
        token_requestor: standin.note.token_requestor.clone(),
        capture_method: enrollment.capture_method.clone(),
        token_storage_id: None,
        wallet_card_ref_id: None,
        wallet_virtual_card_id: None,
        is_primary: None,
        device_binding_reference: None,
        token_number: None,
        token_reference_id: None,
        correlation_id: Some(decision.correlation_id.clone()),
        decision: Some(DecisionSummary::from(decision)),
        original_token: enrollment.original_token.clone(),
        original_virtual_card_id: None,
        original_death: None,
        last_error: None,
        activated_time: None,
        created_time: now.to_owned(),
        last_modified_time: now.to_owned(),
    };
    // A stand-in token-for-token is linked like any other.
    lineage::link_at_creation(tx, &mut created)?;
    Ok(created)
}

/// What the callback did, and the token to suspend when `rules.standin.auto_suspend` is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandInResult {
    pub outcome: StandInOutcome,
    pub auto_suspend: Option<String>,
}

/// Suspends a token the network approved against our rules (`rules.standin.auto_suspend`),
/// through TSH like a staff action: pending until TSH's notification confirms it, audited with
/// the status `answer` gives (the staff API's, so the trail reads alike).
pub async fn suspend_after_mismatch(
    svc: &Services,
    virtual_card_id: String,
    answer: super::staff_actions::AnswerStatus,
) {
    let actor = super::audit::Actor {
        name: "stand-in-review".to_owned(),
        role: crate::config::StaffRole::Operator,
    };
    let request = super::staff_actions::TransitionRequest {
        virtual_card_id: virtual_card_id.clone(),
        state: super::staff_actions::RequestedState::Suspended,
        reason_code: "06".to_owned(),
        reason: Some("network stand-in approved a digitization our rules refuse".to_owned()),
    };
    match super::staff_actions::transition_token(svc, &actor, request, answer).await {
        Ok(_) => {
            tracing::warn!(virtual_card_id = %virtual_card_id, "stand-in mismatch: suspension requested from TSH")
        }
        Err(e) => {
            tracing::error!(virtual_card_id = %virtual_card_id, error = %e, "stand-in mismatch: automatic suspension failed")
        }
    }
}

/// Re-evaluates the live rules for a stand-in: on the facts our own decision recorded for this
/// enrolment when there is one, else on the facts the notification itself carries.
async fn review(
    svc: &Services,
    ctx: &CallContext,
    card: &CardRecord,
    own_facts: Facts,
    network: LevelOfTrust,
) -> Result<StandInReview, Refusal> {
    let (facts, source) = match recorded_facts(svc, &ctx.correlation_id).await? {
        Some(facts) => (facts, "enrollment"),
        None => (own_facts, "notification"),
    };
    let rules = svc.rules();
    let verdict = decide(&rules, &facts, card, &svc.fingerprints);
    Ok(StandInReview {
        mismatch: network.is_approval() && verdict.level == LevelOfTrust::Red,
        our_level_of_trust: verdict.level,
        reason: verdict.reason,
        decided_by_rule: verdict.decided_by_rule,
        rules_version: rules.version().to_owned(),
        facts_source: source.to_owned(),
        rules: verdict.trace,
    })
}

/// The facts of our own latest decision in this enrolment, if we decided.
async fn recorded_facts(svc: &Services, correlation_id: &str) -> Result<Option<Facts>, Refusal> {
    let cid = correlation_id.to_owned();
    let facts = svc
        .store
        .read(move |r| {
            let Some(enrollment) = r.enrollment(&cid)? else {
                return Ok(None);
            };
            for id in enrollment.decision_ids.iter().rev() {
                if let Some(d) = r.decision(id)? {
                    if d.decided_by == DecidedBy::Issuer {
                        return Ok(Some(d.facts));
                    }
                }
            }
            Ok(None)
        })
        .await?;
    Ok(facts)
}

/// The facts a stand-in notification carries by itself (no scores, no CVV), built by the same
/// builder as a digitization's, with the provenance of its original token.
async fn notification_facts(
    svc: &Services,
    input: &StandInInput,
    card: &CardRecord,
    original: Option<&OriginalToken>,
) -> Result<Facts, Refusal> {
    let no_signals = Signals::default();
    let request = RequestFacts {
        capture_method: input.capture_method.as_deref(),
        cvv_validated: None,
        tnc_accepted: None,
        cvv2: Cvv2Result::Absent,
        wallet_provider_id: input.wallet_provider_id.as_ref().map(|w| w.as_str()),
        token_requestor: input.token_requestor.as_ref(),
        signals: &no_signals,
        original,
    };
    let status = effective_status(card, false);
    let card_facts = CardFacts {
        card,
        effective_status: &status,
        product_id: effective_product(card, &svc.settings.cards),
        expiry_matches: None,
    };
    let now = OffsetDateTime::now_utc();
    let mut facts = decision_facts(&request, &card_facts, now.hour());
    if let (Some(given), Some(found)) = (original, lineage::provenance(&svc.store, original).await?)
    {
        provenance_facts(&mut facts, &found, given, &card.issuer_card_ref_id, now);
    }
    Ok(facts)
}
