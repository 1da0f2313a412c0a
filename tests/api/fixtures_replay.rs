//! Replays every `fixtures/<operation>/<NN-case>/request.json` against a fresh service and compares
//! the answer with `expected.json`. The format is documented in README.md ("Fixtures"):
//! - request.json: `headers` (object), `body` (any JSON), optional `given` (setup calls that must
//!   answer 200), optional `description`. `{"$seal": {...}, "transport": "oaep"|"pkcs1"}` anywhere
//!   in a body is replaced by that JSON encrypted for the dev issuer key, as TSH would send it.
//! - expected.json: `status` and `body`; the body matches as a subset: listed keys must be equal,
//!   `"$any"` matches any present value, `"$absent"` requires the key to be missing.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use tsh_issuer::crypto::seal::KeyTransport;

use crate::helpers::*;

fn seal_placeholders(app: &TestApp, value: &Value) -> Value {
    match value {
        Value::Object(map) if map.contains_key("$seal") => {
            let transport = match map.get("transport").and_then(Value::as_str) {
                Some("pkcs1") => KeyTransport::Pkcs1v15,
                _ => KeyTransport::OaepSha256,
            };
            Value::String(app.seal(&map["$seal"], transport))
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), seal_placeholders(app, v)))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| seal_placeholders(app, v)).collect())
        }
        other => other.clone(),
    }
}

/// Returns a list of mismatches between `actual` and the `expected` pattern.
fn compare(path: &str, expected: &Value, actual: Option<&Value>, problems: &mut Vec<String>) {
    match (expected, actual) {
        (Value::String(s), None) if s == "$absent" => {}
        (Value::String(s), Some(a)) if s == "$absent" => {
            problems.push(format!("{path}: expected absent, got {a}"))
        }
        (_, None) => problems.push(format!("{path}: missing, expected {expected}")),
        (Value::String(s), Some(_)) if s == "$any" => {}
        (Value::Object(e), Some(Value::Object(a))) => {
            for (k, v) in e {
                compare(&format!("{path}.{k}"), v, a.get(k), problems);
            }
        }
        (Value::Array(e), Some(Value::Array(a))) => {
            if e.len() != a.len() {
                problems.push(format!(
                    "{path}: expected {} items, got {}",
                    e.len(),
                    a.len()
                ));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                compare(&format!("{path}[{i}]"), ev, Some(av), problems);
            }
        }
        (e, Some(a)) if e != a => problems.push(format!("{path}: expected {e}, got {a}")),
        _ => {}
    }
}

async fn send(app: &TestApp, operation: &str, step: &Value) -> Reply {
    let headers = step
        .get("headers")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_else(Map::new);
    let header = |name: &str| headers.get(name).and_then(Value::as_str).map(str::to_owned);
    let body = seal_placeholders(app, step.get("body").unwrap_or(&Value::Null));
    let raw = match &body {
        Value::String(s) if step.get("raw_body") == Some(&Value::Bool(true)) => {
            s.clone().into_bytes()
        }
        other => other.to_string().into_bytes(),
    };
    app.post_raw(
        operation,
        header("x-correlation-id").as_deref(),
        header("x-issuer-id").as_deref(),
        header("content-type").as_deref(),
        raw,
    )
    .await
}

fn cases() -> Vec<PathBuf> {
    cases_under(&repo_root().join("fixtures"))
}

/// Every `<root>/<operation>/<case>/` holding a request.json.
pub fn cases_under(root: &Path) -> Vec<PathBuf> {
    let root = root.to_path_buf();
    let mut found = Vec::new();
    for operation in std::fs::read_dir(&root).unwrap().flatten() {
        if !operation.path().is_dir() {
            continue;
        }
        for case in std::fs::read_dir(operation.path()).unwrap().flatten() {
            if case.path().join("request.json").is_file() {
                found.push(case.path());
            }
        }
    }
    found.sort();
    found
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[actix_web::test]
async fn every_fixture_replays_as_expected() {
    let cases = cases();
    let operations: std::collections::BTreeSet<String> = cases
        .iter()
        .filter_map(|c| c.parent()?.file_name()?.to_str().map(str::to_owned))
        .collect();
    for op in [
        "checkCardEligibility",
        "requestCardDigitization",
        "sendOTP",
        "notifyVirtualCardChange",
        "notifyStandInProcess",
        "getIDnVMethodList",
    ] {
        assert!(operations.contains(op), "no fixture for {op}");
    }
    let failures = replay_cases(&cases).await;
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Replays each case on a fresh service; returns one message per failing case.
pub async fn replay_cases(cases: &[PathBuf]) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
        let operation = case
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let request = read_json(&case.join("request.json"));
        let expected = read_json(&case.join("expected.json"));
        let app = spawn_app().await;
        for (i, given) in request
            .get("given")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let op = given["operation"]
                .as_str()
                .unwrap_or_else(|| panic!("{}: given[{i}] needs an operation", case.display()));
            let reply = send(&app, op, given).await;
            if reply.status != 200 {
                failures.push(format!(
                    "{}: setup step {i} ({op}) answered {} {}",
                    case.display(),
                    reply.status,
                    reply.body
                ));
            }
        }
        let reply = send(&app, &operation, &request).await;
        let mut problems = Vec::new();
        if Some(u64::from(reply.status)) != expected["status"].as_u64() {
            problems.push(format!(
                "status: expected {}, got {}",
                expected["status"], reply.status
            ));
        }
        if let Some(body) = expected.get("body") {
            compare("body", body, Some(&reply.body), &mut problems);
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}:\n  {}\n  actual body: {}",
                case.display(),
                problems.join("\n  "),
                reply.body
            ));
        }
    }
    failures
}
