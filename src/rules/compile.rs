//! Raw rules file → validated, compiled [`RuleSet`], and its human listing ([`RuleSet::describe`]).
//!
//! Owns every check of meaning: known facts, operators that fit the fact's type, values of the
//! right type, unique rule ids, known stages / outcomes / step-up types, rules that can have an
//! effect. Every problem found is reported (not just the first), each naming the rule id and the
//! key. It must not evaluate anything (that is `evaluate`) nor read files.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use super::error::{RuleProblem, RulesError};
use super::facts::{self, display_text, format_number, FactSpec, FactType};
use super::outcome::{Outcome, Stage, STEPUP_METHOD_TYPES};
use super::raw::{RawCondition, RawRule, RawRuleFile, RawValue};

/// The rules file format version this build reads.
pub const SUPPORTED_FILE_VERSION: i64 = 1;
/// Deepest nesting of `all` / `any` / `not` accepted.
const MAX_DEPTH: usize = 32;
/// Longest rule id accepted.
const MAX_ID_LEN: usize = 64;

/// A validated rule set, ready to evaluate. Cheap to share behind an `Arc`; immutable.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSet {
    pub(crate) version: String,
    pub(crate) default_outcome: Outcome,
    pub(crate) default_reason: String,
    pub(crate) rules: Vec<Rule>,
    pub(crate) velocity: VelocityWindows,
}

/// Sliding windows (seconds) over which the caller computes the `velocity.*` facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VelocityWindows {
    /// Digitization attempts per card, per device and per token requestor.
    pub attempts_secs: u64,
    /// Distinct cards digitized on one device.
    pub distinct_cards_secs: u64,
    /// Eligibility refusals per BIN (the BIN-attack signal).
    pub bin_refusals_secs: u64,
}

impl Default for VelocityWindows {
    fn default() -> Self {
        VelocityWindows {
            attempts_secs: 24 * 3600,
            distinct_cards_secs: 24 * 3600,
            bin_refusals_secs: 3600,
        }
    }
}

impl VelocityWindows {
    /// The longest window: events older than this are never needed again.
    pub fn longest(&self) -> u64 {
        self.attempts_secs
            .max(self.distinct_cards_secs)
            .max(self.bin_refusals_secs)
    }
}

/// Shortest and longest accepted velocity window: one minute to thirty days.
const VELOCITY_WINDOW_RANGE: std::ops::RangeInclusive<i64> = 60..=30 * 24 * 3600;

fn velocity_windows(
    raw: Option<&super::raw::RawVelocity>,
    problems: &mut Vec<RuleProblem>,
) -> VelocityWindows {
    let mut windows = VelocityWindows::default();
    let Some(raw) = raw else { return windows };
    let mut take = |key: &str, value: Option<i64>, slot: &mut u64| {
        if let Some(v) = value {
            if VELOCITY_WINDOW_RANGE.contains(&v) {
                *slot = v.unsigned_abs();
            } else {
                problems.push(RuleProblem::in_file(
                    format!("velocity.{key}"),
                    format!("{v} is out of range: a window is 60 seconds to 30 days (2592000)"),
                ));
            }
        }
    };
    take(
        "attempts_window_secs",
        raw.attempts_window_secs,
        &mut windows.attempts_secs,
    );
    take(
        "distinct_cards_window_secs",
        raw.distinct_cards_window_secs,
        &mut windows.distinct_cards_secs,
    );
    take(
        "bin_refusals_window_secs",
        raw.bin_refusals_window_secs,
        &mut windows.bin_refusals_secs,
    );
    windows
}

/// One compiled rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub(crate) id: String,
    pub(crate) index: usize,
    pub(crate) stage: Stage,
    pub(crate) outcome: Outcome,
    pub(crate) reason: String,
    pub(crate) when: Option<Condition>,
    pub(crate) when_outcome: Option<Outcome>,
    pub(crate) stepup_methods: Option<Vec<String>>,
}

impl Rule {
    /// The rule's id, unique in its file.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its position in the file, 1-based.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Its stage.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// The outcome it sets (decide) or applies if stricter (adjust).
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// The reason recorded when it decides.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// For adjust rules: the running outcome it is limited to.
    pub fn when_outcome(&self) -> Option<Outcome> {
        self.when_outcome
    }

