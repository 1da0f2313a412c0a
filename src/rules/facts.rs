//! The facts a rule can test: the static fact catalogue (name → type → meaning) and the
//! [`Facts`] bag the caller fills for one request.
//!
//! Owns the catalogue, [`FactValue`] and [`Facts`]. Must not know how facts are derived from a
//! TSH request (the caller does that, using exactly the catalogue's names) and must never hold
//! card data: a PAN, CVV, OTP or token number is never a fact (`card.bin` is the first six
//! digits only). To add a fact (e.g. the velocity counters of issue 4), add one line to
//! [`CATALOGUE`] and document it in `docs/rules.md`; the compiler and the docs test pick it up.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The type of a fact, which decides the operators a condition on it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FactType {
    /// `true` / `false`.
    Bool,
    /// A number (scores, counts, the hour).
    Number,
    /// A string, compared ignoring ASCII case.
    Text,
    /// A list of strings (reason codes), compared ignoring ASCII case.
    List,
}

impl FactType {
    /// The name used in error messages and the docs.
    pub fn as_str(self) -> &'static str {
        match self {
            FactType::Bool => "bool",
            FactType::Number => "number",
            FactType::Text => "text",
            FactType::List => "list",
        }
    }

    /// The operators a condition on a fact of this type may use, in documentation order.
    pub fn operators(self) -> &'static [&'static str] {
        match self {
            FactType::Bool => &["eq", "ne", "present"],
            FactType::Number => &[
                "eq", "ne", "in", "not_in", "lt", "le", "gt", "ge", "between", "present",
            ],
            FactType::Text => &[
                "eq",
                "ne",
                "in",
                "not_in",
                "starts_with",
                "matches",
                "present",
            ],
            FactType::List => &["contains", "any_of", "present"],
        }
    }
}

impl fmt::Display for FactType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the fact catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactSpec {
    /// The name rules use (`scoring.device_score`).
    pub name: &'static str,
    /// Its type.
    pub ty: FactType,
    /// One line for issuer staff.
    pub description: &'static str,
    /// For a text fact with a closed set of values: that set (a rule naming another value is
    /// refused). Empty means any value may occur.
    pub values: &'static [&'static str],
}

const fn fact(name: &'static str, ty: FactType, description: &'static str) -> FactSpec {
    FactSpec {
        name,
        ty,
        description,
        values: &[],
    }
}

const fn closed(
    name: &'static str,
    description: &'static str,
    values: &'static [&'static str],
) -> FactSpec {
    FactSpec {
        name,
        ty: FactType::Text,
        description,
        values,
    }
}

use FactType::{Bool, List, Number, Text};

