//! `notifyStandInProcess` (contract §3.5, resolved): the network decided without the issuer.
//! Recorded as a decision `decided_by: network`, linked to the enrolment and (when named) the token.
//! It never changes an existing token's state: lifecycle goes through `updateCardState`.

use serde_json::Value;

use super::card_data::open_card_info;
use super::digitization::decide;
use super::facts::provenance_facts;
use super::lifecycle::{message_fingerprint, CHANNEL_TSP};
use super::{check_id, original_token_record, CallContext, Refusal, Services};
use crate::contract::original_token;
use crate::contract::standin::NotifyStandInRequest;
use crate::domain::decision::StandInReview;
use crate::domain::decision::{DecisionSummary, LevelOfTrust};
use crate::domain::lineage::Provenance;
use crate::domain::time::now_rfc3339;
use crate::domain::token::transition_type;
use crate::domain::{
    CardRecord, DecidedBy, DecisionRecord, Enrollment, OriginalToken, TokenRecord, TokenState,
    Transition,
};
use crate::rules::Facts;

/// What the stand-in notification did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandInOutcome {
    Recorded,
    Duplicate,
}

pub async fn notify(
    svc: &Services,
    ctx: &CallContext,
    request: NotifyStandInRequest,
    body: &Value,
) -> Result<StandInResult, Refusal> {
    let reference = check_id(
        "issuerCardRefId",
        request.issuer_card_ref_id.as_deref(),
        48,
        false,
    )?
    .map(str::to_owned);
    let vcid = check_id(
        "virtualCardId",
        request.virtual_card_id.as_deref(),
        64,
        false,
    )?
    .map(str::to_owned);
    check_id(
        "walletProviderId",
        request.wallet_provider_id.as_deref(),
        64,
        false,
    )?;
    let decision_raw =
        check_id("levelOfTrust", request.decision_value(), 32, false)?.map(str::to_owned);

    let card = match (
        request
            .ciphered_card_info
            .as_deref()
            .filter(|c| !c.trim().is_empty()),
        reference,
    ) {
        (Some(ciphered), _) => {
            let info = open_card_info(&svc.keys, ciphered)?;
            let fp = svc
                .fingerprints
                .fingerprint("pan", info.pan.expose().as_bytes());
            drop(info);
            svc.store
                .read(move |r| r.card_by_pan_fingerprint(&fp))
                .await?
        }
        (None, Some(reference)) => svc.store.read(move |r| r.card(&reference)).await?,
        (None, None) => {
            return Err(Refusal::InvalidParameter(
                "issuerCardRefId or cipheredCardInfo is required".to_owned(),
            ))
        }
    }
    .ok_or(Refusal::UnknownCard)?;

    let level = decision_raw
        .as_deref()
        .map(LevelOfTrust::from_network_value)
        .unwrap_or(LevelOfTrust::Unknown);
    let original = original_token_record(&svc.fingerprints, &original_token::extract(body))?;
    let capture_method = request.capture_method();
    let dedupe = message_fingerprint(
        svc,
        "standin",
        &[vcid.as_deref().unwrap_or(""), &ctx.correlation_id],
        body,
    );
    let reason = request
        .reason
        .clone()
        .map(|r| {
            r.chars()
                .filter(|c| !c.is_control())
                .take(256)
                .collect::<String>()
        })
        .unwrap_or_else(|| "network stand-in decision".to_owned());
    // The facts this notification carries by itself, provenance of its original token included,
    // are recorded with the network's decision (replay skips network decisions).
    let provenance = super::lineage::provenance(&svc.store, original.as_ref()).await?;
    let own_facts =
        notification_facts(svc, &request, &card, original.as_ref(), provenance.as_ref());
    let template = DecisionRecord {
        decision_id: String::new(),
        correlation_id: ctx.correlation_id.clone(),
        issuer_card_ref_id: Some(card.issuer_card_ref_id.clone()),
        virtual_card_id: vcid.clone(),
        level_of_trust: level,
        decided_by: DecidedBy::Network,
        reason,
        decided_by_rule: None,
        rules: Vec::new(),
        rules_version: None,
        facts: own_facts.clone(),
        idv_methods: Vec::new(),
        capture_method: capture_method.clone(),
        token_for_token: capture_method.as_deref() == Some("TOKEN"),
        original_token: original.clone(),
        network_decision: decision_raw.clone(),
        shadow: None,
        review: None,
        created_time: String::new(),
    };
    let review = review(svc, &ctx.correlation_id, &card, own_facts, level).await?;
    if review.mismatch {
        tracing::warn!(
            network = level.as_str(),
            ours = review.our_level_of_trust.as_str(),
            "stand-in approved a digitization our rules would refuse"
        );
    }
    let mismatch = review.mismatch;
    let vcid_for_action = vcid.clone();
    let mut template = template;
    template.review = Some(review);
    let wallet = request.wallet_provider_id.clone();
    let requestor = request.token_requestor.as_ref().map(|r| r.to_domain());
    let card_ref = card.issuer_card_ref_id.clone();

    let outcome = svc
        .store
        .write(move |tx| {
            let now = now_rfc3339();
            if tx.mark_seen(&dedupe, &now)? {
                return Ok(StandInOutcome::Duplicate);
            }
            let mut decision = template.clone();
            decision.decision_id = format!("{:016x}", tx.next_id()?);
            decision.created_time.clone_from(&now);
            tx.put_decision(&decision)?;

            let mut enrollment = tx
                .enrollment(&decision.correlation_id)?
                .unwrap_or_else(|| Enrollment::new(&decision.correlation_id, &now));
            if enrollment.issuer_card_ref_id.is_none() {
                enrollment.issuer_card_ref_id = Some(card_ref.clone());
            }
            if enrollment.capture_method.is_none() {
                enrollment.capture_method.clone_from(&capture_method);
                enrollment.token_for_token = capture_method.as_deref() == Some("TOKEN");
            }
            if enrollment.wallet_provider_id.is_none() {
                enrollment.wallet_provider_id.clone_from(&wallet);
            }
            if enrollment.token_requestor.is_none() {
                enrollment.token_requestor.clone_from(&requestor);
            }
            if let Some(original) = &original {
                enrollment.original_token = Some(match enrollment.original_token.take() {
                    Some(existing) => existing.merged_with(original),
                    None => original.clone(),
                });
            }
            Enrollment::push_bounded(&mut enrollment.decision_ids, decision.decision_id.clone());

            if let Some(vcid) = &vcid {
                let summary = DecisionSummary::from(&decision);
                let token = match tx.token(vcid)? {
                    Some(mut token) => {
                        // The network's decision is attached; the state is left alone.
                        token.decision = Some(summary);
                        if let Some(original) = &original {
                            token.original_token = Some(match token.original_token.take() {
                                Some(existing) => existing.merged_with(original),
                                None => original.clone(),
                            });
                        }
                        token.last_modified_time.clone_from(&now);
                        token
                    }
                    None => {
                        let state = if level == LevelOfTrust::Red {
                            TokenState::RequestDeclined
                        } else {
                            TokenState::Requested
                        };
                        tx.append_transition(&Transition {
                            virtual_card_id: vcid.clone(),
                            from_state: None,
                            state,
                            transition_type: transition_type(None, state).to_owned(),
                            action: "STAND_IN".to_owned(),
                            channel: CHANNEL_TSP.to_owned(),
                            source: Some("NETWORK".to_owned()),
                            reason_code: None,
                            reason: Some(decision.reason.clone()),
                            correlation_id: decision.correlation_id.clone(),
                            created_time: now.clone(),
                        })?;
                        let mut created = TokenRecord {
                            virtual_card_id: vcid.clone(),
                            issuer_card_ref_id: card_ref.clone(),
                            state,
                            wallet_provider_id: wallet.clone(),
                            token_requestor: requestor.clone(),
                            capture_method: enrollment.capture_method.clone(),
                            token_storage_id: None,
                            wallet_card_ref_id: None,
                            wallet_virtual_card_id: None,
                            is_primary: None,
                            device_binding_reference: None,
                            token_number: None,
                            token_reference_id: None,
                            correlation_id: Some(decision.correlation_id.clone()),
                            decision: Some(summary),
                            original_token: enrollment.original_token.clone(),
                            original_virtual_card_id: None,
                            original_death: None,
                            last_error: None,
                            activated_time: None,
                            created_time: now.clone(),
                            last_modified_time: now.clone(),
                        };
                        // A stand-in token-for-token is linked like any other.
                        super::lineage::link_at_creation(tx, &mut created)?;
                        created
                    }
                };
                tx.put_token(&token)?;
                if !enrollment.virtual_card_ids.contains(vcid) {
                    Enrollment::push_bounded(&mut enrollment.virtual_card_ids, vcid.clone());
                }
            }
            enrollment.last_modified_time.clone_from(&now);
            tx.put_enrollment(&enrollment)?;
            Ok(StandInOutcome::Recorded)
        })
        .await?;
    if outcome == StandInOutcome::Recorded {
        crate::metrics::decision(level, DecidedBy::Network);
    }
    let auto_suspend = (outcome == StandInOutcome::Recorded
        && mismatch
        && svc.settings.rules.standin_auto_suspend)
        .then_some(vcid_for_action)
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
    correlation_id: &str,
    card: &CardRecord,
    own_facts: Facts,
    network: LevelOfTrust,
) -> Result<StandInReview, Refusal> {
    let cid = correlation_id.to_owned();
    let recorded = svc
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
    let (facts, source) = match recorded {
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

/// The facts a stand-in notification carries by itself (no scores, no CVV).
fn notification_facts(
    svc: &Services,
    request: &NotifyStandInRequest,
    card: &CardRecord,
    original: Option<&OriginalToken>,
    provenance: Option<&Provenance>,
) -> Facts {
    let mut facts = Facts::new();
    let capture = request.capture_method();
    if let Some(method) = &capture {
        facts.set_str("capture_method", method);
    }
    facts.set_bool("token_for_token", capture.as_deref() == Some("TOKEN"));
    facts.set_str("cvv2_result", "absent");
    if let Some(w) = &request.wallet_provider_id {
        facts.set_str("wallet_provider_id", w.trim());
    }
    if let Some(id) = request.token_requestor.as_ref().and_then(|r| r.id.as_ref()) {
        facts.set_str("token_requestor.id", id.trim());
    }
    match original {
        Some(o) if !o.is_empty() => {
            facts.set_bool("original_token.present", true);
            if let Some(v) = &o.assurance_level {
                facts.set_str("original_token.assurance_level", v);
            }
            if let Some(v) = &o.token_requestor_id {
                facts.set_str("original_token.requestor_id", v);
            }
            if let Some(v) = &o.token_reference_id {
                facts.set_str("original_token.reference_id", v);
            }
        }
        _ => {
            facts.set_bool("original_token.present", false);
        }
    }
    if let (Some(given), Some(found)) = (original, provenance) {
        let now = time::OffsetDateTime::now_utc();
        provenance_facts(&mut facts, found, given, &card.issuer_card_ref_id, now);
    }
    let status = if card.status.is_active() && card.exp.is_expired() {
        "EXPIRED".to_owned()
    } else {
        card.status.as_str().to_owned()
    };
    facts.set_str("card.status", status);
    if let Some(p) = super::cards::effective_product(card, &svc.settings.cards) {
        facts.set_str("card.product_id", p);
    }
    facts.set_str("card.bin", &card.bin);
    facts.set_bool("card.has_phone", card.phone.is_some());
    facts.set_bool("card.has_email", card.email.is_some());
    facts.set_bool("card.has_stepup_method", card.has_stepup_contact());
    facts.set_num(
        "time.hour_utc",
        f64::from(time::OffsetDateTime::now_utc().hour()),
    );
    facts
}