    /// For yellow rules: the step-up method types it allows.
    pub fn stepup_methods(&self) -> Option<&[String]> {
        self.stepup_methods.as_deref()
    }

    /// Its condition in words (`capture_method in ["CAMERA", "MANUAL"]`), `always` without one.
    pub fn condition_text(&self) -> String {
        match &self.when {
            Some(condition) => condition.to_string(),
            None => "always".to_owned(),
        }
    }

    /// Whether missing facts must never help this rule match: a decide rule that approves
    /// (green or yellow) could otherwise pre-empt a later, stricter decide rule or the default.
    pub(crate) fn is_guarded(&self) -> bool {
        self.stage == Stage::Decide && self.outcome != Outcome::Red
    }
}

/// A compiled condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Test(Test),
}

/// A test of one fact.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Test {
    pub(crate) spec: &'static FactSpec,
    pub(crate) op: Op,
}

/// An operator with its validated operand(s).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    Eq(Scalar),
    Ne(Scalar),
    In(Vec<Scalar>),
    NotIn(Vec<Scalar>),
    Lt(f64),
    Le(f64),
    Gt(f64),
    Ge(f64),
    Between(f64, f64),
    Present(bool),
    Contains(String),
    AnyOf(Vec<String>),
    StartsWith(Vec<String>),
    Matches(Pattern),
}

/// A compiled regular expression; compared by its source (compiled rule sets compare equal when
/// written the same).
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub(crate) source: String,
    pub(crate) regex: regex::Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// Largest compiled regex accepted (bytes of the compiled program): a rule is a check, not a
/// way to exhaust memory.
const MAX_REGEX_SIZE: usize = 1 << 20;

/// An operand of the fact's own type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Bool(bool),
    Number(f64),
    Text(String),
}

impl Scalar {
    /// Unquoted form for trace lines: `CAMERA`, `2`, `true`.
    pub(crate) fn human(&self) -> Cow<'_, str> {
        match self {
            Scalar::Bool(true) => Cow::Borrowed("true"),
            Scalar::Bool(false) => Cow::Borrowed("false"),
            Scalar::Number(value) => Cow::Owned(format_number(*value)),
            Scalar::Text(value) => display_text(value),
        }
    }
}

impl fmt::Display for Scalar {
    /// Quoted form for listings: `"CAMERA"`, `2`, `true`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Text(value) => write!(f, "{value:?}"),
            other => f.write_str(&other.human()),
        }
    }
}

/// `[a, b]`; after `cap` items, `, … N more]`.
pub(crate) fn list_of<D: fmt::Display>(
    items: impl ExactSizeIterator<Item = D>,
    cap: usize,
) -> String {
    let total = items.len();
    let mut out = String::from("[");
    for (i, item) in items.take(cap).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{item}");
    }
    if total > cap {
        let _ = write!(out, ", … {} more", total - cap);
    }
    out.push(']');
    out
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.spec.name;
        let quoted =
            |items: &[String]| list_of(items.iter().map(|item| format!("{item:?}")), usize::MAX);
        match &self.op {
            Op::Eq(value) => write!(f, "{name} = {value}"),
            Op::Ne(value) => write!(f, "{name} ≠ {value}"),
            Op::In(values) => write!(f, "{name} in {}", list_of(values.iter(), usize::MAX)),
            Op::NotIn(values) => {
                write!(f, "{name} not in {}", list_of(values.iter(), usize::MAX))
            }
            Op::Lt(value) => write!(f, "{name} < {}", format_number(*value)),
            Op::Le(value) => write!(f, "{name} ≤ {}", format_number(*value)),
            Op::Gt(value) => write!(f, "{name} > {}", format_number(*value)),
            Op::Ge(value) => write!(f, "{name} ≥ {}", format_number(*value)),
            Op::Between(low, high) => write!(
                f,
                "{name} between {} and {}",
                format_number(*low),
                format_number(*high)
            ),
            Op::Present(true) => write!(f, "{name} is present"),
            Op::Present(false) => write!(f, "{name} is absent"),
            Op::Contains(value) => write!(f, "{name} contains {value:?}"),
            Op::AnyOf(values) => write!(f, "{name} has any of {}", quoted(values)),
            Op::StartsWith(prefixes) => match prefixes.as_slice() {
                [only] => write!(f, "{name} starts with {only:?}"),
                many => write!(f, "{name} starts with any of {}", quoted(many)),
            },
            Op::Matches(pattern) => write!(f, "{name} matches /{}/", pattern.source),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nested = |condition: &Condition| match condition {
            Condition::All(items) | Condition::Any(items) if items.len() > 1 => {
                format!("({condition})")
            }
            other => other.to_string(),
        };
        match self {
            Condition::Test(test) => write!(f, "{test}"),
            Condition::Not(inner) => write!(f, "not ({inner})"),
            Condition::All(items) | Condition::Any(items) => {
                let joiner = if matches!(self, Condition::All(_)) {
                    " and "
                } else {
                    " or "
                };
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(joiner)?;
                    }
                    f.write_str(&nested(item))?;
                }
                Ok(())
            }
        }
    }
}

