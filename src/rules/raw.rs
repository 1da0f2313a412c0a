//! The rules file as written: serde types mirroring the TOML, with unknown keys refused, and the
//! parser that turns serde's first error into problems naming the rule.
//!
//! Owns syntax and structure only. Meaning (which facts exist, which operator fits which type,
//! which values are allowed) is checked by `compile`; this module must not judge it, so raw
//! values stay loosely typed ([`RawValue`]) until then.

use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use super::error::{RuleProblem, RulesError};

/// A whole rules file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRuleFile {
    /// Format version; this build reads `1`.
    pub version: i64,
    /// What happens when no decide rule matches.
    pub defaults: RawDefaults,
    /// The `[[rule]]` entries, in file order.
    #[serde(default, rename = "rule")]
    pub rules: Vec<RawRule>,
    /// The optional `[velocity]` table: sliding windows of the velocity facts.
    #[serde(default)]
    pub velocity: Option<RawVelocity>,
}

/// The `[velocity]` table (all keys optional, in seconds).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVelocity {
    #[serde(default)]
    pub attempts_window_secs: Option<i64>,
    #[serde(default)]
    pub distinct_cards_window_secs: Option<i64>,
    #[serde(default)]
    pub bin_refusals_window_secs: Option<i64>,
}

/// The `[defaults]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    pub outcome: String,
    pub reason: String,
}

/// One `[[rule]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[rule]] table")]
pub struct RawRule {
    pub id: String,
    pub stage: String,
    pub outcome: String,
    pub reason: String,
    #[serde(default)]
    pub when: Option<RawCondition>,
    /// Adjust rules only: apply only while the running outcome equals this.
    #[serde(default)]
    pub when_outcome: Option<String>,
    /// Yellow rules only: the step-up method types the caller may offer.
    #[serde(default)]
    pub stepup_methods: Option<Vec<String>>,
}

/// One condition: either `fact` with exactly one operator key, or exactly one of `all`, `any`,
/// `not`. Which combination is given is checked by `compile`, so that the error can name it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a condition: { fact = \"...\", <operator> = ... } or { all = [...] }, { any = [...] }, { not = {...} }"
)]
pub struct RawCondition {
    pub fact: Option<String>,
    pub eq: Option<RawValue>,
    pub ne: Option<RawValue>,
    #[serde(rename = "in")]
    pub in_: Option<RawValue>,
    pub not_in: Option<RawValue>,
    pub lt: Option<RawValue>,
    pub le: Option<RawValue>,
    pub gt: Option<RawValue>,
    pub ge: Option<RawValue>,
    pub between: Option<RawValue>,
    pub present: Option<RawValue>,
    pub contains: Option<RawValue>,
    pub any_of: Option<RawValue>,
    pub starts_with: Option<RawValue>,
    pub matches: Option<RawValue>,
    pub all: Option<Vec<RawCondition>>,
    pub any: Option<Vec<RawCondition>>,
    pub not: Option<Box<RawCondition>>,
}

impl RawCondition {
    /// The operator keys given, with their values, in documentation order.
    pub fn operators(&self) -> Vec<(&'static str, &RawValue)> {
        [
            ("eq", &self.eq),
            ("ne", &self.ne),
            ("in", &self.in_),
            ("not_in", &self.not_in),
            ("lt", &self.lt),
            ("le", &self.le),
            ("gt", &self.gt),
            ("ge", &self.ge),
            ("between", &self.between),
            ("present", &self.present),
            ("contains", &self.contains),
            ("any_of", &self.any_of),
            ("starts_with", &self.starts_with),
            ("matches", &self.matches),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_ref().map(|value| (name, value)))
        .collect()
    }

    /// The combinator keys given (`all`, `any`, `not`).
    pub fn combinators(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if self.all.is_some() {
            keys.push("all");
        }
        if self.any.is_some() {
            keys.push("any");
        }
        if self.not.is_some() {
            keys.push("not");
        }
        keys
    }
}

/// A value as written in the file, before `compile` checks it against the fact's type.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Bool(bool),
    Integer(i64),
    Float(f64),
    Text(String),
    List(Vec<RawValue>),
}

impl RawValue {
    /// "a bool", "a number", "a string", "a list" — for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            RawValue::Bool(_) => "a bool",
            RawValue::Integer(_) | RawValue::Float(_) => "a number",
            RawValue::Text(_) => "a string",
            RawValue::List(_) => "a list",
        }
    }
}

impl fmt::Display for RawValue {
    /// The value roughly as written in TOML, for error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawValue::Bool(value) => write!(f, "{value}"),
            RawValue::Integer(value) => write!(f, "{value}"),
            RawValue::Float(value) => write!(f, "{value}"),
            RawValue::Text(value) => write!(f, "{value:?}"),
            RawValue::List(values) => {
                f.write_str("[")?;
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{value}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawValueVisitor)
    }
}

struct RawValueVisitor;

