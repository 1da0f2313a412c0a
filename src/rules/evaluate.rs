//! Evaluation of a compiled [`RuleSet`] on one request's [`Facts`]: the decide stage, the adjust
//! stage, the absent-fact semantics, and the trace with one human line per rule.
//!
//! Owns the meaning of every operator at run time. It is infallible and allocation-light, and
//! must stay pure: no I/O, no clock, no logging (the caller stores the [`Evaluation`]).
//!
//! Absent facts (not in [`Facts`], or of the wrong type, or a non-finite number):
//! - `present = false` is true, `present = true` is false;
//! - `ne` and `not_in` are true ("a missing capture method is not CAMERA"), every other
//!   operator is false — so a red rule written as `card.status ne "ACTIVE"` fails closed;
//! - **approval guard**: in a decide rule whose outcome is green or yellow, a test on an absent
//!   fact (other than `present`) is *unknown* instead, and an unknown condition never matches.
//!   Unknown follows three-valued logic (`not unknown` = unknown, `false and unknown` = false,
//!   `true or unknown` = true), so an approving rule matches only if it would match whatever
//!   the missing value was: a missing fact can never turn a decline into an approval.

use serde::{Deserialize, Serialize};

use super::compile::{list_of, Condition, Op, Rule, RuleSet, Scalar, Test};
use super::facts::{display_text, format_number, FactValue, Facts};
use super::outcome::{Outcome, Stage};

/// The `rule_id` of the trace entry recorded when no decide rule matched and the file's
/// `[defaults]` applied. Rule ids cannot contain parentheses, so it never collides.
pub const DEFAULT_TRACE_ID: &str = "(default)";

/// Most operand items shown in one trace line.
const MAX_LISTED: usize = 16;

/// The result of evaluating a rule set: stored with every decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The final outcome.
    pub outcome: Outcome,
    /// The reason of the rule that set the final outcome, or the default reason.
    pub reason: String,
    /// The id of the rule that set the final outcome; `None` when the default applied.
    pub decided_by_rule: Option<String>,
    /// Yellow only: the step-up method types the caller may offer (`None` = any it can
    /// complete). Always `None` for green and red.
    pub stepup_methods: Option<Vec<String>>,
    /// The version of the rule set (hash of the rules file).
    pub rules_version: String,
    /// Every rule, in evaluation order (decide stage, then adjust stage, each in file order).
    pub trace: Vec<TraceEntry>,
}

/// What one rule did in one evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TraceEntry {
    /// The rule's id ([`DEFAULT_TRACE_ID`] for the file's defaults).
    pub rule_id: String,
    /// Its stage.
    pub stage: Stage,
    /// Whether its condition matched (false when skipped).
    pub matched: bool,
    /// What it did: `set green`, `green → yellow (stricter)`, `no effect: not stricter`,
    /// `no effect: condition not met`, `skipped: outcome already decided`, …
    pub effect: String,
    /// One human line saying why: `scoring.device_score 1 is between 1 and 2 → yellow`.
    pub explanation: String,
}

/// Three-valued truth (see the module doc for when `Unknown` arises).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Truth {
    True,
    False,
    Unknown,
}

impl Truth {
    fn from_bool(value: bool) -> Truth {
        if value {
            Truth::True
        } else {
            Truth::False
        }
    }

    fn negate(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Unknown => Truth::Unknown,
        }
    }
}

/// A truth value and a true sentence about the facts that explains it.
struct Verdict {
    truth: Truth,
    why: String,
}

impl RuleSet {
    /// Evaluates the rules on `facts`. Infallible: any fact set gives an outcome and a trace.
    ///
    /// 1. Decide stage, in file order: the first rule whose condition matches sets the outcome,
    ///    reason and step-up filter; later decide rules are recorded as skipped. If none
    ///    matches, `[defaults]` applies (trace entry [`DEFAULT_TRACE_ID`]).
    /// 2. Adjust stage, in file order: every rule whose `when_outcome` (if any) equals the
    ///    running outcome and whose condition matches applies its outcome if it is stricter.
    ///    A matching yellow rule with a step-up filter narrows the filter of a yellow outcome;
    ///    if nothing is left the outcome becomes red.
    pub fn evaluate(&self, facts: &Facts) -> Evaluation {
        let mut trace = Vec::with_capacity(self.rules.len() + 1);
        let mut running = Running {
            outcome: self.default_outcome,
            reason: self.default_reason.clone(),
            decided_by: None,
            stepup: None,
        };
        let stage = |stage: Stage| self.rules.iter().filter(move |rule| rule.stage == stage);
        running.decide(stage(Stage::Decide), facts, &mut trace);
        running.adjust(stage(Stage::Adjust), facts, &mut trace);
        let outcome = running.outcome;
        Evaluation {
            outcome,
            reason: running.reason,
            decided_by_rule: running.decided_by.map(|rule| rule.id.clone()),
            stepup_methods: running.stepup.filter(|_| outcome == Outcome::Yellow),
            rules_version: self.version.clone(),
            trace,
        }
    }
}

