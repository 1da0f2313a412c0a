//! The one facts builder: what a request says ([`RequestFacts`]) and the card it names
//! ([`CardFacts`]) become the named facts the rules read — for our own digitization decisions and
//! for the review of a network's stand-in decision alike (a stand-in simply carries fewer signals);
//! the provenance of an original token (token-for-token) adds its own facts.
//! Fact names are the catalogue of `rules::facts`; values never include card data (the BIN is the
//! only card-number-derived fact, and it is not sensitive on its own).

use time::OffsetDateTime;

use crate::domain::lineage::{age_days, requestor_ids_agree, Provenance};
use crate::domain::signals::{DeviceSignals, ScoringSignals, Signals, WalletUserSignals};
use crate::domain::{CardRecord, OriginalToken, TokenRequestorInfo};
use crate::rules::Facts;

/// The CVV2 check result, as the fact `cvv2_result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cvv2Result {
    Valid,
    Invalid,
    Absent,
    Unverifiable,
}

impl Cvv2Result {
    pub fn as_str(&self) -> &'static str {
        match self {
            Cvv2Result::Valid => "valid",
            Cvv2Result::Invalid => "invalid",
            Cvv2Result::Absent => "absent",
            Cvv2Result::Unverifiable => "unverifiable",
        }
    }
}

/// What the request says.
pub struct RequestFacts<'a> {
    /// Upper case.
    pub capture_method: Option<&'a str>,
    pub cvv_validated: Option<bool>,
    pub tnc_accepted: Option<bool>,
    pub cvv2: Cvv2Result,
    pub wallet_provider_id: Option<&'a str>,
    pub token_requestor: Option<&'a TokenRequestorInfo>,
    pub signals: &'a Signals,
    pub original: Option<&'a OriginalToken>,
}

/// What the card registry says about the card the request names.
pub struct CardFacts<'a> {
    pub card: &'a CardRecord,
    /// `EXPIRED` for an active card past its expiry, else the card's status.
    pub effective_status: &'a str,
    pub product_id: Option<&'a str>,
    pub expiry_matches: Option<bool>,
}

/// The card's status as the rules see it: an active card that is expired (by the registry, or by
/// the expiry the request carried) is `EXPIRED`.
pub fn effective_status(card: &CardRecord, request_expired: bool) -> String {
    if card.status.is_active() && (card.exp.is_expired() || request_expired) {
        "EXPIRED".to_owned()
    } else {
        card.status.as_str().to_owned()
    }
}

/// All facts for one decision.
pub fn decision_facts(request: &RequestFacts<'_>, card: &CardFacts<'_>, hour_utc: u8) -> Facts {
    let mut facts = Facts::new();
    request_facts(&mut facts, request);
    scoring_facts(&mut facts, &request.signals.scoring);
    device_facts(&mut facts, &request.signals.device);
    wallet_user_facts(&mut facts, &request.signals.wallet_user);
    original_token_facts(&mut facts, request.original);
    card_facts(&mut facts, card);
    facts.set_num("time.hour_utc", f64::from(hour_utc));
    facts
}

fn set_text(facts: &mut Facts, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        facts.set_str(name, value);
    }
}

fn set_numbers(facts: &mut Facts, values: &[(&str, Option<f64>)]) {
    for (name, value) in values {
        if let Some(value) = value {
            facts.set_num(*name, *value);
        }
    }
}

fn request_facts(facts: &mut Facts, request: &RequestFacts<'_>) {
    set_text(facts, "capture_method", request.capture_method);
    facts.set_bool("token_for_token", request.capture_method == Some("TOKEN"));
    if let Some(v) = request.cvv_validated {
        facts.set_bool("cvv_validated", v);
    }
    facts.set_str("cvv2_result", request.cvv2.as_str());
    if let Some(v) = request.tnc_accepted {
        facts.set_bool("tnc_accepted", v);
    }
    set_text(
        facts,
        "wallet_provider_id",
        request.wallet_provider_id.map(str::trim),
    );
    if let Some(requestor) = request.token_requestor {
        set_text(
            facts,
            "token_requestor.id",
            requestor.id.as_deref().map(str::trim),
        );
        set_text(
            facts,
            "token_requestor.name",
            requestor.name.as_deref().map(str::trim),
        );
    }
}