/// Every fact a rule may name. The caller builds [`Facts`] with exactly these names.
///
/// Keep it grouped by source and add new facts at the end of their group.
pub static CATALOGUE: &[FactSpec] = &[
    // Capture and verification.
    fact("capture_method", Text, "how the card was captured, upper case: MANUAL, CAMERA, BANK_APP, ON_FILE, TOKEN, UNKNOWN or any other value TSH sends"),
    fact("token_for_token", Bool, "the request is a Visa token-for-token digitization (capture method TOKEN)"),
    fact("cvv_validated", Bool, "the TSP already validated the CVV (cvvValidated)"),
    closed("cvv2_result", "our check of the CVV2 sent in authenticationValue", &["valid", "invalid", "absent", "unverifiable"]),
    fact("tnc_accepted", Bool, "the cardholder accepted the terms and conditions (tncStatus)"),
    // scoringInformation.
    fact("scoring.level_of_trust", Text, "the wallet's or TSP's own recommendation (scoringInformation.levelOfTrust), e.g. green, yellow, red"),
    fact("scoring.tsp_score", Number, "TSP risk score (scoringInformation.tspScore)"),
    fact("scoring.device_score", Number, "wallet device score, 1 (risky) to 5 (trusted)"),
    fact("scoring.account_score", Number, "wallet account score, 1 (risky) to 5 (trusted)"),
    fact("scoring.phone_number_score", Number, "wallet phone number score, 1 (risky) to 5 (trusted)"),
    fact("scoring.wallet_score", Number, "overall wallet score (scoringInformation.walletScore)"),
    fact("scoring.card_score", Number, "card score (scoringInformation.cardScore)"),
    fact("scoring.device_tenure", Number, "how long the device has been known to the wallet (scoringInformation.deviceTenure)"),
    fact("scoring.user_tenure", Number, "how long the wallet account has existed (scoringInformation.userTenure)"),
    fact("scoring.card_newly_added", Bool, "the card was just added to the wallet account (scoringInformation.cardNewlyAdded)"),
    fact("scoring.reason_codes", List, "risk reason codes from the wallet or TSP (scoringInformation.reasonCodes)"),
    // Who asks.
    fact("wallet_provider_id", Text, "the wallet provider (walletProviderId)"),
    fact("token_requestor.id", Text, "token requestor id (tokenRequestor.id)"),
    fact("token_requestor.name", Text, "token requestor name (tokenRequestor.name)"),
    // deviceInformation (and cardCaptureInformation.deviceLocation for the country).
    fact("device.token_storage_type", Text, "where the token will live (deviceInformation.tokenStorageType)"),
    fact("device.manufacturer", Text, "device manufacturer"),
    fact("device.brand", Text, "device brand"),
    fact("device.model", Text, "device model"),
    fact("device.os_version", Text, "device operating system version"),
    fact("device.language", Text, "device language"),
    fact("device.country", Text, "device country, from cardCaptureInformation.deviceLocation or the device information"),
    // walletUserInformation.
    fact("wallet_user.account_country", Text, "country of the wallet account (walletAccountCountry)"),
    fact("wallet_user.provisioning_attempts_on_device_in_24_hours", Number, "provisioning attempts on this device in the last 24 hours, as the wallet reports it"),
    fact("wallet_user.suspended_cards_in_account", Number, "suspended cards in the wallet account"),
    fact("wallet_user.days_since_last_account_activity", Number, "days since the wallet account was last active"),
    fact("wallet_user.number_of_active_tokens", Number, "active tokens in the wallet account"),
    // Token-for-token (contract §4).
    fact("original_token.present", Bool, "the request carries original token attributes (token-for-token)"),
    fact("original_token.assurance_level", Text, "assurance level of the original token (originalTokenAssuranceLevel)"),
    fact("original_token.requestor_id", Text, "token requestor of the original token (originalTokenRequestorId)"),
    fact("original_token.reference_id", Text, "reference id of the original token (originalTokenReferenceID)"),
    fact("original_token.known", Bool, "we hold a token record for the original token (found by originalTokenReferenceID or by the fingerprint of originalToken); set whenever original token attributes are present"),
    fact("original_token.consistent", Bool, "the original token attributes name one of our tokens without contradiction (false: the reference id names one token and the number another); true when unknown"),
    fact("original_token.same_card", Bool, "the original token belongs to the card being digitized (known and consistent only)"),
    closed("original_token.state", "state of the original token in our records (known and consistent only)", &["REQUESTED", "ACTIVE", "SUSPENDED", "DELETED", "REQUEST_DECLINED"]),
    fact("original_token.age_days", Number, "whole days since we first recorded the original token (known and consistent only)"),
    fact("original_token.wallet_provider_id", Text, "wallet provider of the original token in our records, e.g. APPLE_PAY (known and consistent only)"),
    fact("original_token.requestor_matches", Bool, "originalTokenRequestorId equals the token requestor id we recorded for the original token (only when both are known)"),
    // The card, from our registry.
    fact("card.status", Text, "card status in the issuer's registry: ACTIVE, SUSPENDED, CLOSED, LOST, STOLEN or other"),
    fact("card.product_id", Text, "the card's product id (card profile)"),
    fact("card.bin", Text, "first 6 digits of the card number (not sensitive); use starts_with for BIN ranges"),
    fact("card.has_phone", Bool, "the card has a phone number for OTP by SMS"),
    fact("card.has_email", Bool, "the card has an e-mail address for OTP by e-mail"),
    fact("card.has_stepup_method", Bool, "the card has at least one step-up method the issuer can complete end to end"),
    fact("card.expiry_matches", Bool, "the expiry date in the request matches the registry"),
    // Velocity, computed from the store (survives restarts); windows set in the [velocity] table.
    fact("velocity.card_attempts", Number, "digitization requests for this card within the attempts window, this one included"),
    fact("velocity.device_attempts", Number, "digitization requests from this device (deviceInformation.deviceId, serialNumber or IMEI) within the attempts window, this one included"),
    fact("velocity.token_requestor_attempts", Number, "digitization requests from this token requestor within the attempts window, this one included"),
    fact("velocity.device_distinct_cards", Number, "distinct cards digitized on this device within the distinct-cards window, this one included"),
    fact("velocity.bin_eligibility_refusals", Number, "eligibility refusals for cards of this BIN within the BIN-refusals window (the BIN-attack signal)"),
    // Time.
    fact("time.hour_utc", Number, "hour of the request, 0 to 23, UTC"),
];

