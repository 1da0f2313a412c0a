//! `tsh-sim record`: turns the callback steps of scenario runs into replay fixtures
//! (`<out>/<operation>/<NN-scenario-step>/request.json` + `expected.json`, the format of
//! fixtures/README.md). Each fixture carries the scenario's earlier callback steps as `given`, so
//! it replays on a fresh service; card data stays a `$seal` placeholder, never ciphertext.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::report::ScenarioReport;

fn slug(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').chars().take(48).collect()
}

fn headers(correlation_id: &str, issuer_id: &str) -> Value {
    json!({"x-correlation-id": correlation_id, "x-issuer-id": issuer_id, "content-type": "application/json"})
}

/// Writes one fixture per answered callback step; returns the directories written.
/// Scenarios whose callbacks depend on staff writes (e.g. a card created through the staff API)
/// are recorded too, with a note in the description: such fixtures need that setup to replay.
pub fn write_fixtures(report: &ScenarioReport, out: &Path) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::new();
    let mut given: Vec<Value> = Vec::new();
    let mut staff_writes = false;
    for step in &report.steps {
        if step.call.starts_with("POST /api/") {
            staff_writes = true;
        }
        let (Some(call), Some(status)) = (&step.recorded, step.status) else {
            continue;
        };
        let dir = out.join(&call.operation).join(format!(
            "{:02}-{}-{}",
            step.number,
            slug(&report.name),
            slug(&step.name)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut description = format!(
            "Recorded by tsh-sim from scenario \"{}\", step {} \"{}\".",
            report.name, step.number, step.name
        );
        if staff_writes {
            description.push_str(" Needs the staff-API setup of that scenario to replay.");
        }
        let request = json!({
            "description": description,
            "given": given,
            "headers": headers(&call.correlation_id, &call.issuer_id),
            "body": call.body,
        });
        let response: Value = serde_json::from_str(&step.response).unwrap_or(Value::Null);
        let expected = json!({"status": status, "body": response});
        for (name, value) in [("request.json", &request), ("expected.json", &expected)] {
            let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
            std::fs::write(dir.join(name), text + "\n")
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        written.push(dir);
        if status == 200 {
            given.push(json!({
                "operation": call.operation,
                "headers": headers(&call.correlation_id, &call.issuer_id),
                "body": call.body,
            }));
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::report::{RecordedCall, StepReport};

    fn step(number: usize, name: &str, operation: &str, status: u16, response: &str) -> StepReport {
        let mut s = StepReport::new(number, name, format!("POST {operation}"));
        s.status = Some(status);
        s.response = response.to_owned();
        s.recorded = Some(RecordedCall {
            operation: operation.to_owned(),
            correlation_id: "sim-1".to_owned(),
            issuer_id: "ISSUERDEV1".to_owned(),
            body: json!({"cipheredCardInfo": {"$seal": {"fpan": "4111111111111111"}, "transport": "oaep"}}),
        });
        s
    }

    #[test]
    fn each_callback_becomes_a_fixture_with_the_earlier_ones_as_given() {
        let dir = tempfile::tempdir().unwrap();
        let report = ScenarioReport {
            name: "Green Path".into(),
            description: String::new(),
            source: PathBuf::from("green.toml"),
            run_id: "r".into(),
            correlation_id: "sim-1".into(),
            steps: vec![
                step(
                    1,
                    "eligibility",
                    "checkCardEligibility",
                    200,
                    r#"{"productId":"P"}"#,
                ),
                step(
                    2,
                    "digitization",
                    "requestCardDigitization",
                    200,
                    r#"{"levelOfTrust":"green"}"#,
                ),
            ],
            aborted: None,
            not_run: 0,
        };
        let written = write_fixtures(&report, dir.path()).unwrap();
        assert_eq!(written.len(), 2);
        let second: Value = serde_json::from_str(
            &std::fs::read_to_string(written[1].join("request.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(second["given"][0]["operation"], "checkCardEligibility");
        assert_eq!(second["body"]["cipheredCardInfo"]["transport"], "oaep");
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(written[1].join("expected.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            expected,
            json!({"status": 200, "body": {"levelOfTrust": "green"}})
        );
        assert!(written[1].ends_with("requestCardDigitization/02-green-path-digitization"));
    }
}