fn scoring_facts(facts: &mut Facts, scoring: &ScoringSignals) {
    set_text(
        facts,
        "scoring.level_of_trust",
        scoring.level_of_trust.as_deref(),
    );
    set_numbers(
        facts,
        &[
            ("scoring.tsp_score", scoring.tsp_score),
            ("scoring.device_score", scoring.device_score),
            ("scoring.account_score", scoring.account_score),
            ("scoring.phone_number_score", scoring.phone_number_score),
            ("scoring.wallet_score", scoring.wallet_score),
            ("scoring.card_score", scoring.card_score),
            ("scoring.device_tenure", scoring.device_tenure),
            ("scoring.user_tenure", scoring.user_tenure),
        ],
    );
    if let Some(v) = scoring.card_newly_added {
        facts.set_bool("scoring.card_newly_added", v);
    }
    if let Some(codes) = &scoring.reason_codes {
        facts.set_list("scoring.reason_codes", codes.clone());
    }
}

fn device_facts(facts: &mut Facts, device: &DeviceSignals) {
    for (name, value) in [
        ("device.token_storage_type", &device.token_storage_type),
        ("device.manufacturer", &device.manufacturer),
        ("device.brand", &device.brand),
        ("device.model", &device.model),
        ("device.os_version", &device.os_version),
        ("device.language", &device.language),
        ("device.country", &device.country),
    ] {
        set_text(facts, name, value.as_deref());
    }
}

fn wallet_user_facts(facts: &mut Facts, user: &WalletUserSignals) {
    set_text(
        facts,
        "wallet_user.account_country",
        user.account_country.as_deref(),
    );
    set_numbers(
        facts,
        &[
            (
                "wallet_user.provisioning_attempts_on_device_in_24_hours",
                user.provisioning_attempts_on_device_in_24_hours,
            ),
            (
                "wallet_user.suspended_cards_in_account",
                user.suspended_cards_in_account,
            ),
            (
                "wallet_user.days_since_last_account_activity",
                user.days_since_last_account_activity,
            ),
            (
                "wallet_user.number_of_active_tokens",
                user.number_of_active_tokens,
            ),
        ],
    );
}

fn original_token_facts(facts: &mut Facts, original: Option<&OriginalToken>) {
    let Some(original) = original.filter(|o| !o.is_empty()) else {
        facts.set_bool("original_token.present", false);
        return;
    };
    facts.set_bool("original_token.present", true);
    set_text(
        facts,
        "original_token.assurance_level",
        original.assurance_level.as_deref(),
    );
    set_text(
        facts,
        "original_token.requestor_id",
        original.token_requestor_id.as_deref(),
    );
    set_text(
        facts,
        "original_token.reference_id",
        original.token_reference_id.as_deref(),
    );
}

fn card_facts(facts: &mut Facts, card: &CardFacts<'_>) {
    facts.set_str("card.status", card.effective_status);
    set_text(facts, "card.product_id", card.product_id);
    facts.set_str("card.bin", &card.card.bin);
    facts.set_bool("card.has_phone", card.card.phone.is_some());
    facts.set_bool("card.has_email", card.card.email.is_some());
    facts.set_bool("card.has_stepup_method", card.card.has_stepup_contact());
    if let Some(m) = card.expiry_matches {
        facts.set_bool("card.expiry_matches", m);
    }
}

/// The provenance facts of a request carrying original-token attributes (issue 10): what our own
/// token records say about the original token. `card_ref` is the card being digitized.
pub fn provenance_facts(
    facts: &mut Facts,
    provenance: &Provenance,
    given: &OriginalToken,
    card_ref: &str,
    now: OffsetDateTime,
) {
    facts.set_bool("original_token.known", provenance.known);
    facts.set_bool("original_token.consistent", provenance.consistent);
    let Some(original) = &provenance.original else {
        return;
    };
    facts.set_bool(
        "original_token.same_card",
        original.issuer_card_ref_id == card_ref,
    );
    facts.set_str("original_token.state", original.state.as_str());
    if let Some(days) = age_days(&original.created_time, now) {
        facts.set_num("original_token.age_days", days);
    }
    if let Some(wallet) = &original.wallet_provider_id {
        facts.set_str("original_token.wallet_provider_id", wallet.trim());
    }
    let recorded = original
        .token_requestor
        .as_ref()
        .and_then(|r| r.id.as_ref());
    if let (Some(given), Some(recorded)) = (&given.token_requestor_id, recorded) {
        facts.set_bool(
            "original_token.requestor_matches",
            requestor_ids_agree(given, recorded),
        );
    }
}
