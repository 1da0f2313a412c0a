//! Properties that must hold for any facts, checked on many generated fact sets and rule sets
//! (a small deterministic generator, no extra dependency):
//! - adjust rules never loosen: red stays red, yellow never becomes green;
//! - once a red rule matches, the outcome is red;
//! - an approving decide rule that matches with facts missing still matches whatever values
//!   those facts are given (a missing fact never turns a decline into an approval), unless it
//!   tests absence explicitly with `present`;
//! - every rule appears in the trace exactly once; step-up filters only on yellow.

use super::super::{facts::CATALOGUE, FactType, Outcome, Stage};
use super::*;

/// xorshift64*: deterministic, good enough to spread test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

const TEXTS: [&str; 12] = [
    "CAMERA",
    "BANK_APP",
    "TOKEN",
    "MANUAL",
    "ON_FILE",
    "active",
    "ACTIVE",
    "SUSPENDED",
    "valid",
    "invalid",
    "412345",
    "",
];
const CODES: [&str; 4] = ["A1", "B2", "05", "X"];

fn random_value(rng: &mut Rng, ty: FactType) -> FactValue {
    match ty {
        FactType::Bool => FactValue::Bool(rng.chance(50)),
        FactType::Number => FactValue::Number(rng.below(7) as f64 - 0.5 * (rng.below(2) as f64)),
        FactType::Text => text(rng.pick(&TEXTS).copied().unwrap_or("")),
        FactType::List => FactValue::List(
            CODES
                .iter()
                .filter(|_| rng.chance(40))
                .map(|code| (*code).to_owned())
                .collect(),
        ),
    }
}

/// A fact set over the facts the shipped rules use, plus random others; some absent, some of
/// the wrong type.
fn random_facts(rng: &mut Rng) -> Facts {
    let mut facts = Facts::new();
    for spec in CATALOGUE {
        if rng.chance(35) {
            continue;
        }
        let ty = if rng.chance(5) {
            [
                FactType::Bool,
                FactType::Number,
                FactType::Text,
                FactType::List,
            ]
            .get(rng.below(4))
            .copied()
            .unwrap_or(spec.ty)
        } else {
            spec.ty
        };
        if spec.name == "cvv2_result" && ty == FactType::Text {
            let value = ["valid", "invalid", "absent", "unverifiable"]
                .get(rng.below(4))
                .copied()
                .unwrap_or("absent");
            facts.set(spec.name, text(value));
        } else {
            facts.set(spec.name, random_value(rng, ty));
        }
    }
    facts
}

/// A random condition (inline TOML) over a few facts, using every operator.
fn random_condition(rng: &mut Rng, depth: usize) -> String {
    let roll = if depth >= 3 { 10 } else { rng.below(14) };
    match roll {
        0 | 1 => {
            let items: Vec<String> = (0..1 + rng.below(3))
                .map(|_| random_condition(rng, depth + 1))
                .collect();
            format!("{{ all = [ {} ] }}", items.join(", "))
        }
        2 | 3 => {
            let items: Vec<String> = (0..1 + rng.below(3))
                .map(|_| random_condition(rng, depth + 1))
                .collect();
            format!("{{ any = [ {} ] }}", items.join(", "))
        }
        4 => format!("{{ not = {} }}", random_condition(rng, depth + 1)),
        _ => {
            let leaves = [
                r#"{ fact = "capture_method", eq = "CAMERA" }"#,
                r#"{ fact = "capture_method", ne = "BANK_APP" }"#,
                r#"{ fact = "capture_method", in = ["TOKEN", "ON_FILE"] }"#,
                r#"{ fact = "capture_method", not_in = ["CAMERA", "MANUAL"] }"#,
                r#"{ fact = "card.bin", starts_with = ["41", "5"] }"#,
                r#"{ fact = "card.status", ne = "ACTIVE" }"#,
                r#"{ fact = "card.has_stepup_method", eq = true }"#,
                r#"{ fact = "cvv_validated", ne = false }"#,
                r#"{ fact = "scoring.device_score", lt = 3 }"#,
                r#"{ fact = "scoring.device_score", ge = 2 }"#,
                r#"{ fact = "scoring.account_score", between = [1, 2] }"#,
                r#"{ fact = "scoring.account_score", le = 4 }"#,
                r#"{ fact = "scoring.account_score", gt = 1 }"#,
                r#"{ fact = "scoring.device_score", not_in = [1, 2] }"#,
                r#"{ fact = "scoring.reason_codes", contains = "A1" }"#,
                r#"{ fact = "scoring.reason_codes", any_of = ["B2", "X"] }"#,
                r#"{ fact = "original_token.assurance_level", present = true }"#,
                r#"{ fact = "original_token.assurance_level", present = false }"#,
                r#"{ fact = "cvv2_result", eq = "valid" }"#,
            ];
            rng.pick(&leaves).copied().unwrap_or(leaves[0]).to_owned()
        }
    }
}

