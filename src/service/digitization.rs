//! `requestCardDigitization` (contract §3.2): the issuer's consent. Decrypts the card data, checks
//! CVV2, gathers facts, asks the rules for green / yellow / red, builds the step-up list for yellow,
//! and records the decision with its trace before answering. A red decision is a 200, not an error.

use serde_json::Value;
use time::OffsetDateTime;

use super::card_data::{open_authentication_value, open_card_info};
use super::cards::effective_product;
use super::facts::{digitization_facts, provenance_facts, CardFacts, Cvv2Result};
use super::{
    check_id, idv, lineage, original_token_record, velocity, CallContext, Refusal, Services,
};
use crate::contract::digitization::{RequestDigitizationRequest, RequestDigitizationResponse};
use crate::contract::original_token;
use crate::crypto::Fingerprinter;
use crate::domain::decision::LevelOfTrust;
use crate::domain::decision::ShadowOutcome;
use crate::domain::idv::StepUpContact;
use crate::domain::time::now_rfc3339;
use crate::domain::CardRecord;
use crate::domain::{DecidedBy, DecisionRecord, Enrollment};
use crate::rules::{Facts, Outcome, RuleSet, Stage, TraceEntry};

pub async fn request(
    svc: &Services,
    ctx: &CallContext,
    request: RequestDigitizationRequest,
    body: &Value,
) -> Result<RequestDigitizationResponse, Refusal> {
    let reference = check_id(
        "issuerCardRefId",
        request.issuer_card_ref_id.as_deref(),
        48,
        false,
    )?;
    check_id(
        "walletProviderId",
        request.wallet_provider_id.as_deref(),
        64,
        false,
    )?;
    let ciphered = request
        .ciphered_card_info
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| Refusal::InvalidParameter("cipheredCardInfo is required".to_owned()))?;

    // Decrypt everything first: bad card data is refused before anything is looked up or stored.
    let info = open_card_info(&svc.keys, ciphered)?;
    let auth_cvv = match request
        .authentication_value
        .as_deref()
        .filter(|a| !a.trim().is_empty())
    {
        Some(value) => Some(open_authentication_value(&svc.keys, value)?),
        None => None,
    };
    let fingerprint = svc
        .fingerprints
        .fingerprint("pan", info.pan.expose().as_bytes());
    let card = svc
        .store
        .read(move |r| r.card_by_pan_fingerprint(&fingerprint))
        .await?
        .ok_or(Refusal::UnknownCard)?;
    if let Some(reference) = reference {
        if reference != card.issuer_card_ref_id {
            tracing::info!(
                "issuerCardRefId in the request does not match the card data; using the card data"
            );
        }
    }

    // CVV2: authenticationValue wins over a cvv inside the card info. Checked against the
    // registry's expiry (the one the card was embossed with).
    let cvv2 = match auth_cvv.as_ref().or(info.cvv.as_ref()) {
        // The Visa CVV method yields 3 digits; a 4-digit code (e.g. Amex CID) cannot be checked
        // with it, which is "unverifiable", not "invalid".
        Some(cvv) if cvv.expose().len() != 3 => Cvv2Result::Unverifiable,
        Some(cvv) => {
            if svc
                .cvv
                .verify_cvv2(info.pan.expose(), &card.exp.mmyy(), cvv.expose())
            {
                Cvv2Result::Valid
            } else {
                Cvv2Result::Invalid
            }
        }
        None => Cvv2Result::Absent,
    };
    let expiry_matches = info.exp.map(|e| e == card.exp);
    let info_exp_expired = info.exp.is_some_and(|e| e.is_expired());
    drop(info);
    drop(auth_cvv);

    // Expired by the registry or by the expiry the wallet sent: either way not digitizable
    // (eligibility refuses both with 160).
    let request_expired = info_exp_expired;
    let effective_status = if card.status.is_active() && (card.exp.is_expired() || request_expired)
    {
        "EXPIRED".to_owned()
    } else {
        card.status.as_str().to_owned()
    };
    let product_id = effective_product(&card, &svc.settings.cards).map(str::to_owned);
    let original = original_token_record(&svc.fingerprints, &original_token::extract(body))?;
    let now = OffsetDateTime::now_utc();
    let mut facts = digitization_facts(
        &request,
        &CardFacts {
            card: &card,
            effective_status: &effective_status,
            product_id: product_id.as_deref(),
            expiry_matches,
        },
        cvv2,
        original.as_ref(),
        now.hour(),
    );
    if let Some(given) = &original {
        if let Some(found) = lineage::provenance(&svc.store, Some(given)).await? {
            provenance_facts(&mut facts, &found, given, &card.issuer_card_ref_id, now);
        }
    }

    // One snapshot of the rules (live + shadow) for the whole decision.
    let rules = svc.rules_pair();

    // Velocity facts from the store; this attempt is recorded with the decision below.
    let windows = rules.live.velocity();
    let velocity_keys =
        velocity::attempt_keys(&svc.fingerprints, &request, &card.issuer_card_ref_id);
    let now_unix = velocity::unix_now();
    let (keys_for_read, bin) = (velocity_keys.clone(), card.bin.clone());
    let velocity_facts = svc
        .store
        .read(move |r| {
            let mut extra = Facts::new();
            velocity::add_facts(r, &keys_for_read, &bin, windows, now_unix, &mut extra)?;
            Ok(extra)
        })
        .await?;
    for (name, value) in velocity_facts.iter() {
        facts.set(name.to_owned(), value.clone());
    }
    let live = decide(&rules.live, &facts, &card, &svc.fingerprints);
    let shadow = rules.shadow.as_ref().map(|shadow_rules| {
        let verdict = decide(shadow_rules, &facts, &card, &svc.fingerprints);
        ShadowOutcome {
            level_of_trust: verdict.level,
            reason: verdict.reason,
            decided_by_rule: verdict.decided_by_rule,
            rules_version: shadow_rules.version().to_owned(),
            agrees: verdict.level == live.level,
            rules: verdict.trace,
        }
    });
    let level = live.level;
    let idv_methods: Vec<_> = live.methods.iter().map(|c| c.method.clone()).collect();
    let reason = live.reason;
    let trace = live.trace;
    let evaluation_rule = live.decided_by_rule;

    let capture_method = request.capture_method();
    let token_for_token = capture_method.as_deref() == Some("TOKEN");
    let correlation_id = ctx.correlation_id.clone();
    let requestor = request.token_requestor.as_ref().map(|r| r.to_domain());
    let wallet = request.wallet_provider_id.clone();
    let decision_template = DecisionRecord {
        decision_id: String::new(),
        correlation_id: correlation_id.clone(),
        issuer_card_ref_id: Some(card.issuer_card_ref_id.clone()),
        virtual_card_id: None,
        level_of_trust: level,
        decided_by: DecidedBy::Issuer,
        reason,
        decided_by_rule: evaluation_rule,
        rules: trace,
        rules_version: Some(rules.live.version().to_owned()),
        facts,
        idv_methods: idv_methods.clone(),
        capture_method: capture_method.clone(),
        token_for_token,
        original_token: original.clone(),
        network_decision: None,
        shadow,
        review: None,
        created_time: now_rfc3339(),
    };
    let card_ref = card.issuer_card_ref_id.clone();
    let offered = idv_methods.clone();
    let decision = svc
        .store
        .write(move |tx| {
            let mut decision = decision_template.clone();
            decision.decision_id = format!("{:016x}", tx.next_id()?);
            tx.put_decision(&decision)?;
            velocity::record_attempt(tx, &velocity_keys, now_unix)?;
            let now = decision.created_time.clone();
            let mut enrollment = tx
                .enrollment(&correlation_id)?
                .unwrap_or_else(|| Enrollment::new(&correlation_id, &now));
            enrollment.issuer_card_ref_id = Some(card_ref.clone());
            if capture_method.is_some() {
                enrollment.capture_method.clone_from(&capture_method);
            }
            enrollment.token_for_token = enrollment.capture_method.as_deref() == Some("TOKEN");
            if wallet.is_some() {
                enrollment.wallet_provider_id.clone_from(&wallet);
            }
            if requestor.is_some() {
                enrollment.token_requestor.clone_from(&requestor);
            }
            if let Some(original) = &original {
                enrollment.original_token = Some(match enrollment.original_token.take() {
                    Some(existing) => existing.merged_with(original),
                    None => original.clone(),
                });
            }
            Enrollment::push_bounded(&mut enrollment.decision_ids, decision.decision_id.clone());
            enrollment.idv_methods.clone_from(&offered);
            enrollment.last_modified_time = now;
            tx.put_enrollment(&enrollment)?;
            Ok(decision)
        })
        .await?;

    crate::metrics::decision(level, DecidedBy::Issuer);
    tracing::info!(
        decision_id = %decision.decision_id,
        level_of_trust = level.as_str(),
        rule = decision.decided_by_rule.as_deref().unwrap_or("-"),
        "digitization decided"
    );
    Ok(RequestDigitizationResponse {
        level_of_trust: level.as_str(),
        idv_method_list: (level == LevelOfTrust::Yellow).then_some(idv_methods),
    })
}

