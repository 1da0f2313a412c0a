//! The simulator's TSH inbound API (`tsh-sim serve`, `src/sim/tsh.rs`) against a service on port 0
//! whose `tsh.base_url` points at it: staff suspend and resume a token through the staff API, the
//! simulated TSH answers, notifies back with the same correlation id, and the state is applied.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tsh_issuer::sim::gateway::{self, GatewayState};
use tsh_issuer::sim::tsh::{self, IssuerTarget, TshState};

use crate::helpers::*;

/// The simulator's server (gateway + TSH) on a free loopback port; returns its base URL.
fn start_sim() -> (String, Arc<TshState>) {
    let state = TshState::new(IssuerTarget::default(), None, false);
    let data = actix_web::web::Data::from(state.clone());
    let running = gateway::start_with(
        "127.0.0.1:0".parse().unwrap(),
        GatewayState::new(false),
        move |cfg| tsh::configure(cfg, data.clone()),
    )
    .unwrap();
    let base = running.base_url();
    actix_web::rt::spawn(running.server);
    (base, state)
}

async fn token_state(app: &TestApp, vcid: &str) -> Value {
    app.staff_get(&format!("/api/v1/tokens/{vcid}")).await.body["state"].clone()
}

/// Polls the token (at most 50 × 100 ms) until it reaches `state`.
async fn wait_for_state(app: &TestApp, vcid: &str, state: &str) {
    for _ in 0..50 {
        if token_state(app, vcid).await == state {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "token {vcid} never became {state}: {}",
        token_state(app, vcid).await
    );
}

async fn staff_transition(app: &TestApp, vcid: &str, state: &str) -> String {
    let reply = app
        .staff_post(
            "/api/v1/tokentransitions",
            &json!({"virtual_card_id": vcid, "state": state, "reason_code": "06"}),
        )
        .await;
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    reply.body["token"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn staff_suspend_and_resume_go_through_the_simulated_tsh() {
    let (sim, tsh_state) = start_sim();
    let base_url = format!("{sim}{}", tsh::TSH_PREFIX);
    let app = spawn_app_with(&[("tsh.base_url", base_url.as_str())]).await;
    tsh_state.set_target(IssuerTarget {
        url: app.address.clone(),
        ..IssuerTarget::default()
    });

    // A token: eligibility, the wallet's ACTIVATE to the service, and the same token told to TSH.
    let reply = app.eligibility(&cid("simtsh"), PAN_FULL).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let card = reply.body["issuerCardRefId"].as_str().unwrap().to_owned();
    let vcid = format!("VC-{}", cid("simtsh"));
    let activate = json!({"issuerCardRefId": card, "virtualCardId": vcid, "walletProviderId": "APPLE_PAY", "action": "ACTIVATE", "source": "WALLET"});
    let reply = app
        .call("notifyVirtualCardChange", &cid("act"), &activate)
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let client = reqwest::Client::new();
    let registered = client
        .post(format!("{sim}/tsh/tokens"))
        .json(&json!({"issuer_card_ref_id": card, "virtual_card_id": vcid, "state": "ACTIVE"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 200);

    // Suspend: updateCardState reaches the sim, whose notification applies the state.
    let suspend = staff_transition(&app, &vcid, "SUSPENDED").await;
    wait_for_state(&app, &vcid, "SUSPENDED").await;
    assert_eq!(tsh_state.state_of(&vcid).as_deref(), Some("SUSPENDED"));
    let transitions = app
        .staff_get(&format!("/api/v1/tokens/{vcid}/transitions"))
        .await;
    let last = transitions.body["data"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["state"], "SUSPENDED", "{last}");
    assert_eq!(last["channel"], "API", "{last}");
    assert_eq!(last["correlation_id"], suspend.as_str(), "{last}");

    // Resume: active again, through the same path.
    let resume = staff_transition(&app, &vcid, "ACTIVE").await;
    wait_for_state(&app, &vcid, "ACTIVE").await;
    assert_eq!(tsh_state.state_of(&vcid).as_deref(), Some("ACTIVE"));

    // What the sim saw: two updateCardState with the service's headers, each notified back once.
    let requests: Vec<Value> = client
        .get(format!("{sim}/tsh/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ops: Vec<&Value> = requests
        .iter()
        .filter(|r| r["operation"] == "updateCardState")
        .collect();
    assert_eq!(ops.len(), 2, "{requests:?}");
    for (op, (correlation_id, action)) in
        ops.iter().zip([(&suspend, "SUSPEND"), (&resume, "RESUME")])
    {
        assert_eq!(op["correlation_id"], correlation_id.as_str(), "{op}");
        assert_eq!(op["issuer_id"], ISSUER_ID, "{op}");
        assert_eq!(op["request"]["action"], action, "{op}");
        assert_eq!(op["status"], 200, "{op}");
    }
    // The notification outcome is recorded after it is delivered (bounded wait).
    for _ in 0..50 {
        let all = tsh_state.requests();
        if all
            .iter()
            .filter(|r| r["operation"] == "updateCardState")
            .all(|r| {
                r["notifications"]
                    .as_array()
                    .is_some_and(|n| n.len() == 1 && n[0]["delivered"] == true)
            })
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for op in tsh_state
        .requests()
        .iter()
        .filter(|r| r["operation"] == "updateCardState")
    {
        assert_eq!(op["notifications"][0]["delivered"], true, "{op}");
        assert_eq!(op["notifications"][0]["status"], 200, "{op}");
    }
    let op = app
        .staff_get(&format!("/api/v1/tokentransitions/{suspend}"))
        .await;
    assert_eq!(op.body["status"], "CONFIRMED", "{:?}", op.body);
}

#[actix_web::test]
async fn the_simulated_tsh_checks_headers_and_answers_by_token() {
    let (sim, tsh_state) = start_sim();
    let client = reqwest::Client::new();
    let post = |operation: &str, headers: &[(&str, &str)], body: Value| {
        let mut request = client
            .post(format!("{sim}{}/{operation}", tsh::TSH_PREFIX))
            .json(&body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let both = [("x-correlation-id", "c-1"), ("x-issuer-id", ISSUER_ID)];

    let (status, body) = post(
        "getCardInfo",
        &[("x-issuer-id", ISSUER_ID)],
        json!({"issuerCardRefId": "C"}),
    )
    .await;
    assert_eq!(
        (status, body["responseCode"].clone()),
        (400, json!(111)),
        "{body}"
    );
    let (status, body) = post(
        "getCardInfo",
        &[("x-correlation-id", "c-1")],
        json!({"issuerCardRefId": "C"}),
    )
    .await;
    assert_eq!(
        (status, body["responseCode"].clone()),
        (400, json!(111)),
        "{body}"
    );

    tsh_state
        .register("CARD-A", "VC-A", "SUSPENDED", None)
        .unwrap();
    // Operation names are case-insensitive.
    let (status, body) = post("GETCARDINFO", &both, json!({"issuerCardRefId": "CARD-A"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["virtualCardList"][0]["virtualCardId"], "VC-A");
    assert_eq!(body["virtualCardList"][0]["status"], "SUSPENDED");
    let (status, body) = post(
        "getTokenInfo",
        &both,
        json!({"issuerCardRefId": "CARD-A", "virtualCardId": "VC-A"}),
    )
    .await;
    assert_eq!(
        (status, body["status"].clone()),
        (200, json!("SUSPENDED")),
        "{body}"
    );
    let (status, body) = post("getTokenInfo", &both, json!({"virtualCardId": "VC-404"})).await;
    assert_eq!(
        (status, body["responseCode"].clone()),
        (400, json!(119)),
        "{body}"
    );

    // updateCard: accepted sealed (no --tsh-key), the tokens move to the new reference. The
    // notification to the (absent) issuer fails and is listed, not retried.
    tsh_state.set_target(IssuerTarget {
        url: "http://127.0.0.1:9".into(),
        ..IssuerTarget::default()
    });
    let (status, body) = post(
        "updateCard",
        &both,
        json!({"issuerCardRefId": "CARD-A", "newIssuerCardRefId": "CARD-B", "fpanDetails": "c2VhbGVk"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let tokens: Vec<Value> = client
        .get(format!("{sim}/tsh/tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["issuer_card_ref_id"], "CARD-B");
    let mut failed = Value::Null;
    for _ in 0..100 {
        let requests = tsh_state.requests();
        failed = requests.last().unwrap()["notifications"][0].clone();
        if !failed.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(failed["delivered"], false, "{failed}");
    assert_eq!(failed["action"], "UPDATE", "{failed}");
    let listed = serde_json::to_string(&tsh_state.requests()).unwrap();
    assert!(
        !listed.contains("c2VhbGVk"),
        "sealed card data is not listed: {listed}"
    );

    // The admin endpoint refuses bad registrations.
    let refused = client
        .post(format!("{sim}/tsh/tokens"))
        .json(&json!({"issuer_card_ref_id": "C", "virtual_card_id": "V", "state": "LOST"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
}