/// A random but valid rule set: decide rules of every outcome, adjust rules of yellow / red,
/// with and without `when_outcome` and step-up filters.
fn random_rule_set(rng: &mut Rng) -> RuleSet {
    let mut text = String::new();
    for i in 0..1 + rng.below(8) {
        let (stage, outcome) = match rng.below(5) {
            0 => ("decide", "green"),
            1 => ("decide", "yellow"),
            2 => ("decide", "red"),
            3 => ("adjust", "yellow"),
            _ => ("adjust", "red"),
        };
        text.push_str(&format!(
            "[[rule]]\nid = \"r{i}\"\nstage = \"{stage}\"\noutcome = \"{outcome}\"\nreason = \"reason {i}\"\n"
        ));
        if rng.chance(85) {
            text.push_str(&format!("when = {}\n", random_condition(rng, 0)));
        }
        if outcome == "yellow" && rng.chance(40) {
            let filter = [
                r#"["email"]"#,
                r#"["cell_phone", "email"]"#,
                r#"["website"]"#,
            ];
            text.push_str(&format!(
                "stepup_methods = {}\n",
                rng.pick(&filter).copied().unwrap_or(filter[0])
            ));
        }
        if stage == "adjust" && outcome == "red" && rng.chance(30) {
            let required = if rng.chance(50) { "green" } else { "yellow" };
            text.push_str(&format!("when_outcome = \"{required}\"\n"));
        }
    }
    let default = ["green", "yellow", "red"]
        .get(rng.below(3))
        .copied()
        .unwrap_or("red");
    let file =
        format!("version = 1\n[defaults]\noutcome = \"{default}\"\nreason = \"default\"\n{text}");
    match RuleSet::from_toml_str(&file, "random") {
        Ok(set) => set,
        Err(error) => panic!("generated rules did not compile: {error}\n{file}"),
    }
}

/// The outcome the decide stage left (first matched decide rule, or the default).
fn decide_outcome(set: &RuleSet, evaluation: &Evaluation) -> Outcome {
    evaluation
        .trace
        .iter()
        .filter(|entry| entry.stage == Stage::Decide && entry.matched)
        .find_map(|entry| {
            set.rules()
                .iter()
                .find(|rule| rule.id() == entry.rule_id)
                .map(|rule| rule.outcome())
        })
        .unwrap_or(set.default_outcome())
}

