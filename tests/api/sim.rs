//! `tsh-sim`: every scenario under `fixtures/scenarios/` run through the simulator's library
//! against a service on port 0 with the simulator's own gateway in process; the gateway's modes;
//! mismatches and unreachable services reported, never hidden or hanging.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tsh_issuer::sim::gateway::{self, GatewayState, RunningGateway};
use tsh_issuer::sim::runner::{fresh_seed, run_scenario, Target, TargetOptions};
use tsh_issuer::sim::scenario::{self, Scenario};
use tsh_issuer::sim::tsh;

use crate::helpers::*;

fn dev_cert() -> String {
    std::fs::read_to_string(repo_root().join("fixtures/dev-keys/issuer-dev.crt")).unwrap()
}

/// The simulator's gateway on a free loopback port, served in the test's runtime.
fn start_sim_gateway() -> (String, std::sync::Arc<GatewayState>) {
    let RunningGateway {
        server,
        addr,
        state,
    } = gateway::start("127.0.0.1:0".parse().unwrap(), GatewayState::new(false)).unwrap();
    actix_web::rt::spawn(server);
    (format!("http://{addr}"), state)
}

/// A service whose OTP webhook is the simulator's gateway, and a target playing TSH against it.
async fn service_with_sim_gateway() -> (TestApp, Target, String, std::sync::Arc<GatewayState>) {
    // The simulator's gateway also plays TSH's inbound API (card renewal, staff actions).
    let tsh_state = tsh::TshState::new(tsh::IssuerTarget::default(), None, false);
    let data = actix_web::web::Data::from(tsh_state.clone());
    let gateway_state = GatewayState::new(false);
    let running = gateway::start_with(
        "127.0.0.1:0".parse().unwrap(),
        gateway_state.clone(),
        move |cfg| tsh::configure(cfg, data.clone()),
    )
    .unwrap();
    let gateway_url = running.base_url();
    actix_web::rt::spawn(running.server);
    let state = gateway_state;
    let webhook = format!("{gateway_url}/otp");
    let tsh_url = format!("{gateway_url}/gtep/igwapi/v2.0");
    let app = spawn_app_with(&[
        ("otp.webhook_url", webhook.as_str()),
        ("tsh.base_url", tsh_url.as_str()),
    ])
    .await;
    tsh_state.set_target(tsh::IssuerTarget {
        url: app.address.clone(),
        ..tsh_state.target()
    });
    let mut options = TargetOptions::local(&app.address, dev_cert());
    options.gateway_url = Some(gateway_url.clone());
    let target = Target::new(options).unwrap();
    (app, target, gateway_url, state)
}

fn shipped_scenarios() -> Vec<Scenario> {
    let files = scenario::scenario_files(&repo_root().join("fixtures/scenarios")).unwrap();
    files
        .iter()
        .map(|f| scenario::load_file(f).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn by_name<'a>(scenarios: &'a [Scenario], name: &str) -> &'a Scenario {
    scenarios
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no scenario named {name}"))
}