impl RuleSet {
    /// Validates a raw rules file and compiles it. `version` identifies the file content
    /// (the caller passes the hex SHA-256 of the text); it is copied into every evaluation.
    ///
    /// Either every rule compiles or the whole file is refused with every problem found.
    pub fn compile(raw: &RawRuleFile, version: impl Into<String>) -> Result<RuleSet, RulesError> {
        let mut problems = Vec::new();

        if raw.version != SUPPORTED_FILE_VERSION {
            problems.push(RuleProblem::in_file(
                "version",
                format!(
                    "unsupported rules file version {}; this build reads version {SUPPORTED_FILE_VERSION}",
                    raw.version
                ),
            ));
        }
        let default_outcome = Outcome::from_name(&raw.defaults.outcome);
        if default_outcome.is_none() {
            problems.push(RuleProblem::in_file(
                "defaults.outcome",
                format!(
                    "unknown outcome {:?} (one of: green, yellow, red)",
                    raw.defaults.outcome
                ),
            ));
        }
        if raw.defaults.reason.trim().is_empty() {
            problems.push(RuleProblem::in_file(
                "defaults.reason",
                "the default reason must not be empty",
            ));
        }

        let velocity = velocity_windows(raw.velocity.as_ref(), &mut problems);

        let mut first_use: BTreeMap<String, (usize, &str)> = BTreeMap::new();
        let mut rules = Vec::with_capacity(raw.rules.len());
        for (i, raw_rule) in raw.rules.iter().enumerate() {
            let index = i + 1;
            let id = raw_rule.id.as_str();
            if let Some((earlier, earlier_id)) = first_use.get(&id.to_ascii_lowercase()) {
                problems.push(RuleProblem::in_rule(
                    Some(id),
                    index,
                    "id",
                    format!("duplicate rule id {id:?}: rule #{earlier} is already called {earlier_id:?}"),
                ));
            } else {
                first_use.insert(id.to_ascii_lowercase(), (index, id));
            }
            let mut context = RuleContext {
                id: Some(id).filter(|id| !id.is_empty()),
                index,
                problems: &mut problems,
            };
            if let Some(rule) = compile_rule(raw_rule, index, &mut context) {
                rules.push(rule);
            }
        }

        match default_outcome {
            Some(default_outcome) if problems.is_empty() => Ok(RuleSet {
                version: version.into(),
                default_outcome,
                default_reason: raw.defaults.reason.clone(),
                rules,
                velocity,
            }),
            _ => Err(RulesError::Invalid(problems)),
        }
    }

    /// Parses and compiles the text of a rules file in one step.
    pub fn from_toml_str(text: &str, version: impl Into<String>) -> Result<RuleSet, RulesError> {
        let raw = RawRuleFile::from_toml_str(text)?;
        RuleSet::compile(&raw, version)
    }

