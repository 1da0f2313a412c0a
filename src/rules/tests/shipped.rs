//! The shipped `config/rules.toml` reproduces Thales' baseline (contract §3.2), the
//! token-for-token defaults (§4) and the low-wallet-score step-up, on a table of fact sets.

use super::super::{load_file, Outcome, Stage, DEFAULT_TRACE_ID};
use super::*;

/// The shipped file, read at compile time from its real location (works from any crate that
/// includes this module by path).
pub(super) const SHIPPED: &str = include_str!("../../../config/rules.toml");

pub(super) fn shipped_rules() -> RuleSet {
    match RuleSet::from_toml_str(SHIPPED, "shipped") {
        Ok(set) => set,
        Err(error) => panic!("config/rules.toml does not compile: {error}"),
    }
}

/// An active card that has a step-up method, plus `extra` (later pairs override earlier ones).
fn active_card<const N: usize>(extra: [(&str, FactValue); N]) -> Facts {
    let mut facts = facts([
        ("card.status", text("ACTIVE")),
        ("card.product_id", text("VISA-DEV")),
        ("card.has_stepup_method", flag(true)),
    ]);
    for (name, value) in extra {
        facts.set(name, value);
    }
    facts
}

/// A token-for-token request whose original token is ours, on this card, active and assured,
/// plus `extra`.
fn t4t<const N: usize>(extra: [(&str, FactValue); N]) -> Facts {
    let mut facts = active_card([
        ("capture_method", text("TOKEN")),
        ("original_token.present", flag(true)),
        ("original_token.assurance_level", text("25")),
        ("original_token.known", flag(true)),
        ("original_token.consistent", flag(true)),
        ("original_token.same_card", flag(true)),
        ("original_token.state", text("ACTIVE")),
    ]);
    for (name, value) in extra {
        facts.set(name, value);
    }
    facts
}

/// `facts` without the named facts.
fn facts_without(facts: Facts, names: &[&str]) -> Facts {
    let mut kept = Facts::new();
    for (name, value) in facts.iter() {
        if !names.contains(&name) {
            kept.set(name.to_owned(), value.clone());
        }
    }
    kept
}

