//! Console pages and actions over plain HTTP: every page rendered after a full enrolment carries
//! no card or token number; an operator suspends a token through the confirmation step and sees
//! the transition TSH confirmed; viewers, forged CSRF tokens and tampered cookies change nothing.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::console::Browser;
use crate::helpers::*;
use crate::mock_tsh::MockTsh;
use crate::notifications::{card_ref, notification};

const VIEWER_TOKEN: &str = "viewer-token-for-the-console";
const OPERATOR_TOKEN: &str = "operator-token-for-the-console";
const OTP: &str = "91827364";
const DEVICE_TOKEN: &str = "4895370012003478";
const COF_TOKEN: &str = "4761340000000019";

fn sha256_hex(text: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes()).as_ref())
}

fn staff_tokens() -> String {
    json!([
        {"name": "vera", "sha256": sha256_hex(VIEWER_TOKEN), "role": "viewer"},
        {"name": "oscar", "sha256": sha256_hex(OPERATOR_TOKEN), "role": "operator"},
    ])
    .to_string()
}

async fn setup() -> (TestApp, MockTsh) {
    let tsh = MockTsh::start().await;
    let tokens = staff_tokens();
    let app = spawn_app_with(&[
        ("tsh.base_url", tsh.base_url.as_str()),
        ("tsh.timeout_ms", "2000"),
        ("staff.tokens", tokens.as_str()),
    ])
    .await;
    tsh.notify_to(&app.address);
    (app, tsh)
}

/// Eligibility → yellow digitization (token-for-token) → OTP → activation of a COF token made
/// from a device token that is itself one of ours. Returns (card ref, correlation id).
async fn full_enrolment(app: &TestApp) -> (String, String) {
    let correlation = "console-enrol-1";
    let cvv = tsh_issuer::crypto::CvvVerifier::from_hex("0123456789ABCDEF", "FEDCBA9876543210")
        .unwrap()
        .compute(PAN_FULL, "3012", "000")
        .unwrap();
    let card_info = app.seal(
        &json!({"fpan": PAN_FULL, "exp": "1230", "cvv": cvv}),
        tsh_issuer::crypto::seal::KeyTransport::OaepSha256,
    );
    let elig = app
        .call(
            "checkCardEligibility",
            correlation,
            &json!({"cipheredCardInfo": card_info, "captureMethod": "TOKEN"}),
        )
        .await;
    assert_eq!(elig.status, 200, "{:?}", elig.body);
    let card = elig.body["issuerCardRefId"].as_str().unwrap().to_owned();
    // The device token, ours, activated first: the COF token's lineage leads back to it.
    let device = app
        .call(
            "notifyVirtualCardChange",
            "console-device-1",
            &json!({"issuerCardRefId": card, "virtualCardId": "VC-console-device", "walletProviderId": "APPLE_PAY",
                    "action": "ACTIVATE", "tokenInfo": {"tokenPan": DEVICE_TOKEN}}),
        )
        .await;
    assert_eq!(device.status, 200, "{:?}", device.body);
    let decision = app
        .call(
            "requestCardDigitization",
            correlation,
            &json!({"cipheredCardInfo": card_info, "cardCaptureInformation": {"captureMethod": "TOKEN"},
                    "originalToken": DEVICE_TOKEN, "originalTokenReferenceID": "REF-CONSOLE", "originalTokenRequestorId": 40010030273u64,
                    "scoringInformation": {"deviceScore": 1}}),
        )
        .await;
    assert_eq!(
        decision.body["levelOfTrust"], "yellow",
        "{:?}",
        decision.body
    );
    let method = decision.body["idvMethodList"][0]["id"].clone();
    let otp = app
        .call(
            "sendOTP",
            correlation,
            &json!({"issuerCardRefId": card, "otpValue": OTP, "otpMethodId": method}),
        )
        .await;
    assert_eq!(otp.status, 200, "{:?}", otp.body);
    let activate = app
        .call(
            "notifyVirtualCardChange",
            correlation,
            &json!({"issuerCardRefId": card, "virtualCardId": "VC-console-cof", "walletProviderId": "MERCHANT", "action": "ACTIVATE",
                    "tokenInfo": {"tokenPan": COF_TOKEN, "originalToken": DEVICE_TOKEN, "originalTokenReferenceID": "REF-CONSOLE"},
                    "tokenRequestor": {"id": "1", "originalToken": DEVICE_TOKEN}}),
        )
        .await;
    assert_eq!(activate.status, 200, "{:?}", activate.body);
    (card, correlation.to_owned())
}

