//! Issuer operations that finish (issue 11): a second action on a token with one pending is 409;
//! an operation TSH never notified expires and is settled by asking TSH's getTokenInfo — confirmed
//! when TSH shows the state asked for, failed (token at TSH's state) otherwise.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;
use crate::lifecycle_sync::{with_sim_tsh, SyncSetup};
use crate::mock_tsh::MockTsh;
use crate::notifications::{card_ref, notification};

const EXPIRE_FAST: [(&str, &str); 1] = [("lifecycle.pending_timeout_secs", "1")];

async fn transition(app: &TestApp, vcid: &str, state: &str, code: &str) -> Reply {
    app.staff_post(
        "/api/v1/tokentransitions",
        &json!({"virtual_card_id": vcid, "state": state, "reason_code": code, "reason": "test"}),
    )
    .await
}

async fn wait_for_operation(app: &TestApp, token: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let op = app
            .staff_get(&format!("/api/v1/tokentransitions/{token}"))
            .await
            .body;
        if op["status"] == status {
            return op;
        }
        assert!(
            Instant::now() < deadline,
            "operation stayed {}: {op:#}",
            op["status"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The simulator's TSH applies the staff action but its notification is lost (sent nowhere).
async fn lost_notifications(settings: &[(&str, &str)]) -> SyncSetup {
    let s = with_sim_tsh(settings).await;
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", nowhere.local_addr().unwrap());
    drop(nowhere);
    s.tsh.set_target(tsh_issuer::sim::tsh::IssuerTarget {
        url: dead,
        ..s.tsh.target()
    });
    s
}

#[actix_web::test]
async fn a_pending_operation_blocks_a_second_action_and_is_listed() {
    // A timeout no test run reaches: the operation stays pending while it is looked at.
    let s = lost_notifications(&[("lifecycle.pending_timeout_secs", "3600")]).await;
    s.tsh.register(&s.card, "VC-exp-1", "ACTIVE", None).unwrap();
    s.deliver("VC-exp-1", "ACTIVATE").await;

    let first = transition(&s.app, "VC-exp-1", "SUSPENDED", "06").await;
    assert_eq!(first.status, 202, "{:?}", first.body);
    let token = first.body["token"].as_str().unwrap().to_owned();
    let second = transition(&s.app, "VC-exp-1", "TERMINATED", "00").await;
    assert_eq!(second.status, 409, "{:?}", second.body);
    let message = second.body["error_message"].as_str().unwrap();
    assert!(message.contains(&token), "{message}");
    let block = s
        .app
        .staff_post(&format!("/api/v1/cards/{}/block", s.card), &json!({}))
        .await;
    assert_eq!(
        block.status, 409,
        "a card action covering the token waits too"
    );

    // Visible while pending: the list and the token's sync record.
    let pending = s
        .app
        .staff_get("/api/v1/tokentransitions?status=PENDING")
        .await;
    assert_eq!(pending.status, 200, "{:?}", pending.body);
    assert!(pending.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|op| op["token"] == token.as_str()));
    let sync = s.sync_of("VC-exp-1").await;
    assert_eq!(sync["pending_operation"]["token"], token.as_str());
}

#[actix_web::test]
async fn a_pending_operation_tsh_never_notified_expires_and_is_confirmed_by_tsh() {
    let s = lost_notifications(&EXPIRE_FAST).await;
    s.tsh.register(&s.card, "VC-exp-1", "ACTIVE", None).unwrap();
    s.deliver("VC-exp-1", "ACTIVATE").await;
    let first = transition(&s.app, "VC-exp-1", "SUSPENDED", "06").await;
    assert_eq!(first.status, 202, "{:?}", first.body);
    let token = first.body["token"].as_str().unwrap().to_owned();

    // TSH never notified; after lifecycle.pending_timeout_secs TSH is asked and shows SUSPENDED.
    let op = wait_for_operation(&s.app, &token, "CONFIRMED").await;
    assert!(op["expiry"]["settled_time"].is_string(), "{op:#}");
    assert_eq!(op["tokens"][0]["outcome"], "confirmed");
    assert_eq!(op["tokens"][0]["detail"], "settled_by_tsh");
    assert_eq!(s.state_of("VC-exp-1").await, "SUSPENDED");
    let history = s.transitions("VC-exp-1").await;
    let last = history.last().unwrap();
    assert_eq!(last["action"], "EXPIRED_OPERATION", "{last}");
    assert_eq!(last["channel"], "SYSTEM");
    assert_eq!(last["reason_code"], "06", "the staff reason code is kept");

    // Finished: the token takes another action.
    let again = transition(&s.app, "VC-exp-1", "ACTIVE", "00").await;
    assert_eq!(again.status, 202, "{:?}", again.body);
}

#[actix_web::test]
async fn an_expired_operation_tsh_does_not_show_fails_and_the_token_keeps_tsh_state() {
    // The mock TSH accepts but never notifies, and its getTokenInfo says ACTIVE.
    let tsh = MockTsh::start().await;
    let mut settings = vec![("tsh.base_url", tsh.base_url.as_str())];
    settings.extend_from_slice(&EXPIRE_FAST);
    settings.extend_from_slice(&crate::lifecycle_sync::FAST_SYNC);
    let app = spawn_app_with(&settings).await;
    let card = card_ref(&app, PAN_FULL).await;
    app.call(
        "notifyVirtualCardChange",
        &cid("exp-act"),
        &notification(&card, "VC-exp-2", "ACTIVATE"),
    )
    .await;
    let reply = transition(&app, "VC-exp-2", "SUSPENDED", "06").await;
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    let token = reply.body["token"].as_str().unwrap().to_owned();
    let op = wait_for_operation(&app, &token, "FAILED").await;
    let error = op["error"].as_str().unwrap();
    assert!(error.contains("TSH reports ACTIVE"), "{error}");
    assert_eq!(op["tokens"][0]["outcome"], "failed");
    let state = app.staff_get("/api/v1/tokens/VC-exp-2").await.body["state"].clone();
    assert_eq!(state, "ACTIVE");
    assert!(tsh
        .requests()
        .iter()
        .any(|r| r.operation == "getTokenInfo" && r.body["virtualCardId"] == "VC-exp-2"));
}