/// The catalogue entry for `name`, if any.
pub fn lookup(name: &str) -> Option<&'static FactSpec> {
    CATALOGUE.iter().find(|spec| spec.name == name)
}

/// The catalogue name closest to `name` (for "did you mean" hints), if one is close enough.
pub fn closest_name(name: &str) -> Option<&'static str> {
    CATALOGUE
        .iter()
        .map(|spec| (edit_distance(name, spec.name), spec.name))
        .filter(|(distance, candidate)| *distance <= 3.max(candidate.len() / 4))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over chars (short names only; used for error hints).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitution =
                previous.get(j).copied().unwrap_or(usize::MAX / 2) + usize::from(ca != *cb);
            let deletion = previous.get(j + 1).copied().unwrap_or(usize::MAX / 2) + 1;
            let insertion = current.get(j).copied().unwrap_or(usize::MAX / 2) + 1;
            current.push(substitution.min(deletion).min(insertion));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

/// The value of one fact.
///
/// Serialized untagged, as plain JSON (`true`, `2.0`, `"CAMERA"`, `["A1"]`), because facts are
/// stored with every decision and replayed later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FactValue {
    Bool(bool),
    Number(f64),
    Text(String),
    List(Vec<String>),
}

impl FactValue {
    /// The type of this value.
    pub fn fact_type(&self) -> FactType {
        match self {
            FactValue::Bool(_) => FactType::Bool,
            FactValue::Number(_) => FactType::Number,
            FactValue::Text(_) => FactType::Text,
            FactValue::List(_) => FactType::List,
        }
    }

    /// A number that is NaN or infinite is not a usable value (and cannot round-trip JSON).
    pub(crate) fn is_usable(&self) -> bool {
        match self {
            FactValue::Number(number) => number.is_finite(),
            _ => true,
        }
    }
}

impl From<bool> for FactValue {
    fn from(value: bool) -> Self {
        FactValue::Bool(value)
    }
}

impl From<f64> for FactValue {
    fn from(value: f64) -> Self {
        FactValue::Number(value)
    }
}

impl From<i64> for FactValue {
    fn from(value: i64) -> Self {
        // Facts are small counts and scores; the conversion is exact below 2^53.
        FactValue::Number(value as f64)
    }
}

impl From<u32> for FactValue {
    fn from(value: u32) -> Self {
        FactValue::Number(f64::from(value))
    }
}

impl From<String> for FactValue {
    fn from(value: String) -> Self {
        FactValue::Text(value)
    }
}

impl From<&str> for FactValue {
    fn from(value: &str) -> Self {
        FactValue::Text(value.to_owned())
    }
}