    /// The version the caller gave at compile time (hash of the file content).
    /// The velocity windows of the `[velocity]` table (defaults when absent).
    pub fn velocity(&self) -> VelocityWindows {
        self.velocity
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules (every evaluation then gives the default).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The outcome when no decide rule matches.
    pub fn default_outcome(&self) -> Outcome {
        self.default_outcome
    }

    /// The reason recorded when no decide rule matches.
    pub fn default_reason(&self) -> &str {
        &self.default_reason
    }

    /// A human listing of the compiled rules, in evaluation order (for `tsh-issuer rules check`).
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let count = |stage: Stage| self.rules.iter().filter(|r| r.stage == stage).count();
        let _ = writeln!(
            out,
            "rules version {}: {} rule(s), {} decide, {} adjust",
            self.version,
            self.rules.len(),
            count(Stage::Decide),
            count(Stage::Adjust)
        );
        for stage in Stage::ALL {
            let _ = writeln!(out);
            match stage {
                Stage::Decide => {
                    let _ = writeln!(
                        out,
                        "decide stage: the first matching rule sets the outcome"
                    );
                }
                Stage::Adjust => {
                    let _ = writeln!(
                        out,
                        "adjust stage: every matching rule applies, in order, only if stricter"
                    );
                }
            }
            for rule in self.rules.iter().filter(|rule| rule.stage == stage) {
                let _ = write!(out, "  {:>3}. {} → {}", rule.index, rule.id, rule.outcome);
                if let Some(methods) = &rule.stepup_methods {
                    let _ = write!(out, " (step-up: {})", methods.join(", "));
                }
                if let Some(when_outcome) = rule.when_outcome {
                    let _ = write!(out, ", only when the outcome is {when_outcome}");
                }
                let _ = writeln!(out, ": {}", rule.reason);
                let _ = writeln!(out, "       when {}", rule.condition_text());
            }
            if stage == Stage::Decide {
                let _ = writeln!(
                    out,
                    "  no decide rule matched → {}: {}",
                    self.default_outcome, self.default_reason
                );
            }
        }
        out
    }
}

/// Where problems of the rule being compiled go.
struct RuleContext<'a> {
    id: Option<&'a str>,
    index: usize,
    problems: &'a mut Vec<RuleProblem>,
}

impl RuleContext<'_> {
    fn problem(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems
            .push(RuleProblem::in_rule(self.id, self.index, key, message));
    }
}

fn compile_rule(raw: &RawRule, index: usize, context: &mut RuleContext<'_>) -> Option<Rule> {
    let before = context.problems.len();

    check_id(&raw.id, context);
    let stage = Stage::from_name(&raw.stage);
    if stage.is_none() {
        context.problem(
            "stage",
            format!("unknown stage {:?} (one of: decide, adjust)", raw.stage),
        );
    }
    let outcome = Outcome::from_name(&raw.outcome);
    if outcome.is_none() {
        context.problem(
            "outcome",
            format!(
                "unknown outcome {:?} (one of: green, yellow, red)",
                raw.outcome
            ),
        );
    }
    if raw.reason.trim().is_empty() {
        context.problem(
            "reason",
            "a rule needs a reason (it is recorded with the decision)",
        );
    }
    let when_outcome = raw.when_outcome.as_deref().and_then(|name| {
        let parsed = Outcome::from_name(name);
        if parsed.is_none() {
            context.problem(
                "when_outcome",
                format!("unknown outcome {name:?} (one of: green, yellow, red)"),
            );
        }
        parsed
    });
    let stepup_methods = raw
        .stepup_methods
        .as_ref()
        .map(|methods| check_stepup_methods(methods, context));
    let when = raw
        .when
        .as_ref()
        .and_then(|when| compile_condition(when, "when", 0, context));

    if let (Some(stage), Some(outcome)) = (stage, outcome) {
        check_effect(
            stage,
            outcome,
            raw.when_outcome.is_some(),
            when_outcome,
            stepup_methods.is_some(),
            context,
        );
    }

    match (stage, outcome) {
        (Some(stage), Some(outcome)) if context.problems.len() == before => Some(Rule {
            id: raw.id.clone(),
            index,
            stage,
            outcome,
            reason: raw.reason.clone(),
            when,
            when_outcome,
            stepup_methods,
        }),
        _ => None,
    }
}

fn check_id(id: &str, context: &mut RuleContext<'_>) {
    if id.is_empty() {
        context.problem("id", "a rule needs a non-empty id");
    } else if id.chars().count() > MAX_ID_LEN {
        context.problem(
            "id",
            format!("rule id is longer than {MAX_ID_LEN} characters"),
        );
    } else if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        context.problem(
            "id",
            format!("rule id {id:?} may only use ASCII letters, digits, '-', '_' and '.'"),
        );
    }
}

