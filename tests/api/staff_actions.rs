//! Staff lifecycle actions against an in-test TSH: token transitions applied only when TSH's
//! notification confirms them, card block / unblock / replace, TSH down or slow, roles, and the
//! audit trail of every staff write.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;
use crate::mock_tsh::{MockTsh, TshMode};
use crate::notifications::{card_ref, notification};

const VIEWER_TOKEN: &str = "viewer-token-for-the-tests";
const OPERATOR_TOKEN: &str = "operator-token-for-the-tests";

fn sha256_hex(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    hex::encode(digest.as_ref())
}

/// `staff.tokens` as the JSON text an environment variable would carry.
fn staff_tokens() -> String {
    json!([
        {"name": "vera", "sha256": sha256_hex(VIEWER_TOKEN), "role": "viewer"},
        {"name": "oscar", "sha256": sha256_hex(OPERATOR_TOKEN), "role": "operator"},
    ])
    .to_string()
}

struct Setup {
    app: TestApp,
    tsh: MockTsh,
    card: String,
}

/// The service wired to a mock TSH (timeout `timeout_ms`), with named staff tokens.
async fn setup_with(timeout_ms: &str, extra: &[(&str, &str)]) -> Setup {
    let tsh = MockTsh::start().await;
    let tokens = staff_tokens();
    let mut settings = vec![
        ("tsh.base_url", tsh.base_url.as_str()),
        ("tsh.timeout_ms", timeout_ms),
        ("staff.tokens", tokens.as_str()),
    ];
    settings.extend_from_slice(extra);
    let app = spawn_app_with(&settings).await;
    tsh.notify_to(&app.address);
    let card = card_ref(&app, PAN_FULL).await;
    Setup { app, tsh, card }
}

async fn setup() -> Setup {
    setup_with("2000", &[]).await
}