impl<'de> Visitor<'de> for RawValueVisitor {
    type Value = RawValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a bool, a number, a string or a list of those")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<RawValue, E> {
        Ok(RawValue::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<RawValue, E> {
        Ok(RawValue::Integer(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<RawValue, E> {
        match i64::try_from(value) {
            Ok(value) => Ok(RawValue::Integer(value)),
            Err(_) => Err(E::custom(format!("number {value} is too large"))),
        }
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<RawValue, E> {
        Ok(RawValue::Float(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<RawValue, E> {
        Ok(RawValue::Text(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<RawValue, E> {
        Ok(RawValue::Text(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        let mut values = Vec::new();
        while let Some(value) = seq.next_element::<RawValue>()? {
            values.push(value);
        }
        Ok(RawValue::List(values))
    }
}

impl RawRuleFile {
    /// Parses the text of a rules file (syntax and structure; [`super::RuleSet::compile`] checks
    /// the meaning).
    ///
    /// A structural problem (unknown key, wrong value type, missing key) is reported for every
    /// rule that has one, each naming the rule id, so a single `rules check` shows them all.
    pub fn from_toml_str(text: &str) -> Result<RawRuleFile, RulesError> {
        let table: toml::Table = toml::from_str(text).map_err(|error| {
            let (line, column) = line_column(text, error.span());
            RulesError::Syntax {
                line,
                column,
                message: error.message().trim().to_owned(),
            }
        })?;
        match toml::from_str::<RawRuleFile>(text) {
            Ok(raw) => Ok(raw),
            Err(error) => Err(RulesError::Invalid(diagnose(text, &table, &error))),
        }
    }
}

/// Re-reads the already parsed table part by part to name every rule that does not fit
/// [`RawRule`]; serde alone stops at the first error and does not know the rule's id.
fn diagnose(text: &str, table: &toml::Table, first: &toml::de::Error) -> Vec<RuleProblem> {
    let mut problems = Vec::new();

    // The file-level keys, with a well-formed empty rule list in place of the rules.
    let mut head = table.clone();
    if matches!(head.get("rule"), Some(toml::Value::Array(_))) {
        head.insert("rule".to_owned(), toml::Value::Array(Vec::new()));
    }
    if let Err(error) = toml::Value::Table(head).try_into::<RawRuleFile>() {
        problems.push(RuleProblem::in_file("", error.message().trim()));
    }

    if let Some(toml::Value::Array(rules)) = table.get("rule") {
        for (i, rule) in rules.iter().enumerate() {
            if let Err(error) = rule.clone().try_into::<RawRule>() {
                let id = rule.get("id").and_then(toml::Value::as_str);
                problems.push(RuleProblem::in_rule(id, i + 1, "", error.message().trim()));
            }
        }
    }

    // Give the first problem serde's line, when it is in the same place.
    let (line, _) = line_column(text, first.span());
    let first_rule = first.span().and_then(|span| rule_at(text, span.start));
    if let Some(problem) = problems
        .iter_mut()
        .find(|problem| problem.index == first_rule)
    {
        problem.line = Some(line);
    }

    if problems.is_empty() {
        let mut problem = RuleProblem::in_file("", first.message().trim());
        problem.line = Some(line);
        problems.push(problem);
    }
    problems
}

/// The 1-based index of the `[[rule]]` block that contains byte `offset`, if any.
fn rule_at(text: &str, offset: usize) -> Option<usize> {
    let mut index = None;
    let mut count = 0;
    let mut position = 0;
    for line in text.split_inclusive('\n') {
        if position > offset {
            break;
        }
        let code = line.split('#').next().unwrap_or_default();
        let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.starts_with("[[") {
            if compact == "[[rule]]" {
                count += 1;
                index = Some(count);
            } else {
                index = None;
            }
        } else if compact.starts_with('[') && compact.ends_with(']') && !compact.contains('=') {
            // `[rule.when]` still belongs to the current rule; any other table ends it.
            if !compact.starts_with("[rule.") {
                index = None;
            }
        }
        position += line.len();
    }
    index
}

/// 1-based line and column of the start of `span` (1, 1 when unknown).
fn line_column(text: &str, span: Option<Range<usize>>) -> (usize, usize) {
    let Some(span) = span else {
        return (1, 1);
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|last| last.chars().count() + 1)
        .unwrap_or(1);
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_file_parses() {
        let text = r#"
            version = 1
            [defaults]
            outcome = "red"
            reason = "no rule approved"

            [[rule]]
            id = "low-score"
            stage = "adjust"
            outcome = "yellow"
            reason = "low score"
            stepup_methods = ["email"]
            when.any = [ { fact = "scoring.device_score", between = [1, 2] },
                         { not = { fact = "card.bin", starts_with = ["4", "51"] } } ]
        "#;
        let raw = RawRuleFile::from_toml_str(text);
        let Ok(raw) = raw else {
            panic!("{raw:?}");
        };
        assert_eq!(raw.rules.len(), 1);
        let when = raw.rules.first().and_then(|rule| rule.when.clone());
        let any = when.and_then(|when| when.any).unwrap_or_default();
        assert_eq!(any.len(), 2);
        assert_eq!(
            any.first().and_then(|c| c.between.clone()),
            Some(RawValue::List(vec![
                RawValue::Integer(1),
                RawValue::Integer(2)
            ]))
        );
    }

    #[test]
    fn syntax_errors_give_the_line() {
        let text = "version = 1\n[defaults\noutcome = \"red\"\n";
        match RawRuleFile::from_toml_str(text) {
            Err(RulesError::Syntax { line, .. }) => assert_eq!(line, 2),
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn rule_blocks_are_located_by_offset() {
        let text =
            "version = 1\n[defaults]\nx = 1\n[[rule]]\nid = \"a\"\n[[rule]] # two\nid = \"b\"\n";
        let cases = [
            ("x = 1", None),
            ("id = \"a\"", Some(1)),
            ("id = \"b\"", Some(2)),
        ];
        for (needle, expected) in cases {
            let offset = text.find(needle).unwrap_or(0);
            assert_eq!(rule_at(text, offset), expected, "case {needle}");
        }
    }
}