impl From<Vec<String>> for FactValue {
    fn from(value: Vec<String>) -> Self {
        FactValue::List(value)
    }
}

impl fmt::Display for FactValue {
    /// Human form used in traces: `true`, `2`, `0.5`, `CAMERA`, `[A1, B2]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FactValue::Bool(value) => write!(f, "{value}"),
            FactValue::Number(value) => f.write_str(&format_number(*value)),
            FactValue::Text(value) => f.write_str(&display_text(value)),
            FactValue::List(values) => {
                f.write_str("[")?;
                for (i, value) in values.iter().take(MAX_DISPLAY_ITEMS).enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&display_text(value))?;
                }
                if values.len() > MAX_DISPLAY_ITEMS {
                    write!(f, ", … {} more", values.len() - MAX_DISPLAY_ITEMS)?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Longest text shown in a trace line (fact values come from the wire and are stored).
const MAX_DISPLAY_CHARS: usize = 64;
/// Most list items shown in a trace line.
const MAX_DISPLAY_ITEMS: usize = 16;

/// A text value as shown in traces: as is, `""` when empty, cut at 64 characters, control
/// characters replaced. Borrows in the common case (evaluation builds many of these).
pub(crate) fn display_text(value: &str) -> Cow<'_, str> {
    if value.is_empty() {
        return Cow::Borrowed("\"\"");
    }
    if value.len() <= MAX_DISPLAY_CHARS && !value.chars().any(char::is_control) {
        return Cow::Borrowed(value);
    }
    let mut shown: String = value
        .chars()
        .take(MAX_DISPLAY_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if value.chars().nth(MAX_DISPLAY_CHARS).is_some() {
        shown.push('…');
    }
    Cow::Owned(shown)
}

/// `2` rather than `2.0` for whole numbers; `0.5` otherwise.
pub(crate) fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

/// The facts of one request: name → value; a fact not in the map is **absent**.
///
/// Serialized as a plain JSON object (`{"capture_method": "CAMERA", "scoring.device_score": 2.0}`)
/// and stored with each decision so it can be replayed under other rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Facts(BTreeMap<String, FactValue>);

impl Facts {
    /// No facts: every fact absent.
    pub fn new() -> Self {
        Facts::default()
    }

    /// Sets a fact; a non-finite number (NaN, ±∞) makes the fact absent instead.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<FactValue>) -> &mut Self {
        let name = name.into();
        let value = value.into();
        if value.is_usable() {
            self.0.insert(name, value);
        } else {
            self.0.remove(&name);
        }
        self
    }

    /// Sets a fact when `value` is `Some`, makes it absent when `None`.
    pub fn set_opt<V: Into<FactValue>>(
        &mut self,
        name: impl Into<String>,
        value: Option<V>,
    ) -> &mut Self {
        match value {
            Some(value) => self.set(name, value),
            None => {
                self.0.remove(&name.into());
                self
            }
        }
    }

    /// Sets a bool fact.
    pub fn set_bool(&mut self, name: impl Into<String>, value: bool) -> &mut Self {
        self.set(name, FactValue::Bool(value))
    }

    /// Sets a number fact (absent if `value` is NaN or infinite).
    pub fn set_num(&mut self, name: impl Into<String>, value: f64) -> &mut Self {
        self.set(name, FactValue::Number(value))
    }

    /// Sets a text fact.
    pub fn set_str(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.set(name, FactValue::Text(value.into()))
    }

    /// Sets a list fact.
    pub fn set_list<I, S>(&mut self, name: impl Into<String>, values: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.set(
            name,
            FactValue::List(values.into_iter().map(Into::into).collect()),
        )
    }

    /// Makes a fact absent, returning its old value.
    pub fn remove(&mut self, name: &str) -> Option<FactValue> {
        self.0.remove(name)
    }

    /// The value of a fact, `None` when absent.
    pub fn get(&self, name: &str) -> Option<&FactValue> {
        self.0.get(name)
    }

    /// Whether the fact is present.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// All present facts, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FactValue)> {
        self.0.iter().map(|(name, value)| (name.as_str(), value))
    }

    /// Number of present facts.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether every fact is absent.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Facts that rules cannot see as intended: names missing from the catalogue, and values
    /// of the wrong type (which the engine treats as absent). Empty when all is well; meant for
    /// the caller's tests and debug logs.
    pub fn catalogue_mismatches(&self) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|(name, value)| match lookup(name) {
                None => Some(format!("unknown fact {name:?}")),
                Some(spec) if spec.ty != value.fact_type() => Some(format!(
                    "fact {name:?} is a {}, got a {}",
                    spec.ty,
                    value.fact_type()
                )),
                Some(_) if !value.is_usable() => Some(format!("fact {name:?} is not finite")),
                Some(_) => None,
            })
            .collect()
    }
}

