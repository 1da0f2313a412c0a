//! What a scenario run found, step by step, and how it is printed for a person.
//!
//! Owns the report types ([`ScenarioReport`], [`StepReport`], [`Check`]) and their text form
//! (`Display`). Must not run anything: the runner fills these in.

use std::fmt;
use std::path::PathBuf;

use serde_json::Value;

/// The most characters of a response body shown under a step (more when the step failed).
const EXCERPT_CHARS: usize = 160;
const FAILURE_EXCERPT_CHARS: usize = 1200;

/// One expectation, met or not.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was expected, e.g. `status 200` or `levelOfTrust = "green"`.
    pub label: String,
    pub passed: bool,
    /// What was found when it failed (empty when passed).
    pub detail: String,
}

impl Check {
    pub fn pass(label: impl Into<String>) -> Check {
        Check {
            label: label.into(),
            passed: true,
            detail: String::new(),
        }
    }

    pub fn fail(label: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            label: label.into(),
            passed: false,
            detail: detail.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct StepReport {
    pub number: usize,
    pub name: String,
    /// What was called, e.g. `POST checkCardEligibility` or `GET /api/v1/tokens/VC-1`.
    pub call: String,
    pub status: Option<u16>,
    pub elapsed_ms: u128,
    pub checks: Vec<Check>,
    pub captured: Vec<(String, Value)>,
    /// The step could not be carried out (transport failure, unbound variable, sealing).
    pub error: Option<String>,
    /// The step was skipped on purpose (e.g. an otp_check without a gateway), with the reason.
    pub skipped: Option<String>,
    /// The response body as received (text).
    pub response: String,
    /// For callback steps: the request as sent, card data as a `$seal` placeholder (for `record`).
    pub recorded: Option<RecordedCall>,
}

/// A callback request as `tsh-sim record` writes it into a fixture.
#[derive(Debug, Clone)]
pub struct RecordedCall {
    pub operation: String,
    pub correlation_id: String,
    pub issuer_id: String,
    /// The body with `cipheredCardInfo` replaced by `{"$seal": <card>, "transport": …}`.
    pub body: Value,
}

impl StepReport {
    pub fn new(number: usize, name: &str, call: String) -> StepReport {
        StepReport {
            number,
            name: name.to_owned(),
            call,
            status: None,
            elapsed_ms: 0,
            checks: Vec::new(),
            captured: Vec::new(),
            error: None,
            skipped: None,
            response: String::new(),
            recorded: None,
        }
    }

    pub fn passed(&self) -> bool {
        self.error.is_none() && self.checks.iter().all(|c| c.passed)
    }
}

#[derive(Debug, Clone)]
pub struct ScenarioReport {
    pub name: String,
    pub description: String,
    pub source: PathBuf,
    pub run_id: String,
    pub correlation_id: String,
    pub steps: Vec<StepReport>,
    /// Why the scenario stopped early (e.g. the service went away); later steps did not run.
    pub aborted: Option<String>,
    /// Steps not run because of an abort.
    pub not_run: usize,
}

impl ScenarioReport {
    pub fn passed(&self) -> bool {
        self.aborted.is_none() && self.steps.iter().all(StepReport::passed)
    }

    /// One line per problem: `step N "name": label — detail`.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for step in &self.steps {
            if let Some(e) = &step.error {
                out.push(format!("step {} \"{}\": {e}", step.number, step.name));
            }
            for c in step.checks.iter().filter(|c| !c.passed) {
                out.push(format!(
                    "step {} \"{}\": {} — {}",
                    step.number, step.name, c.label, c.detail
                ));
            }
        }
        if let Some(a) = &self.aborted {
            out.push(format!("aborted: {a}"));
        }
        out
    }

    fn check_counts(&self) -> (usize, usize) {
        let all = self.steps.iter().flat_map(|s| &s.checks);
        let total = all.clone().count();
        (total, all.filter(|c| !c.passed).count())
    }
}