/// (case, facts, expected outcome, expected deciding rule).
#[rustfmt::skip]
fn baseline_cases() -> Vec<(&'static str, Facts, Outcome, Option<&'static str>)> {
    use Outcome::{Green, Red, Yellow};
    vec![
        ("cvvValidated → green", active_card([("cvv_validated", flag(true)), ("capture_method", text("MANUAL"))]), Green, Some("cvv-validated-by-tsp")),
        ("valid CVV2 → green", active_card([("cvv2_result", text("valid")), ("capture_method", text("CAMERA"))]), Green, Some("cvv2-valid")),
        ("invalid CVV2 beats cvvValidated → red", active_card([("cvv2_result", text("invalid")), ("cvv_validated", flag(true))]), Red, Some("cvv2-invalid")),
        ("unverifiable CVV2 with CAMERA → red", active_card([("cvv2_result", text("unverifiable")), ("capture_method", text("CAMERA"))]), Red, Some("untrusted-capture-method")),
        ("CAMERA → red", active_card([("capture_method", text("CAMERA"))]), Red, Some("untrusted-capture-method")),
        ("MANUAL → red", active_card([("capture_method", text("MANUAL"))]), Red, Some("untrusted-capture-method")),
        ("UNKNOWN → red", active_card([("capture_method", text("UNKNOWN"))]), Red, Some("untrusted-capture-method")),
        ("BANK_APP → green", active_card([("capture_method", text("BANK_APP"))]), Green, Some("trusted-capture-method")),
        ("ON_FILE → green", active_card([("capture_method", text("ON_FILE"))]), Green, Some("trusted-capture-method")),
        ("bank_app in lower case → green", active_card([("capture_method", text("bank_app"))]), Green, Some("trusted-capture-method")),
        ("no capture method → red by default", active_card([]), Red, None),
        ("unrecognised capture method → red by default", active_card([("capture_method", text("HOLOGRAM"))]), Red, None),
        ("TOKEN, original ours, same card, active, assured → green", t4t([]), Green, Some("token-for-token-provenance")),
        ("TOKEN, original unknown to us → yellow", active_card([("capture_method", text("TOKEN")), ("original_token.assurance_level", text("25")), ("original_token.known", flag(false)), ("original_token.consistent", flag(true))]), Yellow, Some("token-for-token-original-unknown")),
        ("TOKEN, provenance facts missing (recorded before issue 10) → yellow", active_card([("capture_method", text("TOKEN")), ("original_token.assurance_level", text("HIGH"))]), Yellow, Some("token-for-token-original-unknown")),
        ("TOKEN, original unknown, cvvValidated → still yellow", active_card([("capture_method", text("TOKEN")), ("cvv_validated", flag(true)), ("original_token.known", flag(false))]), Yellow, Some("token-for-token-original-unknown")),
        ("TOKEN, original on another card → red", t4t([("original_token.same_card", flag(false))]), Red, Some("original-token-other-card")),
        ("TOKEN, original suspended → red", t4t([("original_token.state", text("SUSPENDED"))]), Red, Some("original-token-not-live")),
        ("TOKEN, original deleted → red", t4t([("original_token.state", text("DELETED"))]), Red, Some("original-token-not-live")),
        ("TOKEN, original still requested → yellow", t4t([("original_token.state", text("REQUESTED"))]), Yellow, Some("token-for-token-unproven")),
        ("TOKEN, reference id and number disagree → red", facts_without(t4t([("original_token.consistent", flag(false))]), &["original_token.same_card", "original_token.state"]), Red, Some("original-token-inconsistent")),
        ("BANK_APP carrying inconsistent original token attributes → red", active_card([("capture_method", text("BANK_APP")), ("original_token.known", flag(true)), ("original_token.consistent", flag(false))]), Red, Some("original-token-inconsistent")),
        ("TOKEN, original good but no assurance level → yellow", facts_without(t4t([]), &["original_token.assurance_level"]), Yellow, Some("token-for-token-unassured")),
        ("TOKEN without any original token attribute → yellow", active_card([("capture_method", text("TOKEN"))]), Yellow, Some("token-for-token-original-unknown")),
        ("TOKEN unknown original, no step-up method → red", active_card([("capture_method", text("TOKEN")), ("card.has_stepup_method", flag(false))]), Red, Some("yellow-without-stepup")),
        ("TOKEN unknown original, step-up unknown → red", facts([("card.status", text("ACTIVE")), ("card.product_id", text("VISA-DEV")), ("capture_method", text("TOKEN"))]), Red, Some("yellow-without-stepup")),
        ("green + device score 2 → yellow", active_card([("capture_method", text("BANK_APP")), ("scoring.device_score", num(2.0))]), Yellow, Some("low-wallet-score")),
        ("green + device score 3 → green", active_card([("capture_method", text("BANK_APP")), ("scoring.device_score", num(3.0))]), Green, Some("trusted-capture-method")),
        ("green + account score 1 and no step-up → red", active_card([("capture_method", text("BANK_APP")), ("scoring.account_score", num(1.0)), ("card.has_stepup_method", flag(false))]), Red, Some("yellow-without-stepup")),
        ("TOKEN proven + device score 1 → yellow", t4t([("scoring.device_score", num(1.0))]), Yellow, Some("low-wallet-score")),
        ("red stays red with a low score", active_card([("capture_method", text("CAMERA")), ("scoring.device_score", num(1.0))]), Red, Some("untrusted-capture-method")),
        ("suspended card → red", active_card([("capture_method", text("BANK_APP")), ("card.status", text("SUSPENDED"))]), Red, Some("card-not-active")),
        ("card status missing → red", facts([("capture_method", text("BANK_APP")), ("card.has_stepup_method", flag(true))]), Red, Some("card-not-active")),
        ("card status in lower case → green", active_card([("capture_method", text("BANK_APP")), ("card.status", text("active"))]), Green, Some("trusted-capture-method")),
        ("wallet recommends red → yellow", active_card([("capture_method", text("BANK_APP")), ("scoring.level_of_trust", text("RED"))]), Yellow, Some("wallet-recommends-red")),
        ("wallet recommends red, no step-up → red", active_card([("cvv_validated", flag(true)), ("scoring.level_of_trust", text("red")), ("card.has_stepup_method", flag(false))]), Red, Some("yellow-without-stepup")),
        ("green without step-up stays green", active_card([("capture_method", text("BANK_APP")), ("card.has_stepup_method", flag(false))]), Green, Some("trusted-capture-method")),
    ]
}

#[test]
fn shipped_rules_reproduce_the_baseline() {
    let set = shipped_rules();
    for (name, facts, outcome, rule) in baseline_cases() {
        let evaluation = set.evaluate(&facts);
        assert_eq!(
            (evaluation.outcome, evaluation.decided_by_rule.as_deref()),
            (outcome, rule),
            "case {name:?}\ntrace: {:#?}",
            evaluation.trace
        );
        if evaluation.outcome != Outcome::Yellow {
            assert_eq!(evaluation.stepup_methods, None, "case {name:?}");
        }
    }
}

#[test]
fn every_shipped_rule_appears_in_every_trace_in_evaluation_order() {
    let set = shipped_rules();
    let decide: Vec<&str> = set
        .rules()
        .iter()
        .filter(|rule| rule.stage() == Stage::Decide)
        .map(|rule| rule.id())
        .collect();
    let adjust: Vec<&str> = set
        .rules()
        .iter()
        .filter(|rule| rule.stage() == Stage::Adjust)
        .map(|rule| rule.id())
        .collect();
    let cases = [
        (
            "first rule decides",
            active_card([("cvv2_result", text("invalid"))]),
            false,
        ),
        ("default applies", active_card([]), true),
    ];
    for (name, facts, default_applies) in cases {
        let evaluation = set.evaluate(&facts);
        let mut expected: Vec<&str> = decide.clone();
        if default_applies {
            expected.push(DEFAULT_TRACE_ID);
        }
        expected.extend(adjust.iter().copied());
        let got: Vec<&str> = evaluation
            .trace
            .iter()
            .map(|e| e.rule_id.as_str())
            .collect();
        assert_eq!(got, expected, "case {name:?}");
    }
}