impl<N: Into<String>> FromIterator<(N, FactValue)> for Facts {
    fn from_iter<T: IntoIterator<Item = (N, FactValue)>>(iter: T) -> Self {
        let mut facts = Facts::new();
        for (name, value) in iter {
            facts.set(name, value);
        }
        facts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_names_are_unique_and_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for spec in CATALOGUE {
            assert!(seen.insert(spec.name), "duplicate fact {}", spec.name);
            assert!(
                spec.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'),
                "fact name {} must be lower-case ascii, digits, _ and .",
                spec.name
            );
            assert!(
                !spec.description.is_empty(),
                "fact {} needs a description",
                spec.name
            );
            assert!(
                spec.values.is_empty() || spec.ty == FactType::Text,
                "only text facts have closed value sets ({})",
                spec.name
            );
        }
    }

    #[test]
    fn catalogue_has_every_fact_the_caller_builds() {
        let expected = [
            ("capture_method", FactType::Text),
            ("token_for_token", FactType::Bool),
            ("cvv_validated", FactType::Bool),
            ("cvv2_result", FactType::Text),
            ("tnc_accepted", FactType::Bool),
            ("scoring.level_of_trust", FactType::Text),
            ("scoring.tsp_score", FactType::Number),
            ("scoring.device_score", FactType::Number),
            ("scoring.account_score", FactType::Number),
            ("scoring.phone_number_score", FactType::Number),
            ("scoring.wallet_score", FactType::Number),
            ("scoring.card_score", FactType::Number),
            ("scoring.device_tenure", FactType::Number),
            ("scoring.user_tenure", FactType::Number),
            ("scoring.card_newly_added", FactType::Bool),
            ("scoring.reason_codes", FactType::List),
            ("wallet_provider_id", FactType::Text),
            ("token_requestor.id", FactType::Text),
            ("token_requestor.name", FactType::Text),
            ("device.token_storage_type", FactType::Text),
            ("device.manufacturer", FactType::Text),
            ("device.brand", FactType::Text),
            ("device.model", FactType::Text),
            ("device.os_version", FactType::Text),
            ("device.language", FactType::Text),
            ("device.country", FactType::Text),
            ("wallet_user.account_country", FactType::Text),
            (
                "wallet_user.provisioning_attempts_on_device_in_24_hours",
                FactType::Number,
            ),
            ("wallet_user.suspended_cards_in_account", FactType::Number),
            (
                "wallet_user.days_since_last_account_activity",
                FactType::Number,
            ),
            ("wallet_user.number_of_active_tokens", FactType::Number),
            ("original_token.present", FactType::Bool),
            ("original_token.assurance_level", FactType::Text),
            ("original_token.requestor_id", FactType::Text),
            ("original_token.reference_id", FactType::Text),
            ("original_token.known", FactType::Bool),
            ("original_token.consistent", FactType::Bool),
            ("original_token.same_card", FactType::Bool),
            ("original_token.state", FactType::Text),
            ("original_token.age_days", FactType::Number),
            ("original_token.wallet_provider_id", FactType::Text),
            ("original_token.requestor_matches", FactType::Bool),
            ("card.status", FactType::Text),
            ("card.product_id", FactType::Text),
            ("card.bin", FactType::Text),
            ("card.has_phone", FactType::Bool),
            ("card.has_email", FactType::Bool),
            ("card.has_stepup_method", FactType::Bool),
            ("card.expiry_matches", FactType::Bool),
            ("time.hour_utc", FactType::Number),
        ];
        for (name, ty) in expected {
            let spec = lookup(name);
            assert_eq!(spec.map(|s| s.ty), Some(ty), "case {name}");
        }
    }

