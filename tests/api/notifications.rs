//! `notifyVirtualCardChange`: token records, the state machine, duplicates and late messages.

use serde_json::{json, Value};

use crate::helpers::*;

pub async fn card_ref(app: &TestApp, pan: &str) -> String {
    let reply = app.eligibility(&cid("ref"), pan).await;
    reply.body["issuerCardRefId"].as_str().unwrap().to_owned()
}

pub fn notification(card_ref: &str, vcid: &str, action: &str) -> Value {
    json!({"issuerCardRefId": card_ref, "virtualCardId": vcid, "walletProviderId": "APPLE_PAY", "action": action, "source": "WALLET"})
}

async fn token(app: &TestApp, vcid: &str) -> Value {
    let reply = app.staff_get(&format!("/api/v1/tokens/{vcid}")).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body
}

async fn transitions(app: &TestApp, vcid: &str) -> Vec<Value> {
    let reply = app
        .staff_get(&format!("/api/v1/tokens/{vcid}/transitions"))
        .await;
    reply.body["data"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn lifecycle_with_duplicates_and_late_messages() {
    let app = spawn_app().await;
    let card = card_ref(&app, PAN_FULL).await;
    let vcid = "VC-lifecycle-1";
    let send = |action: &str, correlation: &str| {
        let body = notification(&card, vcid, action);
        let correlation = correlation.to_owned();
        let app = &app;
        async move {
            app.call("notifyVirtualCardChange", &correlation, &body)
                .await
        }
    };
    let activate = send("ACTIVATE", "c-activate").await;
    assert_eq!((activate.status, activate.body.clone()), (200, json!({})));
    assert_eq!(token(&app, vcid).await["state"], "ACTIVE");
    // Exact duplicate: 200, recorded once.
    assert_eq!(send("ACTIVATE", "c-activate").await.status, 200);
    assert_eq!(transitions(&app, vcid).await.len(), 1);

    assert_eq!(send("SUSPEND", "c-suspend").await.status, 200);
    assert_eq!(token(&app, vcid).await["state"], "SUSPENDED");
    // A late activation (different correlation id) must not undo the suspension.
    assert_eq!(send("ACTIVATE", "c-late").await.status, 200);
    assert_eq!(token(&app, vcid).await["state"], "SUSPENDED");

    assert_eq!(send("RESUME", "c-resume").await.status, 200);
    assert_eq!(token(&app, vcid).await["state"], "ACTIVE");
    assert_eq!(send("DELETE", "c-delete").await.status, 200);
    assert_eq!(send("RESUME", "c-resume-2").await.status, 200);
    assert_eq!(
        token(&app, vcid).await["state"],
        "DELETED",
        "a deleted token never comes back"
    );

    let history = transitions(&app, vcid).await;
    let types: Vec<&str> = history
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        vec![
            "state.activated",
            "state.suspended",
            "state.reinstated",
            "state.terminated"
        ]
    );
    assert_eq!(history[1]["from_state"], "ACTIVE");
    assert_eq!(history[1]["state"], "SUSPENDED");
    assert_eq!(history[1]["channel"], "TOKEN_SERVICE_PROVIDER");
    assert_eq!(history[1]["correlation_id"], "c-suspend");
    assert_eq!(history[1]["source"], "WALLET");
}

#[actix_web::test]
async fn an_error_code_is_recorded_without_a_state_change() {
    let app = spawn_app().await;
    let card = card_ref(&app, PAN_FULL).await;
    let vcid = "VC-error-1";
    app.call(
        "notifyVirtualCardChange",
        &cid("n"),
        &notification(&card, vcid, "ACTIVATE"),
    )
    .await;
    let mut failed = notification(&card, vcid, "SUSPEND");
    failed["errorCode"] = json!(221);
    let reply = app
        .call("notifyVirtualCardChange", "c-failed-suspend", &failed)
        .await;
    assert_eq!(reply.status, 200);
    let t = token(&app, vcid).await;
    assert_eq!(t["state"], "ACTIVE");
    assert_eq!(t["last_error"]["error_code"], 221);
    assert_eq!(t["last_error"]["correlation_id"], "c-failed-suspend");
    assert_eq!(transitions(&app, vcid).await.len(), 1);
}

#[actix_web::test]
async fn the_token_number_is_kept_masked_only() {
    let app = spawn_app().await;
    let card = card_ref(&app, PAN_FULL).await;
    let mut body = notification(&card, "VC-masked", "ACTIVATE");
    body["tokenInfo"] = json!({"tokenPan": "4895370012003478", "tokenExpiry": "1229"});
    app.call("notifyVirtualCardChange", &cid("n"), &body).await;
    let t = token(&app, "VC-masked").await;
    assert_eq!(t["token_masked"], "489537******3478");
    assert_eq!(t["token_last4"], "3478");
    assert!(!t.to_string().contains("4895370012003478"));
}

#[actix_web::test]
async fn notifications_link_to_the_enrolment_and_list_under_the_card() {
    let app = spawn_app().await;
    let correlation = cid("enrol");
    let elig = app.eligibility(&correlation, PAN_FULL).await;
    let card = elig.body["issuerCardRefId"].as_str().unwrap().to_owned();
    let body = digitization_body(&app, PAN_FULL, "BANK_APP", json!({}));
    app.call("requestCardDigitization", &correlation, &body)
        .await;
    app.call(
        "notifyVirtualCardChange",
        &correlation,
        &notification(&card, "VC-enrol", "ACTIVATE"),
    )
    .await;

    let t = token(&app, "VC-enrol").await;
    assert_eq!(t["decision"]["level_of_trust"], "green");
    assert_eq!(t["decision"]["decided_by"], "issuer");
    // The rule trace is stored once, with the decision, and shown with the token.
    let decision_id = t["decision"]["decision_id"].as_str().unwrap();
    let decision = app
        .staff_get(&format!("/api/v1/decisions/{decision_id}"))
        .await;
    assert!(!decision.body["rules"].as_array().unwrap().is_empty());
    assert_eq!(t["decision"]["rules"], decision.body["rules"]);
    assert_eq!(t["correlation_id"], correlation.as_str());
    let view = app
        .staff_get(&format!("/api/v1/enrollments/{correlation}"))
        .await;
    assert_eq!(view.body["notifications"][0]["virtual_card_id"], "VC-enrol");
    assert_eq!(view.body["notifications"][0]["action"], "ACTIVATE");
    let tokens = app.staff_get(&format!("/api/v1/cards/{card}/tokens")).await;
    assert_eq!(tokens.body["count"], 1);
    assert_eq!(
        tokens.body["data"][0]["decision"]["rules"],
        decision.body["rules"]
    );
    assert_eq!(tokens.body["data"][0]["virtual_card_id"], "VC-enrol");
}

#[actix_web::test]
async fn invalid_notifications_change_nothing() {
    let app = spawn_app().await;
    let card = card_ref(&app, PAN_FULL).await;
    let cases = vec![
        (
            "unknown card",
            notification("ICR-unknown", "VC-x", "ACTIVATE"),
            116,
        ),
        (
            "missing virtualCardId",
            json!({"issuerCardRefId": card, "walletProviderId": "W", "action": "ACTIVATE"}),
            111,
        ),
        (
            "missing walletProviderId",
            json!({"issuerCardRefId": card, "virtualCardId": "VC-x", "action": "ACTIVATE"}),
            111,
        ),
        (
            "virtualCardId too long",
            notification(&card, &"V".repeat(65), "ACTIVATE"),
            111,
        ),
        (
            "errorCode not a number",
            {
                let mut n = notification(&card, "VC-x", "SUSPEND");
                n["errorCode"] = json!("boom");
                n
            },
            111,
        ),
    ];
    for (name, body, code) in cases {
        let reply = app
            .call("notifyVirtualCardChange", &cid("bad"), &body)
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, Some(code)),
            "{name}: {:?}",
            reply.body
        );
    }
    let all = app.staff_get("/api/v1/tokens").await;
    assert_eq!(
        all.body["count"], 0,
        "no token may have been created: {:?}",
        all.body
    );
}
