//! The outbound event feed: every token state change, decision and stand-in reaches the
//! simulator's receiver signed, at least once, in order per token — also when the receiver is
//! down for a while and when the service is killed and restarted in between; the staff list,
//! resend, and startup refusing a bad key.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpServer};
use serde_json::{json, Value};
use tsh_issuer::config::DEV_EVENTS_SECRET;
use tsh_issuer::sim::receiver::{self, ReceiverState};

use crate::helpers::*;
use crate::notifications::{card_ref, notification};

/// The simulator's event receiver on a free loopback port, checking with the dev key.
pub fn start_receiver() -> (String, Arc<ReceiverState>) {
    let state = ReceiverState::new(hex::decode(DEV_EVENTS_SECRET).unwrap(), false);
    let data = web::Data::from(state.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server =
        HttpServer::new(move || App::new().configure(|cfg| receiver::configure(cfg, data.clone())))
            .workers(1)
            .listen(listener)
            .unwrap()
            .run();
    actix_web::rt::spawn(server);
    (format!("http://127.0.0.1:{port}/events"), state)
}

/// Quick retries so tests that make the receiver fail do not wait long.
const FAST_RETRIES: [(&str, &str); 3] = [
    ("events.backoff_initial_ms", "20"),
    ("events.backoff_max_secs", "1"),
    ("events.poll_interval_ms", "50"),
];

async fn app_with_feed(url: &str) -> TestApp {
    // No TSH: every notification takes effect at once (no held checks), so event counts are exact.
    let mut settings = vec![("events.webhook_url", url), ("tsh.base_url", "")];
    settings.extend_from_slice(&FAST_RETRIES);
    spawn_app_with(&settings).await
}

/// Waits until the receiver holds events matching `done`; returns them.
pub async fn wait_for_events(
    state: &ReceiverState,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let events = state.events();
        if done(&events) {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; received: {events:#?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The `(type, state)` of each verified, first-time event of one token, in arrival order.
fn token_events(events: &[Value], vcid: &str) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|e| e["event"]["data"]["virtual_card_id"] == vcid && e["duplicate"] == false)
        .map(|e| {
            (
                e["event"]["type"].as_str().unwrap_or_default().to_owned(),
                e["event"]["data"]["state"]
                    .as_str()
                    .or(e["event"]["data"]["level_of_trust"].as_str())
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

fn assert_all_verified_in_order(events: &[Value]) {
    for e in events {
        assert_eq!(e["verified"], true, "signature refused: {e}");
        assert_eq!(e["out_of_order"], false, "delivered out of order: {e}");
    }
}

fn states(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[actix_web::test]
async fn every_state_change_decision_and_stand_in_arrives_signed_in_order_per_token() {
    let (url, receiver) = start_receiver();
    let app = app_with_feed(&url).await;
    let card = card_ref(&app, PAN_FULL).await;
    for (vcid, actions) in [
        ("VC-ev-A", ["ACTIVATE", "SUSPEND", "RESUME"]),
        ("VC-ev-B", ["ACTIVATE", "SUSPEND", "DELETE"]),
    ] {
        for action in actions {
            let reply = app
                .call(
                    "notifyVirtualCardChange",
                    &cid("ev"),
                    &notification(&card, vcid, action),
                )
                .await;
            assert_eq!(reply.status, 200, "{:?}", reply.body);
        }
    }
    let correlation = cid("ev-dig");
    app.eligibility(&correlation, PAN_FULL).await;
    let body = digitization_body(&app, PAN_FULL, "BANK_APP", json!({}));
    let decision = app
        .call("requestCardDigitization", &correlation, &body)
        .await;
    assert_eq!(decision.body["levelOfTrust"], "green");
    let standin = app
        .call(
            "notifyStandInProcess",
            &cid("ev-standin"),
            &json!({"issuerCardRefId": card, "virtualCardId": "VC-ev-C", "walletProviderId": "APPLE_PAY", "standInDecision": "APPROVED"}),
        )
        .await;
    assert_eq!(standin.status, 200, "{:?}", standin.body);

    let events = wait_for_events(&receiver, "9 events", |e| e.len() >= 9).await;
    assert_all_verified_in_order(&events);
    assert_eq!(
        token_events(&events, "VC-ev-A"),
        states(&[
            ("token.state_changed", "ACTIVE"),
            ("token.state_changed", "SUSPENDED"),
            ("token.state_changed", "ACTIVE")
        ])
    );
    assert_eq!(
        token_events(&events, "VC-ev-B"),
        states(&[
            ("token.state_changed", "ACTIVE"),
            ("token.state_changed", "SUSPENDED"),
            ("token.state_changed", "DELETED")
        ])
    );
    let types: Vec<&str> = events
        .iter()
        .filter_map(|e| e["event"]["type"].as_str())
        .collect();
    assert!(types.contains(&"decision.created"), "{types:?}");
    assert!(types.contains(&"standin.recorded"), "{types:?}");
    // The stand-in created VC-ev-C: its decision and its first state, in that order.
    assert_eq!(token_events(&events, "VC-ev-C").len(), 2, "{events:#?}");
    for e in &events {
        let body = e["event"].to_string();
        let keys: Vec<&String> = e["event"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["created_time", "data", "id", "type"], "{body}");
        assert!(
            !body.contains(PAN_FULL) && !body.contains("411111"),
            "card data in {body}"
        );
    }

    // The staff view: delivered, one attempt each, newest first, filter by status. The service
    // records a delivery after the receiver's answer: wait (bounded) for the last one.
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.staff_get("/api/v1/events?status=pending").await.body["count"] != 0 {
        assert!(Instant::now() < deadline, "deliveries never recorded");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let list = app.staff_get("/api/v1/events?count=50").await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    assert_eq!(list.body["count"], 9);
    let data = list.body["data"].as_array().unwrap();
    assert!(
        data[0]["id"].as_str() > data[8]["id"].as_str(),
        "newest first"
    );
    assert!(data
        .iter()
        .all(|e| e["status"] == "delivered" && e["attempts"] == 1));
    let pending = app.staff_get("/api/v1/events?status=pending").await;
    assert_eq!(pending.body["count"], 0, "{:?}", pending.body);
    let bad = app.staff_get("/api/v1/events?status=lost").await;
    assert_eq!(bad.status, 400);
}

#[actix_web::test]
async fn a_failing_receiver_delays_events_not_callbacks_and_they_arrive_in_order_later() {
    let (url, receiver) = start_receiver();
    receiver.set_failing(true);
    let app = app_with_feed(&url).await;
    let card = card_ref(&app, PAN_FULL).await;
    for action in ["ACTIVATE", "SUSPEND", "RESUME", "SUSPEND"] {
        let reply = app
            .call(
                "notifyVirtualCardChange",
                &cid("down"),
                &notification(&card, "VC-ev-down", action),
            )
            .await;
        assert_eq!(
            reply.status, 200,
            "a down receiver must not fail a callback"
        );
    }
    // The first event is retried (503) while the later ones of the same token wait behind it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let first = loop {
        let list = app.staff_get("/api/v1/events?status=pending").await;
        let data = list.body["data"].as_array().cloned().unwrap_or_default();
        let oldest = data.last().cloned().unwrap_or(Value::Null);
        if oldest["attempts"].as_u64().unwrap_or(0) >= 2 {
            assert_eq!(list.body["count"], 4, "{:?}", list.body);
            for later in &data[..3] {
                assert_eq!(
                    later["attempts"], 0,
                    "a later event was sent first: {later}"
                );
            }
            break oldest;
        }
        assert!(Instant::now() < deadline, "no retries seen: {data:#?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(first["last_status"], 503, "{first}");
    assert!(first["last_error"].as_str().unwrap().contains("503"));

    receiver.set_failing(false);
    let events = wait_for_events(&receiver, "4 events", |e| e.len() >= 4).await;
    assert_all_verified_in_order(&events);
    let got: Vec<String> = token_events(&events, "VC-ev-down")
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(got, ["ACTIVE", "SUSPENDED", "ACTIVE", "SUSPENDED"]);
}

#[actix_web::test]
async fn resend_delivers_the_same_event_again_and_is_for_operators_only() {
    let (url, receiver) = start_receiver();
    let app = app_with_feed(&url).await;
    let card = card_ref(&app, PAN_FULL).await;
    app.call(
        "notifyVirtualCardChange",
        &cid("resend"),
        &notification(&card, "VC-ev-resend", "ACTIVATE"),
    )
    .await;
    let events = wait_for_events(&receiver, "one event", |e| e.len() == 1).await;
    let id = events[0]["event"]["id"].as_str().unwrap().to_owned();

    let resent = app
        .staff_post(&format!("/api/v1/events/{id}/resend"), &json!({}))
        .await;
    assert_eq!(resent.status, 202, "{:?}", resent.body);
    assert_eq!(resent.body["status"], "pending");
    assert_eq!(resent.body["resends"], 1);
    let events = wait_for_events(&receiver, "the resent copy", |e| e.len() == 2).await;
    assert_eq!(events[1]["event"]["id"], id.as_str());
    assert_eq!(
        events[1]["duplicate"], true,
        "same id: the receiver can drop it"
    );
    assert_eq!(events[1]["verified"], true);

    let unknown = app
        .staff_post("/api/v1/events/evt-00000000000fffff/resend", &json!({}))
        .await;
    assert_eq!(unknown.status, 404);
    let one = app.staff_get(&format!("/api/v1/events/{id}")).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["type"], "token.state_changed");
    let audit = app.staff_get("/api/v1/audit?count=5").await;
    let whats: Vec<&str> = audit.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["what"].as_str())
        .collect();
    assert!(whats.contains(&"event.resend"), "{whats:?}");
}

#[actix_web::test]
async fn without_a_webhook_no_outbox_is_written_and_resend_is_refused() {
    let app = spawn_app().await;
    let card = card_ref(&app, PAN_FULL).await;
    app.call(
        "notifyVirtualCardChange",
        &cid("off"),
        &notification(&card, "VC-ev-off", "ACTIVATE"),
    )
    .await;
    let list = app.staff_get("/api/v1/events").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["count"], 0);
    let resend = app
        .staff_post("/api/v1/events/evt-0000000000000001/resend", &json!({}))
        .await;
    assert_eq!(resend.status, 409, "{:?}", resend.body);
}

#[actix_web::test]
async fn events_survive_a_hard_kill_and_arrive_in_order_per_token_after_restart() {
    let (url, receiver) = start_receiver();
    receiver.set_failing(true);
    let gateway = MockGateway::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let env = [
        ("TSH_ISSUER__EVENTS__WEBHOOK_URL", url.as_str()),
        ("TSH_ISSUER__EVENTS__BACKOFF_INITIAL_MS", "20"),
        ("TSH_ISSUER__EVENTS__BACKOFF_MAX_SECS", "1"),
        ("TSH_ISSUER__EVENTS__POLL_INTERVAL_MS", "50"),
    ];
    let mut first = ServiceProcess::start(&store, &gateway.url, &env);
    let client = ProcessClient::new(&first.address);
    let elig = client
        .call(
            "checkCardEligibility",
            "restart-events",
            &json!({"cipheredCardInfo": dev_seal(&json!({"fpan": PAN_FULL, "exp": "1230"}))}),
        )
        .await;
    let card = elig.body["issuerCardRefId"].as_str().unwrap().to_owned();
    let script = [
        ("VC-rs-1", "ACTIVATE"),
        ("VC-rs-2", "ACTIVATE"),
        ("VC-rs-1", "SUSPEND"),
        ("VC-rs-2", "SUSPEND"),
        ("VC-rs-1", "RESUME"),
    ];
    for (i, (vcid, action)) in script.iter().enumerate() {
        let reply = client
            .call(
                "notifyVirtualCardChange",
                &format!("restart-events-{i}"),
                &notification(&card, vcid, action),
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    // The receiver refused everything so far; the outbox holds them when the process dies.
    first.kill_hard();
    assert!(receiver.events().is_empty());
    receiver.set_failing(false);

    let second = ServiceProcess::start(&store, &gateway.url, &env);
    let client = ProcessClient::new(&second.address);
    let events = wait_for_events(&receiver, "5 events after restart", |e| {
        e.iter().filter(|e| e["duplicate"] == false).count() >= 5
    })
    .await;
    assert_all_verified_in_order(&events);
    let one: Vec<String> = token_events(&events, "VC-rs-1")
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(one, ["ACTIVE", "SUSPENDED", "ACTIVE"]);
    let two: Vec<String> = token_events(&events, "VC-rs-2")
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(two, ["ACTIVE", "SUSPENDED"]);
    // Recorded as delivered after the receiver's answer: bounded wait.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = client.staff_get("/api/v1/events?status=delivered").await;
        if list.body["count"] == 5 {
            break;
        }
        assert!(Instant::now() < deadline, "{:?}", list.body);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[test]
fn a_bad_event_secret_refuses_startup_naming_the_key() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tsh-issuer"))
        .arg("serve")
        .current_dir(repo_root())
        .env_remove("TSH_ISSUER_ENV")
        .env(
            "TSH_ISSUER__EVENTS__WEBHOOK_URL",
            "http://127.0.0.1:9/events",
        )
        .env("TSH_ISSUER__EVENTS__SECRET", "not-hex")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("events.secret"), "{stderr}");
    assert!(
        !stderr.contains("not-hex"),
        "the value is not echoed: {stderr}"
    );
}