fn assert_no_card_data(path: &str, body: &str) {
    for secret in [PAN_FULL, DEVICE_TOKEN, COF_TOKEN, OTP] {
        assert!(!body.contains(secret), "{secret} appears on {path}");
    }
    assert!(!body.contains("<script"), "a script on {path}");
    assert!(!body.contains(" style="), "an inline style on {path}");
}

#[actix_web::test]
async fn every_console_page_after_a_full_enrolment_is_free_of_card_data() {
    let (app, tsh) = setup().await;
    let (card, correlation) = full_enrolment(&app).await;
    // A reconciliation run with drift: TSH lists a token we never heard of.
    tsh.add_token(&card, "VC-console-tsh-only");
    let run = app
        .staff_post(
            "/api/v1/reconciliations",
            &json!({"issuer_card_ref_id": card}),
        )
        .await;
    assert_eq!(run.status, 200, "{:?}", run.body);
    let run_id = run.body["reconciliation_id"].as_str().unwrap().to_owned();
    let decisions = app.staff_get("/api/v1/decisions?count=50").await;
    let decision_ids: Vec<String> = decisions.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["decision_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!decision_ids.is_empty());
    let mut browser = Browser::signed_in(&app.address, OPERATOR_TOKEN).await;
    let mut paths = vec![
        "/console/".to_owned(),
        "/console/search?q=1111".to_owned(),
        "/console/search?q=0019".to_owned(),
        "/console/search?q=REF-CONSOLE".to_owned(),
        "/console/search?q=VC-console-cof".to_owned(),
        format!("/console/search?q={correlation}"),
        format!("/console/search?q={card}"),
        format!("/console/cards/{card}"),
        "/console/tokens/VC-console-cof".to_owned(),
        "/console/tokens/VC-console-device".to_owned(),
        format!("/console/enrollments/{correlation}"),
        "/console/standins".to_owned(),
        "/console/rules".to_owned(),
        "/console/audit".to_owned(),
        "/console/reconciliations".to_owned(),
        format!("/console/reconciliations/{run_id}"),
        "/console/tokens/no-such-token".to_owned(),
        "/console/reconciliations/no-such-run".to_owned(),
    ];
    paths.extend(
        decision_ids
            .iter()
            .map(|id| format!("/console/decisions/{id}")),
    );
    for path in &paths {
        let page = browser.get(path).await;
        assert!(
            page.status == 200 || (path.contains("no-such") && page.status == 404),
            "{path}: {} {}",
            page.status,
            page.body
        );
        assert_no_card_data(path, &page.body);
    }
    let cof = browser.get("/console/tokens/VC-console-cof").await;
    assert!(
        cof.body.contains("REF-CONSOLE"),
        "lineage shows the reference"
    );
    assert!(
        cof.body.contains("VC-console-device"),
        "lineage leads up to our device token"
    );
    let device = browser.get("/console/tokens/VC-console-device").await;
    assert!(
        device.body.contains("VC-console-cof"),
        "lineage leads down to the COF token"
    );
    let found = browser.get("/console/search?q=0019").await;
    assert!(
        found.body.contains("VC-console-cof"),
        "last four digits find the token"
    );
    let found = browser.get("/console/search?q=1111").await;
    assert!(found.body.contains(&card), "last four digits find the card");
    let drift = browser
        .get(&format!("/console/reconciliations/{run_id}"))
        .await;
    assert!(drift.body.contains("VC-console-tsh-only"), "{}", drift.body);
    // The forms' answers too: a backtest of the shipped rules and an action's confirmation step.
    let rules = std::fs::read_to_string(repo_root().join("config/rules.toml")).unwrap();
    let csrf = browser.csrf().await;
    let backtest = browser
        .post(
            "/console/rules/backtest",
            &[("candidate", &rules), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(backtest.status, 200, "{}", backtest.body);
    assert!(backtest.body.contains("decisions replayed"));
    assert_no_card_data("backtest", &backtest.body);
    let confirm = browser
        .post(
            "/console/tokens/VC-console-cof/action",
            &[
                ("action", "suspend"),
                ("reason_code", "06"),
                ("reason", "looks odd"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains("Confirm suspend token"));
    assert_no_card_data("confirmation", &confirm.body);
}

/// Waits until the token page shows `text` (TSH's confirmation is asynchronous).
async fn wait_for_text(browser: &mut Browser, path: &str, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = browser.get(path).await;
        if page.body.contains(text) {
            return page.body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never showed {text:?}:\n{}",
            page.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn an_operator_suspends_a_token_with_a_reason_after_confirming() {
    let (app, tsh) = setup().await;
    let card = card_ref(&app, PAN_FULL).await;
    let reply = app
        .call(
            "notifyVirtualCardChange",
            &cid("activate"),
            &notification(&card, "VC-c1", "ACTIVATE"),
        )
        .await;
    assert_eq!(reply.status, 200);
    tsh.add_token(&card, "VC-c1");
    let mut browser = Browser::signed_in(&app.address, OPERATOR_TOKEN).await;
    let token_page = browser.get("/console/tokens/VC-c1").await;
    assert!(
        token_page.body.contains("/console/tokens/VC-c1/action"),
        "operators see actions"
    );
    let csrf = token_page.csrf();
    let fields = [
        ("action", "suspend"),
        ("reason_code", "06"),
        ("reason", "customer called: phone lost"),
        ("csrf", csrf.as_str()),
    ];
    let review = browser.post("/console/tokens/VC-c1/action", &fields).await;
    assert_eq!(review.status, 200);
    assert!(
        tsh.requests().is_empty(),
        "nothing is sent before the confirmation"
    );
    let mut confirmed = fields.to_vec();
    confirmed.push(("confirm", "yes"));
    let done = browser
        .post("/console/tokens/VC-c1/action", &confirmed)
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(
        done.location().starts_with("/console/tokens/VC-c1?op="),
        "{}",
        done.location()
    );
    let body = wait_for_text(
        &mut browser,
        "/console/tokens/VC-c1",
        "customer called: phone lost",
    )
    .await;
    assert!(
        body.contains("state.suspended") && body.contains("API"),
        "{body}"
    );
    let requests = tsh.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].operation, "updateCardState");
    let token = app.staff_get("/api/v1/tokens/VC-c1").await;
    assert_eq!(token.body["state"], "SUSPENDED");
    let audit = app.staff_get("/api/v1/audit?count=50").await;
    let entry = audit.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["what"] == "tokentransition.create")
        .expect("the action is audited as the staff API audits it")
        .clone();
    assert_eq!(entry["who"], "oscar");
}

#[actix_web::test]
async fn a_missing_reason_is_refused_and_nothing_is_sent() {
    let (app, tsh) = setup().await;
    let card = card_ref(&app, PAN_FULL).await;
    app.call(
        "notifyVirtualCardChange",
        &cid("activate"),
        &notification(&card, "VC-c2", "ACTIVATE"),
    )
    .await;
    tsh.add_token(&card, "VC-c2");
    let mut browser = Browser::signed_in(&app.address, OPERATOR_TOKEN).await;
    let csrf = browser.csrf().await;
    for reason in ["", "   ", "card 4111 1111 1111 1111"] {
        let reply = browser
            .post(
                "/console/tokens/VC-c2/action",
                &[
                    ("action", "suspend"),
                    ("reason_code", "06"),
                    ("reason", reason),
                    ("confirm", "yes"),
                    ("csrf", &csrf),
                ],
            )
            .await;
        assert_eq!(reply.status, 400, "{reason:?}");
        assert!(!reply.body.contains("4111 1111 1111 1111"));
    }
    assert!(tsh.requests().is_empty());
}

#[actix_web::test]
async fn a_viewer_sees_no_actions_and_is_refused_when_posting_anyway() {
    let (app, tsh) = setup().await;
    let card = card_ref(&app, PAN_FULL).await;
    app.call(
        "notifyVirtualCardChange",
        &cid("activate"),
        &notification(&card, "VC-v1", "ACTIVATE"),
    )
    .await;
    tsh.add_token(&card, "VC-v1");
    let mut browser = Browser::signed_in(&app.address, VIEWER_TOKEN).await;
    let page = browser.get("/console/tokens/VC-v1").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("/action"), "no action form for viewers");
    let card_page = browser.get(&format!("/console/cards/{card}")).await;
    assert!(!card_page.body.contains("/action"));
    assert!(!browser
        .get("/console/rules")
        .await
        .body
        .contains("/console/rules/reload"));
    let csrf = page.csrf();
    let confirmed = [
        ("action", "suspend"),
        ("reason_code", "06"),
        ("reason", "viewer tries"),
        ("confirm", "yes"),
        ("csrf", csrf.as_str()),
    ];
    let token_post = browser
        .post("/console/tokens/VC-v1/action", &confirmed)
        .await;
    assert_eq!(token_post.status, 403);
    let card_post = browser
        .post(&format!("/console/cards/{card}/action"), &confirmed)
        .await;
    assert_eq!(card_post.status, 403);
    let reload = browser
        .post(
            "/console/rules/reload",
            &[("reason", "viewer"), ("confirm", "yes"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(reload.status, 403);
    assert!(tsh.requests().is_empty());
    assert_eq!(
        app.staff_get("/api/v1/tokens/VC-v1").await.body["state"],
        "ACTIVE"
    );
}

#[actix_web::test]
async fn a_forged_csrf_token_or_a_tampered_cookie_changes_nothing() {
    let (app, tsh) = setup().await;
    let card = card_ref(&app, PAN_FULL).await;
    app.call(
        "notifyVirtualCardChange",
        &cid("activate"),
        &notification(&card, "VC-t1", "ACTIVATE"),
    )
    .await;
    tsh.add_token(&card, "VC-t1");
    let mut browser = Browser::signed_in(&app.address, OPERATOR_TOKEN).await;
    let mut other = Browser::signed_in(&app.address, OPERATOR_TOKEN).await;
    let foreign_csrf = other.csrf().await;
    for csrf in ["", "forged", foreign_csrf.as_str()] {
        let reply = browser
            .post(
                "/console/tokens/VC-t1/action",
                &[
                    ("action", "delete"),
                    ("reason_code", "08"),
                    ("reason", "fraud"),
                    ("confirm", "yes"),
                    ("csrf", csrf),
                ],
            )
            .await;
        assert_eq!(reply.status, 403, "csrf {csrf:?}");
    }
    let csrf = browser.csrf().await;
    let cookie = browser.cookies["tsh_console_session"].clone();
    let tampered = format!("{}x", &cookie[..cookie.len() - 1]);
    browser
        .cookies
        .insert("tsh_console_session".into(), tampered);
    let reply = browser
        .post(
            "/console/tokens/VC-t1/action",
            &[
                ("action", "delete"),
                ("reason_code", "08"),
                ("reason", "fraud"),
                ("confirm", "yes"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(reply.status, 403);
    assert!(tsh.requests().is_empty());
    assert_eq!(
        app.staff_get("/api/v1/tokens/VC-t1").await.body["state"],
        "ACTIVE"
    );
    let audit = app.staff_get("/api/v1/audit?count=50").await;
    assert!(audit.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["what"] != "tokentransition.create"));
}

#[actix_web::test]
async fn reconciliation_runs_and_their_drift_are_listed_from_the_navigation() {
    // Arrange: our token is SUSPENDED while TSH says ACTIVE, and TSH knows one more token.
    let (app, tsh) = setup().await;
    let card = card_ref(&app, PAN_FULL).await;
    for action in ["ACTIVATE", "SUSPEND"] {
        let note = notification(&card, "VC-rc-1", action);
        let reply = app.call("notifyVirtualCardChange", &cid("rc"), &note).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    tsh.add_token(&card, "VC-rc-1");
    tsh.add_token(&card, "VC-rc-2");
    let run = app
        .staff_post(
            "/api/v1/reconciliations",
            &json!({"issuer_card_ref_id": card}),
        )
        .await;
    assert_eq!(run.status, 200, "{:?}", run.body);
    let run_id = run.body["reconciliation_id"].as_str().unwrap().to_owned();

    // Act: a viewer follows the navigation to the list, then to the run.
    let mut browser = Browser::signed_in(&app.address, VIEWER_TOKEN).await;
    let home = browser.get("/console/").await;
    assert!(
        home.body.contains("href=\"/console/reconciliations\""),
        "the navigation links the page"
    );
    let list = browser.get("/console/reconciliations").await;
    let detail = browser
        .get(&format!("/console/reconciliations/{run_id}"))
        .await;

    // Assert: the run is listed with its drift count; the detail names each token by reference.
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains(&run_id), "{}", list.body);
    assert!(list.body.contains("staff:bootstrap"), "{}", list.body);
    assert_eq!(detail.status, 200, "{}", detail.body);
    for expected in ["VC-rc-1", "VC-rc-2", "transitioned", "created", "completed"] {
        assert!(
            detail.body.contains(expected),
            "{expected}:\n{}",
            detail.body
        );
    }
    assert!(
        detail.body.contains("/console/tokens/VC-rc-2"),
        "tokens link to their page"
    );
    assert_no_card_data("reconciliation", &detail.body);
    let missing = browser.get("/console/reconciliations/rec-none").await;
    assert_eq!(missing.status, 404);
}

#[actix_web::test]
async fn an_operator_closes_a_card_and_sees_each_token_outcome() {
    let (app, tsh) = setup().await;
    let card = card_ref(&app, PAN_FULL).await;
    for (vcid, actions) in [
        ("VC-close-a", &["ACTIVATE"][..]),
        ("VC-close-b", &["ACTIVATE", "DELETE"][..]),
    ] {
        for action in actions {
            let note = notification(&card, vcid, action);
            let reply = app
                .call("notifyVirtualCardChange", &cid(action), &note)
                .await;
            assert_eq!(reply.status, 200, "{:?}", reply.body);
        }
    }
    tsh.add_token(&card, "VC-close-a");
    let mut browser = Browser::signed_in(&app.address, OPERATOR_TOKEN).await;
    let card_page = browser.get(&format!("/console/cards/{card}")).await;
    assert!(
        card_page.body.contains("value=\"close\""),
        "operators may close"
    );
    let csrf = card_page.csrf();
    let fields = [
        ("action", "close"),
        ("reason_code", "01"),
        ("reason", "cardholder closed the account"),
        ("csrf", csrf.as_str()),
    ];
    let path = format!("/console/cards/{card}/action");
    let review = browser.post(&path, &fields).await;
    assert_eq!(review.status, 200, "{}", review.body);
    assert!(
        review.body.contains("Confirm: Close card"),
        "{}",
        review.body
    );
    assert!(tsh.requests().is_empty(), "nothing before the confirmation");

    let mut confirmed = fields.to_vec();
    confirmed.push(("confirm", "yes"));
    let done = browser.post(&path, &confirmed).await;

    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("CLOSED"), "{}", done.body);
    assert!(
        done.body.contains("sent") && done.body.contains("skipped_deleted"),
        "{}",
        done.body
    );
    assert_no_card_data("close outcome", &done.body);
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.staff_get("/api/v1/tokens/VC-close-a").await.body["state"] != "DELETED" {
        assert!(Instant::now() < deadline, "TSH's deletion never applied");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let requests = tsh.requests();
    assert_eq!(
        requests.len(),
        1,
        "one deletion: the deleted token is skipped"
    );
    assert_eq!(requests[0].body["virtualCardId"], "VC-close-a");
}
