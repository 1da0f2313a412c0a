//! Observability and documentation: `/metrics` after traffic, the correlation id on every JSON log
//! line of a callback, and the OpenAPI document kept equal to the registered routes.
//!
//! Metrics are process-wide and other tests run in the same process, so metric assertions compare
//! a scrape before and after this test's traffic and only ask for an increase.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

/// The value of one exact series (`name{labels}`) in an OpenMetrics text, 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// The sum of every series whose line starts with `prefix`.
fn sum_of(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn scrape(app: &TestApp) -> (String, String) {
    let response = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "/metrics needs no token");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (content_type, response.text().await.unwrap())
}

#[actix_web::test]
async fn metrics_count_callbacks_decisions_otp_notifications_staff_and_flushes() {
    // Arrange
    let app = spawn_app().await;
    let (_, before) = scrape(&app).await;

    // Act: an enrolment (green), an OTP send, an activation, a staff read.
    let correlation = cid("metrics");
    let elig = app.eligibility(&correlation, PAN_FULL).await;
    assert_eq!(elig.status, 200, "{:?}", elig.body);
    let card = elig.body["issuerCardRefId"].as_str().unwrap().to_owned();
    let body = digitization_body(&app, PAN_FULL, "BANK_APP", json!({}));
    let decision = app
        .call("requestCardDigitization", &correlation, &body)
        .await;
    assert_eq!(
        decision.body["levelOfTrust"], "green",
        "{:?}",
        decision.body
    );
    let otp = app
        .call(
            "sendOTP",
            &correlation,
            &json!({"issuerCardRefId": card, "otpValue": "123456", "walletProviderId": "APPLE_PAY"}),
        )
        .await;
    assert_eq!(otp.status, 200, "{:?}", otp.body);
    let vcid = format!("VC-{correlation}");
    let notified = app
        .call(
            "notifyVirtualCardChange",
            &cid("metrics-activate"),
            &json!({"issuerCardRefId": card, "virtualCardId": vcid, "walletProviderId": "APPLE_PAY", "action": "ACTIVATE"}),
        )
        .await;
    assert_eq!(notified.status, 200, "{:?}", notified.body);
    assert_eq!(
        app.staff_get(&format!("/api/v1/tokens/{vcid}"))
            .await
            .status,
        200
    );
    let (content_type, after) = scrape(&app).await;

    // Assert
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(
        after.ends_with("# EOF\n"),
        "OpenMetrics text ends with # EOF"
    );
    let rose = |series: &str| {
        let (b, a) = (sample(&before, series), sample(&after, series));
        assert!(a >= b + 1.0, "{series}: {b} → {a}\n{after}");
    };
    rose(r#"tsh_issuer_callback_requests_total{operation="checkCardEligibility",status="200"}"#);
    rose(r#"tsh_issuer_callback_requests_total{operation="requestCardDigitization",status="200"}"#);
    rose(r#"tsh_issuer_callback_duration_seconds_count{operation="requestCardDigitization"}"#);
    rose(r#"tsh_issuer_callback_duration_seconds_count{operation="sendOTP"}"#);
    rose(r#"tsh_issuer_decisions_total{level_of_trust="green",decided_by="issuer"}"#);
    rose(r#"tsh_issuer_otp_deliveries_total{outcome="delivered"}"#);
    rose(
        r#"tsh_issuer_staff_requests_total{method="GET",route="/api/v1/tokens/{virtual_card_id}",status="200"}"#,
    );
    rose("tsh_issuer_store_flush_duration_seconds_count");
    let activations = r#"tsh_issuer_notifications_total{action="ACTIVATE","#;
    assert!(
        sum_of(&after, activations) >= sum_of(&before, activations) + 1.0,
        "{after}"
    );
    for family in [
        "# TYPE tsh_issuer_tsh_client_calls counter",
        "# TYPE tsh_issuer_store_flush_duration_seconds histogram",
        "# TYPE tsh_issuer_callback_duration_seconds histogram",
    ] {
        assert!(after.contains(family), "missing {family}");
    }
    assert!(
        !after.contains(&card) && !after.contains(&vcid),
        "identifiers never become label values"
    );
}

#[actix_web::test]
async fn every_json_log_line_of_a_callback_carries_its_correlation_id() {
    // Arrange: the binary with JSON logs.
    let store = tempfile::tempdir().unwrap();
    let gateway = MockGateway::start().await;
    let service = ServiceProcess::start(
        &store.path().join("store"),
        &gateway.url,
        &[("TSH_ISSUER__LOG__FORMAT", "json")],
    );
    let client = ProcessClient::new(&service.address);
    let url = |op: &str| format!("{}{PREFIX}/{op}", service.address);
    // A callback without x-correlation-id marks where this test's requests begin in the log.
    let marker = client
        .client
        .post(url("checkCardEligibility"))
        .header("x-issuer-id", ISSUER_ID)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(marker.status().as_u16(), 400);

    // Act: accepted, refused (body and headers) and OTP-delivering callbacks.
    let ids = ["log-json-1", "log-json-refused", "log-json-bad-issuer"];
    let card_info = dev_seal(&json!({"fpan": PAN_FULL, "exp": "1230"}));
    let elig = client
        .call(
            "checkCardEligibility",
            ids[0],
            &json!({"cipheredCardInfo": card_info}),
        )
        .await;
    assert_eq!(elig.status, 200, "{:?}", elig.body);
    let card = elig.body["issuerCardRefId"].as_str().unwrap().to_owned();
    let decision = client
        .call(
            "requestCardDigitization",
            ids[0],
            &json!({"cipheredCardInfo": card_info, "cardCaptureInformation": {"captureMethod": "BANK_APP"}}),
        )
        .await;
    assert_eq!(decision.status, 200, "{:?}", decision.body);
    let otp = client
        .call(
            "sendOTP",
            ids[0],
            &json!({"issuerCardRefId": card, "otpValue": "246810"}),
        )
        .await;
    assert_eq!(otp.status, 200, "{:?}", otp.body);
    let refused = client
        .call(
            "checkCardEligibility",
            ids[1],
            &json!({"cipheredCardInfo": 7}),
        )
        .await;
    assert_eq!(refused.status, 400);
    let bad_issuer = client
        .client
        .post(url("checkCardEligibility"))
        .header("x-correlation-id", ids[2])
        .header("x-issuer-id", "NOTOURS123")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_issuer.status().as_u16(), 400);

    // Assert: every line after the marker is JSON and carries one of the request's ids.
    // Four requests reach "callback answered"; two are refused on their headers (marker included).
    let mut text = String::new();
    for _ in 0..100 {
        text = service.log_text();
        if text.matches("callback answered").count() >= 4
            && text.matches("callback refused: headers").count() >= 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let start = text
        .find("callback refused: headers")
        .expect("marker line in the log");
    let start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let lines: Vec<&str> = text[start..].lines().skip(1).collect();
    assert!(lines.len() >= 6, "{text}");
    let mut seen = BTreeSet::new();
    for line in &lines {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        let id = value["span"]["correlation_id"]
            .as_str()
            .unwrap_or_else(|| panic!("log line without correlation id: {line}"));
        assert!(ids.contains(&id), "unexpected correlation id in {line}");
        seen.insert(id.to_owned());
    }
    assert_eq!(seen.len(), ids.len(), "each request logged: {seen:?}");
    assert!(
        !text.contains("246810") && !text.contains(PAN_FULL),
        "no OTP or PAN in the log"
    );
}

/// Path segments match when equal, or when the registered one is a `{placeholder}`.
fn suffix_matches(registered: &str, documented: &str) -> bool {
    let reg: Vec<&str> = registered.trim_matches('/').split('/').collect();
    let doc: Vec<&str> = documented.trim_matches('/').split('/').collect();
    reg.len() <= doc.len()
        && reg
            .iter()
            .rev()
            .zip(doc.iter().rev())
            .all(|(r, d)| r == d || (r.starts_with('{') && r.ends_with('}')))
}

/// Route registrations written in the HTTP layer: `(METHOD or ANY, path literal, file)`.
/// Reads `.route("…", web::get()…)`, `.route("…", web::to(…))`, `web::resource("…")` and
/// `#[get("…")]`-style attributes in `src/http/**.rs` and `src/startup.rs`.
fn registered_routes() -> Vec<(String, String, String)> {
    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = vec![repo_root().join("src/startup.rs")];
    rust_files(&repo_root().join("src/http"), &mut files);
    let literal = |s: &str| s.split('"').next().map(str::to_owned);
    let mut out = Vec::new();
    for file in files {
        let name = file
            .strip_prefix(repo_root())
            .unwrap()
            .display()
            .to_string();
        // Paths never contain whitespace, so dropping it undoes rustfmt's line breaks.
        let code: String = std::fs::read_to_string(&file)
            .unwrap()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        for (i, _) in code.match_indices(".route(\"") {
            let rest = &code[i + 8..];
            let Some(path) = literal(rest) else { continue };
            let after = &rest[path.len() + 1..];
            let method = after
                .strip_prefix(",web::")
                .and_then(|m| m.split('(').next())
                .map(|m| match m {
                    "to" => "ANY".to_owned(),
                    m => m.to_ascii_uppercase(),
                })
                .unwrap_or_else(|| "ANY".to_owned());
            out.push((method, path, name.clone()));
        }
        for (i, _) in code.match_indices("web::resource(\"") {
            if let Some(path) = literal(&code[i + 15..]) {
                out.push(("ANY".to_owned(), path, name.clone()));
            }
        }
        for method in ["get", "post", "put", "patch", "delete"] {
            let attr = format!("#[{method}(\"");
            for (i, _) in code.match_indices(&attr) {
                if let Some(path) = literal(&code[i + attr.len()..]) {
                    out.push((method.to_ascii_uppercase(), path, name.clone()));
                }
            }
        }
    }
    out
}

#[actix_web::test]
async fn openapi_documents_every_registered_route_and_nothing_else() {
    let app = spawn_app().await;
    let reply = app
        .client
        .get(format!("{}/api/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 200, "the document needs no token");
    let doc: Value = reply.json().await.unwrap();
    let documented = tsh_issuer::http::openapi::operations(&doc);
    assert!(documented.len() > 20, "{documented:?}");

    // 1. Every documented operation is served: not the app's 404, not a 405 for that method.
    for (method, path) in &documented {
        let concrete = path
            .split('/')
            .map(|s| if s.starts_with('{') { "probe-id" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let response = app
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{concrete}", app.address),
            )
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_ne!(
            status, 405,
            "documented {method} {path} is not served (405)"
        );
        assert!(
            !(status == 404 && body["errorMessage"] == "no such endpoint"),
            "documented {method} {path} is not served (404)"
        );
    }

    // 2. Every route registered in the code is documented (same method, same path ending).
    let registered = registered_routes();
    assert!(registered.len() > 15, "route scan found {registered:?}");
    let mut undocumented = Vec::new();
    for (method, path, file) in &registered {
        let found = documented
            .iter()
            .any(|(m, p)| (method == "ANY" || method == m) && suffix_matches(path, p));
        if !found {
            undocumented.push(format!("{method} {path} ({file})"));
        }
    }
    assert!(
        undocumented.is_empty(),
        "routes missing from the OpenAPI document (src/http/openapi.rs): {undocumented:#?}"
    );
}

#[test]
fn the_route_scan_sees_a_new_route_written_across_lines() {
    // Pins the scanner on rustfmt's layout, so a new route cannot slip past it.
    assert!(suffix_matches(
        "/tokens/{virtual_card_id}",
        "/api/v1/tokens/{virtual_card_id}"
    ));
    assert!(suffix_matches(
        "/{operation}",
        "/issuer/igwapi/v2.0/sendOTP"
    ));
    assert!(!suffix_matches(
        "/decisions/export",
        "/api/v1/decisions/{decision_id}"
    ));
    assert!(!suffix_matches("/audit", "/api/v1/decisions"));
    let routes = registered_routes();
    assert!(
        routes
            .iter()
            .any(|(m, p, _)| m == "GET" && p == "/cards/{issuer_card_ref_id}/tokens"),
        "{routes:?}"
    );
}