/// The evaluation so far: what the next rule sees and may change.
struct Running<'r> {
    outcome: Outcome,
    reason: String,
    decided_by: Option<&'r Rule>,
    stepup: Option<Vec<String>>,
}

impl<'r> Running<'r> {
    /// `rule` sets the outcome, its reason and its step-up filter.
    fn take(&mut self, rule: &'r Rule) {
        self.outcome = rule.outcome;
        self.reason = rule.reason.clone();
        self.decided_by = Some(rule);
        self.stepup = rule.stepup_methods.clone();
    }

    /// Decide stage: the first matching rule decides; the later ones are recorded as skipped;
    /// without a match the defaults stand.
    fn decide(
        &mut self,
        rules: impl Iterator<Item = &'r Rule>,
        facts: &Facts,
        trace: &mut Vec<TraceEntry>,
    ) {
        for rule in rules {
            if let Some(first) = self.decided_by {
                trace.push(entry(
                    rule,
                    false,
                    "skipped: outcome already decided".to_owned(),
                    format!("not evaluated: {} decided first", first.id),
                ));
                continue;
            }
            let verdict = match_rule(rule, facts);
            if verdict.truth == Truth::True {
                self.take(rule);
                trace.push(entry(
                    rule,
                    true,
                    format!("set {}", rule.outcome),
                    format!("{} → {}", verdict.why, rule.outcome),
                ));
            } else {
                trace.push(entry(
                    rule,
                    false,
                    no_match_effect(verdict.truth),
                    verdict.why,
                ));
            }
        }
        if self.decided_by.is_none() {
            let outcome = self.outcome;
            trace.push(TraceEntry {
                rule_id: DEFAULT_TRACE_ID.to_owned(),
                stage: Stage::Decide,
                matched: true,
                effect: format!("set {outcome} (default)"),
                explanation: format!("no decide rule matched → {outcome}"),
            });
        }
    }

    /// Adjust stage: every matching rule (for its `when_outcome`) applies if it is stricter.
    fn adjust(
        &mut self,
        rules: impl Iterator<Item = &'r Rule>,
        facts: &Facts,
        trace: &mut Vec<TraceEntry>,
    ) {
        for rule in rules {
            if let Some(required) = rule.when_outcome {
                if self.outcome != required {
                    trace.push(entry(
                        rule,
                        false,
                        format!("skipped: applies only when the outcome is {required}"),
                        format!("the outcome is {}", self.outcome),
                    ));
                    continue;
                }
            }
            let verdict = match_rule(rule, facts);
            if verdict.truth != Truth::True {
                trace.push(entry(
                    rule,
                    false,
                    no_match_effect(verdict.truth),
                    verdict.why,
                ));
                continue;
            }
            let explanation = format!("{} → {}", verdict.why, rule.outcome);
            let effect = self.apply_adjustment(rule);
            trace.push(entry(rule, true, effect, explanation));
        }
    }

    /// A matching adjust rule: a stricter outcome replaces the running one; a yellow rule with a
    /// step-up filter narrows a yellow outcome's filter (red when nothing is left). Returns the
    /// trace's effect text.
    fn apply_adjustment(&mut self, rule: &'r Rule) -> String {
        if rule.outcome > self.outcome {
            let effect = format!("{} → {} (stricter)", self.outcome, rule.outcome);
            self.take(rule);
            return effect;
        }
        let (Outcome::Yellow, Outcome::Yellow, Some(filter)) =
            (self.outcome, rule.outcome, &rule.stepup_methods)
        else {
            return "no effect: not stricter".to_owned();
        };
        let narrowed: Vec<String> = match &self.stepup {
            None => filter.clone(),
            Some(current) => current
                .iter()
                .filter(|method| filter.contains(method))
                .cloned()
                .collect(),
        };
        if narrowed.is_empty() {
            self.outcome = Outcome::Red;
            self.reason = format!("{} (no allowed step-up method left)", rule.reason);
            self.decided_by = Some(rule);
            self.stepup = None;
            "yellow → red (stricter: no allowed step-up method left)".to_owned()
        } else if Some(&narrowed) == self.stepup.as_ref() {
            "no effect: not stricter".to_owned()
        } else {
            let effect = format!(
                "yellow kept, step-up narrowed to [{}] (stricter)",
                narrowed.join(", ")
            );
            self.stepup = Some(narrowed);
            effect
        }
    }
}