fn excerpt(text: &str, limit: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= limit {
        flat
    } else {
        let cut: String = flat.chars().take(limit).collect();
        format!("{cut}…")
    }
}

pub fn show_value(value: &Value) -> String {
    value.to_string()
}

impl fmt::Display for ScenarioReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "▶ {}", self.name)?;
        if !self.description.is_empty() {
            write!(f, " — {}", self.description)?;
        }
        writeln!(f, "  ({})", self.source.display())?;
        writeln!(
            f,
            "  session x-correlation-id {} · run_id {}",
            self.correlation_id, self.run_id
        )?;
        for step in &self.steps {
            let mark = if step.skipped.is_some() {
                "–"
            } else if step.passed() {
                "✓"
            } else {
                "✗"
            };
            write!(f, "  {mark} {}. {} · {}", step.number, step.name, step.call)?;
            match step.status {
                Some(status) => writeln!(f, " → {status} ({} ms)", step.elapsed_ms)?,
                None => writeln!(f)?,
            }
            if let Some(reason) = &step.skipped {
                writeln!(f, "      – skipped: {reason}")?;
                continue;
            }
            if let Some(error) = &step.error {
                writeln!(f, "      ✗ {error}")?;
            }
            for check in &step.checks {
                if check.passed {
                    writeln!(f, "      ✓ {}", check.label)?;
                } else {
                    writeln!(f, "      ✗ {} — {}", check.label, check.detail)?;
                }
            }
            for (name, value) in &step.captured {
                writeln!(f, "      → {name} = {}", show_value(value))?;
            }
            if !step.response.is_empty() {
                let limit = if step.passed() {
                    EXCERPT_CHARS
                } else {
                    FAILURE_EXCERPT_CHARS
                };
                writeln!(f, "      ← {}", excerpt(&step.response, limit))?;
            }
        }
        if let Some(reason) = &self.aborted {
            writeln!(
                f,
                "  ✗ aborted: {reason} ({} step(s) not run)",
                self.not_run
            )?;
        }
        let (total, failed) = self.check_counts();
        if self.passed() {
            writeln!(
                f,
                "  ✓ {}: {} steps, {total} checks passed",
                self.name,
                self.steps.len()
            )
        } else {
            let errors = self.steps.iter().filter(|s| s.error.is_some()).count();
            writeln!(
                f,
                "  ✗ {}: {failed} of {total} checks failed, {errors} step(s) in error",
                self.name
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_check_is_marked_and_explained() {
        let mut step = StepReport::new(2, "digitize", "POST requestCardDigitization".into());
        step.status = Some(200);
        step.checks.push(Check::pass("status 200"));
        step.checks
            .push(Check::fail("levelOfTrust = \"green\"", "got \"red\""));
        step.response = r#"{"levelOfTrust":"red"}"#.into();
        let report = ScenarioReport {
            name: "green".into(),
            description: String::new(),
            source: "fixtures/scenarios/green.toml".into(),
            run_id: "r".into(),
            correlation_id: "c".into(),
            steps: vec![step],
            aborted: None,
            not_run: 0,
        };
        assert!(!report.passed());
        let text = report.to_string();
        assert!(
            text.contains("✗ 2. digitize · POST requestCardDigitization → 200"),
            "{text}"
        );
        assert!(
            text.contains("✗ levelOfTrust = \"green\" — got \"red\""),
            "{text}"
        );
        assert!(text.contains("✗ green: 1 of 2 checks failed"), "{text}");
        assert_eq!(
            report.failures(),
            vec!["step 2 \"digitize\": levelOfTrust = \"green\" — got \"red\"".to_owned()]
        );
    }

    #[test]
    fn long_bodies_are_cut() {
        let long = "x".repeat(500);
        assert_eq!(excerpt(&long, 10), format!("{}…", "x".repeat(10)));
        assert_eq!(excerpt("{\n  \"a\": 1\n}", 100), "{ \"a\": 1 }");
    }
}
