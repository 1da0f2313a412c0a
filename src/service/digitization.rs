//! `requestCardDigitization` (contract §3.2): the issuer's consent. A red decision is a 200, not an
//! error. Steps: open the card data → find the card → check CVV2 and expiry → gather the facts
//! (request, card, velocity) → evaluate the live (and shadow) rules → record the decision with its
//! trace → answer, with the step-up list for yellow.

use time::OffsetDateTime;

use super::card_data::{open_authentication_value, open_card_info};
use super::cards::effective_product;
use super::facts::{
    decision_facts, effective_status, provenance_facts, CardFacts, Cvv2Result, RequestFacts,
};
use super::rules_state::RulesPair;
use super::velocity::AttemptKeys;
use super::{idv, lineage, original_token_record, velocity, CallContext, Refusal, Services};
use crate::crypto::Fingerprinter;
use crate::domain::callbacks::{DigitizationDecision, DigitizationInput};
use crate::domain::card_data::CardInfo;
use crate::domain::decision::{LevelOfTrust, ShadowOutcome};
use crate::domain::idv::StepUpContact;
use crate::domain::time::now_rfc3339;
use crate::domain::{
    CardRecord, DecidedBy, DecisionRecord, Enrollment, EnrollmentNote, OriginalToken, Secret,
};
use crate::rules::{Facts, Outcome, RuleSet, Stage, TraceEntry};

pub async fn request(
    svc: &Services,
    ctx: &CallContext,
    input: DigitizationInput,
) -> Result<DigitizationDecision, Refusal> {
    // Decrypt everything first: bad card data is refused before anything is looked up or stored.
    let opened = open_card_data(svc, &input)?;
    let card = find_card(svc, &opened.info).await?;
    if input
        .card_ref
        .as_ref()
        .is_some_and(|r| r.as_str() != card.issuer_card_ref_id)
    {
        tracing::info!(
            "issuerCardRefId in the request does not match the card data; using the card data"
        );
    }
    let checked = check_card_data(svc, &card, opened);
    let original = original_token_record(&svc.fingerprints, &input.original_token);
    // One snapshot of the rules (live + shadow) for the whole decision.
    let rules = svc.rules_pair();
    let attempt = attempt(svc, &input, &card, &rules);
    let facts = gather_facts(svc, &input, &card, &checked, original.as_ref(), &attempt).await?;
    let evaluated = evaluate(svc, &rules, &facts, &card);
    let draft = decision_draft(
        ctx,
        &input,
        &card,
        original.as_ref(),
        facts,
        evaluated,
        &rules,
    );
    // A retried request is answered with the decision recorded the first time.
    let decision = record_decision(svc, &input, draft, original, attempt).await?;
    let level = decision.level_of_trust;
    crate::metrics::decision(level, DecidedBy::Issuer);
    tracing::info!(
        decision_id = %decision.decision_id,
        level_of_trust = level.as_str(),
        rule = decision.decided_by_rule.as_deref().unwrap_or("-"),
        "digitization decided"
    );
    Ok(DigitizationDecision {
        level_of_trust: level,
        idv_methods: (level == LevelOfTrust::Yellow).then_some(decision.idv_methods),
    })
}

/// The decrypted card data and CVV2, in memory only until checked.
struct Opened {
    info: CardInfo,
    authentication_cvv: Option<Secret>,
}

fn open_card_data(svc: &Services, input: &DigitizationInput) -> Result<Opened, Refusal> {
    let info = open_card_info(&svc.keys, &input.card_data)?;
    let authentication_cvv = match &input.authentication_value {
        Some(sealed) => Some(open_authentication_value(&svc.keys, sealed)?),
        None => None,
    };
    Ok(Opened {
        info,
        authentication_cvv,
    })
}

async fn find_card(svc: &Services, info: &CardInfo) -> Result<CardRecord, Refusal> {
    let fingerprint = svc
        .fingerprints
        .fingerprint("pan", info.pan.expose().as_bytes());
    svc.store
        .lookup(move |r| r.card_by_pan_fingerprint(&fingerprint))
        .await?
        .ok_or(Refusal::UnknownCard)
}

/// What the card data says about the card, once its secrets are gone.
struct CardDataCheck {
    cvv2: Cvv2Result,
    expiry_matches: Option<bool>,
    request_expired: bool,
}

