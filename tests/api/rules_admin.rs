//! Rules that staff own: hot reload, shadow comparison, stand-in review.

use serde_json::json;

use crate::helpers::*;

const STRICT: &str = r#"version = 1
[defaults]
outcome = "red"
reason = "strict: only the bank app approves"

[[rule]]
id = "bank-app-only"
stage = "decide"
outcome = "green"
reason = "captured in the bank's app"
when = { fact = "capture_method", eq = "BANK_APP" }
"#;

async fn reload(app: &TestApp) -> Reply {
    app.post_as(STAFF_TOKEN, "/api/v1/rules/reload", &json!({}))
        .await
}

#[actix_web::test]
async fn rules_reload_without_restart_and_a_bad_file_keeps_the_old_rules() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::copy(repo_root().join("config/rules.toml"), &rules).unwrap();
    let app = spawn_app_with(&[("rules.file", rules.to_str().unwrap())]).await;
    let before = app.staff_get("/api/v1/rules").await.body["live_version"].clone();
    let on_file = digitization_body(&app, PAN_FULL, "ON_FILE", json!({}));
    assert_eq!(
        app.call("requestCardDigitization", &cid("r"), &on_file)
            .await
            .body["levelOfTrust"],
        "green"
    );

    std::fs::write(&rules, STRICT).unwrap();
    let reloaded = reload(&app).await;
    assert_eq!(reloaded.status, 200, "{:?}", reloaded.body);
    assert_ne!(reloaded.body["live_version"], before);
    assert_eq!(
        app.call("requestCardDigitization", &cid("r"), &on_file)
            .await
            .body["levelOfTrust"],
        "red"
    );
    let latest = app.staff_get("/api/v1/decisions?count=1").await;
    assert_eq!(
        latest.body["data"][0]["rules_version"],
        reloaded.body["live_version"]
    );

    std::fs::write(&rules, STRICT.replace("capture_method", "capture_mthod")).unwrap();
    let refused = reload(&app).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body["error_message"]
            .as_str()
            .unwrap()
            .contains("bank-app-only"),
        "{:?}",
        refused.body
    );
    let status = app.staff_get("/api/v1/rules").await;
    assert_eq!(
        status.body["live_version"], reloaded.body["live_version"],
        "old rules stay in force"
    );
    assert!(status.body["last_reload_error"].is_string());
    let bank_app = digitization_body(&app, PAN_FULL, "BANK_APP", json!({}));
    assert_eq!(
        app.call("requestCardDigitization", &cid("r"), &bank_app)
            .await
            .body["levelOfTrust"],
        "green"
    );
}

#[actix_web::test]
async fn shadow_rules_are_recorded_but_never_answered() {
    let dir = tempfile::tempdir().unwrap();
    let shadow = dir.path().join("shadow.toml");
    std::fs::write(&shadow, STRICT).unwrap();
    let app = spawn_app_with(&[("rules.shadow_file", shadow.to_str().unwrap())]).await;
    let on_file = digitization_body(&app, PAN_FULL, "ON_FILE", json!({}));
    let answered = app
        .call("requestCardDigitization", &cid("s"), &on_file)
        .await;
    assert_eq!(
        answered.body["levelOfTrust"], "green",
        "the live rules answer"
    );
    let bank_app = digitization_body(&app, PAN_FULL, "BANK_APP", json!({}));
    app.call("requestCardDigitization", &cid("s"), &bank_app)
        .await;

    let report = app.staff_get("/api/v1/rules/shadow").await;
    assert_eq!(report.status, 200, "{:?}", report.body);
    assert_eq!(report.body["evaluated"], 2);
    assert_eq!(report.body["agreements"], 1);
    assert_eq!(report.body["disagreements"], 1);
    assert_eq!(report.body["by_outcome"]["green→red"], 1);
    assert_eq!(report.body["data"][0]["shadow"]["level_of_trust"], "red");
    assert_eq!(report.body["data"][0]["level_of_trust"], "green");
    assert_eq!(report.body["data"][0]["facts"]["capture_method"], "ON_FILE");
}

