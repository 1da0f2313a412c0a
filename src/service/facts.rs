//! Turns a digitization request (and the card it names) into the named facts the rules read,
//! and the provenance of an original token (token-for-token) into its facts.
//! Fact names are the catalogue of `rules::facts`; values never include card data (the BIN is the
//! only card-number-derived fact, and it is not sensitive on its own).

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::contract::digitization::RequestDigitizationRequest;
use crate::contract::tolerant::{get_ci, value_as_bool, value_as_number, value_as_string};
use crate::domain::lineage::{age_days, requestor_ids_agree, Provenance};
use crate::domain::{CardRecord, OriginalToken};
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

/// Card-derived inputs to the facts.
pub struct CardFacts<'a> {
    pub card: &'a CardRecord,
    pub effective_status: &'a str,
    pub product_id: Option<&'a str>,
    pub expiry_matches: Option<bool>,
}

fn number_fields(
    facts: &mut Facts,
    prefix: &str,
    object: Option<&Map<String, Value>>,
    fields: &[(&str, &str)],
) {
    let Some(object) = object else { return };
    for (wire, fact) in fields {
        if let Some(n) = get_ci(object, wire).and_then(value_as_number) {
            facts.set_num(format!("{prefix}.{fact}"), n);
        }
    }
}

fn text_fields(
    facts: &mut Facts,
    prefix: &str,
    object: Option<&Map<String, Value>>,
    fields: &[(&str, &str)],
) {
    let Some(object) = object else { return };
    for (wire, fact) in fields {
        if let Some(s) = get_ci(object, wire).and_then(value_as_string) {
            let s = s.trim();
            if !s.is_empty() {
                facts.set_str(format!("{prefix}.{fact}"), s);
            }
        }
    }
}

/// A country from `deviceLocation` (object with `country`/`countryCode`, or an ISO code string).
fn device_country(request: &RequestDigitizationRequest) -> Option<String> {
    let location = request
        .card_capture_information
        .as_ref()
        .and_then(|c| c.device_location.as_ref());
    let from_location = match location {
        Some(Value::Object(obj)) => ["country", "countryCode", "country_code"]
            .iter()
            .find_map(|k| get_ci(obj, k).and_then(value_as_string)),
        Some(Value::String(s)) if s.trim().len() == 2 => Some(s.trim().to_owned()),
        _ => None,
    };
    from_location
        .or_else(|| {
            request.device_information.as_ref().and_then(|d| {
                ["deviceCountry", "country"]
                    .iter()
                    .find_map(|k| get_ci(d, k).and_then(value_as_string))
            })
        })
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty())
}

/// All facts for one digitization decision.
pub fn digitization_facts(
    request: &RequestDigitizationRequest,
    card: &CardFacts<'_>,
    cvv2: Cvv2Result,
    original: Option<&OriginalToken>,
    hour_utc: u8,
) -> Facts {
    let mut facts = Facts::new();
    let capture = request.capture_method();
    if let Some(method) = &capture {
        facts.set_str("capture_method", method);
    }
    facts.set_bool("token_for_token", capture.as_deref() == Some("TOKEN"));
    if let Some(v) = request.cvv_validated {
        facts.set_bool("cvv_validated", v);
    }
    facts.set_str("cvv2_result", cvv2.as_str());
    if let Some(v) = request.tnc_status {
        facts.set_bool("tnc_accepted", v);
    }

    let scoring = request.scoring_information.as_ref();
    text_fields(
        &mut facts,
        "scoring",
        scoring,
        &[("levelOfTrust", "level_of_trust")],
    );
    number_fields(
        &mut facts,
        "scoring",
        scoring,
        &[
            ("tspScore", "tsp_score"),
            ("deviceScore", "device_score"),
            ("accountScore", "account_score"),
            ("phoneNumberScore", "phone_number_score"),
            ("walletScore", "wallet_score"),
            ("cardScore", "card_score"),
            ("deviceTenure", "device_tenure"),
            ("userTenure", "user_tenure"),
        ],
    );
    if let Some(v) = scoring
        .and_then(|s| get_ci(s, "cardNewlyAdded"))
        .and_then(value_as_bool)
    {
        facts.set_bool("scoring.card_newly_added", v);
    }
    if let Some(Value::Array(codes)) = scoring.and_then(|s| get_ci(s, "reasonCodes")) {
        let codes: Vec<String> = codes
            .iter()
            .filter_map(value_as_string)
            .map(|c| c.trim().to_owned())
            .collect();
        facts.set_list("scoring.reason_codes", codes);
    } else if let Some(Value::String(codes)) = scoring.and_then(|s| get_ci(s, "reasonCodes")) {
        // Some senders pack reason codes into one comma-separated string.
        let codes: Vec<String> = codes
            .split([',', ' '])
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
        facts.set_list("scoring.reason_codes", codes);
    }

    if let Some(w) = &request.wallet_provider_id {
        facts.set_str("wallet_provider_id", w.trim());
    }
    if let Some(requestor) = &request.token_requestor {
        if let Some(id) = &requestor.id {
            facts.set_str("token_requestor.id", id.trim());
        }
        if let Some(name) = &requestor.name {
            facts.set_str("token_requestor.name", name.trim());
        }
    }

    let device = request.device_information.as_ref();
    text_fields(
        &mut facts,
        "device",
        device,
        &[
            ("tokenStorageType", "token_storage_type"),
            ("manufacturer", "manufacturer"),
            ("brand", "brand"),
            ("model", "model"),
            ("osVersion", "os_version"),
            ("language", "language"),
        ],
    );
    if let Some(country) = device_country(request) {
        facts.set_str("device.country", &country);
    }

    let user = request.wallet_user_information.as_ref();
    text_fields(
        &mut facts,
        "wallet_user",
        user,
        &[("walletAccountCountry", "account_country")],
    );
    number_fields(
        &mut facts,
        "wallet_user",
        user,
        &[
            (
                "provisioningAttemptsOnDeviceIn24Hours",
                "provisioning_attempts_on_device_in_24_hours",
            ),
            ("suspendedCardsInAccount", "suspended_cards_in_account"),
            (
                "daysSinceLastAccountActivity",
                "days_since_last_account_activity",
            ),
            ("numberOfActiveTokens", "number_of_active_tokens"),
        ],
    );

    match original {
        Some(original) if !original.is_empty() => {
            facts.set_bool("original_token.present", true);
            if let Some(v) = &original.assurance_level {
                facts.set_str("original_token.assurance_level", v);
            }
            if let Some(v) = &original.token_requestor_id {
                facts.set_str("original_token.requestor_id", v);
            }
            if let Some(v) = &original.token_reference_id {
                facts.set_str("original_token.reference_id", v);
            }
        }
        _ => {
            facts.set_bool("original_token.present", false);
        }
    }

    facts.set_str("card.status", card.effective_status);
    if let Some(p) = card.product_id {
        facts.set_str("card.product_id", p);
    }
    facts.set_str("card.bin", &card.card.bin);
    facts.set_bool("card.has_phone", card.card.phone.is_some());
    facts.set_bool("card.has_email", card.card.email.is_some());
    facts.set_bool("card.has_stepup_method", card.card.has_stepup_contact());
    if let Some(m) = card.expiry_matches {
        facts.set_bool("card.expiry_matches", m);
    }
    facts.set_num("time.hour_utc", f64::from(hour_utc));
    facts
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
