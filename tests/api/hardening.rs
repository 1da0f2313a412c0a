//! Regression tests for issue 13 (an adversarial run and a newcomer's findings), each named after
//! the defect it pins: staff errors and audit entries that echoed values, plain-text refusals
//! before authentication, unaudited refused writes, repeated headers, staff requests without a
//! log line.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::notifications::{card_ref, notification};

const VIEWER_TOKEN: &str = "viewer-token-for-hardening";
const A_PAN: &str = "4111111111111111";

fn staff_tokens() -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, VIEWER_TOKEN.as_bytes());
    json!([{"name": "vera", "sha256": hex::encode(digest.as_ref()), "role": "viewer"}]).to_string()
}

async fn app_with_viewer() -> TestApp {
    let tokens = staff_tokens();
    spawn_app_with(&[("staff.tokens", tokens.as_str())]).await
}

async fn audit(app: &TestApp) -> Vec<Value> {
    let reply = app.staff_get("/api/v1/audit?count=100").await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["data"].as_array().unwrap().clone()
}

fn assert_no_pan(what: &str, text: &str) {
    assert!(!text.contains(A_PAN), "{what} echoes the value: {text}");
}

#[actix_web::test]
async fn staff_validation_errors_and_audit_entries_never_echo_a_submitted_value() {
    let app = app_with_viewer().await;
    let card = card_ref(&app, PAN_FULL).await;
    let vcid = "VC-echo";
    let activate = notification(&card, vcid, "ACTIVATE");
    let reply = app
        .call("notifyVirtualCardChange", &cid("echo"), &activate)
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let cases = [
        (
            "/api/v1/tokentransitions".to_owned(),
            json!({"virtual_card_id": vcid, "state": A_PAN, "reason_code": "06"}),
        ),
        (
            "/api/v1/tokentransitions".to_owned(),
            json!({"virtual_card_id": vcid, "state": "SUSPENDED", "reason_code": A_PAN}),
        ),
        (
            format!("/api/v1/cards/{card}/block"),
            json!({"reason_code": A_PAN}),
        ),
        (
            format!("/api/v1/cards/{card}/replace"),
            json!({"exp": A_PAN}),
        ),
        (format!("/api/v1/cards/{A_PAN}/block"), json!({})),
        (
            format!("/api/v1/cards/{A_PAN}/replace"),
            json!({"exp": "1230"}),
        ),
    ];
    for (path, body) in &cases {
        let reply = app.staff_post(path, body).await;
        assert!(
            (400..500).contains(&reply.status),
            "{path} {body}: {:?}",
            reply.body
        );
        assert!(
            reply.body["error_code"].is_string(),
            "{path}: {:?}",
            reply.body
        );
        assert_no_pan(&format!("error for {path} {body}"), &reply.body.to_string());
    }
    let entries = audit(&app).await;
    assert!(entries.len() >= cases.len(), "{entries:?}");
    for entry in entries {
        assert_no_pan("audit entry", &entry.to_string());
    }
}

#[actix_web::test]
async fn a_repeated_query_parameter_is_refused_after_authentication_in_the_staff_shape() {
    let app = spawn_app().await;
    let path = "/api/v1/decisions?count=1&count=2";
    let anonymous = Reply::of(
        app.client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(anonymous.status, 401, "{:?}", anonymous.body);
    assert_eq!(anonymous.body["error_code"], "unauthorized");
    let staff = app.staff_get(path).await;
    assert_eq!(staff.status, 400, "{:?}", staff.body);
    assert_eq!(staff.body["error_code"], "invalid_parameter");
    assert!(staff.body["error_message"]
        .as_str()
        .unwrap()
        .contains("count"));
}

#[actix_web::test]
async fn every_staff_refusal_before_a_handler_is_json_in_the_staff_shape() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/no-such-thing",
        "/api/v1/tokens/%FF%FE",
        "/api/v1/tokens?count=%FF",
        "/api/v1/audit?start_index=1&start_index=2",
    ] {
        let anonymous = app.get_as("not-a-token", path).await;
        assert_eq!(anonymous.status, 401, "{path}: {:?}", anonymous.body);
        assert_eq!(anonymous.body["error_code"], "unauthorized", "{path}");
        let staff = app.staff_get(path).await;
        assert!(
            (400..500).contains(&staff.status),
            "{path}: {}",
            staff.status
        );
        assert!(
            staff.body["error_code"].is_string() && staff.body["error_message"].is_string(),
            "{path}: {} {:?}",
            staff.status,
            staff.body
        );
    }
    let wrong_method = Reply::of(
        app.client
            .delete(format!("{}/api/v1/decisions", app.address))
            .bearer_auth(STAFF_TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        wrong_method.body["error_code"].is_string(),
        "{:?}",
        wrong_method
    );
}