#[actix_web::test]
async fn a_network_approval_our_rules_refuse_is_flagged() {
    let app = spawn_app().await;
    let card = red_then_network_approval(&app, "standin-review", "VC-review", None).await;

    // An agreeing stand-in on another enrolment (bank app would be green for us too).
    let other = cid("standin-ok");
    let ok = json!({"issuerCardRefId": card, "walletProviderId": "APPLE_PAY", "decision": "APPROVED", "cardCaptureInformation": {"captureMethod": "BANK_APP"}});
    assert_eq!(
        app.call("notifyStandInProcess", &other, &ok).await.status,
        200
    );

    let flagged = app.staff_get("/api/v1/standins?mismatch=true").await;
    assert_eq!(flagged.status, 200, "{:?}", flagged.body);
    assert_eq!(flagged.body["count"], 1, "{:?}", flagged.body);
    let review = &flagged.body["data"][0]["review"];
    assert_eq!(review["mismatch"], true);
    assert_eq!(review["our_level_of_trust"], "red");
    assert_eq!(review["facts_source"], "enrollment");
    let all = app.staff_get("/api/v1/standins").await;
    assert_eq!(all.body["count"], 2);
    let agreeing = app.staff_get("/api/v1/standins?mismatch=false").await;
    assert_eq!(
        agreeing.body["data"][0]["review"]["facts_source"],
        "notification"
    );
    assert_eq!(
        agreeing.body["data"][0]["review"]["our_level_of_trust"],
        "green"
    );
    let token = app.staff_get("/api/v1/tokens/VC-review").await;
    assert_eq!(
        token.body["state"], "REQUESTED",
        "review never changes the token by itself"
    );
}