#[test]
fn the_shipped_trace_tells_the_story() {
    let set = shipped_rules();
    let evaluation = set.evaluate(&active_card([
        ("capture_method", text("BANK_APP")),
        ("scoring.account_score", num(1.0)),
        ("card.has_stepup_method", flag(false)),
    ]));
    let effects: Vec<(&str, bool, &str)> = evaluation
        .trace
        .iter()
        .map(|e| (e.rule_id.as_str(), e.matched, e.effect.as_str()))
        .collect();
    assert_eq!(
        effects,
        vec![
            ("cvv2-invalid", false, "no effect: condition not met"),
            (
                "token-for-token-provenance",
                false,
                "no effect: condition not met"
            ),
            (
                "token-for-token-original-unknown",
                false,
                "no effect: condition not met"
            ),
            (
                "token-for-token-unassured",
                false,
                "no effect: condition not met"
            ),
            (
                "token-for-token-unproven",
                false,
                "no effect: condition not met"
            ),
            (
                "cvv-validated-by-tsp",
                false,
                "no effect: depends on a missing fact"
            ),
            ("cvv2-valid", false, "no effect: depends on a missing fact"),
            ("trusted-capture-method", true, "set green"),
            (
                "untrusted-capture-method",
                false,
                "skipped: outcome already decided"
            ),
            (
                "original-token-inconsistent",
                false,
                "no effect: condition not met"
            ),
            (
                "original-token-other-card",
                false,
                "no effect: condition not met"
            ),
            (
                "original-token-not-live",
                false,
                "no effect: condition not met"
            ),
            ("card-not-active", false, "no effect: condition not met"),
            ("no-card-product", false, "no effect: condition not met"),
            (
                "wallet-recommends-red",
                false,
                "no effect: condition not met"
            ),
            ("low-wallet-score", true, "green → yellow (stricter)"),
            ("yellow-without-stepup", true, "yellow → red (stricter)"),
        ]
    );
    assert_eq!(
        evaluation.reason,
        "a step-up is required but the card has no step-up method"
    );
    assert_eq!(evaluation.rules_version, "shipped");
}

#[test]
fn evaluations_round_trip_through_json() {
    let set = shipped_rules();
    let evaluation = set.evaluate(&active_card([("capture_method", text("TOKEN"))]));
    let json = serde_json::to_string(&evaluation).unwrap_or_default();
    assert!(json.contains(r#""outcome":"yellow""#), "{json}");
    assert!(json.contains(r#""stage":"decide""#), "{json}");
    let back: Result<Evaluation, _> = serde_json::from_str(&json);
    assert_eq!(back.ok(), Some(evaluation));
}

#[test]
fn describe_lists_every_rule_with_its_condition() {
    let set = shipped_rules();
    let listing = set.describe();
    for rule in set.rules() {
        assert!(
            listing.contains(rule.id()),
            "listing lacks {}:\n{listing}",
            rule.id()
        );
    }
    for fragment in [
        "rules version shipped: 17 rule(s), 9 decide, 8 adjust",
        "decide stage: the first matching rule sets the outcome",
        "when capture_method in [\"BANK_APP\", \"ON_FILE\"]",
        "when capture_method = \"TOKEN\" and original_token.assurance_level is absent",
        "when scoring.device_score between 1 and 2 or scoring.account_score between 1 and 2",
        "yellow-without-stepup → red, only when the outcome is yellow",
        "when card.has_stepup_method ≠ true",
        "no decide rule matched → red: no rule approved this digitization",
    ] {
        assert!(
            listing.contains(fragment),
            "listing lacks {fragment:?}:\n{listing}"
        );
    }
    assert_eq!(set.len(), 17);
    assert_eq!(set.version(), "shipped");
}

#[test]
fn load_file_reads_the_shipped_file_and_reports_a_missing_one() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/rules.toml");
    // In the main crate the manifest dir holds config/; in a scratch crate it may not.
    if std::path::Path::new(path).exists() {
        let raw = load_file(path);
        assert!(raw.is_ok(), "{raw:?}");
    }
    match load_file("/nonexistent/rules.toml") {
        Err(RulesError::Io { path, .. }) => assert_eq!(path, "/nonexistent/rules.toml"),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn every_rules_example_in_docs_rules_md_compiles() {
    let docs = include_str!("../../../docs/rules.md");
    let mut checked = 0;
    for (i, block) in docs.split("```toml\n").skip(1).enumerate() {
        let block = block.split("```").next().unwrap_or_default();
        if !block.contains("[[rule]]") {
            continue; // a condition fragment, not a file
        }
        let text = if block.contains("version = ") {
            block.to_owned()
        } else {
            format!("{HEADER}{block}")
        };
        if let Err(error) = RuleSet::from_toml_str(&text, "docs") {
            panic!(
                "toml block #{} of docs/rules.md does not compile: {error}\n{text}",
                i + 1
            );
        }
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} examples found");
}