fn entry(rule: &Rule, matched: bool, effect: String, explanation: String) -> TraceEntry {
    TraceEntry {
        rule_id: rule.id.clone(),
        stage: rule.stage,
        matched,
        effect,
        explanation,
    }
}

fn no_match_effect(truth: Truth) -> String {
    match truth {
        Truth::Unknown => "no effect: depends on a missing fact".to_owned(),
        Truth::True | Truth::False => "no effect: condition not met".to_owned(),
    }
}

fn match_rule(rule: &Rule, facts: &Facts) -> Verdict {
    match &rule.when {
        None => Verdict {
            truth: Truth::True,
            why: "always (no condition)".to_owned(),
        },
        Some(condition) => {
            let verdict = eval(condition, facts, rule.is_guarded());
            match verdict.truth {
                Truth::Unknown => Verdict {
                    truth: Truth::Unknown,
                    why: format!(
                        "{}: an approving rule never matches on a missing fact",
                        verdict.why
                    ),
                },
                Truth::True | Truth::False => verdict,
            }
        }
    }
}

fn eval(condition: &Condition, facts: &Facts, guarded: bool) -> Verdict {
    match condition {
        Condition::Test(test) => eval_test(test, facts, guarded),
        Condition::Not(inner) => {
            let verdict = eval(inner, facts, guarded);
            Verdict {
                truth: verdict.truth.negate(),
                why: verdict.why,
            }
        }
        Condition::All(items) => {
            let mut reasons = Vec::with_capacity(items.len());
            let mut unknown = None;
            for item in items {
                let verdict = eval(item, facts, guarded);
                match verdict.truth {
                    Truth::False => return verdict,
                    Truth::Unknown => {
                        unknown.get_or_insert(verdict.why);
                    }
                    Truth::True => reasons.push(verdict.why),
                }
            }
            match unknown {
                Some(why) => Verdict {
                    truth: Truth::Unknown,
                    why,
                },
                None => Verdict {
                    truth: Truth::True,
                    why: reasons.join(" and "),
                },
            }
        }
        Condition::Any(items) => {
            let mut reasons = Vec::with_capacity(items.len());
            let mut unknown = None;
            for item in items {
                let verdict = eval(item, facts, guarded);
                match verdict.truth {
                    Truth::True => return verdict,
                    Truth::Unknown => {
                        unknown.get_or_insert(verdict.why);
                    }
                    Truth::False => reasons.push(verdict.why),
                }
            }
            match unknown {
                Some(why) => Verdict {
                    truth: Truth::Unknown,
                    why,
                },
                None => Verdict {
                    truth: Truth::False,
                    why: reasons.join(" and "),
                },
            }
        }
    }
}

fn eval_test(test: &Test, facts: &Facts, guarded: bool) -> Verdict {
    let name = test.spec.name;
    let raw = facts.get(name);
    let usable = raw.filter(|value| value.fact_type() == test.spec.ty && value.is_usable());
    match usable {
        Some(value) => eval_present(name, &test.op, value),
        None => {
            let mut why = match raw {
                None => format!("{name} is absent"),
                Some(value) => format!(
                    "{name} is {} {value}, not a {}, and counts as absent",
                    value.fact_type(),
                    test.spec.ty
                ),
            };
            let truth = match &test.op {
                Op::Present(wanted) => Truth::from_bool(!wanted),
                _ if guarded => Truth::Unknown,
                Op::Ne(operand) => {
                    why.push_str(&format!(", so not {}", operand.human()));
                    Truth::True
                }
                Op::NotIn(operands) => {
                    why.push_str(&format!(", so not in {}", human_scalars(operands)));
                    Truth::True
                }
                _ => Truth::False,
            };
            Verdict { truth, why }
        }
    }
}