#[actix_web::test]
async fn reload_needs_the_operator_role_and_a_token() {
    let app = spawn_app().await;
    let anonymous = app
        .client
        .post(format!("{}/api/v1/rules/reload", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}

#[actix_web::test]
async fn sighup_reloads_the_rules_of_a_running_service() {
    let gateway = MockGateway::start().await;
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::copy(repo_root().join("config/rules.toml"), &rules).unwrap();
    let service = ServiceProcess::start(
        &dir.path().join("store"),
        &gateway.url,
        &[("TSH_ISSUER__RULES__FILE", rules.to_str().unwrap())],
    );
    let client = ProcessClient::new(&service.address);
    let before = client.staff_get("/api/v1/rules").await.body["live_version"].clone();
    std::fs::write(&rules, STRICT).unwrap();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("kill -HUP {}", service.child.id()))
        .status()
        .unwrap();
    assert!(status.success());
    // Bounded wait for the reload to be visible.
    let mut after = before.clone();
    for _ in 0..50 {
        after = client.staff_get("/api/v1/rules").await.body["live_version"].clone();
        if after != before {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_ne!(
        after,
        before,
        "SIGHUP did not reload the rules; log:\n{}",
        service.log_text()
    );
    // The log is read by another thread: give the line a bounded moment to arrive.
    for _ in 0..50 {
        if service.log_text().contains("rules reloaded on SIGHUP") {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(service.log_text().contains("rules reloaded on SIGHUP"));
}

fn run_cli(args: &[&str]) -> (i32, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tsh-issuer"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[actix_web::test]
async fn replay_of_recorded_traffic_under_a_stricter_file_shows_the_diff() {
    let app = spawn_app().await;
    for capture in ["BANK_APP", "ON_FILE", "CAMERA"] {
        let body = digitization_body(&app, PAN_FULL, capture, json!({}));
        app.call("requestCardDigitization", &cid(capture), &body)
            .await;
    }
    let export = app
        .client
        .get(format!("{}/api/v1/decisions/export", app.address))
        .bearer_auth(STAFF_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status().as_u16(), 200);
    let ndjson = export.text().await.unwrap();
    assert_eq!(ndjson.lines().count(), 3);
    assert!(!ndjson.contains(PAN_FULL));

    let dir = tempfile::tempdir().unwrap();
    let (input, strict) = (
        dir.path().join("decisions.ndjson"),
        dir.path().join("strict.toml"),
    );
    std::fs::write(&input, &ndjson).unwrap();
    std::fs::write(&strict, STRICT).unwrap();
    let (code, stdout, stderr) = run_cli(&[
        "replay",
        "--rules",
        strict.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["replayed"], 3);
    assert_eq!(report["changed"], 1, "{report}");
    assert_eq!(report["transitions"]["green→red"], 1);
    assert_eq!(report["changes"][0]["old_level_of_trust"], "green");
    assert_eq!(report["changes"][0]["new_level_of_trust"], "red");
    assert!(report["changes"][0]["new_trace"].is_array());

    let (code, human, _) = run_cli(&[
        "replay",
        "--rules",
        strict.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(human.contains("unchanged 2, changed 1"), "{human}");
    assert!(human.contains("green → red"), "{human}");

    let (code, _, stderr) = run_cli(&[
        "replay",
        "--rules",
        strict.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--since",
        "not-a-date",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--since"), "{stderr}");
}

#[actix_web::test]
async fn replay_and_export_read_a_stopped_services_store() {
    let gateway = MockGateway::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    // `--store DIR` reads a sled directory: sled on both passes of the suite.
    let sled = [("TSH_ISSUER__STORE__BACKEND", "sled")];
    let mut service = ServiceProcess::start(&store, &gateway.url, &sled);
    let client = ProcessClient::new(&service.address);
    let body = json!({"cipheredCardInfo": dev_seal(&json!({"fpan": PAN_FULL, "exp": "1230"})), "cardCaptureInformation": {"captureMethod": "ON_FILE"}});
    assert_eq!(
        client
            .call("requestCardDigitization", "replay-store", &body)
            .await
            .body["levelOfTrust"],
        "green"
    );
    service.kill_hard();

    let strict = dir.path().join("strict.toml");
    std::fs::write(&strict, STRICT).unwrap();
    let (code, stdout, stderr) = run_cli(&[
        "replay",
        "--rules",
        strict.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (report["replayed"].as_u64(), report["changed"].as_u64()),
        (Some(1), Some(1))
    );
    let out = dir.path().join("export.ndjson");
    let (code, _, stderr) = run_cli(&[
        "store",
        "export",
        "--store",
        store.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    // A whole-store export: its header, then every record; the one decision among them.
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.starts_with("{\"format\":\"tsh-issuer-store-export\""),
        "{text}"
    );
    let decisions = text
        .lines()
        .filter(|l| l.contains("\"table\":\"decisionid_decision\""))
        .count();
    assert_eq!(decisions, 1);
    // Replay reads such a file too.
    let (code, stdout, stderr) = run_cli(&[
        "replay",
        "--rules",
        strict.to_str().unwrap(),
        "--input",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["replayed"].as_u64(), Some(1));
}

#[actix_web::test]
async fn a_reload_under_concurrent_traffic_never_mixes_two_versions_in_one_decision() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    let shipped = std::fs::read_to_string(repo_root().join("config/rules.toml")).unwrap();
    std::fs::write(&rules, &shipped).unwrap();
    let app = spawn_app_with(&[("rules.file", rules.to_str().unwrap())]).await;
    let shipped_ids: std::collections::BTreeSet<String> = shipped
        .lines()
        .filter_map(|l| l.strip_prefix("id = \""))
        .map(|l| l.trim_end_matches('"').to_owned())
        .collect();
    let versions = std::sync::Mutex::new(std::collections::BTreeMap::new());
    let initial = app.staff_get("/api/v1/rules").await.body["live_version"]
        .as_str()
        .unwrap()
        .to_owned();
    versions.lock().unwrap().insert(initial, "shipped");

    let body = digitization_body(
        &app,
        PAN_FULL,
        "BANK_APP",
        json!({"scoringInformation": {"deviceScore": 2}}),
    );
    let traffic = async {
        for round in 0..8 {
            let ids: Vec<String> = (0..6).map(|i| format!("mix-{round}-{i}")).collect();
            let calls: Vec<_> = ids
                .iter()
                .map(|id| app.call("requestCardDigitization", id, &body))
                .collect();
            for reply in futures_util::future::join_all(calls).await {
                assert_eq!(reply.status, 200);
            }
        }
    };
    let reloads = async {
        for i in 0..8 {
            let (text, name) = if i % 2 == 0 {
                (STRICT, "strict")
            } else {
                (shipped.as_str(), "shipped")
            };
            std::fs::write(&rules, text).unwrap();
            let reply = reload(&app).await;
            assert_eq!(reply.status, 200, "{:?}", reply.body);
            versions.lock().unwrap().insert(
                reply.body["live_version"].as_str().unwrap().to_owned(),
                name,
            );
            actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    tokio::join!(traffic, reloads);

    let decisions = app.staff_get("/api/v1/decisions?count=100").await;
    let data = decisions.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 48);
    let versions = versions.lock().unwrap();
    for d in data {
        let version = d["rules_version"].as_str().unwrap();
        let name = versions
            .get(version)
            .unwrap_or_else(|| panic!("unknown rules version {version}"));
        for entry in d["rules"].as_array().unwrap() {
            let id = entry["rule_id"].as_str().unwrap();
            if id.starts_with('(') {
                continue; // "(default)" and the safety net belong to every version
            }
            let belongs = if *name == "strict" {
                id == "bank-app-only"
            } else {
                shipped_ids.contains(id)
            };
            assert!(
                belongs,
                "decision {} made with {name} rules has a trace entry {id} from another version",
                d["decision_id"]
            );
        }
    }
}

#[actix_web::test]
async fn a_yellow_rule_can_restrict_step_up_to_email_and_sms_is_then_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        r#"version = 1
[defaults]
outcome = "red"
reason = "default"

[[rule]]
id = "manual-email-only"
stage = "decide"
outcome = "yellow"
reason = "typed-in card: confirm by e-mail"
stepup_methods = ["email"]
when = { fact = "capture_method", eq = "MANUAL" }
"#,
    )
    .unwrap();
    let app = spawn_app_with(&[("rules.file", rules.to_str().unwrap())]).await;
    let correlation = cid("email-only");
    let elig = app.eligibility(&correlation, PAN_FULL).await;
    let card = elig.body["issuerCardRefId"].as_str().unwrap().to_owned();
    let body = digitization_body(&app, PAN_FULL, "MANUAL", json!({}));
    let decision = app
        .call("requestCardDigitization", &correlation, &body)
        .await;
    assert_eq!(decision.body["levelOfTrust"], "yellow");
    let methods = decision.body["idvMethodList"].as_array().unwrap();
    assert_eq!(methods.len(), 1, "{:?}", decision.body);
    assert_eq!(methods[0]["type"], "email");

    // The card's SMS method exists but was not offered in this enrolment.
    let all = app
        .call(
            "getIDnVMethodList",
            &correlation,
            &json!({"issuerCardRefId": card}),
        )
        .await;
    let sms = all.body["idvMethodList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "cell_phone")
        .unwrap()
        .clone();
    let refused = app
        .call(
            "sendOTP",
            &correlation,
            &json!({"issuerCardRefId": card, "otpValue": "314159", "otpMethodId": sms["id"]}),
        )
        .await;
    assert_eq!(refused.code(), Some(501));
    let by_default = app
        .call(
            "sendOTP",
            &correlation,
            &json!({"issuerCardRefId": card, "otpValue": "314159"}),
        )
        .await;
    assert_eq!(by_default.status, 200, "{:?}", by_default.body);
    assert_eq!(app.gateway.deliveries()[0]["channel"], "email");
}

#[actix_web::test]
async fn with_auto_suspend_a_stand_in_mismatch_suspends_the_token_through_tsh() {
    let tsh = crate::mock_tsh::MockTsh::start().await;
    let app = spawn_app_with(&[
        ("tsh.base_url", tsh.base_url.as_str()),
        ("rules.standin.auto_suspend", "true"),
    ])
    .await;
    tsh.notify_to(&app.address);
    red_then_network_approval(&app, "auto-suspend", "VC-auto", Some(&tsh)).await;

    // Bounded wait: TSH is asked, answers, then notifies the suspension back.
    let mut state = serde_json::Value::Null;
    for _ in 0..50 {
        state = app.staff_get("/api/v1/tokens/VC-auto").await.body["state"].clone();
        if state == "SUSPENDED" {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(state, "SUSPENDED");
    let asked: Vec<_> = tsh
        .requests()
        .into_iter()
        .filter(|r| r.operation == "updateCardState")
        .collect();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].body["action"], "SUSPEND");
    let audit = app.staff_get("/api/v1/audit").await;
    assert!(
        audit.body.to_string().contains("stand-in-review"),
        "{:?}",
        audit.body
    );
}

#[actix_web::test]
async fn without_auto_suspend_a_mismatch_is_only_flagged() {
    let tsh = crate::mock_tsh::MockTsh::start().await;
    let app = spawn_app_with(&[("tsh.base_url", tsh.base_url.as_str())]).await;
    tsh.notify_to(&app.address);
    let correlation = cid("flag-only");
    let elig = app.eligibility(&correlation, PAN_FULL).await;
    let card = elig.body["issuerCardRefId"].as_str().unwrap().to_owned();
    let camera = digitization_body(&app, PAN_FULL, "CAMERA", json!({}));
    app.call("requestCardDigitization", &correlation, &camera)
        .await;
    let standin = json!({"issuerCardRefId": card, "virtualCardId": "VC-flag", "walletProviderId": "APPLE_PAY", "decision": "APPROVED"});
    assert_eq!(
        app.call("notifyStandInProcess", &correlation, &standin)
            .await
            .status,
        200
    );
    actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        tsh.requests().is_empty(),
        "TSH must not be called without auto_suspend"
    );
    assert_eq!(
        app.staff_get("/api/v1/tokens/VC-flag").await.body["state"],
        "REQUESTED"
    );
}

/// An enrolment our rules decline (CAMERA → red), then a network stand-in approving it for `vcid`.
/// With a mock TSH, the token is made known to it before the stand-in arrives. Returns the card.
async fn red_then_network_approval(
    app: &TestApp,
    tag: &str,
    vcid: &str,
    tsh: Option<&crate::mock_tsh::MockTsh>,
) -> String {
    let correlation = cid(tag);
    let elig = app.eligibility(&correlation, PAN_FULL).await;
    let card = elig.body["issuerCardRefId"].as_str().unwrap().to_owned();
    if let Some(tsh) = tsh {
        tsh.add_token(&card, vcid);
    }
    let camera = digitization_body(app, PAN_FULL, "CAMERA", json!({}));
    let decision = app
        .call("requestCardDigitization", &correlation, &camera)
        .await;
    assert_eq!(decision.body["levelOfTrust"], "red");
    let standin = json!({"issuerCardRefId": card, "virtualCardId": vcid, "walletProviderId": "APPLE_PAY", "decision": "APPROVED"});
    assert_eq!(
        app.call("notifyStandInProcess", &correlation, &standin)
            .await
            .status,
        200
    );
    card
}
