//! Every operator on every fact type, present, absent and mistyped, in both evaluation modes:
//! "definite" (adjust rules and red decide rules) and "guarded" (green / yellow decide rules,
//! where a test on a missing fact is unknown and never matches).

use super::*;

struct Case {
    name: &'static str,
    when: &'static str,
    facts: Facts,
    /// Match in a red adjust rule (missing facts: `ne` / `not_in` true, others false).
    definite: bool,
    /// Match in a green decide rule (approval guard).
    guarded: bool,
}

fn case(
    name: &'static str,
    when: &'static str,
    facts: Facts,
    definite: bool,
    guarded: bool,
) -> Case {
    Case {
        name,
        when,
        facts,
        definite,
        guarded,
    }
}

fn none() -> Facts {
    Facts::new()
}

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    vec![
        // ---- bool ----
        case("bool eq true, true", r#"{ fact = "cvv_validated", eq = true }"#, facts([("cvv_validated", flag(true))]), true, true),
        case("bool eq true, false", r#"{ fact = "cvv_validated", eq = true }"#, facts([("cvv_validated", flag(false))]), false, false),
        case("bool eq true, absent", r#"{ fact = "cvv_validated", eq = true }"#, none(), false, false),
        case("bool eq false, false", r#"{ fact = "cvv_validated", eq = false }"#, facts([("cvv_validated", flag(false))]), true, true),
        case("bool eq false, absent", r#"{ fact = "cvv_validated", eq = false }"#, none(), false, false),
        case("bool ne true, false", r#"{ fact = "cvv_validated", ne = true }"#, facts([("cvv_validated", flag(false))]), true, true),
        case("bool ne true, true", r#"{ fact = "cvv_validated", ne = true }"#, facts([("cvv_validated", flag(true))]), false, false),
        case("bool ne true, absent", r#"{ fact = "cvv_validated", ne = true }"#, none(), true, false),
        case("bool present true, present", r#"{ fact = "cvv_validated", present = true }"#, facts([("cvv_validated", flag(false))]), true, true),
        case("bool present true, absent", r#"{ fact = "cvv_validated", present = true }"#, none(), false, false),
        case("bool present false, absent", r#"{ fact = "cvv_validated", present = false }"#, none(), true, true),
        case("bool present false, present", r#"{ fact = "cvv_validated", present = false }"#, facts([("cvv_validated", flag(true))]), false, false),
        case("bool eq, wrong type counts as absent", r#"{ fact = "cvv_validated", eq = true }"#, facts([("cvv_validated", text("true"))]), false, false),
        case("bool ne, wrong type counts as absent", r#"{ fact = "cvv_validated", ne = true }"#, facts([("cvv_validated", text("true"))]), true, false),
        // ---- number ----
        case("number eq, equal", r#"{ fact = "scoring.device_score", eq = 2 }"#, facts([("scoring.device_score", num(2.0))]), true, true),
        case("number eq, float operand", r#"{ fact = "scoring.device_score", eq = 2.0 }"#, facts([("scoring.device_score", num(2.0))]), true, true),
        case("number eq, different", r#"{ fact = "scoring.device_score", eq = 2 }"#, facts([("scoring.device_score", num(3.0))]), false, false),
        case("number eq, absent", r#"{ fact = "scoring.device_score", eq = 2 }"#, none(), false, false),
        case("number ne, different", r#"{ fact = "scoring.device_score", ne = 2 }"#, facts([("scoring.device_score", num(3.0))]), true, true),
        case("number ne, equal", r#"{ fact = "scoring.device_score", ne = 2 }"#, facts([("scoring.device_score", num(2.0))]), false, false),
        case("number ne, absent", r#"{ fact = "scoring.device_score", ne = 2 }"#, none(), true, false),
        case("number in, member", r#"{ fact = "scoring.device_score", in = [1, 2] }"#, facts([("scoring.device_score", num(2.0))]), true, true),
        case("number in, not member", r#"{ fact = "scoring.device_score", in = [1, 2] }"#, facts([("scoring.device_score", num(5.0))]), false, false),
        case("number in, absent", r#"{ fact = "scoring.device_score", in = [1, 2] }"#, none(), false, false),
        case("number not_in, not member", r#"{ fact = "scoring.device_score", not_in = [1, 2] }"#, facts([("scoring.device_score", num(5.0))]), true, true),
        case("number not_in, member", r#"{ fact = "scoring.device_score", not_in = [1, 2] }"#, facts([("scoring.device_score", num(1.0))]), false, false),
        case("number not_in, absent", r#"{ fact = "scoring.device_score", not_in = [1, 2] }"#, none(), true, false),
        case("number lt, below", r#"{ fact = "scoring.device_score", lt = 3 }"#, facts([("scoring.device_score", num(2.0))]), true, true),
        case("number lt, equal", r#"{ fact = "scoring.device_score", lt = 3 }"#, facts([("scoring.device_score", num(3.0))]), false, false),
        case("number lt, absent", r#"{ fact = "scoring.device_score", lt = 3 }"#, none(), false, false),
        case("number le, equal", r#"{ fact = "scoring.device_score", le = 3 }"#, facts([("scoring.device_score", num(3.0))]), true, true),
        case("number le, above", r#"{ fact = "scoring.device_score", le = 3 }"#, facts([("scoring.device_score", num(4.0))]), false, false),
        case("number le, absent", r#"{ fact = "scoring.device_score", le = 3 }"#, none(), false, false),
        case("number gt, above", r#"{ fact = "scoring.device_score", gt = 3 }"#, facts([("scoring.device_score", num(4.0))]), true, true),
        case("number gt, equal", r#"{ fact = "scoring.device_score", gt = 3 }"#, facts([("scoring.device_score", num(3.0))]), false, false),
        case("number gt, absent", r#"{ fact = "scoring.device_score", gt = 3 }"#, none(), false, false),
        case("number ge, equal", r#"{ fact = "scoring.device_score", ge = 3 }"#, facts([("scoring.device_score", num(3.0))]), true, true),
        case("number ge, below", r#"{ fact = "scoring.device_score", ge = 3 }"#, facts([("scoring.device_score", num(2.0))]), false, false),
        case("number ge, absent", r#"{ fact = "scoring.device_score", ge = 3 }"#, none(), false, false),
        case("number between, low end", r#"{ fact = "scoring.device_score", between = [1, 2] }"#, facts([("scoring.device_score", num(1.0))]), true, true),
        case("number between, high end", r#"{ fact = "scoring.device_score", between = [1, 2] }"#, facts([("scoring.device_score", num(2.0))]), true, true),
        case("number between, inside fraction", r#"{ fact = "scoring.device_score", between = [1, 2] }"#, facts([("scoring.device_score", num(1.5))]), true, true),
        case("number between, above", r#"{ fact = "scoring.device_score", between = [1, 2] }"#, facts([("scoring.device_score", num(2.5))]), false, false),
        case("number between, below", r#"{ fact = "scoring.device_score", between = [1, 2] }"#, facts([("scoring.device_score", num(0.0))]), false, false),
        case("number between, absent", r#"{ fact = "scoring.device_score", between = [1, 2] }"#, none(), false, false),
        case("number present true, present", r#"{ fact = "scoring.device_score", present = true }"#, facts([("scoring.device_score", num(0.0))]), true, true),
        case("number present false, absent", r#"{ fact = "scoring.device_score", present = false }"#, none(), true, true),
        case("number lt, wrong type counts as absent", r#"{ fact = "scoring.device_score", lt = 3 }"#, facts([("scoring.device_score", text("2"))]), false, false),
        case("number present, wrong type counts as absent", r#"{ fact = "scoring.device_score", present = true }"#, facts([("scoring.device_score", text("2"))]), false, false),
        // ---- text ----
        case("text eq, same case", r#"{ fact = "capture_method", eq = "CAMERA" }"#, facts([("capture_method", text("CAMERA"))]), true, true),
        case("text eq, other case", r#"{ fact = "capture_method", eq = "CAMERA" }"#, facts([("capture_method", text("camera"))]), true, true),
        case("text eq, different", r#"{ fact = "capture_method", eq = "CAMERA" }"#, facts([("capture_method", text("MANUAL"))]), false, false),
        case("text eq, absent", r#"{ fact = "capture_method", eq = "CAMERA" }"#, none(), false, false),
        case("text eq, empty string is present", r#"{ fact = "capture_method", eq = "" }"#, facts([("capture_method", text(""))]), true, true),
        case("text ne, different", r#"{ fact = "capture_method", ne = "CAMERA" }"#, facts([("capture_method", text("MANUAL"))]), true, true),
        case("text ne, equal in other case", r#"{ fact = "capture_method", ne = "CAMERA" }"#, facts([("capture_method", text("Camera"))]), false, false),
        case("text ne, absent", r#"{ fact = "capture_method", ne = "CAMERA" }"#, none(), true, false),
        case("text in, member other case", r#"{ fact = "capture_method", in = ["CAMERA", "MANUAL"] }"#, facts([("capture_method", text("manual"))]), true, true),
        case("text in, not member", r#"{ fact = "capture_method", in = ["CAMERA", "MANUAL"] }"#, facts([("capture_method", text("BANK_APP"))]), false, false),
        case("text in, absent", r#"{ fact = "capture_method", in = ["CAMERA", "MANUAL"] }"#, none(), false, false),
        case("text not_in, not member", r#"{ fact = "capture_method", not_in = ["CAMERA", "MANUAL"] }"#, facts([("capture_method", text("BANK_APP"))]), true, true),
        case("text not_in, member", r#"{ fact = "capture_method", not_in = ["CAMERA", "MANUAL"] }"#, facts([("capture_method", text("camera"))]), false, false),
        case("text not_in, absent", r#"{ fact = "capture_method", not_in = ["CAMERA", "MANUAL"] }"#, none(), true, false),
        case("text starts_with, prefix", r#"{ fact = "card.bin", starts_with = "4123" }"#, facts([("card.bin", text("412345"))]), true, true),
        case("text starts_with, whole value", r#"{ fact = "card.bin", starts_with = "412345" }"#, facts([("card.bin", text("412345"))]), true, true),
        case("text starts_with, other prefix", r#"{ fact = "card.bin", starts_with = "4123" }"#, facts([("card.bin", text("512345"))]), false, false),
        case("text starts_with, shorter value", r#"{ fact = "card.bin", starts_with = "4123" }"#, facts([("card.bin", text("41"))]), false, false),
        case("text starts_with, any of list", r#"{ fact = "card.bin", starts_with = ["4123", "51"] }"#, facts([("card.bin", text("512345"))]), true, true),
        case("text starts_with, none of list", r#"{ fact = "card.bin", starts_with = ["4123", "51"] }"#, facts([("card.bin", text("601100"))]), false, false),
        case("text starts_with, ignores case", r#"{ fact = "device.model", starts_with = "pixel" }"#, facts([("device.model", text("Pixel 8"))]), true, true),
        case("text starts_with, non-ascii value", r#"{ fact = "device.model", starts_with = "pixel" }"#, facts([("device.model", text("é"))]), false, false),
        case("text starts_with, absent", r#"{ fact = "card.bin", starts_with = "4123" }"#, none(), false, false),
        case("text present true, present", r#"{ fact = "original_token.assurance_level", present = true }"#, facts([("original_token.assurance_level", text("HIGH"))]), true, true),
        case("text present false, absent", r#"{ fact = "original_token.assurance_level", present = false }"#, none(), true, true),
        case("text eq, wrong type counts as absent", r#"{ fact = "capture_method", eq = "CAMERA" }"#, facts([("capture_method", list(&["CAMERA"]))]), false, false),
        case("text closed set eq, other case", r#"{ fact = "cvv2_result", eq = "INVALID" }"#, facts([("cvv2_result", text("invalid"))]), true, true),
        // ---- list ----
        case("list contains, member other case", r#"{ fact = "scoring.reason_codes", contains = "A1" }"#, facts([("scoring.reason_codes", list(&["a1", "B2"]))]), true, true),
        case("list contains, not member", r#"{ fact = "scoring.reason_codes", contains = "A1" }"#, facts([("scoring.reason_codes", list(&["B2"]))]), false, false),
        case("list contains, empty list", r#"{ fact = "scoring.reason_codes", contains = "A1" }"#, facts([("scoring.reason_codes", list(&[]))]), false, false),
        case("list contains, absent", r#"{ fact = "scoring.reason_codes", contains = "A1" }"#, none(), false, false),
        case("list any_of, shares one", r#"{ fact = "scoring.reason_codes", any_of = ["X", "B2"] }"#, facts([("scoring.reason_codes", list(&["A1", "b2"]))]), true, true),
        case("list any_of, shares none", r#"{ fact = "scoring.reason_codes", any_of = ["X", "B2"] }"#, facts([("scoring.reason_codes", list(&["A1"]))]), false, false),
        case("list any_of, absent", r#"{ fact = "scoring.reason_codes", any_of = ["X", "B2"] }"#, none(), false, false),
        case("list present true, empty list", r#"{ fact = "scoring.reason_codes", present = true }"#, facts([("scoring.reason_codes", list(&[]))]), true, true),
        case("list present false, absent", r#"{ fact = "scoring.reason_codes", present = false }"#, none(), true, true),
        case("list contains, wrong type counts as absent", r#"{ fact = "scoring.reason_codes", contains = "A1" }"#, facts([("scoring.reason_codes", text("A1"))]), false, false),
        // ---- combinators ----
        case("not, inner true", r#"{ not = { fact = "capture_method", eq = "CAMERA" } }"#, facts([("capture_method", text("CAMERA"))]), false, false),
        case("not, inner false", r#"{ not = { fact = "capture_method", eq = "CAMERA" } }"#, facts([("capture_method", text("BANK_APP"))]), true, true),
        case("not, inner on absent fact", r#"{ not = { fact = "capture_method", eq = "CAMERA" } }"#, none(), true, false),
        case("not not, absent stays unknown", r#"{ not = { not = { fact = "capture_method", ne = "CAMERA" } } }"#, none(), true, false),
        case("all, every part true", r#"{ all = [ { fact = "capture_method", eq = "TOKEN" }, { fact = "original_token.assurance_level", present = true } ] }"#, facts([("capture_method", text("TOKEN")), ("original_token.assurance_level", text("HIGH"))]), true, true),
        case("all, one part false", r#"{ all = [ { fact = "capture_method", eq = "TOKEN" }, { fact = "original_token.assurance_level", present = true } ] }"#, facts([("capture_method", text("TOKEN"))]), false, false),
        case("all, true and absent ne", r#"{ all = [ { fact = "capture_method", eq = "TOKEN" }, { fact = "card.status", ne = "SUSPENDED" } ] }"#, facts([("capture_method", text("TOKEN"))]), true, false),
        case("all, false beats unknown", r#"{ not = { all = [ { fact = "cvv2_result", eq = "valid" }, { fact = "capture_method", eq = "CAMERA" } ] } }"#, facts([("capture_method", text("BANK_APP"))]), true, true),
        case("any, one part true", r#"{ any = [ { fact = "scoring.device_score", between = [1, 2] }, { fact = "scoring.account_score", between = [1, 2] } ] }"#, facts([("scoring.account_score", num(1.0))]), true, true),
        case("any, no part true", r#"{ any = [ { fact = "scoring.device_score", between = [1, 2] }, { fact = "scoring.account_score", between = [1, 2] } ] }"#, facts([("scoring.device_score", num(4.0)), ("scoring.account_score", num(5.0))]), false, false),
        case("any, true beats unknown", r#"{ any = [ { fact = "card.status", ne = "ACTIVE" }, { fact = "capture_method", eq = "BANK_APP" } ] }"#, facts([("capture_method", text("BANK_APP"))]), true, true),
        case("any, false and unknown", r#"{ any = [ { fact = "card.status", ne = "ACTIVE" }, { fact = "capture_method", eq = "BANK_APP" } ] }"#, facts([("capture_method", text("CAMERA"))]), true, false),
        case("nested all inside any inside not", r#"{ not = { any = [ { all = [ { fact = "card.bin", starts_with = "4" }, { fact = "time.hour_utc", between = [0, 5] } ] }, { fact = "scoring.reason_codes", contains = "X" } ] } }"#, facts([("card.bin", text("412345")), ("time.hour_utc", num(3.0)), ("scoring.reason_codes", list(&[]))]), false, false),
    ]
}

#[test]
fn every_operator_on_every_type_matches_as_documented() {
    let mut failures = Vec::new();
    for case in cases() {
        for (mode, stage, outcome, expected) in [
            ("definite", "adjust", "red", case.definite),
            ("guarded", "decide", "green", case.guarded),
        ] {
            let set = single_rule(stage, outcome, case.when);
            let evaluation = set.evaluate(&case.facts);
            let got = matched(&evaluation, "r");
            if got != expected {
                failures.push(format!(
                    "case {:?} ({mode}): expected matched = {expected}, got {got}; trace: {:?}",
                    case.name,
                    trace_of(&evaluation, "r")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_rule_without_when_always_matches() {
    let set = rule_set(
        "[[rule]]\nid = \"always-green\"\nstage = \"decide\"\noutcome = \"green\"\nreason = \"ok\"\n",
    );
    let evaluation = set.evaluate(&Facts::new());
    assert_eq!(evaluation.outcome, super::super::Outcome::Green);
    assert_eq!(
        trace_of(&evaluation, "always-green").explanation,
        "always (no condition) → green"
    );
}

#[test]
fn explanations_are_one_human_line_about_the_facts() {
    let shipped = super::shipped::shipped_rules();
    let cases: [(&str, Facts, &str, &str); 7] = [
        (
            "low device score",
            facts([
                ("capture_method", text("BANK_APP")),
                ("card.status", text("ACTIVE")),
                ("card.has_stepup_method", flag(true)),
                ("scoring.device_score", num(1.0)),
            ]),
            "low-wallet-score",
            "scoring.device_score 1 is between 1 and 2 → yellow",
        ),
        (
            "camera capture",
            facts([("capture_method", text("CAMERA"))]),
            "untrusted-capture-method",
            "capture_method = CAMERA is in [CAMERA, MANUAL, UNKNOWN] → red",
        ),
        (
            "cvv2 absent",
            facts([("capture_method", text("CAMERA"))]),
            "cvv2-invalid",
            "cvv2_result is absent",
        ),
        (
            "card status missing fails closed",
            facts([("capture_method", text("BANK_APP"))]),
            "card-not-active",
            "card.status is absent, so not ACTIVE → red",
        ),
        (
            "token with assurance but unknown original",
            facts([
                ("capture_method", text("TOKEN")),
                ("original_token.assurance_level", text("HIGH")),
                ("original_token.known", flag(false)),
            ]),
            "token-for-token-original-unknown",
            "capture_method = TOKEN and original_token.known = false → yellow",
        ),
        (
            "token without assurance, first failing part",
            facts([("capture_method", text("CAMERA"))]),
            "token-for-token-unassured",
            "capture_method = CAMERA, not TOKEN",
        ),
        (
            "skipped after a decision",
            facts([("cvv_validated", flag(true))]),
            "cvv2-valid",
            "not evaluated: cvv-validated-by-tsp decided first",
        ),
    ];
    for (name, facts, rule, expected) in cases {
        let evaluation = shipped.evaluate(&facts);
        assert_eq!(
            trace_of(&evaluation, rule).explanation,
            expected,
            "case {name}"
        );
    }
}

#[rustfmt::skip]
fn explanation_cases() -> [(&'static str, &'static str, Facts, &'static str); 12] {
    [
        ("lt true", r#"{ fact = "scoring.device_score", lt = 3 }"#, facts([("scoring.device_score", num(2.0))]), "scoring.device_score 2 < 3 → red"),
        ("le false", r#"{ fact = "scoring.device_score", le = 2 }"#, facts([("scoring.device_score", num(4.5))]), "scoring.device_score 4.5 is not ≤ 2"),
        ("ge true", r#"{ fact = "wallet_user.suspended_cards_in_account", ge = 1 }"#, facts([("wallet_user.suspended_cards_in_account", num(2.0))]), "wallet_user.suspended_cards_in_account 2 ≥ 1 → red"),
        ("ne true", r#"{ fact = "card.status", ne = "ACTIVE" }"#, facts([("card.status", text("LOST"))]), "card.status = LOST, not ACTIVE → red"),
        ("eq bool", r#"{ fact = "card.has_stepup_method", eq = false }"#, facts([("card.has_stepup_method", flag(false))]), "card.has_stepup_method = false → red"),
        ("not_in false", r#"{ fact = "capture_method", not_in = ["CAMERA"] }"#, facts([("capture_method", text("CAMERA"))]), "capture_method = CAMERA is in [CAMERA]"),
        ("contains true", r#"{ fact = "scoring.reason_codes", contains = "05" }"#, facts([("scoring.reason_codes", list(&["05", "0A"]))]), "scoring.reason_codes [05, 0A] contains 05 → red"),
        ("any_of false", r#"{ fact = "scoring.reason_codes", any_of = ["X1", "X2"] }"#, facts([("scoring.reason_codes", list(&["05"]))]), "scoring.reason_codes [05] has none of [X1, X2]"),
        ("starts_with list true", r#"{ fact = "card.bin", starts_with = ["4000", "4123"] }"#, facts([("card.bin", text("412345"))]), "card.bin = 412345 starts with 4123 → red"),
        ("wrong type", r#"{ fact = "scoring.device_score", lt = 3 }"#, facts([("scoring.device_score", text("2"))]), "scoring.device_score is text 2, not a number, and counts as absent"),
        ("present false on present", r#"{ fact = "device.country", present = false }"#, facts([("device.country", text("FR"))]), "device.country is present (FR)"),
        ("any false joins reasons", r#"{ any = [ { fact = "scoring.device_score", lt = 2 }, { fact = "scoring.account_score", lt = 2 } ] }"#, facts([("scoring.device_score", num(3.0)), ("scoring.account_score", num(4.0))]), "scoring.device_score 3 is not < 2 and scoring.account_score 4 is not < 2"),
    ]
}

#[test]
fn explanations_of_each_operator_read_naturally() {
    for (name, when, facts, expected) in explanation_cases() {
        let evaluation = single_rule("adjust", "red", when).evaluate(&facts);
        assert_eq!(
            trace_of(&evaluation, "r").explanation,
            expected,
            "case {name}"
        );
    }
}

#[test]
fn a_missing_fact_in_an_approving_rule_is_explained() {
    let set = single_rule(
        "decide",
        "green",
        r#"{ fact = "card.status", ne = "SUSPENDED" }"#,
    );
    let evaluation = set.evaluate(&Facts::new());
    let entry = trace_of(&evaluation, "r");
    assert!(!entry.matched);
    assert_eq!(entry.effect, "no effect: depends on a missing fact");
    assert_eq!(
        entry.explanation,
        "card.status is absent: an approving rule never matches on a missing fact"
    );
    assert_eq!(evaluation.outcome, super::super::Outcome::Red);
}