#[test]
fn adjust_rules_never_loosen_and_a_matched_red_rule_means_red() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut sets = vec![super::shipped::shipped_rules()];
    sets.extend((0..200).map(|_| random_rule_set(&mut rng)));
    for (set_index, set) in sets.iter().enumerate() {
        for case in 0..100 {
            let facts = random_facts(&mut rng);
            let evaluation = set.evaluate(&facts);
            let context = || {
                format!(
                    "set #{set_index} case {case}\nrules:\n{}\nfacts: {facts:?}\ntrace: {:#?}",
                    set.describe(),
                    evaluation.trace
                )
            };

            let decided = decide_outcome(set, &evaluation);
            assert!(
                evaluation.outcome >= decided,
                "adjust loosened: {}",
                context()
            );

            let red_matched = evaluation.trace.iter().any(|entry| {
                entry.matched
                    && set
                        .rules()
                        .iter()
                        .any(|rule| rule.id() == entry.rule_id && rule.outcome() == Outcome::Red)
            });
            if red_matched {
                assert_eq!(evaluation.outcome, Outcome::Red, "{}", context());
            }

            let mut ids: Vec<&str> = evaluation
                .trace
                .iter()
                .map(|entry| entry.rule_id.as_str())
                .filter(|id| *id != super::super::DEFAULT_TRACE_ID)
                .collect();
            ids.sort_unstable();
            let mut expected: Vec<&str> = set.rules().iter().map(|rule| rule.id()).collect();
            expected.sort_unstable();
            assert_eq!(
                ids,
                expected,
                "trace must list every rule once: {}",
                context()
            );

            if evaluation.outcome != Outcome::Yellow {
                assert_eq!(evaluation.stepup_methods, None, "{}", context());
            }
            if let Some(methods) = &evaluation.stepup_methods {
                assert!(!methods.is_empty(), "empty step-up filter: {}", context());
            }
        }
    }
}

#[test]
fn an_approving_rule_matched_with_missing_facts_matches_whatever_they_are() {
    let mut rng = Rng(0x0bad_cafe_0000_0042);
    let mut checked = 0;
    for round in 0..6000 {
        let when = random_condition(&mut rng, 0);
        if when.contains("present =") {
            // `present` is the one explicit way to test absence; it is exempt by design.
            continue;
        }
        let outcome = if rng.chance(50) { "green" } else { "yellow" };
        let set = single_rule("decide", outcome, &when);
        let facts = random_facts(&mut rng);
        if !matched(&set.evaluate(&facts), "r") {
            continue;
        }
        let missing: Vec<&super::super::FactSpec> = CATALOGUE
            .iter()
            .filter(|spec| {
                facts
                    .get(spec.name)
                    .is_none_or(|value| value.fact_type() != spec.ty)
            })
            .collect();
        checked += 1;
        for fill in 0..20 {
            let mut completed = facts.clone();
            for spec in &missing {
                completed.set(spec.name, random_value(&mut rng, spec.ty));
            }
            assert!(
                matched(&set.evaluate(&completed), "r"),
                "round {round} fill {fill}: approving rule `when = {when}` matched with facts missing but not once they were filled\nfacts: {facts:?}\ncompleted: {completed:?}"
            );
        }
    }
    assert!(checked > 500, "only {checked} matching rules were checked");
}

#[test]
fn an_adjust_rule_can_never_turn_red_into_green_or_yellow() {
    let set = rule_set(
        r#"
[[rule]]
id = "decline"
stage = "decide"
outcome = "red"
reason = "declined"

[[rule]]
id = "always-yellow"
stage = "adjust"
outcome = "yellow"
reason = "step up"
stepup_methods = ["email"]

[[rule]]
id = "yellow-only-if-yellow"
stage = "adjust"
outcome = "yellow"
when_outcome = "yellow"
stepup_methods = ["email"]
reason = "narrow"
"#,
    );
    let mut rng = Rng(7);
    for case in 0..500 {
        let facts = if case == 0 {
            Facts::new()
        } else {
            random_facts(&mut rng)
        };
        let evaluation = set.evaluate(&facts);
        assert_eq!(evaluation.outcome, Outcome::Red, "case {case}");
        assert_eq!(
            evaluation.decided_by_rule.as_deref(),
            Some("decline"),
            "case {case}"
        );
        assert_eq!(
            trace_of(&evaluation, "always-yellow").effect,
            "no effect: not stricter",
            "case {case}"
        );
    }
    // And no file can even say it: a green adjust rule is refused.
    let error = compile_error(
        "[[rule]]\nid = \"approve-later\"\nstage = \"adjust\"\noutcome = \"green\"\nreason = \"x\"\n",
    );
    assert!(error.to_string().contains("approve-later"), "{error}");
}