#[actix_web::test]
async fn every_shipped_scenario_passes_and_again_on_the_same_service() {
    let (_app, target, _, gateway) = service_with_sim_gateway().await;
    let scenarios = shipped_scenarios();
    let names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
    for flow in [
        "green",
        "yellow-otp",
        "red",
        "token-for-token",
        "stand-in",
        "lifecycle",
        "t4t-unknown-original",
        "t4t-original-other-card",
        "t4t-suspended-original",
        "t4t-chain",
        "fault-reorder-suspend-resume",
        "fault-dropped-notification",
        "fault-tsh-disagrees",
        "card-renewal",
        "card-close",
    ] {
        assert!(names.contains(&flow), "missing scenario {flow}: {names:?}");
    }

    // Twice: a second run on the same store must not collide with the first (fresh ids per run).
    let mut failures = Vec::new();
    for round in 1..=2 {
        for s in &scenarios {
            let report = run_scenario(&target, s, fresh_seed()).await;
            assert!(!report.steps.is_empty(), "{}: no step ran", s.name);
            if !report.passed() {
                failures.push(format!(
                    "round {round}, {} ({}):\n{report}",
                    s.name,
                    s.source.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        gateway.deliveries().len(),
        2,
        "one OTP per yellow-otp run reached the simulator's gateway"
    );
}

#[actix_web::test]
async fn a_mismatched_expectation_fails_the_scenario_and_names_step_and_field() {
    let (_app, target, _, _) = service_with_sim_gateway().await;
    let text = r#"
name = "wrong on purpose"
[[steps]]
name = "eligibility"
call = "checkCardEligibility"
card = { fpan = "4111111111111111", exp = "1230" }
body = { captureMethod = "CAMERA" }
expect = { fields = { productId = "VISA-CLASSIC-DEV" } }

[[steps]]
name = "camera digitization"
call = "requestCardDigitization"
card = { fpan = "4111111111111111", exp = "1230" }
body = { cardCaptureInformation = { captureMethod = "CAMERA" } }
expect = { fields = { levelOfTrust = "green" } }

[[steps]]
name = "unknown card"
call = "checkCardEligibility"
card = { fpan = "4917610000000000", exp = "1230" }
expect = { status = 200 }
"#;
    let s = scenario::parse(Path::new("inline.toml"), text).unwrap();
    let report = run_scenario(&target, &s, fresh_seed()).await;
    assert!(!report.passed(), "{report}");
    assert!(report.steps[0].passed(), "{report}");
    let failures = report.failures();
    assert!(
        failures.iter().any(|f| f
            .contains("step 2 \"camera digitization\": levelOfTrust = \"green\" — got \"red\"")),
        "{failures:?}"
    );
    assert!(
        failures
            .iter()
            .any(|f| f.contains("step 3 \"unknown card\": status 200 — got 400 (responseCode 116")),
        "{failures:?}"
    );
    let shown = report.to_string();
    assert!(shown.contains("✗ 2. camera digitization"), "{shown}");
    assert!(shown.contains("✓ 1. eligibility"), "{shown}");
}

#[actix_web::test]
async fn a_failing_or_slow_sim_gateway_makes_send_otp_answer_510() {
    let (_app, target, gateway_url, state) = service_with_sim_gateway().await;
    let scenarios = shipped_scenarios();
    let yellow = by_name(&scenarios, "yellow-otp");
    let client = reqwest::Client::new();
    let set_mode = |body: Value| {
        let request = client.post(format!("{gateway_url}/otp/mode")).json(&body);
        async move { request.send().await.unwrap().status().as_u16() }
    };

    for mode in [
        json!({"mode": "fail"}),
        // Longer than the test service's otp.timeout_ms (1000).
        json!({"mode": "slow", "delay_ms": 1500}),
    ] {
        assert_eq!(set_mode(mode.clone()).await, 200);
        let report = run_scenario(&target, yellow, fresh_seed()).await;
        assert!(!report.passed(), "{mode}: {report}");
        let send = report
            .steps
            .iter()
            .find(|s| s.name == "send the OTP by SMS")
            .unwrap();
        assert_eq!(send.status, Some(400), "{mode}: {report}");
        assert!(send.response.contains("510"), "{mode}: {report}");
    }
    // The failed delivery left no record; the slow one may have been recorded after the service
    // gave up (a slow gateway may still send the SMS).
    assert!(state.deliveries().len() <= 1, "{:?}", state.deliveries());

    assert_eq!(set_mode(json!({"mode": "accept"})).await, 200);
    let report = run_scenario(&target, yellow, fresh_seed()).await;
    assert!(report.passed(), "{report}");
    let last = state.last_for(None).unwrap();
    assert_eq!(last["correlation_id"], report.correlation_id.as_str());
}

#[actix_web::test]
async fn the_sim_gateway_records_lists_and_answers_by_card() {
    let (gateway_url, _) = start_sim_gateway();
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        let request = client.post(format!("{gateway_url}{path}")).json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let get = |path: &str| {
        let request = client.get(format!("{gateway_url}{path}"));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };

    let delivery = |card: &str, otp: &str| json!({"channel": "sms", "to": "+447700900123", "otp": otp, "correlation_id": "c-1", "issuer_card_ref_id": card});
    assert_eq!(post("/otp", delivery("ICR-A", "004817")).await.0, 200);
    assert_eq!(post("/otp", delivery("ICR-B", "111111")).await.0, 200);
    assert_eq!(post("/otp", delivery("ICR-A", "222222")).await.0, 200);

    let (status, list) = get("/otp/deliveries").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert_eq!(list[0]["otp"], "004817", "kept exactly as received");
    let (status, last_a) = get("/otp/last?issuer_card_ref_id=ICR-A").await;
    assert_eq!((status, last_a["otp"].clone()), (200, json!("222222")));
    assert_eq!(get("/otp/last?issuer_card_ref_id=ICR-C").await.0, 404);

    // Told to fail: 503, nothing recorded.
    assert_eq!(post("/otp/mode", json!({"mode": "fail"})).await.0, 200);
    assert_eq!(post("/otp", delivery("ICR-A", "333333")).await.0, 503);
    // Told to be slow: answers after the delay.
    assert_eq!(
        post("/otp/mode", json!({"mode": "slow", "delay_ms": 300})).await,
        (200, json!({"mode": "slow", "delay_ms": 300}))
    );
    let started = Instant::now();
    assert_eq!(post("/otp", delivery("ICR-A", "444444")).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    // Bad modes are refused with a reason; the mode is unchanged.
    let (status, body) = post("/otp/mode", json!({"mode": "slow", "delay_ms": 3_600_000})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(post("/otp/mode", json!({"mode": "explode"})).await.0, 400);
    let (_, mode) = get("/otp/mode").await;
    assert_eq!(mode["mode"], "slow");
    assert_eq!(mode["refused"], 1);
    assert_eq!(mode["received"], 4);
}

#[actix_web::test]
async fn otp_checks_are_skipped_without_a_gateway() {
    // The helpers' mock gateway takes the deliveries; the simulator is not told about it.
    let app = spawn_app().await;
    let mut options = TargetOptions::local(&app.address, dev_cert());
    options.gateway_url = None;
    let target = Target::new(options).unwrap();
    let scenarios = shipped_scenarios();
    let report = run_scenario(&target, by_name(&scenarios, "yellow-otp"), fresh_seed()).await;
    assert!(report.passed(), "{report}");
    let skipped: Vec<&str> = report
        .steps
        .iter()
        .filter(|s| s.skipped.is_some())
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(skipped, vec!["the SMS gateway got it unchanged"]);
    assert_eq!(app.gateway.deliveries().len(), 1);
}

/// A loopback port with nothing listening on it.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[actix_web::test]
async fn an_unreachable_or_silent_service_is_reported_without_hanging() {
    // Nothing listening: a clear message at once.
    let url = format!("http://127.0.0.1:{}", closed_port());
    let target = Target::new(TargetOptions::local(&url, dev_cert())).unwrap();
    let started = Instant::now();
    let err = target.check_service().await.unwrap_err();
    assert!(err.contains("cannot reach tsh-issuer at"), "{err}");
    assert!(err.contains("could not connect"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Listening but never answering: the request timeout ends it, in the preflight and in a step
    // (which then stops the scenario instead of trying every later step).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let mut options = TargetOptions::local(&url, dev_cert());
    options.request_timeout = Duration::from_millis(300);
    let target = Target::new(options).unwrap();
    let started = Instant::now();
    let err = target.check_service().await.unwrap_err();
    assert!(err.contains("timed out"), "{err}");
    let scenarios = shipped_scenarios();
    let report = run_scenario(&target, by_name(&scenarios, "lifecycle"), fresh_seed()).await;
    assert!(!report.passed());
    assert_eq!(report.steps.len(), 1, "{report}");
    assert!(
        report
            .aborted
            .as_deref()
            .unwrap_or_default()
            .contains("timed out"),
        "{report}"
    );
    assert!(report.not_run > 0);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
}

#[test]
fn the_binary_refuses_malformed_scenarios_and_unreachable_services() {
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tsh-sim"))
            .args(args)
            .current_dir(repo_root())
            .output()
            .expect("tsh-sim starts");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[steps]]\nname = \"digitize\"\ncall = \"requestCardDigitization\"\ncard = { fpan = \"4111111111111111\" }\ntransport = \"rsa-oops\"\n",
    )
    .unwrap();
    let bad = bad.display().to_string();
    let (code, stderr) = run(&["run", &bad, "--url", "http://127.0.0.1:9"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&bad), "{stderr}");
    assert!(stderr.contains("step 1 \"digitize\""), "{stderr}");
    assert!(stderr.contains("field `transport`"), "{stderr}");
    assert_eq!(run(&["check", &bad]).0, Some(2));
    // An inline `expect` written after `[steps.body]` is part of the body in TOML: refused, not
    // sent to the service unchecked.
    let misplaced = dir.path().join("misplaced.toml");
    std::fs::write(
        &misplaced,
        "[[steps]]\nname = \"suspend\"\ncall = \"notifyVirtualCardChange\"\n[steps.body]\naction = \"SUSPEND\"\nexpect = { status = 200 }\n",
    )
    .unwrap();
    let (code, stderr) = run(&["check", &misplaced.display().to_string()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("step 1 \"suspend\""), "{stderr}");
    assert!(stderr.contains("field `body.expect`"), "{stderr}");
    assert!(stderr.contains("[steps.body]"), "{stderr}");
    assert_eq!(run(&["check", "--all"]).0, Some(0));

    let url = format!("http://127.0.0.1:{}", closed_port());
    let started = Instant::now();
    let (code, stderr) = run(&["run", "--all", "--url", &url]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot reach tsh-issuer"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[actix_web::test]
async fn concurrent_sessions_of_a_scenario_all_pass() {
    let app = spawn_app().await;
    let url = app.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tsh-sim"))
            .args([
                "run",
                "green",
                "lifecycle",
                "--concurrency",
                "6",
                "--gateway",
                "none",
                "--url",
                &url,
            ])
            .current_dir(repo_root())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("6 of 6 concurrent session(s) passed"),
        "{stdout}"
    );
    let decisions = app.staff_get("/api/v1/decisions?count=100").await;
    assert!(
        decisions.body["count"].as_u64().unwrap() >= 6,
        "every green session decided"
    );
}