#[actix_web::test]
async fn a_viewers_refused_writes_are_audited() {
    let app = app_with_viewer().await;
    let card = card_ref(&app, PAN_FULL).await;
    let writes = [
        (
            "/api/v1/tokentransitions".to_owned(),
            json!({"virtual_card_id": "VC-x", "state": "SUSPENDED", "reason_code": "06"}),
            "tokentransition.create",
        ),
        (
            format!("/api/v1/cards/{card}/block"),
            json!({}),
            "card.block",
        ),
        (
            format!("/api/v1/cards/{card}/unblock"),
            json!({}),
            "card.unblock",
        ),
        (
            format!("/api/v1/cards/{card}/replace"),
            json!({"exp": "1231"}),
            "card.replace",
        ),
        (
            "/api/v1/cards".to_owned(),
            json!({"pan": "4000002500003155", "exp": "0930"}),
            "card.upsert",
        ),
        ("/api/v1/rules/reload".to_owned(), json!({}), "rules.reload"),
        (
            "/api/v1/events/0000000000000001/resend".to_owned(),
            json!({}),
            "event.resend",
        ),
    ];
    for (path, body, _) in &writes {
        let reply = app.post_as(VIEWER_TOKEN, path, body).await;
        assert_eq!(reply.status, 403, "{path}: {:?}", reply.body);
    }
    let entries = audit(&app).await;
    for (path, _, what) in &writes {
        let found = entries.iter().any(|e| {
            e["what"] == *what
                && e["who"] == "vera"
                && e["outcome"] == "refused"
                && e["http_status"] == 403
        });
        assert!(found, "no refused audit entry for {path}: {entries:?}");
    }
}

#[actix_web::test]
async fn a_callback_header_given_twice_is_malformed_111() {
    let app = spawn_app().await;
    let body = json!({"cipheredCardInfo": app.card_info(PAN_FULL)}).to_string();
    let cases: [(&str, [(&str, &str); 3]); 2] = [
        (
            "x-issuer-id right then wrong",
            [
                ("x-correlation-id", "twice-1"),
                ("x-issuer-id", ISSUER_ID),
                ("x-issuer-id", "WRONGISSUE"),
            ],
        ),
        (
            "two x-correlation-id",
            [
                ("x-correlation-id", "twice-2"),
                ("x-correlation-id", "twice-3"),
                ("x-issuer-id", ISSUER_ID),
            ],
        ),
    ];
    for (case, headers) in cases {
        let mut request = app
            .client
            .post(format!("{}{PREFIX}/checkCardEligibility", app.address))
            .header("content-type", "application/json");
        let mut map = reqwest::header::HeaderMap::new();
        for (name, value) in headers {
            map.append(name, value.parse().unwrap());
        }
        request = request.headers(map);
        let reply = Reply::of(request.body(body.clone()).send().await.unwrap()).await;
        assert_eq!(reply.status, 400, "{case}: {:?}", reply.body);
        assert_eq!(reply.code(), Some(111), "{case}: {:?}", reply.body);
    }
}

#[actix_web::test]
async fn each_staff_request_leaves_one_log_line_without_its_path_values_or_body() {
    let gateway = MockGateway::start().await;
    let dir = tempfile::tempdir().unwrap();
    let service = ServiceProcess::start(&dir.path().join("store"), &gateway.url, &[]);
    let client = reqwest::Client::new();
    let token_path = format!("{}/api/v1/tokens/{A_PAN}", service.address);
    let reply = client
        .get(&token_path)
        .bearer_auth(STAFF_TOKEN)
        .header("x-correlation-id", "staff-log-1")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 404);
    assert_eq!(reply.headers()["x-correlation-id"], "staff-log-1");
    let reply = client
        .post(format!("{}/api/v1/cards", service.address))
        .json(&json!({"pan": A_PAN, "exp": "1230"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 401);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let log = loop {
        let log = service.log_text();
        if log.matches("staff request").count() >= 2 || std::time::Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("staff request"))
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    let read = lines[0];
    for expected in [
        "GET",
        "/api/v1/tokens/{virtual_card_id}",
        "404",
        "bootstrap",
        "latency_ms",
        "staff-log-1",
    ] {
        assert!(read.contains(expected), "{expected} missing from {read}");
    }
    let write = lines[1];
    for expected in ["POST", "/api/v1/cards", "401", "anonymous"] {
        assert!(write.contains(expected), "{expected} missing from {write}");
    }
    assert_no_pan("the log", &log);
}

/// Sends a request head announcing 1000 bytes of body, then only 10, and reads what comes back
/// until the service closes the connection (bounded: a hung connection fails the test).
async fn stall_body(address: &str, head: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!("{head}Host: {host}\r\nContent-Length: 1000\r\n\r\n{{\"a\": \"12");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(
        read.is_ok(),
        "the connection was still open after 20 s; got {:?}",
        String::from_utf8_lossy(&answer)
    );
    String::from_utf8_lossy(&answer).into_owned()
}

#[actix_web::test]
async fn a_stalled_request_body_is_answered_408_and_the_connection_closed() {
    let app = spawn_app_with(&[("server.request_timeout_ms", "1000")]).await;
    let callback = format!(
        "POST {PREFIX}/checkCardEligibility HTTP/1.1\r\nx-correlation-id: slow-1\r\nx-issuer-id: {ISSUER_ID}\r\ncontent-type: application/json\r\n"
    );
    let answer = stall_body(&app.address, &callback).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"responseCode\":111"), "{answer}");
    let staff = format!("POST /api/v1/cards HTTP/1.1\r\nauthorization: Bearer {STAFF_TOKEN}\r\ncontent-type: application/json\r\n");
    let answer = stall_body(&app.address, &staff).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    // A route that never reads its body still lets the connection go.
    let answer = stall_body(&app.address, "GET /health/live HTTP/1.1\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
}