fn check_stepup_methods(methods: &[String], context: &mut RuleContext<'_>) -> Vec<String> {
    if methods.is_empty() {
        context.problem(
            "stepup_methods",
            format!(
                "needs at least one method type (one of: {})",
                STEPUP_METHOD_TYPES.join(", ")
            ),
        );
    }
    let mut accepted: Vec<String> = Vec::new();
    for (i, method) in methods.iter().enumerate() {
        let known = STEPUP_METHOD_TYPES
            .iter()
            .find(|known| known.eq_ignore_ascii_case(method.trim()));
        match known {
            Some(known) => {
                if !accepted.iter().any(|a| a == known) {
                    accepted.push((*known).to_owned());
                }
            }
            None => context.problem(
                format!("stepup_methods[{i}]"),
                format!(
                    "unknown step-up method type {method:?} (one of: {})",
                    STEPUP_METHOD_TYPES.join(", ")
                ),
            ),
        }
    }
    accepted
}

/// Refuses combinations that could never change a decision, which are always a mistake.
fn check_effect(
    stage: Stage,
    outcome: Outcome,
    has_when_outcome: bool,
    when_outcome: Option<Outcome>,
    has_stepup_filter: bool,
    context: &mut RuleContext<'_>,
) {
    if has_stepup_filter && outcome != Outcome::Yellow {
        context.problem(
            "stepup_methods",
            format!(
                "only a yellow rule can filter step-up methods; this rule's outcome is {outcome}"
            ),
        );
    }
    match stage {
        Stage::Decide => {
            if has_when_outcome {
                context.problem(
                    "when_outcome",
                    "only adjust rules can use when_outcome (decide rules run before there is an outcome)",
                );
            }
        }
        Stage::Adjust => {
            if outcome == Outcome::Green {
                context.problem(
                    "outcome",
                    "an adjust rule can only make the outcome stricter, so \"green\" would never change anything; use a decide rule",
                );
            }
            if let Some(when_outcome) = when_outcome {
                let narrows_stepup = outcome == Outcome::Yellow && has_stepup_filter;
                if outcome < when_outcome || (outcome == when_outcome && !narrows_stepup) {
                    context.problem(
                        "when_outcome",
                        format!(
                            "this rule only applies when the outcome is already {when_outcome}, and {outcome} is not stricter, so it would never change anything"
                        ),
                    );
                }
            }
        }
    }
}

fn compile_condition(
    raw: &RawCondition,
    path: &str,
    depth: usize,
    context: &mut RuleContext<'_>,
) -> Option<Condition> {
    if depth >= MAX_DEPTH {
        context.problem(
            path,
            format!("conditions are nested deeper than {MAX_DEPTH} levels"),
        );
        return None;
    }
    let combinators = raw.combinators();
    let operators = raw.operators();

    match (
        combinators.as_slice(),
        raw.fact.as_deref(),
        operators.as_slice(),
    ) {
        ([combinator], None, []) => compile_combinator(raw, combinator, path, depth, context),
        ([], Some(name), [(op, value)]) => {
            compile_test(name, op, value, path, context).map(Condition::Test)
        }
        ([], None, []) => {
            context.problem(
                path,
                "empty condition: give `fact` and one operator, or one of `all`, `any`, `not`",
            );
            None
        }
        ([], None, ops) => {
            context.problem(
                path,
                format!(
                    "operator {} has no `fact` to test",
                    key_list(ops.iter().map(|(op, _)| *op))
                ),
            );
            None
        }
        ([], Some(name), []) => {
            context.problem(
                path,
                format!(
                    "fact {name:?} needs exactly one operator (one of: {}), found none",
                    operator_names_for(name)
                ),
            );
            None
        }
        ([], Some(name), ops) => {
            context.problem(
                path,
                format!(
                    "fact {name:?} needs exactly one operator, found {}; combine tests with `all` or `any`",
                    key_list(ops.iter().map(|(op, _)| *op))
                ),
            );
            None
        }
        (combinators, fact, ops) => {
            let mut keys: Vec<&str> = combinators.to_vec();
            if fact.is_some() {
                keys.push("fact");
            }
            keys.extend(ops.iter().map(|(op, _)| *op));
            context.problem(
                path,
                format!(
                    "a condition is either `fact` with one operator or exactly one of `all`, `any`, `not`; found {}",
                    key_list(keys.into_iter())
                ),
            );
            None
        }
    }
}