impl Setup {
    /// An ACTIVE token of the card, known to the mock TSH too.
    async fn active_token(&self, vcid: &str) {
        let reply = self
            .app
            .call(
                "notifyVirtualCardChange",
                &cid("activate"),
                &notification(&self.card, vcid, "ACTIVATE"),
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        self.tsh.add_token(&self.card, vcid);
    }

    async fn post_as(&self, token: &str, path: &str, body: &Value) -> Reply {
        self.app.post_as(token, path, body).await
    }

    async fn get_as(&self, token: &str, path: &str) -> Reply {
        self.app.get_as(token, path).await
    }

    async fn transition(&self, vcid: &str, state: &str, reason_code: &str) -> Reply {
        self.post_as(
            OPERATOR_TOKEN,
            "/api/v1/tokentransitions",
            &json!({"virtual_card_id": vcid, "state": state, "reason_code": reason_code, "reason": "staff test"}),
        )
        .await
    }

    async fn state_of(&self, vcid: &str) -> String {
        let reply = self.app.staff_get(&format!("/api/v1/tokens/{vcid}")).await;
        reply.body["state"].as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the token reaches `state` (TSH's notification is asynchronous).
    async fn wait_for_state(&self, vcid: &str, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.state_of(vcid).await;
            if now == state {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{vcid} stayed {now}, expected {state}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn operation(&self, token: &str) -> Value {
        let reply = self
            .app
            .staff_get(&format!("/api/v1/tokentransitions/{token}"))
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.body
    }

    async fn wait_for_operation(&self, token: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let op = self.operation(token).await;
            if op["status"] == status {
                return op;
            }
            assert!(Instant::now() < deadline, "operation stayed {op}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn audit(&self) -> Vec<Value> {
        let reply = self.app.staff_get("/api/v1/audit?count=500").await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.body["data"].as_array().unwrap().clone()
    }

    async fn transitions(&self, vcid: &str) -> Vec<Value> {
        let reply = self
            .app
            .staff_get(&format!("/api/v1/tokens/{vcid}/transitions"))
            .await;
        reply.body["data"].as_array().unwrap().clone()
    }
}

#[actix_web::test]
async fn staff_suspend_then_resume_is_applied_when_tsh_confirms() {
    let s = setup().await;
    s.active_token("VC-staff-1").await;

    let suspend = s.transition("VC-staff-1", "SUSPENDED", "06").await;
    assert_eq!(suspend.status, 202, "{:?}", suspend.body);
    let token = suspend.body["token"].as_str().unwrap().to_owned();
    assert_eq!(suspend.body["status"], "PENDING");
    assert_eq!(suspend.body["state"], "SUSPENDED");
    assert_eq!(suspend.body["from_state"], "ACTIVE");
    assert_eq!(suspend.body["type"], "state.suspended");
    assert_eq!(suspend.body["channel"], "API");
    assert_eq!(suspend.body["digital_wallet_token"]["token"], "VC-staff-1");
    assert_eq!(suspend.body["requested_by"], "oscar");

    // TSH got updateCardState with our headers; the correlation id is the transition's token.
    let sent = s.tsh.requests();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].operation, "updateCardState");
    assert_eq!(sent[0].correlation_id.as_deref(), Some(token.as_str()));
    assert_eq!(sent[0].issuer_id.as_deref(), Some(ISSUER_ID));
    assert_eq!(sent[0].body["action"], "SUSPEND");
    assert_eq!(sent[0].body["virtualCardId"], "VC-staff-1");
    assert_eq!(sent[0].body["issuerCardRefId"], s.card.as_str());

    s.wait_for_state("VC-staff-1", "SUSPENDED").await;
    let op = s.wait_for_operation(&token, "CONFIRMED").await;
    assert_eq!(op["confirmations"][0]["outcome"], "applied");
    let last = s.transitions("VC-staff-1").await.pop().unwrap();
    assert_eq!(last["channel"], "API", "{last}");
    assert_eq!(last["reason_code"], "06");
    assert_eq!(last["reason"], "staff test");
    assert_eq!(last["type"], "state.suspended");
    assert_eq!(last["correlation_id"], token.as_str());

    let resume = s.transition("VC-staff-1", "ACTIVE", "18").await;
    assert_eq!(resume.status, 202, "{:?}", resume.body);
    assert_eq!(resume.body["type"], "state.reinstated");
    s.wait_for_state("VC-staff-1", "ACTIVE").await;
    let last = s.transitions("VC-staff-1").await.pop().unwrap();
    assert_eq!(
        (
            last["channel"].clone(),
            last["type"].clone(),
            last["reason_code"].clone()
        ),
        (json!("API"), json!("state.reinstated"), json!("18"))
    );
}

#[actix_web::test]
async fn the_state_is_not_applied_before_tsh_confirms() {
    // TSH accepts but never notifies (no service address): the token keeps its state.
    let s = setup().await;
    s.active_token("VC-staff-unconfirmed").await;
    s.tsh.notify_to("http://127.0.0.1:9"); // notifications go nowhere
    let suspend = s
        .transition("VC-staff-unconfirmed", "SUSPENDED", "05")
        .await;
    assert_eq!(suspend.status, 202, "{:?}", suspend.body);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(s.state_of("VC-staff-unconfirmed").await, "ACTIVE");
    let op = s.operation(suspend.body["token"].as_str().unwrap()).await;
    assert_eq!(op["status"], "PENDING");
    assert!(op["tsh_accepted_time"].is_string(), "{op}");
}

#[actix_web::test]
async fn tsh_down_answers_502_leaves_the_token_unchanged_and_audits_the_failure() {
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!(
        "http://127.0.0.1:{}/gtep",
        closed.local_addr().unwrap().port()
    );
    drop(closed);
    let app = spawn_app_with(&[("tsh.base_url", down.as_str()), ("tsh.timeout_ms", "2000")]).await;
    let card = card_ref(&app, PAN_FULL).await;
    let activate = app
        .call(
            "notifyVirtualCardChange",
            &cid("a"),
            &notification(&card, "VC-down", "ACTIVATE"),
        )
        .await;
    assert_eq!(activate.status, 200);

    let started = Instant::now();
    let reply = app
        .staff_post(
            "/api/v1/tokentransitions",
            &json!({"virtual_card_id": "VC-down", "state": "SUSPENDED", "reason_code": "06"}),
        )
        .await;
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(reply.status, 502, "{:?}", reply.body);
    assert_eq!(reply.body["error_code"], "tsh_unavailable");
    assert!(
        reply.body["error_message"]
            .as_str()
            .unwrap()
            .contains("unreachable"),
        "{:?}",
        reply.body
    );
    let token = app.staff_get("/api/v1/tokens/VC-down").await;
    assert_eq!(token.body["state"], "ACTIVE");

    let audit = app.staff_get("/api/v1/audit").await;
    let newest = &audit.body["data"][0];
    assert_eq!(newest["what"], "tokentransition.create", "{newest}");
    assert_eq!(newest["outcome"], "failed");
    assert_eq!(newest["who"], "bootstrap");
    assert_eq!(newest["target"], "token:VC-down");
    assert_eq!(newest["http_status"], 502);
    let correlation_id = newest["correlation_id"].as_str().unwrap();
    let op = app
        .staff_get(&format!("/api/v1/tokentransitions/{correlation_id}"))
        .await;
    assert_eq!(op.body["status"], "FAILED", "{:?}", op.body);
}

#[actix_web::test]
async fn slow_tsh_answers_504_within_the_timeout() {
    let s = setup_with("500", &[]).await;
    s.active_token("VC-slow").await;
    s.tsh.set_mode(TshMode::Slow(3000));
    let started = Instant::now();
    let reply = s.transition("VC-slow", "SUSPENDED", "06").await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(reply.status, 504, "{:?}", reply.body);
    assert_eq!(reply.body["error_code"], "tsh_timeout");
    assert_eq!(s.state_of("VC-slow").await, "ACTIVE");
    assert_eq!(s.audit().await[0]["outcome"], "failed");
}

#[actix_web::test]
async fn tsh_refusal_answers_502_with_tsh_response_code() {
    let s = setup().await;
    s.active_token("VC-refused").await;
    s.tsh.set_mode(TshMode::Refuse);
    let reply = s.transition("VC-refused", "TERMINATED", "08").await;
    assert_eq!(reply.status, 502, "{:?}", reply.body);
    assert_eq!(reply.body["error_code"], "tsh_refused");
    assert!(reply.body["error_message"]
        .as_str()
        .unwrap()
        .contains("911"));
    assert_eq!(s.state_of("VC-refused").await, "ACTIVE");
}

#[actix_web::test]
async fn viewers_read_but_cannot_write() {
    let s = setup().await;
    s.active_token("VC-viewer").await;
    for (path, body) in [
        (
            "/api/v1/tokentransitions",
            json!({"virtual_card_id": "VC-viewer", "state": "SUSPENDED", "reason_code": "06"}),
        ),
        (&*format!("/api/v1/cards/{}/block", s.card), json!({})),
        (&*format!("/api/v1/cards/{}/close", s.card), json!({})),
        (
            &*format!("/api/v1/cards/{}/replace", s.card),
            json!({"exp": "1231"}),
        ),
        (
            "/api/v1/cards",
            json!({"pan": "4000002500003155", "exp": "0930"}),
        ),
        ("/api/v1/rules/reload", json!({})),
    ] {
        let reply = s.post_as(VIEWER_TOKEN, path, &body).await;
        assert_eq!(reply.status, 403, "{path}: {:?}", reply.body);
        assert_eq!(reply.body["error_code"], "forbidden", "{path}");
        assert!(reply.body["error_message"].is_string(), "{path}");
    }
    assert!(s.tsh.requests().is_empty());
    for path in [
        "/api/v1/audit",
        "/api/v1/tokens/VC-viewer",
        "/api/v1/decisions",
    ] {
        assert_eq!(s.get_as(VIEWER_TOKEN, path).await.status, 200, "{path}");
    }
    // A named operator token works and is audited under its name.
    let reply = s
        .post_as(
            OPERATOR_TOKEN,
            "/api/v1/tokentransitions",
            &json!({"virtual_card_id": "VC-viewer", "state": "SUSPENDED", "reason_code": "06"}),
        )
        .await;
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    assert_eq!(s.audit().await[0]["who"], "oscar");
    assert_eq!(
        s.get_as("not-a-configured-token", "/api/v1/audit")
            .await
            .status,
        401
    );
}

#[actix_web::test]
async fn illegal_transitions_unknown_tokens_and_bad_bodies_are_refused() {
    let s = setup().await;
    s.active_token("VC-illegal").await;
    let delete = s
        .app
        .call(
            "notifyVirtualCardChange",
            &cid("d"),
            &notification(&s.card, "VC-illegal", "DELETE"),
        )
        .await;
    assert_eq!(delete.status, 200);

    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "out of a terminal state",
            json!({"virtual_card_id": "VC-illegal", "state": "ACTIVE", "reason_code": "18"}),
            409,
            "terminal",
        ),
        (
            "unknown token",
            json!({"virtual_card_id": "VC-nobody", "state": "SUSPENDED", "reason_code": "06"}),
            404,
            "token not found",
        ),
        (
            "reason code outside 00-21",
            json!({"virtual_card_id": "VC-illegal", "state": "SUSPENDED", "reason_code": "22"}),
            400,
            "reason_code",
        ),
        (
            "missing reason code",
            json!({"virtual_card_id": "VC-illegal", "state": "SUSPENDED"}),
            400,
            "reason_code is required",
        ),
        (
            "unknown state",
            json!({"virtual_card_id": "VC-illegal", "state": "FROZEN", "reason_code": "06"}),
            400,
            "state",
        ),
        (
            "missing token",
            json!({"state": "SUSPENDED", "reason_code": "06"}),
            400,
            "virtual_card_id is required",
        ),
        (
            "reason too long",
            json!({"virtual_card_id": "VC-illegal", "state": "SUSPENDED", "reason_code": "06", "reason": "x".repeat(256)}),
            400,
            "reason",
        ),
    ];
    for (name, body, status, needle) in &cases {
        let reply = s
            .post_as(OPERATOR_TOKEN, "/api/v1/tokentransitions", body)
            .await;
        assert_eq!(reply.status, *status, "case {name}: {:?}", reply.body);
        let message = reply.body["error_message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "case {name}: {message}");
    }
    // Not JSON at all.
    let raw = s
        .app
        .client
        .post(format!("{}/api/v1/tokentransitions", s.app.address))
        .bearer_auth(OPERATOR_TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    // Marqeta's own spelling of the token works too (and is refused here for being terminal).
    let marqeta = s
        .post_as(
            OPERATOR_TOKEN,
            "/api/v1/tokentransitions",
            &json!({"digital_wallet_token": {"token": "VC-illegal"}, "state": "SUSPENDED", "reason_code": "06"}),
        )
        .await;
    assert_eq!(marqeta.status, 409, "{:?}", marqeta.body);

    assert!(s.tsh.requests().is_empty(), "nothing may reach TSH");
    assert_eq!(s.state_of("VC-illegal").await, "DELETED");
    let refused = s
        .audit()
        .await
        .into_iter()
        .filter(|e| e["outcome"] == "refused")
        .count();
    assert_eq!(refused, cases.len() + 2, "every refused write is audited");
}

#[actix_web::test]
async fn block_and_unblock_a_card_suspend_and_resume_its_tokens() {
    let s = setup().await;
    s.active_token("VC-card-1").await;
    s.active_token("VC-card-2").await;

    let block = s
        .post_as(
            OPERATOR_TOKEN,
            &format!("/api/v1/cards/{}/block", s.card),
            &json!({"reason_code": "10", "reason": "lost"}),
        )
        .await;
    assert_eq!(block.status, 202, "{:?}", block.body);
    assert_eq!(block.body["action"], "SUSPEND");
    let sent = s.tsh.requests();
    assert_eq!(sent.len(), 1, "one updateCardState for the card");
    assert_eq!(sent[0].body["issuerCardRefId"], s.card.as_str());
    assert!(sent[0].body.get("virtualCardId").is_none());
    s.wait_for_state("VC-card-1", "SUSPENDED").await;
    s.wait_for_state("VC-card-2", "SUSPENDED").await;
    let op = s
        .wait_for_operation(block.body["token"].as_str().unwrap(), "CONFIRMED")
        .await;
    assert_eq!(op["confirmations"].as_array().unwrap().len(), 2);
    let last = s.transitions("VC-card-2").await.pop().unwrap();
    assert_eq!(
        (last["channel"].clone(), last["reason_code"].clone()),
        (json!("API"), json!("10"))
    );

    // Nothing left to block.
    let again = s
        .post_as(
            OPERATOR_TOKEN,
            &format!("/api/v1/cards/{}/block", s.card),
            &json!({}),
        )
        .await;
    assert_eq!(again.status, 409, "{:?}", again.body);

    let unblock = s
        .post_as(
            OPERATOR_TOKEN,
            &format!("/api/v1/cards/{}/unblock", s.card),
            &json!({}),
        )
        .await;
    assert_eq!(unblock.status, 202, "{:?}", unblock.body);
    s.wait_for_state("VC-card-1", "ACTIVE").await;
    s.wait_for_state("VC-card-2", "ACTIVE").await;
    let unknown = s
        .post_as(
            OPERATOR_TOKEN,
            "/api/v1/cards/no-such-card/block",
            &json!({}),
        )
        .await;
    assert_eq!(unknown.status, 404);
}

/// TSH's encryption certificate: an RSA key made here, so only "TSH" can read fpanDetails. The
/// key directory (kept alive by the caller) and the certificate's path.
fn tsh_encryption_keys() -> (tempfile::TempDir, String) {
    let tsh_keys = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let tsh_cert = rcgen::CertificateParams::new(vec!["tsh.test".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(tsh_keys.path().join("tsh.crt"), tsh_cert.pem()).unwrap();
    std::fs::write(tsh_keys.path().join("tsh.key"), key.serialize_pem()).unwrap();
    let cert = tsh_keys.path().join("tsh.crt").display().to_string();
    (tsh_keys, cert)
}

#[actix_web::test]
async fn replace_sends_fpan_details_sealed_for_tsh_and_moves_the_tokens() {
    let (tsh_keys, cert) = tsh_encryption_keys();
    let s = setup_with("2000", &[("tsh.encryption_cert", cert.as_str())]).await;
    s.active_token("VC-replace").await;

    let new_pan = "4000002500003155";
    let reply = s
        .post_as(
            OPERATOR_TOKEN,
            &format!("/api/v1/cards/{}/replace", s.card),
            &json!({"pan": new_pan, "exp": "1232"}),
        )
        .await;
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    assert!(!reply.body.to_string().contains(new_pan));
    let sent = s.tsh.requests();
    assert_eq!(sent[0].operation, "updateCard");
    let new_ref = sent[0].body["newIssuerCardRefId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_ref, s.card);
    assert!(
        !sent[0].body.to_string().contains(new_pan),
        "the PAN only travels sealed"
    );

    let ring = tsh_issuer::crypto::KeyRing::load_dir(tsh_keys.path()).unwrap();
    let clear = ring
        .decrypt_envelope(sent[0].body["fpanDetails"].as_str().unwrap())
        .unwrap();
    let details: Value = serde_json::from_slice(&clear).unwrap();
    assert_eq!(details["newFPAN"], new_pan);
    assert_eq!(details["newExpDate"], "1232");
    assert_eq!(details["oldExpDate"], "1230");
    // The issuer's own keys cannot read it: it is sealed for TSH only.
    let issuer_ring =
        tsh_issuer::crypto::KeyRing::load_dir(&repo_root().join("fixtures/dev-keys")).unwrap();
    assert!(issuer_ring
        .decrypt_envelope(sent[0].body["fpanDetails"].as_str().unwrap())
        .is_err());

    // TSH's UPDATE notification moves the token to the new card.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let token = s.app.staff_get("/api/v1/tokens/VC-replace").await;
        if token.body["issuer_card_ref_id"] == new_ref.as_str() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "token not moved: {:?}",
            token.body
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    s.wait_for_operation(reply.body["token"].as_str().unwrap(), "CONFIRMED")
        .await;
    let card = s.app.staff_get(&format!("/api/v1/cards/{new_ref}")).await;
    assert_eq!(card.body["exp"], "1232");
    assert_eq!(card.body["pan_masked"], "400000******3155");

    // Without a pan it is a renewal; a bad expiry is refused.
    let bad = s
        .post_as(
            OPERATOR_TOKEN,
            &format!("/api/v1/cards/{new_ref}/replace"),
            &json!({"exp": "1399"}),
        )
        .await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);
}

#[actix_web::test]
async fn replace_without_a_tsh_encryption_certificate_is_a_clear_503() {
    // config/local.toml names the simulator's dev certificate; take it away.
    let s = setup_with("2000", &[("tsh.encryption_cert", "")]).await;
    let reply = s
        .post_as(
            OPERATOR_TOKEN,
            &format!("/api/v1/cards/{}/replace", s.card),
            &json!({"exp": "1232"}),
        )
        .await;
    assert_eq!(reply.status, 503, "{:?}", reply.body);
    assert!(reply.body["error_message"]
        .as_str()
        .unwrap()
        .contains("tsh.encryption_cert"));
    assert!(s.tsh.requests().is_empty());
}

#[actix_web::test]
async fn the_audit_trail_lists_every_staff_write_newest_first_and_cannot_be_changed() {
    let s = setup().await;
    s.active_token("VC-audit").await;
    let card = s
        .post_as(
            OPERATOR_TOKEN,
            "/api/v1/cards",
            &json!({"pan": "4000002500003155", "exp": "0930"}),
        )
        .await;
    assert_eq!(card.status, 201);
    let suspend = s.transition("VC-audit", "SUSPENDED", "06").await;
    assert_eq!(suspend.status, 202);
    let reload = s.app.staff_post("/api/v1/rules/reload", &json!({})).await;
    assert_eq!(reload.status, 200, "{:?}", reload.body);

    let entries = s.audit().await;
    let summary: Vec<(String, String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["what"].as_str().unwrap().to_owned(),
                e["who"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "rules.reload".into(),
                "bootstrap".into(),
                "succeeded".into()
            ),
            (
                "tokentransition.create".into(),
                "oscar".into(),
                "pending".into()
            ),
            ("card.upsert".into(), "oscar".into(), "succeeded".into()),
        ]
    );
    assert_eq!(entries[1]["correlation_id"], suspend.body["token"]);
    assert_eq!(entries[1]["target"], "token:VC-audit");
    assert!(entries[2]["target"].as_str().unwrap().starts_with("card:"));
    assert!(!entries
        .iter()
        .any(|e| e.to_string().contains("4000002500003155")));
    for e in &entries {
        assert!(
            e["created_time"].is_string() && e["audit_id"].is_string(),
            "{e}"
        );
    }

    let page = s.app.staff_get("/api/v1/audit?count=1&start_index=1").await;
    assert_eq!(
        (page.body["count"].clone(), page.body["is_more"].clone()),
        (json!(1), json!(true))
    );
    assert_eq!(page.body["data"][0]["what"], "tokentransition.create");

    for method in [
        reqwest::Method::DELETE,
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
    ] {
        let id = entries[0]["audit_id"].as_str().unwrap();
        for path in ["/api/v1/audit".to_owned(), format!("/api/v1/audit/{id}")] {
            let reply = s
                .app
                .client
                .request(method.clone(), format!("{}{path}", s.app.address))
                .bearer_auth(STAFF_TOKEN)
                .send()
                .await
                .unwrap();
            assert!(
                [404, 405].contains(&reply.status().as_u16()),
                "{method} {path}: {}",
                reply.status()
            );
        }
    }
    assert_eq!(s.audit().await.len(), 3);
}

#[actix_web::test]
async fn the_tsh_client_reads_card_and_token_info() {
    let s = setup().await;
    s.active_token("VC-info").await;
    let client = tsh_issuer::tsh_client::TshClient::new(&s.app.settings.tsh, ISSUER_ID).unwrap();
    let cid = tsh_issuer::tsh_client::new_correlation_id();
    let info = client.get_card_info(&cid, &s.card).await.unwrap();
    assert_eq!(info.virtual_card_list.len(), 1);
    assert_eq!(
        info.virtual_card_list[0].virtual_card_id.as_deref(),
        Some("VC-info")
    );
    let token = client
        .get_token_info(&cid, &s.card, "VC-info")
        .await
        .unwrap();
    assert_eq!(token.status.as_deref(), Some("ACTIVE"));
    let sent = s.tsh.requests();
    assert_eq!(sent.len(), 2);
    assert!(sent
        .iter()
        .all(|r| r.correlation_id.as_deref() == Some(cid.as_str())));
    assert_eq!(sent[1].body["virtualCardId"], "VC-info");
}

/// A CA, a TSH server certificate for 127.0.0.1 and an issuer client certificate, as PEM files.
fn tsh_pki(dir: &std::path::Path) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    for (name, sans) in [
        ("server", vec!["127.0.0.1".to_owned()]),
        ("issuer-client", vec![]),
    ] {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(sans)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
}

#[actix_web::test]
async fn the_tsh_client_presents_the_issuer_certificate_over_mutual_tls() {
    let pki = tempfile::tempdir().unwrap();
    tsh_pki(pki.path());
    let path = |name: &str| pki.path().join(name);
    // The mock TSH requires a client certificate from the same CA.
    let server = tsh_issuer::tls::server_config(&tsh_issuer::config::TlsSettings {
        cert: path("server.pem"),
        key: path("server.key"),
        client_ca: path("ca.pem"),
        crl: None,
        handshake_timeout_ms: 3000,
    })
    .unwrap();
    let tsh = MockTsh::start_with(Some(server)).await;
    tsh.add_token("CARD-MTLS", "VC-mtls");
    let mut settings = tsh_issuer::config::TshSettings {
        base_url: tsh.base_url.clone(),
        timeout_ms: 3000,
        client_cert: Some(path("issuer-client.pem")),
        client_key: Some(path("issuer-client.key")),
        ca_file: Some(path("ca.pem")),
        encryption_cert: None,
    };
    let client = tsh_issuer::tsh_client::TshClient::new(&settings, ISSUER_ID).unwrap();
    let cid = tsh_issuer::tsh_client::new_correlation_id();
    let info = client.get_card_info(&cid, "CARD-MTLS").await.unwrap();
    assert_eq!(
        info.virtual_card_list[0].virtual_card_id.as_deref(),
        Some("VC-mtls")
    );

    // Without the issuer certificate the handshake fails: a clear error, nothing reaches TSH.
    settings.client_cert = None;
    settings.client_key = None;
    let anonymous = tsh_issuer::tsh_client::TshClient::new(&settings, ISSUER_ID).unwrap();
    let refused = anonymous.get_card_info(&cid, "CARD-MTLS").await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(tsh.requests().len(), 1);
}

#[test]
fn an_unreadable_tsh_client_certificate_stops_startup_naming_its_key() {
    let store = tempfile::tempdir().unwrap();
    let missing = store.path().join("missing.pem").display().to_string();
    let settings = test_settings(
        &store.path().join("store"),
        "http://127.0.0.1:9/otp",
        &[("tsh.client_cert", &missing), ("tsh.client_key", &missing)],
    );
    let error = tsh_issuer::startup::build_services(settings)
        .err()
        .expect("startup refuses a missing certificate");
    assert!(error.to_string().contains("tsh.client_cert"), "{error}");
}

impl Setup {
    /// A token of the card moved through `actions` by notifications (TSH knows it when `at_tsh`).
    async fn token_through(&self, vcid: &str, actions: &[&str], at_tsh: bool) {
        for action in actions {
            let note = notification(&self.card, vcid, action);
            let reply = self
                .app
                .call("notifyVirtualCardChange", &cid(action), &note)
                .await;
            assert_eq!(reply.status, 200, "{action}: {:?}", reply.body);
        }
        if at_tsh {
            self.tsh.add_token(&self.card, vcid);
        }
    }

    async fn close(&self, body: &Value) -> Reply {
        let path = format!("/api/v1/cards/{}/close", self.card);
        self.post_as(OPERATOR_TOKEN, &path, body).await
    }

    /// The `updateCardState` requests TSH received naming `vcid`.
    fn deletions_of(&self, vcid: &str) -> usize {
        self.tsh
            .requests()
            .iter()
            .filter(|r| r.operation == "updateCardState" && r.body["virtualCardId"] == vcid)
            .count()
    }
}

/// `(virtual_card_id, outcome)` of every token in a close answer, sorted.
fn close_outcomes(reply: &Reply) -> Vec<(String, String)> {
    let mut outcomes: Vec<(String, String)> = reply.body["tokens"]
        .as_array()
        .unwrap_or_else(|| panic!("{:?}", reply.body))
        .iter()
        .map(|t| {
            let field = |k: &str| t[k].as_str().unwrap_or_default().to_owned();
            (field("virtual_card_id"), field("outcome"))
        })
        .collect();
    outcomes.sort();
    outcomes
}

#[actix_web::test]
async fn closing_a_card_deletes_every_live_token_at_tsh_each_with_its_own_outcome() {
    // Arrange: an active and a suspended token, one deleted already, one waiting for another
    // operation (TSH never notifies it), one TSH refuses to delete.
    let s = setup().await;
    s.token_through("VC-cl-ok", &["ACTIVATE"], true).await;
    s.token_through("VC-cl-sus", &["ACTIVATE", "SUSPEND"], true)
        .await;
    s.token_through("VC-cl-gone", &["ACTIVATE", "DELETE"], false)
        .await;
    s.token_through("VC-cl-busy", &["ACTIVATE"], true).await;
    s.token_through("VC-cl-bad", &["ACTIVATE"], true).await;
    s.tsh.silence_token("VC-cl-busy");
    let pending = s.transition("VC-cl-busy", "SUSPENDED", "06").await;
    assert_eq!(pending.status, 202, "{:?}", pending.body);
    s.tsh.refuse_token("VC-cl-bad", true);

    // Act
    let reply = s
        .close(&json!({"reason_code": "10", "reason": "closed at the cardholder's request"}))
        .await;

    // Assert: the card is CLOSED; each token has its outcome; one failure stopped nothing.
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "CLOSED");
    assert_eq!(reply.body["previous_status"], "ACTIVE");
    let expected = [
        ("VC-cl-bad", "failed"),
        ("VC-cl-busy", "conflict"),
        ("VC-cl-gone", "skipped_deleted"),
        ("VC-cl-ok", "sent"),
        ("VC-cl-sus", "sent"),
    ]
    .map(|(v, o)| (v.to_owned(), o.to_owned()));
    assert_eq!(close_outcomes(&reply), expected, "{:#}", reply.body);
    let bad = reply.body["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["virtual_card_id"] == "VC-cl-bad")
        .unwrap();
    assert!(bad["error"].as_str().unwrap().contains("911"), "{bad}");
    assert!(!reply.body.to_string().contains(PAN_FULL));
    for vcid in ["VC-cl-ok", "VC-cl-sus"] {
        s.wait_for_state(vcid, "DELETED").await;
        let last = s.transitions(vcid).await.pop().unwrap();
        assert_eq!(
            (&last["channel"], &last["reason_code"], &last["action"]),
            (&json!("API"), &json!("10"), &json!("DELETE")),
            "{last}"
        );
    }
    assert_eq!(s.state_of("VC-cl-bad").await, "ACTIVE", "TSH refused");
    assert_eq!(s.state_of("VC-cl-busy").await, "ACTIVE", "still pending");
    assert_eq!(
        s.deletions_of("VC-cl-gone"),
        0,
        "a deleted token is terminal"
    );
    assert_eq!(
        s.deletions_of("VC-cl-busy"),
        1,
        "only the pending suspension"
    );
    let card = s.app.staff_get(&format!("/api/v1/cards/{}", s.card)).await;
    assert_eq!(card.body["status"], "CLOSED", "{:?}", card.body);
    // The registry refuses new enrolments of a closed card.
    let eligibility = s.app.eligibility(&cid("closed"), PAN_FULL).await;
    assert_eq!(eligibility.code(), Some(159), "{:?}", eligibility.body);

    // Closing again retries what is left: TSH now accepts the refused token.
    s.tsh.refuse_token("VC-cl-bad", false);
    let again = s.close(&json!({})).await;
    assert_eq!(again.status, 202, "{:?}", again.body);
    assert_eq!(again.body["previous_status"], "CLOSED");
    let outcomes = close_outcomes(&again);
    assert!(
        outcomes.contains(&("VC-cl-bad".into(), "sent".into())),
        "{outcomes:?}"
    );
    assert!(
        outcomes.contains(&("VC-cl-ok".into(), "skipped_deleted".into())),
        "{outcomes:?}"
    );
    s.wait_for_state("VC-cl-bad", "DELETED").await;
    let audit = s.audit().await;
    assert!(
        audit
            .iter()
            .any(|e| e["what"] == "card.close" && e["target"] == format!("card:{}", s.card)),
        "{audit:#?}"
    );
}

#[actix_web::test]
async fn closing_is_refused_for_bad_bodies_unknown_cards_and_without_tsh() {
    let s = setup().await;
    s.token_through("VC-cl-refused", &["ACTIVATE"], true).await;
    for body in [
        json!({"reason_code": "99"}),
        json!({"reason_code": 10}),
        json!({"reason": "x".repeat(300)}),
        json!([1]),
    ] {
        let reply = s.close(&body).await;
        assert_eq!(reply.status, 400, "{body}: {:?}", reply.body);
    }
    let unknown = s
        .post_as(
            OPERATOR_TOKEN,
            "/api/v1/cards/no-such-card/close",
            &json!({}),
        )
        .await;
    assert_eq!(unknown.status, 404, "{:?}", unknown.body);
    assert!(s.tsh.requests().is_empty(), "nothing reached TSH");
    let card = s.app.staff_get(&format!("/api/v1/cards/{}", s.card)).await;
    assert_eq!(
        card.body["status"], "ACTIVE",
        "a refused close changes nothing"
    );

    let no_tsh = setup_with("2000", &[("tsh.base_url", "")]).await;
    let reply = no_tsh.close(&json!({})).await;
    assert_eq!(reply.status, 503, "{:?}", reply.body);
    let card = no_tsh
        .app
        .staff_get(&format!("/api/v1/cards/{}", no_tsh.card))
        .await;
    assert_eq!(
        card.body["status"], "ACTIVE",
        "without TSH the card stays open"
    );
}

#[actix_web::test]
async fn renewal_is_replace_with_an_expiry_only_and_reaches_every_live_token() {
    // Arrange: an active and a suspended token; a deleted one TSH no longer lists.
    let (_tsh_keys, cert) = tsh_encryption_keys();
    let s = setup_with("2000", &[("tsh.encryption_cert", cert.as_str())]).await;
    s.token_through("VC-rn-1", &["ACTIVATE"], true).await;
    s.token_through("VC-rn-2", &["ACTIVATE", "SUSPEND"], true)
        .await;
    s.token_through("VC-rn-3", &["ACTIVATE", "DELETE"], false)
        .await;

    // Act: same PAN, new expiry.
    let path = format!("/api/v1/cards/{}/replace", s.card);
    let reply = s
        .post_as(OPERATOR_TOKEN, &path, &json!({"exp": "1233"}))
        .await;

    // Assert: one updateCard for the card, no new reference; each live token has its outcome.
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    assert_eq!(reply.body["operation"], "updateCard");
    assert_eq!(
        reply.body["expected_virtual_card_ids"],
        json!(["VC-rn-1", "VC-rn-2"])
    );
    let sent = s.tsh.requests();
    assert_eq!(sent.len(), 1, "one updateCard for the card");
    assert_eq!(sent[0].body["issuerCardRefId"], s.card.as_str());
    assert!(
        sent[0]
            .body
            .get("newIssuerCardRefId")
            .is_none_or(Value::is_null),
        "{:?}",
        sent[0].body
    );
    let op = s
        .wait_for_operation(reply.body["token"].as_str().unwrap(), "CONFIRMED")
        .await;
    let outcomes: Vec<(&Value, &Value, &Value)> = op["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (&t["virtual_card_id"], &t["outcome"], &t["detail"]))
        .collect();
    let (confirmed, updated) = (json!("confirmed"), json!("updated"));
    let (skipped, deleted) = (json!("skipped"), json!("DELETED"));
    let (one, two, three) = (json!("VC-rn-1"), json!("VC-rn-2"), json!("VC-rn-3"));
    assert_eq!(
        outcomes,
        [
            (&one, &confirmed, &updated),
            (&two, &confirmed, &updated),
            (&three, &skipped, &deleted)
        ],
        "the deleted token is listed as skipped: {op:#}"
    );
    assert_eq!(
        s.state_of("VC-rn-1").await,
        "ACTIVE",
        "renewal keeps states"
    );
    assert_eq!(s.state_of("VC-rn-2").await, "SUSPENDED");
    assert_eq!(s.state_of("VC-rn-3").await, "DELETED");
    let card = s.app.staff_get(&format!("/api/v1/cards/{}", s.card)).await;
    assert_eq!(card.body["exp"], "1233");
    assert_eq!(card.body["issuer_card_ref_id"], s.card.as_str());

    // A token waiting for another operation refuses the renewal (409), which changes nothing.
    s.tsh.silence_token("VC-rn-1");
    let pending = s.transition("VC-rn-1", "SUSPENDED", "06").await;
    assert_eq!(pending.status, 202, "{:?}", pending.body);
    let busy = s
        .post_as(OPERATOR_TOKEN, &path, &json!({"exp": "1234"}))
        .await;
    assert_eq!(busy.status, 409, "{:?}", busy.body);
    assert!(
        busy.body["error_message"]
            .as_str()
            .unwrap()
            .contains("VC-rn-1"),
        "{:?}",
        busy.body
    );
    let card = s.app.staff_get(&format!("/api/v1/cards/{}", s.card)).await;
    assert_eq!(card.body["exp"], "1233");
}