/// The outcome of one rule set on one request, after the step-up safety net.
pub(crate) struct Verdict {
    pub level: LevelOfTrust,
    pub reason: String,
    pub decided_by_rule: Option<String>,
    pub trace: Vec<TraceEntry>,
    pub methods: Vec<StepUpContact>,
}

/// Evaluates `rules` on `facts` and applies the contract's requirement that a yellow carries a
/// non-empty `idvMethodList` (contract §3.2): without a usable method, yellow becomes red.
pub(crate) fn decide(
    rules: &RuleSet,
    facts: &Facts,
    card: &CardRecord,
    fingerprints: &Fingerprinter,
) -> Verdict {
    let evaluation = rules.evaluate(facts);
    let mut outcome = evaluation.outcome;
    let mut reason = evaluation.reason;
    let mut trace = evaluation.trace;
    let mut methods = Vec::new();
    if outcome == Outcome::Yellow {
        methods = idv::offered(fingerprints, card, evaluation.stepup_methods.as_deref());
        if methods.is_empty() {
            outcome = Outcome::Red;
            reason = "yellow decision but the card has no usable step-up method".to_owned();
            trace.push(TraceEntry {
                rule_id: "(safety-net) yellow-needs-stepup".to_owned(),
                stage: Stage::Adjust,
                matched: true,
                effect: "yellow → red (stricter)".to_owned(),
                explanation: "no step-up method the issuer can complete for this card → red"
                    .to_owned(),
            });
        }
    }
    Verdict {
        level: LevelOfTrust::from(outcome),
        reason,
        decided_by_rule: evaluation.decided_by_rule,
        trace,
        methods,
    }
}