fn compile_combinator(
    raw: &RawCondition,
    combinator: &str,
    path: &str,
    depth: usize,
    context: &mut RuleContext<'_>,
) -> Option<Condition> {
    let list = |items: &Option<Vec<RawCondition>>, context: &mut RuleContext<'_>| {
        let items = items.as_deref().unwrap_or_default();
        if items.is_empty() {
            context.problem(
                format!("{path}.{combinator}"),
                format!("`{combinator}` needs at least one condition"),
            );
            return None;
        }
        let compiled: Vec<Option<Condition>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                compile_condition(
                    item,
                    &format!("{path}.{combinator}[{i}]"),
                    depth + 1,
                    context,
                )
            })
            .collect();
        compiled.into_iter().collect::<Option<Vec<Condition>>>()
    };
    match combinator {
        "all" => list(&raw.all, context).map(Condition::All),
        "any" => list(&raw.any, context).map(Condition::Any),
        _ => raw
            .not
            .as_deref()
            .and_then(|inner| compile_condition(inner, &format!("{path}.not"), depth + 1, context))
            .map(|inner| Condition::Not(Box::new(inner))),
    }
}

fn key_list<'a>(keys: impl Iterator<Item = &'a str>) -> String {
    keys.map(|key| format!("`{key}`"))
        .collect::<Vec<_>>()
        .join(" and ")
}

fn operator_names_for(name: &str) -> String {
    match facts::lookup(name) {
        Some(spec) => spec.ty.operators().join(", "),
        None => {
            "eq, ne, in, not_in, lt, le, gt, ge, between, present, contains, any_of, starts_with, matches"
                .to_owned()
        }
    }
}

fn compile_test(
    name: &str,
    op: &str,
    value: &RawValue,
    path: &str,
    context: &mut RuleContext<'_>,
) -> Option<Test> {
    let Some(spec) = facts::lookup(name) else {
        let hint = facts::closest_name(name)
            .map(|close| format!(" (did you mean {close:?}?)"))
            .unwrap_or_default();
        context.problem(
            format!("{path}.fact"),
            format!("unknown fact {name:?}{hint}; see the fact list in docs/rules.md"),
        );
        return None;
    };
    let key = format!("{path}.{op}");
    if !spec.ty.operators().contains(&op) {
        context.problem(
            key,
            format!(
                "operator `{op}` does not apply to {} fact {name:?} ({} facts take: {})",
                spec.ty,
                spec.ty,
                spec.ty.operators().join(", ")
            ),
        );
        return None;
    }
    match compile_operand(spec, op, value) {
        Ok(op) => Some(Test { spec, op }),
        Err(message) => {
            context.problem(
                key,
                format!("`{op}` on {} fact {name:?} {message}", spec.ty),
            );
            None
        }
    }
}

/// Checks the operand against the operator and the fact's type. The error completes the
/// sentence "`op` on <type> fact "name" …".
fn compile_operand(spec: &FactSpec, op: &str, value: &RawValue) -> Result<Op, String> {
    match op {
        "eq" => scalar(spec, value).map(Op::Eq),
        "ne" => scalar(spec, value).map(Op::Ne),
        "in" => scalar_list(spec, value).map(Op::In),
        "not_in" => scalar_list(spec, value).map(Op::NotIn),
        "lt" => number(value).map(Op::Lt),
        "le" => number(value).map(Op::Le),
        "gt" => number(value).map(Op::Gt),
        "ge" => number(value).map(Op::Ge),
        "between" => between(value),
        "present" => match value {
            RawValue::Bool(present) => Ok(Op::Present(*present)),
            other => Err(got("true or false", other)),
        },
        "contains" => match value {
            RawValue::Text(text) => Ok(Op::Contains(text.clone())),
            other => Err(got("a string", other)),
        },
        "any_of" => text_list(value).map(Op::AnyOf),
        "starts_with" => match value {
            RawValue::Text(prefix) if !prefix.is_empty() => {
                Ok(Op::StartsWith(vec![prefix.clone()]))
            }
            RawValue::Text(_) => Err("needs a non-empty prefix".to_owned()),
            RawValue::List(_) => {
                let prefixes = text_list(value)?;
                if prefixes.iter().any(String::is_empty) {
                    Err("needs non-empty prefixes".to_owned())
                } else {
                    Ok(Op::StartsWith(prefixes))
                }
            }
            other => Err(got("a string or a list of strings", other)),
        },
        "matches" => match value {
            RawValue::Text(source) if !source.is_empty() => regex::RegexBuilder::new(source)
                .size_limit(MAX_REGEX_SIZE)
                .build()
                .map(|regex| {
                    Op::Matches(Pattern {
                        source: source.clone(),
                        regex,
                    })
                })
                .map_err(|e| {
                    let first_line = e.to_string().lines().last().unwrap_or("").trim().to_owned();
                    format!("is not a valid regular expression {source:?}: {first_line}")
                }),
            RawValue::Text(_) => Err("needs a non-empty regular expression".to_owned()),
            other => Err(got("a regular expression string", other)),
        },
        other => Err(format!("has no operator `{other}`")),
    }
}