/// CVV2 (`authenticationValue` wins over a cvv inside the card info), checked against the
/// registry's expiry (the one the card was embossed with); then the card data is dropped.
fn check_card_data(svc: &Services, card: &CardRecord, opened: Opened) -> CardDataCheck {
    let Opened {
        info,
        authentication_cvv,
    } = opened;
    let cvv2 = match authentication_cvv.as_ref().or(info.cvv.as_ref()) {
        // The Visa CVV method yields 3 digits; a 4-digit code (e.g. Amex CID) cannot be checked
        // with it, which is "unverifiable", not "invalid".
        Some(cvv) if cvv.expose().len() != 3 => Cvv2Result::Unverifiable,
        Some(cvv)
            if svc
                .cvv
                .verify_cvv2(info.pan.expose(), &card.exp.mmyy(), cvv.expose()) =>
        {
            Cvv2Result::Valid
        }
        Some(_) => Cvv2Result::Invalid,
        None => Cvv2Result::Absent,
    };
    CardDataCheck {
        cvv2,
        expiry_matches: info.exp.map(|e| e == card.exp),
        request_expired: info.exp.is_some_and(|e| e.is_expired()),
    }
}

/// This attempt's velocity keys and clock; it is recorded with the decision.
struct Attempt {
    keys: AttemptKeys,
    now_unix: u64,
    windows: crate::rules::VelocityWindows,
}

fn attempt(
    svc: &Services,
    input: &DigitizationInput,
    card: &CardRecord,
    rules: &RulesPair,
) -> Attempt {
    let windows = rules.live.velocity();
    Attempt {
        keys: velocity::attempt_keys(
            &svc.fingerprints,
            input.signals.device.device_id.as_deref(),
            input.token_requestor.as_ref().and_then(|r| r.id.as_deref()),
            &card.issuer_card_ref_id,
        ),
        now_unix: velocity::unix_now(),
        windows,
    }
}

/// The request's, the card's and the store's velocity facts.
async fn gather_facts(
    svc: &Services,
    input: &DigitizationInput,
    card: &CardRecord,
    checked: &CardDataCheck,
    original: Option<&OriginalToken>,
    attempt: &Attempt,
) -> Result<Facts, Refusal> {
    // Expired by the registry or by the expiry the wallet sent: either way not digitizable
    // (eligibility refuses both with 160).
    let status = effective_status(card, checked.request_expired);
    let request = RequestFacts {
        capture_method: input.capture_method.as_deref(),
        cvv_validated: input.cvv_validated,
        tnc_accepted: input.tnc_accepted,
        cvv2: checked.cvv2,
        wallet_provider_id: input.wallet_provider_id.as_ref().map(|w| w.as_str()),
        token_requestor: input.token_requestor.as_ref(),
        signals: &input.signals,
        original,
    };
    let card_facts = CardFacts {
        card,
        effective_status: &status,
        product_id: effective_product(card, &svc.settings.cards),
        expiry_matches: checked.expiry_matches,
    };
    let now = OffsetDateTime::now_utc();
    let mut facts = decision_facts(&request, &card_facts, now.hour());
    if let Some(given) = original {
        if let Some(found) = lineage::provenance(&svc.store, Some(given)).await? {
            provenance_facts(&mut facts, &found, given, &card.issuer_card_ref_id, now);
        }
    }
    let (keys, bin) = (attempt.keys.clone(), card.bin.clone());
    let (windows, now) = (attempt.windows, attempt.now_unix);
    let velocity_facts = svc
        .store
        .lookup(move |r| {
            let mut extra = Facts::new();
            velocity::add_facts(r, &keys, &bin, windows, now, &mut extra)?;
            Ok(extra)
        })
        .await?;
    for (name, value) in velocity_facts.iter() {
        facts.set(name.to_owned(), value.clone());
    }
    Ok(facts)
}

/// The live verdict, and the shadow rules' opinion when shadow rules are loaded.
struct Evaluated {
    live: Verdict,
    shadow: Option<ShadowOutcome>,
}

