//! Tests of the rules engine as a whole: every operator on every type (absent facts included),
//! compile errors and their wording, the shipped `config/rules.toml`, and properties that must
//! hold for any facts (adjust rules never loosen, approving rules never match on missing facts).
//!
//! Helpers here build small rule files from TOML snippets so each case reads like a rules file.

mod compile_errors;
mod matches;
mod operators;
mod properties;
mod shipped;

use super::{Evaluation, FactValue, Facts, RuleSet, RulesError};

/// The `[defaults]` header every test file starts with.
const HEADER: &str = "version = 1\n[defaults]\noutcome = \"red\"\nreason = \"default\"\n";

/// Compiles `HEADER` + `rules`, failing the test with the error and the file on a problem.
fn rule_set(rules: &str) -> RuleSet {
    let text = format!("{HEADER}{rules}");
    match RuleSet::from_toml_str(&text, "test-version") {
        Ok(set) => set,
        Err(error) => panic!("rules did not compile: {error}\n--- file ---\n{text}"),
    }
}

/// Compiles `HEADER` + `rules`, expecting a refusal.
fn compile_error(rules: &str) -> RulesError {
    let text = format!("{HEADER}{rules}");
    match RuleSet::from_toml_str(&text, "test-version") {
        Ok(set) => panic!("expected an error, compiled:\n{}", set.describe()),
        Err(error) => error,
    }
}

/// One rule `r` with the given stage, outcome and `when` (inline TOML).
fn single_rule(stage: &str, outcome: &str, when: &str) -> RuleSet {
    rule_set(&format!(
        "[[rule]]\nid = \"r\"\nstage = \"{stage}\"\noutcome = \"{outcome}\"\nreason = \"r\"\nwhen = {when}\n"
    ))
}

/// Whether rule `id` matched in this evaluation.
fn matched(evaluation: &Evaluation, id: &str) -> bool {
    evaluation
        .trace
        .iter()
        .any(|entry| entry.rule_id == id && entry.matched)
}

/// The trace entry of rule `id`.
fn trace_of<'a>(evaluation: &'a Evaluation, id: &str) -> &'a super::TraceEntry {
    match evaluation.trace.iter().find(|entry| entry.rule_id == id) {
        Some(entry) => entry,
        None => panic!("rule {id} is not in the trace: {:#?}", evaluation.trace),
    }
}

/// Facts from `(name, value)` pairs.
fn facts<const N: usize>(pairs: [(&str, FactValue); N]) -> Facts {
    pairs.into_iter().collect()
}

fn text(value: &str) -> FactValue {
    FactValue::Text(value.to_owned())
}

fn num(value: f64) -> FactValue {
    FactValue::Number(value)
}

fn flag(value: bool) -> FactValue {
    FactValue::Bool(value)
}

fn list(values: &[&str]) -> FactValue {
    FactValue::List(values.iter().map(|v| (*v).to_owned()).collect())
}