fn got(expected: &str, value: &RawValue) -> String {
    format!("needs {expected}, got {} {value}", value.kind())
}

fn number(value: &RawValue) -> Result<f64, String> {
    match value {
        // Rules files hold small integers (scores, counts); conversion is exact below 2^53.
        RawValue::Integer(number) => Ok(*number as f64),
        RawValue::Float(number) if number.is_finite() => Ok(*number),
        RawValue::Float(number) => Err(format!("needs a finite number, got {number}")),
        other => Err(got("a number", other)),
    }
}

fn scalar(spec: &FactSpec, value: &RawValue) -> Result<Scalar, String> {
    match spec.ty {
        FactType::Bool => match value {
            RawValue::Bool(flag) => Ok(Scalar::Bool(*flag)),
            other => Err(got("true or false", other)),
        },
        FactType::Number => number(value).map(Scalar::Number),
        FactType::Text => match value {
            RawValue::Text(text) => {
                check_closed_value(spec, text)?;
                Ok(Scalar::Text(text.clone()))
            }
            other => Err(got("a string", other)),
        },
        FactType::List => Err("cannot compare a whole list; use contains or any_of".to_owned()),
    }
}

fn scalar_list(spec: &FactSpec, value: &RawValue) -> Result<Vec<Scalar>, String> {
    let element = match spec.ty {
        FactType::Number => "numbers",
        _ => "strings",
    };
    match value {
        RawValue::List(items) if items.is_empty() => {
            Err(format!("needs a non-empty list of {element}"))
        }
        RawValue::List(items) => items
            .iter()
            .map(|item| {
                scalar(spec, item)
                    .map_err(|message| format!("needs a list of {element}: {message}"))
            })
            .collect(),
        other => Err(got(&format!("a list of {element}"), other)),
    }
}

fn text_list(value: &RawValue) -> Result<Vec<String>, String> {
    match value {
        RawValue::List(items) if items.is_empty() => {
            Err("needs a non-empty list of strings".to_owned())
        }
        RawValue::List(items) => items
            .iter()
            .map(|item| match item {
                RawValue::Text(text) => Ok(text.clone()),
                other => Err(format!(
                    "needs a list of strings, got {} {other} in the list",
                    other.kind()
                )),
            })
            .collect(),
        other => Err(got("a list of strings", other)),
    }
}

fn between(value: &RawValue) -> Result<Op, String> {
    match value {
        RawValue::List(items) => match items.as_slice() {
            [low, high] => {
                let low = number(low).map_err(|m| format!("[low, high]: low {m}"))?;
                let high = number(high).map_err(|m| format!("[low, high]: high {m}"))?;
                if low > high {
                    Err(format!(
                        "needs [low, high] with low ≤ high, got [{}, {}]",
                        format_number(low),
                        format_number(high)
                    ))
                } else {
                    Ok(Op::Between(low, high))
                }
            }
            _ => Err(format!(
                "needs [low, high] (two numbers), got a list of {}",
                items.len()
            )),
        },
        other => Err(got("[low, high] (two numbers)", other)),
    }
}

fn check_closed_value(spec: &FactSpec, text: &str) -> Result<(), String> {
    if spec.values.is_empty() || spec.values.iter().any(|v| v.eq_ignore_ascii_case(text)) {
        Ok(())
    } else {
        Err(format!(
            "cannot be {text:?}: the fact only takes {}",
            spec.values.join(", ")
        ))
    }
}
