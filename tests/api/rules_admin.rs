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
    let response = app
        .client
        .post(format!("{}/api/v1/rules/reload", app.address))
        .bearer_auth(STAFF_TOKEN)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    Reply {
        status,
        body: response.json().await.unwrap_or_default(),
    }
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
    let correlation = cid("standin-review");
    let elig = app.eligibility(&correlation, PAN_FULL).await;
    let card = elig.body["issuerCardRefId"].as_str().unwrap().to_owned();
    let camera = digitization_body(&app, PAN_FULL, "CAMERA", json!({}));
    assert_eq!(
        app.call("requestCardDigitization", &correlation, &camera)
            .await
            .body["levelOfTrust"],
        "red"
    );
    let standin = json!({"issuerCardRefId": card, "virtualCardId": "VC-review", "walletProviderId": "APPLE_PAY", "decision": "APPROVED"});
    assert_eq!(
        app.call("notifyStandInProcess", &correlation, &standin)
            .await
            .status,
        200
    );

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
    assert!(service.log_text().contains("rules reloaded on SIGHUP"));
}