fn eval_present(name: &str, op: &Op, value: &FactValue) -> Verdict {
    let (truth, why) = match op {
        Op::Present(wanted) => (*wanted, format!("{name} is present ({value})")),
        Op::Eq(operand) | Op::Ne(operand) => {
            let equal = scalar_eq(value, operand);
            let why = if equal {
                format!("{name} = {value}")
            } else {
                format!("{name} = {value}, not {}", operand.human())
            };
            (equal == matches!(op, Op::Eq(_)), why)
        }
        Op::In(operands) | Op::NotIn(operands) => {
            let found = operands.iter().any(|operand| scalar_eq(value, operand));
            let why = format!(
                "{name} = {value} is {}in {}",
                if found { "" } else { "not " },
                human_scalars(operands)
            );
            (found == matches!(op, Op::In(_)), why)
        }
        Op::Lt(limit) => compare(name, value, "<", *limit, |v| v < *limit),
        Op::Le(limit) => compare(name, value, "≤", *limit, |v| v <= *limit),
        Op::Gt(limit) => compare(name, value, ">", *limit, |v| v > *limit),
        Op::Ge(limit) => compare(name, value, "≥", *limit, |v| v >= *limit),
        Op::Between(low, high) => {
            let inside = as_number(value).is_some_and(|v| *low <= v && v <= *high);
            let why = format!(
                "{name} {value} is {}between {} and {}",
                if inside { "" } else { "not " },
                format_number(*low),
                format_number(*high)
            );
            (inside, why)
        }
        Op::Contains(wanted) => {
            let found = as_list(value).iter().any(|item| text_eq(item, wanted));
            let verb = if found {
                "contains"
            } else {
                "does not contain"
            };
            (
                found,
                format!("{name} {value} {verb} {}", display_text(wanted)),
            )
        }
        Op::AnyOf(wanted) => {
            let shared = as_list(value)
                .iter()
                .find(|item| wanted.iter().any(|w| text_eq(item, w)));
            let why = match shared {
                Some(item) => format!(
                    "{name} {value} includes {}, one of {}",
                    display_text(item),
                    human_texts(wanted)
                ),
                None => format!("{name} {value} has none of {}", human_texts(wanted)),
            };
            (shared.is_some(), why)
        }
        Op::Matches(pattern) => {
            let text = match value {
                FactValue::Text(text) => text.as_str(),
                _ => "",
            };
            let hit = pattern.regex.is_match(text);
            let why = if hit {
                format!("{name} = {value} matches /{}/", pattern.source)
            } else {
                format!("{name} = {value} does not match /{}/", pattern.source)
            };
            (hit, why)
        }
        Op::StartsWith(prefixes) => {
            let text = match value {
                FactValue::Text(text) => text.as_str(),
                _ => "",
            };
            let hit = prefixes.iter().find(|prefix| starts_with_ci(text, prefix));
            let why = match (hit, prefixes.as_slice()) {
                (Some(prefix), _) => {
                    format!("{name} = {value} starts with {}", display_text(prefix))
                }
                (None, [only]) => {
                    format!(
                        "{name} = {value} does not start with {}",
                        display_text(only)
                    )
                }
                (None, many) => format!(
                    "{name} = {value} does not start with any of {}",
                    human_texts(many)
                ),
            };
            (hit.is_some(), why)
        }
    };
    Verdict {
        truth: Truth::from_bool(truth),
        why,
    }
}

fn compare(
    name: &str,
    value: &FactValue,
    symbol: &str,
    limit: f64,
    holds: impl Fn(f64) -> bool,
) -> (bool, String) {
    let result = as_number(value).is_some_and(holds);
    let why = if result {
        format!("{name} {value} {symbol} {}", format_number(limit))
    } else {
        format!("{name} {value} is not {symbol} {}", format_number(limit))
    };
    (result, why)
}

fn as_number(value: &FactValue) -> Option<f64> {
    match value {
        FactValue::Number(number) => Some(*number),
        _ => None,
    }
}

fn as_list(value: &FactValue) -> &[String] {
    match value {
        FactValue::List(items) => items,
        _ => &[],
    }
}

/// Text comparisons ignore ASCII case: enum-like facts arrive in any case from the wire.
fn text_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn starts_with_ci(text: &str, prefix: &str) -> bool {
    text.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

fn scalar_eq(value: &FactValue, operand: &Scalar) -> bool {
    match (value, operand) {
        (FactValue::Bool(a), Scalar::Bool(b)) => a == b,
        (FactValue::Number(a), Scalar::Number(b)) => a == b,
        (FactValue::Text(a), Scalar::Text(b)) => text_eq(a, b),
        _ => false,
    }
}

fn human_scalars(items: &[Scalar]) -> String {
    list_of(items.iter().map(Scalar::human), MAX_LISTED)
}

fn human_texts(items: &[String]) -> String {
    list_of(items.iter().map(|item| display_text(item)), MAX_LISTED)
}
