//! Refused rules files: every error names the rule (id and position) and the offending key or
//! value, and a refused file never yields a partial rule set.

use super::*;

/// A rule `r` with the given extra lines.
fn rule(lines: &str) -> String {
    format!("[[rule]]\nid = \"r\"\n{lines}\n")
}

const DECIDE_RED: &str = "stage = \"decide\"\noutcome = \"red\"\nreason = \"x\"";
const ADJUST_RED: &str = "stage = \"adjust\"\noutcome = \"red\"\nreason = \"x\"";

fn with(base: &str, extra: &str) -> String {
    rule(&format!("{base}\n{extra}"))
}

#[test]
fn invalid_rules_are_refused_with_a_precise_message() {
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "unknown fact, with a hint",
            with(DECIDE_RED, r#"when = { fact = "scoring.device_scor", lt = 3 }"#),
            vec![r#"rule "r" (#1), `when.fact`"#, r#"unknown fact "scoring.device_scor""#, r#"did you mean "scoring.device_score"?"#],
        ),
        (
            "unknown fact, no hint",
            with(DECIDE_RED, r#"when = { fact = "moon_phase", eq = "full" }"#),
            vec![r#"unknown fact "moon_phase"; see the fact list in docs/rules.md"#],
        ),
        (
            "ordering operator on a bool",
            with(DECIDE_RED, r#"when = { fact = "cvv_validated", lt = 1 }"#),
            vec!["`when.lt`", r#"operator `lt` does not apply to bool fact "cvv_validated" (bool facts take: eq, ne, present)"#],
        ),
        (
            "contains on a number",
            with(DECIDE_RED, r#"when = { fact = "scoring.device_score", contains = "1" }"#),
            vec!["`when.contains`", r#"operator `contains` does not apply to number fact "scoring.device_score""#],
        ),
        (
            "starts_with on a list",
            with(DECIDE_RED, r#"when = { fact = "scoring.reason_codes", starts_with = "A" }"#),
            vec![r#"operator `starts_with` does not apply to list fact "scoring.reason_codes""#],
        ),
        (
            "eq on a list",
            with(DECIDE_RED, r#"when = { fact = "scoring.reason_codes", eq = "A" }"#),
            vec![r#"operator `eq` does not apply to list fact"#, "contains, any_of, present"],
        ),
        (
            "string where a number is needed",
            with(DECIDE_RED, r#"when = { fact = "scoring.device_score", lt = "3" }"#),
            vec!["`when.lt`", r#"`lt` on number fact "scoring.device_score" needs a number, got a string "3""#],
        ),
        (
            "string where a bool is needed",
            with(DECIDE_RED, r#"when = { fact = "cvv_validated", eq = "yes" }"#),
            vec![r#"`eq` on bool fact "cvv_validated" needs true or false, got a string "yes""#],
        ),
        (
            "number where a string is needed",
            with(DECIDE_RED, r#"when = { fact = "card.bin", eq = 412345 }"#),
            vec![r#"`eq` on text fact "card.bin" needs a string, got a number 412345"#],
        ),
        (
            "in without a list",
            with(DECIDE_RED, r#"when = { fact = "capture_method", in = "CAMERA" }"#),
            vec!["`when.in`", r#"needs a list of strings, got a string "CAMERA""#],
        ),
        (
            "in with an empty list",
            with(DECIDE_RED, r#"when = { fact = "capture_method", in = [] }"#),
            vec!["needs a non-empty list of strings"],
        ),
        (
            "in with a mistyped item",
            with(DECIDE_RED, r#"when = { fact = "scoring.device_score", in = [1, "2"] }"#),
            vec![r#"needs a list of numbers: needs a number, got a string "2""#],
        ),
        (
            "between reversed",
            with(DECIDE_RED, r#"when = { fact = "scoring.device_score", between = [3, 1] }"#),
            vec!["`when.between`", "needs [low, high] with low ≤ high, got [3, 1]"],
        ),
        (
            "between with one number",
            with(DECIDE_RED, r#"when = { fact = "scoring.device_score", between = [1] }"#),
            vec!["needs [low, high] (two numbers), got a list of 1"],
        ),
        (
            "present with a string",
            with(DECIDE_RED, r#"when = { fact = "card.bin", present = "yes" }"#),
            vec![r#"`present` on text fact "card.bin" needs true or false, got a string "yes""#],
        ),
        (
            "starts_with empty prefix",
            with(DECIDE_RED, r#"when = { fact = "card.bin", starts_with = "" }"#),
            vec!["needs a non-empty prefix"],
        ),
        (
            "any_of with numbers",
            with(DECIDE_RED, r#"when = { fact = "scoring.reason_codes", any_of = [1] }"#),
            vec!["needs a list of strings, got a number 1 in the list"],
        ),
        (
            "value outside a closed set",
            with(DECIDE_RED, r#"when = { fact = "cvv2_result", eq = "invlaid" }"#),
            vec![r#"cannot be "invlaid": the fact only takes valid, invalid, absent, unverifiable"#],
        ),
        (
            "non-finite number",
            with(DECIDE_RED, r#"when = { fact = "scoring.device_score", lt = nan }"#),
            vec!["needs a finite number, got NaN"],
        ),
        (
            "two operators",
            with(DECIDE_RED, r#"when = { fact = "scoring.device_score", gt = 1, lt = 3 }"#),
            vec![r#"fact "scoring.device_score" needs exactly one operator, found `lt` and `gt`"#],
        ),
        (
            "no operator",
            with(DECIDE_RED, r#"when = { fact = "scoring.device_score" }"#),
            vec![r#"needs exactly one operator (one of: eq, ne, in, not_in, lt, le, gt, ge, between, present), found none"#],
        ),
        (
            "operator without fact",
            with(DECIDE_RED, r#"when = { eq = 3 }"#),
            vec!["operator `eq` has no `fact` to test"],
        ),
        (
            "fact mixed with a combinator",
            with(DECIDE_RED, r#"when = { all = [ { fact = "card.bin", eq = "4" } ], fact = "card.bin", eq = "4" }"#),
            vec!["a condition is either `fact` with one operator or exactly one of `all`, `any`, `not`; found `all` and `fact` and `eq`"],
        ),
        (
            "empty condition",
            with(DECIDE_RED, "when = {}"),
            vec!["`when`", "empty condition"],
        ),
        (
            "empty all",
            with(DECIDE_RED, "when.all = []"),
            vec!["`when.all`", "`all` needs at least one condition"],
        ),
        (
            "nested path is named",
            with(DECIDE_RED, r#"when.all = [ { fact = "capture_method", eq = "CAMERA" }, { any = [ { fact = "card.bin", lt = 4 } ] } ]"#),
            vec!["`when.all[1].any[0].lt`", r#"operator `lt` does not apply to text fact "card.bin""#],
        ),
        (
            "path inside not is named",
            with(DECIDE_RED, r#"when.not = { fact = "card.bin", gt = 4 }"#),
            vec!["`when.not.gt`"],
        ),
        (
            "unknown stage",
            rule("stage = \"decided\"\noutcome = \"red\"\nreason = \"x\""),
            vec![r#"rule "r" (#1), `stage`: unknown stage "decided" (one of: decide, adjust)"#],
        ),
        (
            "unknown outcome",
            rule("stage = \"decide\"\noutcome = \"amber\"\nreason = \"x\""),
            vec![r#"rule "r" (#1), `outcome`: unknown outcome "amber" (one of: green, yellow, red)"#],
        ),
        (
            "empty reason",
            rule("stage = \"decide\"\noutcome = \"red\"\nreason = \" \""),
            vec!["`reason`", "a rule needs a reason"],
        ),
        (
            "unknown key in a rule",
            with(DECIDE_RED, "colour = \"red\""),
            vec![r#"rule "r" (#1)"#, "unknown field `colour`", "(line 10)"],
        ),
        (
            "unknown operator key in a condition",
            with(DECIDE_RED, r#"when = { fact = "card.bin", eqq = "4" }"#),
            vec![r#"rule "r" (#1)"#, "unknown field `eqq`"],
        ),
        (
            "missing reason",
            rule("stage = \"decide\"\noutcome = \"red\""),
            vec![r#"rule "r" (#1)"#, "missing field `reason`"],
        ),
        (
            "wrong type for a rule key",
            rule("stage = \"decide\"\noutcome = \"red\"\nreason = 5"),
            vec![r#"rule "r" (#1)"#, "invalid type: integer `5`, expected a string"],
        ),
        (
            "table value for an operator",
            with(DECIDE_RED, r#"when = { fact = "card.bin", eq = { a = 1 } }"#),
            vec![r#"rule "r" (#1)"#, "expected a bool, a number, a string or a list of those"],
        ),
        (
            "condition that is not a table",
            with(DECIDE_RED, "when = true"),
            vec![r#"rule "r" (#1)"#, "invalid type: boolean `true`, expected a condition: { fact = "],
        ),
        (
            "condition list item that is not a table",
            with(DECIDE_RED, "when.all = [ \"capture_method\" ]"),
            vec![r#"rule "r" (#1)"#, "expected a condition"],
        ),
        (
            "duplicate rule id",
            format!("{}{}", with(DECIDE_RED, ""), with(ADJUST_RED, "")),
            vec![r#"rule "r" (#2), `id`: duplicate rule id "r": rule #1 is already called "r""#],
        ),
        (
            "duplicate rule id in another case",
            format!("{}[[rule]]\nid = \"R\"\n{ADJUST_RED}\n", with(DECIDE_RED, "")),
            vec![r#"duplicate rule id "R": rule #1 is already called "r""#],
        ),
        (
            "rule id with a space",
            "[[rule]]\nid = \"my rule\"\nstage = \"decide\"\noutcome = \"red\"\nreason = \"x\"\n".to_owned(),
            vec![r#"rule id "my rule" may only use ASCII letters, digits"#],
        ),
        (
            "when_outcome on a decide rule",
            with(DECIDE_RED, "when_outcome = \"yellow\""),
            vec!["`when_outcome`", "only adjust rules can use when_outcome"],
        ),
        (
            "green adjust rule",
            rule("stage = \"adjust\"\noutcome = \"green\"\nreason = \"x\""),
            vec!["`outcome`", "an adjust rule can only make the outcome stricter"],
        ),
        (
            "when_outcome red",
            with(ADJUST_RED, "when_outcome = \"red\""),
            vec!["`when_outcome`", "only applies when the outcome is already red, and red is not stricter"],
        ),
        (
            "unknown when_outcome",
            with(ADJUST_RED, "when_outcome = \"orange\""),
            vec!["`when_outcome`", r#"unknown outcome "orange""#],
        ),
        (
            "step-up filter on a red rule",
            with(DECIDE_RED, "stepup_methods = [\"email\"]"),
            vec!["`stepup_methods`", "only a yellow rule can filter step-up methods; this rule's outcome is red"],
        ),
        (
            "unknown step-up method",
            rule("stage = \"decide\"\noutcome = \"yellow\"\nreason = \"x\"\nstepup_methods = [\"email\", \"sms\"]"),
            vec!["`stepup_methods[1]`", r#"unknown step-up method type "sms" (one of: cell_phone, email, app_to_app, customer_service, website)"#],
        ),
        (
            "empty step-up filter",
            rule("stage = \"decide\"\noutcome = \"yellow\"\nreason = \"x\"\nstepup_methods = []"),
            vec!["`stepup_methods`", "needs at least one method type"],
        ),
    ];
    for (name, rules, expected) in cases {
        let message = compile_error(&rules).to_string();
        for fragment in expected {
            assert!(
                message.contains(fragment),
                "case {name:?}: message does not contain {fragment:?}\nmessage: {message}"
            );
        }
    }
}

#[test]
fn file_level_problems_are_refused() {
    let rule_ok = "[[rule]]\nid = \"r\"\nstage = \"decide\"\noutcome = \"red\"\nreason = \"x\"\n";
    let cases: [(&str, String, &str); 6] = [
        (
            "unsupported version",
            format!("version = 2\n[defaults]\noutcome = \"red\"\nreason = \"d\"\n{rule_ok}"),
            "file, `version`: unsupported rules file version 2; this build reads version 1",
        ),
        (
            "unknown default outcome",
            "version = 1\n[defaults]\noutcome = \"amber\"\nreason = \"d\"\n".to_owned(),
            "file, `defaults.outcome`: unknown outcome \"amber\"",
        ),
        (
            "missing defaults",
            format!("version = 1\n{rule_ok}"),
            "missing field `defaults`",
        ),
        (
            "unknown top-level key",
            "version = 1\ncolour = 1\n[defaults]\noutcome = \"red\"\nreason = \"d\"\n".to_owned(),
            "file (line 2): unknown field `colour`",
        ),
        (
            "unknown key in defaults",
            "version = 1\n[defaults]\noutcome = \"red\"\nreason = \"d\"\nstepup = 1\n".to_owned(),
            "unknown field `stepup`",
        ),
        (
            "rules not a table array",
            "version = 1\nrule = 5\n[defaults]\noutcome = \"red\"\nreason = \"d\"\n".to_owned(),
            "invalid type: integer `5`, expected a sequence",
        ),
    ];
    for (name, text, expected) in cases {
        match RuleSet::from_toml_str(&text, "v") {
            Ok(_) => panic!("case {name:?}: compiled"),
            Err(error) => {
                let message = error.to_string();
                assert!(
                    message.contains(expected),
                    "case {name:?}: message does not contain {expected:?}\nmessage: {message}"
                );
            }
        }
    }
}

#[test]
fn toml_syntax_errors_name_the_line() {
    let text = "version = 1\n[defaults]\noutcome = \"red\nreason = \"d\"\n";
    match RuleSet::from_toml_str(text, "v") {
        Err(RulesError::Syntax { line, .. }) => assert_eq!(line, 3),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let rules = format!(
        "{}{}{}",
        rule("stage = \"decide\"\noutcome = \"red\"\nreason = \"x\"\nwhen = { fact = \"nope\", eq = 1 }"),
        "[[rule]]\nid = \"b\"\nstage = \"sideways\"\noutcome = \"red\"\nreason = \"x\"\n",
        "[[rule]]\nid = \"c\"\nstage = \"adjust\"\noutcome = \"yellow\"\nreason = \"x\"\nwhen = { fact = \"cvv_validated\", gt = 1 }\n",
    );
    let error = compile_error(&rules);
    let problems = error.problems();
    let rules_named: Vec<Option<&str>> = problems.iter().map(|p| p.rule.as_deref()).collect();
    assert_eq!(
        rules_named,
        vec![Some("r"), Some("b"), Some("c")],
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("invalid rules file (3 problems):"),
        "{error}"
    );
}

#[test]
fn structural_problems_in_several_rules_are_all_named() {
    let rules = "[[rule]]\nid = \"a\"\nstage = \"decide\"\noutcome = \"red\"\nreason = \"x\"\ncolour = 1\n\
                 [[rule]]\nid = \"b\"\nstage = \"decide\"\noutcome = \"red\"\nreason = \"x\"\nwhen = { fact = \"card.bin\", eqq = \"4\" }\n";
    let error = compile_error(rules);
    let named: Vec<Option<&str>> = error.problems().iter().map(|p| p.rule.as_deref()).collect();
    assert_eq!(named, vec![Some("a"), Some("b")], "{error}");
    assert_eq!(
        error.problems().first().and_then(|p| p.line),
        Some(10),
        "{error}"
    );
}

#[test]
fn deeply_nested_conditions_are_refused_without_panicking() {
    for depth in [33usize, 200, 5000] {
        let mut when = r#"{ fact = "card.bin", eq = "4" }"#.to_owned();
        for _ in 0..depth {
            when = format!("{{ not = {when} }}");
        }
        let text = format!(
            "{HEADER}[[rule]]\nid = \"deep\"\nstage = \"decide\"\noutcome = \"red\"\nreason = \"x\"\nwhen = {when}\n"
        );
        let result = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || RuleSet::from_toml_str(&text, "v").map(|set| set.len()))
            .map(|handle| handle.join());
        match result {
            Ok(Ok(Err(_))) => {}
            Ok(Ok(Ok(len))) => panic!("depth {depth}: compiled {len} rule(s)"),
            Ok(Err(_)) => panic!("depth {depth}: the parser panicked or overflowed"),
            Err(error) => panic!("depth {depth}: could not spawn: {error}"),
        }
    }
}

#[test]
fn nesting_up_to_the_limit_compiles() {
    let mut when = r#"{ fact = "card.bin", eq = "4" }"#.to_owned();
    for _ in 0..31 {
        when = format!("{{ not = {when} }}");
    }
    let set = rule_set(&format!(
        "[[rule]]\nid = \"deep\"\nstage = \"adjust\"\noutcome = \"red\"\nreason = \"x\"\nwhen = {when}\n"
    ));
    assert_eq!(set.len(), 1);
}