fn evaluate(svc: &Services, rules: &RulesPair, facts: &Facts, card: &CardRecord) -> Evaluated {
    let live = decide(&rules.live, facts, card, &svc.fingerprints);
    let shadow = rules.shadow.as_ref().map(|shadow_rules| {
        let verdict = decide(shadow_rules, facts, card, &svc.fingerprints);
        ShadowOutcome {
            level_of_trust: verdict.level,
            reason: verdict.reason,
            decided_by_rule: verdict.decided_by_rule,
            rules_version: shadow_rules.version().to_owned(),
            agrees: verdict.level == live.level,
            rules: verdict.trace,
        }
    });
    Evaluated { live, shadow }
}

/// The decision as it will be recorded (its id comes from the store).
fn decision_draft(
    ctx: &CallContext,
    input: &DigitizationInput,
    card: &CardRecord,
    original: Option<&OriginalToken>,
    facts: Facts,
    evaluated: Evaluated,
    rules: &RulesPair,
) -> DecisionRecord {
    let Evaluated { live, shadow } = evaluated;
    DecisionRecord {
        decision_id: String::new(),
        correlation_id: ctx.correlation_id.clone(),
        issuer_card_ref_id: Some(card.issuer_card_ref_id.clone()),
        virtual_card_id: None,
        level_of_trust: live.level,
        decided_by: DecidedBy::Issuer,
        reason: live.reason,
        decided_by_rule: live.decided_by_rule,
        rules: live.trace,
        rules_version: Some(rules.live.version().to_owned()),
        facts,
        idv_methods: live.methods.into_iter().map(|c| c.method).collect(),
        capture_method: input.capture_method.clone(),
        token_for_token: input.capture_method.as_deref() == Some("TOKEN"),
        original_token: original.cloned(),
        network_decision: None,
        shadow,
        review: None,
        created_time: now_rfc3339(),
    }
}

/// Writes the decision, this attempt's velocity events and the enrolment, in one transaction.
async fn record_decision(
    svc: &Services,
    input: &DigitizationInput,
    draft: DecisionRecord,
    original: Option<OriginalToken>,
    attempt: Attempt,
) -> Result<DecisionRecord, Refusal> {
    let note = EnrollmentNote {
        issuer_card_ref_id: draft.issuer_card_ref_id.clone().unwrap_or_default(),
        capture_method: input.capture_method.clone(),
        wallet_provider_id: input.wallet_provider_id.as_ref().map(|w| w.to_string()),
        token_requestor: input.token_requestor.clone(),
        original_token: original,
    };
    // The same request again (TSH retrying, or retrying on another instance after a failover) is
    // answered with the decision recorded for it: one correlation id, one issuer decision.
    let retry_key = super::lifecycle::message_fingerprint(
        svc,
        "digitization",
        &[&draft.correlation_id],
        &input.message,
    );
    let decision = svc
        .store
        .write(move |tx| {
            if tx.mark_seen(&retry_key, &draft.created_time)? {
                if let Some(recorded) = recorded_issuer_decision(tx, &draft.correlation_id)? {
                    return Ok(recorded);
                }
            }
            let mut decision = draft.clone();
            decision.decision_id = format!("{:016x}", tx.next_id()?);
            tx.put_decision(&decision)?;
            velocity::record_attempt(tx, &attempt.keys, attempt.now_unix)?;
            let now = decision.created_time.clone();
            let cid = &decision.correlation_id;
            let mut enrollment = tx
                .enrollment(cid)?
                .unwrap_or_else(|| Enrollment::new(cid, &now));
            enrollment.note_request(&note);
            Enrollment::push_bounded(&mut enrollment.decision_ids, decision.decision_id.clone());
            enrollment.idv_methods.clone_from(&decision.idv_methods);
            enrollment.last_modified_time = now;
            tx.put_enrollment(&enrollment)?;
            Ok(decision)
        })
        .await?;
    Ok(decision)
}

/// The latest issuer decision of an enrolment (what a retried request is answered with).
fn recorded_issuer_decision(
    tx: &dyn crate::store::Tx,
    correlation_id: &str,
) -> Result<Option<DecisionRecord>, crate::store::TxError> {
    let Some(enrollment) = tx.enrollment(correlation_id)? else {
        return Ok(None);
    };
    for id in enrollment.decision_ids.iter().rev() {
        if let Some(decision) = tx.decision(id)? {
            if decision.decided_by == DecidedBy::Issuer {
                return Ok(Some(decision));
            }
        }
    }
    Ok(None)
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