    #[test]
    fn every_catalogue_fact_is_documented_in_docs_rules_md() {
        let docs = include_str!("../../docs/rules.md");
        for spec in CATALOGUE {
            assert!(
                docs.contains(&format!("`{}`", spec.name)),
                "docs/rules.md does not mention fact `{}`",
                spec.name
            );
        }
    }

    #[test]
    fn close_misspellings_get_a_hint() {
        let cases = [
            ("scoring.device_scor", Some("scoring.device_score")),
            ("capture_methd", Some("capture_method")),
            ("cvv2result", Some("cvv2_result")),
            ("zzzzzzzzzzzzzz", None),
        ];
        for (name, expected) in cases {
            assert_eq!(closest_name(name), expected, "case {name}");
        }
    }

    #[test]
    fn facts_serialize_as_a_plain_object_and_round_trip() {
        let mut facts = Facts::new();
        facts
            .set_str("capture_method", "CAMERA")
            .set_num("scoring.device_score", 2.0)
            .set_bool("cvv_validated", false)
            .set_list("scoring.reason_codes", ["A1", "B2"]);
        let json = serde_json::to_string(&facts).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"capture_method":"CAMERA","cvv_validated":false,"scoring.device_score":2.0,"scoring.reason_codes":["A1","B2"]}"#
        );
        let back: Facts = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, facts);
        let from_integer: Facts =
            serde_json::from_str(r#"{"scoring.device_score": 2}"#).unwrap_or_default();
        assert_eq!(
            from_integer.get("scoring.device_score"),
            Some(&FactValue::Number(2.0))
        );
    }

    #[test]
    fn non_finite_numbers_make_the_fact_absent() {
        let mut facts = Facts::new();
        facts.set_num("scoring.device_score", 3.0);
        facts.set_num("scoring.device_score", f64::NAN);
        assert!(!facts.contains("scoring.device_score"));
        facts.set("scoring.account_score", f64::INFINITY);
        assert!(facts.is_empty());
        facts.set_opt("card.bin", Some("412345"));
        facts.set_opt::<&str>("card.bin", None);
        assert!(facts.is_empty());
    }

    #[test]
    fn catalogue_mismatches_name_unknown_and_mistyped_facts() {
        let mut facts = Facts::new();
        facts
            .set_str("capture_method", "CAMERA")
            .set_str("scoring.device_score", "2")
            .set_bool("no.such.fact", true);
        let problems = facts.catalogue_mismatches();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems
            .iter()
            .any(|p| p.contains("unknown fact \"no.such.fact\"")));
        assert!(problems
            .iter()
            .any(|p| p.contains("\"scoring.device_score\" is a number, got a text")));
    }

    #[test]
    fn values_display_for_humans() {
        let long = "x".repeat(100);
        let cases = [
            (FactValue::Bool(true), "true".to_owned()),
            (FactValue::Number(2.0), "2".to_owned()),
            (FactValue::Number(0.5), "0.5".to_owned()),
            (FactValue::Text("CAMERA".into()), "CAMERA".to_owned()),
            (FactValue::Text(String::new()), "\"\"".to_owned()),
            (FactValue::Text(long), format!("{}…", "x".repeat(64))),
            (
                FactValue::List(vec!["A1".into(), "B2".into()]),
                "[A1, B2]".to_owned(),
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(value.to_string(), expected, "case {value:?}");
        }
    }
}