#[actix_web::test]
async fn get_idnv_method_list_with_an_unknown_virtual_card_id_is_119() {
    let app = spawn_app().await;
    let card = card_ref(&app, PAN_FULL).await;
    let known = "VC-idnv-known";
    let reply = app
        .call(
            "notifyVirtualCardChange",
            &cid("idnv"),
            &notification(&card, known, "ACTIVATE"),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let unknown = app
        .call(
            "getIDnVMethodList",
            &cid("idnv"),
            &json!({"virtualCardId": "VC-nobody-knows"}),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (400, Some(119)),
        "{:?}",
        unknown.body
    );
    // Named with its card, a token not notified yet is fine (the call can precede activation)...
    let not_yet_with_card = app
        .call(
            "getIDnVMethodList",
            &cid("idnv"),
            &json!({"issuerCardRefId": card, "virtualCardId": "VC-not-yet"}),
        )
        .await;
    assert_eq!(
        not_yet_with_card.status, 200,
        "{:?}",
        not_yet_with_card.body
    );
    // ...but a known token of another card is not.
    let other = card_ref(&app, PAN_PHONE_ONLY).await;
    let crossed = app
        .call(
            "getIDnVMethodList",
            &cid("idnv"),
            &json!({"issuerCardRefId": other, "virtualCardId": known}),
        )
        .await;
    assert_eq!(crossed.code(), Some(119), "{:?}", crossed.body);
    let found = app
        .call(
            "getIDnVMethodList",
            &cid("idnv"),
            &json!({"virtualCardId": known}),
        )
        .await;
    assert_eq!(found.status, 200, "{:?}", found.body);
    assert!(!found.body["idvMethodList"].as_array().unwrap().is_empty());
}

#[actix_web::test]
async fn a_notification_naming_a_token_under_another_card_is_119_and_changes_nothing_except_update()
{
    let app = spawn_app().await;
    let card = card_ref(&app, PAN_FULL).await;
    let other = card_ref(&app, PAN_PHONE_ONLY).await;
    let vcid = "VC-cross-card";
    let reply = app
        .call(
            "notifyVirtualCardChange",
            &cid("cross"),
            &notification(&card, vcid, "ACTIVATE"),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let transitions_before = app
        .staff_get(&format!("/api/v1/tokens/{vcid}/transitions"))
        .await
        .body["count"]
        .clone();
    for action in ["SUSPEND", "DELETE", "RESUME", "ERASE"] {
        let correlation = cid("cross");
        let body = notification(&other, vcid, action);
        let reply = app
            .call("notifyVirtualCardChange", &correlation, &body)
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, Some(119)),
            "{action}: {:?}",
            reply.body
        );
        // Nothing was recorded: the same message again is refused again, not a duplicate.
        let again = app
            .call("notifyVirtualCardChange", &correlation, &body)
            .await;
        assert_eq!(again.code(), Some(119), "{action} again: {:?}", again.body);
    }
    let token = app.staff_get(&format!("/api/v1/tokens/{vcid}")).await.body;
    assert_eq!(token["state"], "ACTIVE", "{token}");
    assert_eq!(token["issuer_card_ref_id"], card.as_str());
    let transitions_after = app
        .staff_get(&format!("/api/v1/tokens/{vcid}/transitions"))
        .await
        .body["count"]
        .clone();
    assert_eq!(transitions_before, transitions_after);

    let update = app
        .call(
            "notifyVirtualCardChange",
            &cid("cross"),
            &notification(&other, vcid, "UPDATE"),
        )
        .await;
    assert_eq!(update.status, 200, "{:?}", update.body);
    let token = app.staff_get(&format!("/api/v1/tokens/{vcid}")).await.body;
    assert_eq!(token["issuer_card_ref_id"], other.as_str(), "{token}");
}
