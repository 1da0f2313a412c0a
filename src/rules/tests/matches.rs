//! The `matches` operator: regular expressions on text facts, refused when invalid.

use super::*;

fn text(value: &str) -> FactValue {
    FactValue::Text(value.to_owned())
}

#[test]
fn matches_tests_text_facts_against_a_regular_expression() {
    let set = single_rule(
        "decide",
        "red",
        r#"{ fact = "device.model", matches = "^(SM-|GT-)[A-Z0-9]+$" }"#,
    );
    let cases = [
        ("a matching model", Some("SM-G991B"), true),
        ("another matching model", Some("GT-I9300"), true),
        ("a model that does not match", Some("Pixel 8"), false),
        (
            "a partial match is not enough with anchors",
            Some("XSM-G991B"),
            false,
        ),
        ("an absent fact never matches", None, false),
    ];
    for (name, model, expected) in cases {
        let facts: Facts = match model {
            Some(m) => facts([("device.model", text(m))]),
            None => Facts::new(),
        };
        let evaluation = set.evaluate(&facts);
        assert_eq!(matched(&evaluation, "r"), expected, "case: {name}");
        if let Some(m) = model {
            let why = &trace_of(&evaluation, "r").explanation;
            assert!(
                why.contains(m) && why.contains("/^(SM-|GT-)[A-Z0-9]+$/"),
                "case {name}: {why}"
            );
        }
    }
}

#[test]
fn an_invalid_regular_expression_is_refused_naming_the_rule() {
    let error = compile_error(
        "[[rule]]\nid = \"bad-regex\"\nstage = \"decide\"\noutcome = \"red\"\nreason = \"r\"\nwhen = { fact = \"device.model\", matches = \"(unclosed\" }\n",
    );
    let message = error.to_string();
    assert!(message.contains("bad-regex"), "{message}");
    assert!(
        message.contains("matches") && message.contains("regular expression"),
        "{message}"
    );
}

#[test]
fn matches_is_only_for_text_facts() {
    let error = compile_error(
        "[[rule]]\nid = \"score-regex\"\nstage = \"decide\"\noutcome = \"red\"\nreason = \"r\"\nwhen = { fact = \"scoring.device_score\", matches = \"1\" }\n",
    );
    assert!(error.to_string().contains("score-regex"), "{error}");
}

#[test]
fn a_huge_regular_expression_is_refused() {
    let huge = "^(a{1000}){1000}$";
    let error = compile_error(&format!(
        "[[rule]]\nid = \"huge\"\nstage = \"decide\"\noutcome = \"red\"\nreason = \"r\"\nwhen = {{ fact = \"device.model\", matches = \"{huge}\" }}\n"
    ));
    assert!(error.to_string().contains("huge"), "{error}");
}