#[test]
fn adjust_yellow_rules_narrow_the_step_up_filter_and_red_when_nothing_is_left() {
    let set = rule_set(
        r#"
[[rule]]
id = "step-up"
stage = "decide"
outcome = "yellow"
reason = "step up"
stepup_methods = ["email", "cell_phone"]

[[rule]]
id = "email-only"
stage = "adjust"
outcome = "yellow"
reason = "email only"
stepup_methods = ["email"]
when = { fact = "scoring.reason_codes", contains = "E" }

[[rule]]
id = "website-only"
stage = "adjust"
outcome = "yellow"
reason = "website only"
stepup_methods = ["website"]
when = { fact = "scoring.reason_codes", contains = "W" }
"#,
    );
    // (case, reason codes, outcome, step-up filter, deciding rule)
    type Case<'a> = (
        &'a str,
        &'a [&'a str],
        Outcome,
        Option<Vec<String>>,
        Option<&'a str>,
    );
    let cases: [Case; 4] = [
        (
            "no narrowing",
            &[],
            Outcome::Yellow,
            Some(vec!["email".into(), "cell_phone".into()]),
            Some("step-up"),
        ),
        (
            "narrowed to email",
            &["E"],
            Outcome::Yellow,
            Some(vec!["email".into()]),
            Some("step-up"),
        ),
        (
            "website not in the filter → red",
            &["W"],
            Outcome::Red,
            None,
            Some("website-only"),
        ),
        (
            "email then website → red",
            &["E", "W"],
            Outcome::Red,
            None,
            Some("website-only"),
        ),
    ];
    for (name, codes, outcome, methods, rule) in cases {
        let evaluation = set.evaluate(&facts([("scoring.reason_codes", list(codes))]));
        assert_eq!(
            evaluation.outcome, outcome,
            "case {name:?}: {:#?}",
            evaluation.trace
        );
        assert_eq!(evaluation.stepup_methods, methods, "case {name:?}");
        assert_eq!(evaluation.decided_by_rule.as_deref(), rule, "case {name:?}");
    }
}

#[test]
fn an_adjust_yellow_on_green_sets_its_own_filter() {
    let set = rule_set(
        r#"
[[rule]]
id = "ok"
stage = "decide"
outcome = "green"
reason = "ok"

[[rule]]
id = "email-step-up"
stage = "adjust"
outcome = "yellow"
reason = "email step-up"
stepup_methods = ["EMAIL"]
"#,
    );
    let evaluation = set.evaluate(&Facts::new());
    assert_eq!(evaluation.outcome, Outcome::Yellow);
    assert_eq!(evaluation.stepup_methods, Some(vec!["email".to_owned()]));
    assert_eq!(
        trace_of(&evaluation, "email-step-up").effect,
        "green → yellow (stricter)"
    );
}

#[test]
fn mangled_rules_files_are_refused_or_compiled_but_never_panic() {
    let shipped = super::shipped::SHIPPED;
    let pieces = [
        "",
        "\"",
        "[",
        "]",
        "{",
        "}",
        "=",
        ",",
        "\n",
        "#",
        "[[rule]]\n",
        "not = ",
        "all = [",
        "1e999",
        "-",
        "é",
        "\u{0}",
        "when.",
        "true",
        "lt",
        "present",
    ];
    let mut rng = Rng(0xfeed_f00d_dead_beef);
    let mut compiled = 0;
    for _ in 0..3000 {
        let mut text: Vec<char> = shipped.chars().collect();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(text.len() + 1);
            if rng.chance(50) && at < text.len() {
                let end = (at + rng.below(12)).min(text.len());
                text.drain(at..end);
            } else {
                let piece = rng.pick(&pieces).copied().unwrap_or("");
                for (i, c) in piece.chars().enumerate() {
                    text.insert((at + i).min(text.len()), c);
                }
            }
        }
        let text: String = text.into_iter().collect();
        if let Ok(set) = RuleSet::from_toml_str(&text, "mangled") {
            compiled += 1;
            let _ = set.evaluate(&random_facts(&mut rng));
            let _ = set.describe();
        }
    }
    // Some mutations land in comments or strings and still compile; most are refused.
    assert!(compiled < 3000, "every mangled file compiled");
}
