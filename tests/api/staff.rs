//! Staff API: authentication, card upsert, pagination, health.

use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn staff_endpoints_need_the_bearer_token() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/decisions",
        "/api/v1/tokens",
        "/api/v1/tokens/x",
        "/api/v1/enrollments/x",
    ] {
        let none = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(none.status().as_u16(), 401, "{path} without token");
        let wrong = app
            .client
            .get(format!("{}{path}", app.address))
            .bearer_auth("not-the-token-at-all")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status().as_u16(), 401, "{path} with a wrong token");
    }
}

#[actix_web::test]
async fn cards_are_upserted_masked_and_idempotently() {
    let app = spawn_app().await;
    let card = json!({"pan": "4000002500003155", "exp": "0930", "status": "ACTIVE", "phone": "+33612345678"});
    let created = app.staff_post("/api/v1/cards", &card).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["pan_masked"], "400000******3155");
    assert_eq!(created.body["product_id"], "VISA-DEFAULT-DEV");
    assert!(!created.body.to_string().contains("4000002500003155"));
    let again = app.staff_post("/api/v1/cards", &card).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        again.body["issuer_card_ref_id"],
        created.body["issuer_card_ref_id"]
    );
    assert_eq!(again.body["result"], "unchanged");

    // The card is now eligible.
    let elig = app.eligibility(&cid("new"), "4000002500003155").await;
    assert_eq!(elig.status, 200, "{:?}", elig.body);
    assert_eq!(
        elig.body["issuerCardRefId"],
        created.body["issuer_card_ref_id"]
    );

    let invalid = app
        .staff_post(
            "/api/v1/cards",
            &json!({"pan": "4000002500003156", "exp": "0930"}),
        )
        .await;
    assert_eq!(invalid.status, 400);
    assert!(invalid.body["error_message"]
        .as_str()
        .unwrap()
        .contains("pan"));
    assert!(!invalid.body.to_string().contains("4000002500003156"));
    let bad_exp = app
        .staff_post(
            "/api/v1/cards",
            &json!({"pan": "4000002500003155", "exp": "1399"}),
        )
        .await;
    assert_eq!(bad_exp.status, 400);
}

#[actix_web::test]
async fn decisions_are_paginated_newest_first() {
    let app = spawn_app().await;
    for capture in ["BANK_APP", "CAMERA", "ON_FILE"] {
        let body = digitization_body(&app, PAN_FULL, capture, json!({}));
        app.call("requestCardDigitization", &cid(capture), &body)
            .await;
    }
    let first = app.staff_get("/api/v1/decisions?count=2").await;
    assert_eq!(first.body["count"], 2);
    assert_eq!(first.body["start_index"], 0);
    assert_eq!(first.body["end_index"], 1);
    assert_eq!(first.body["is_more"], true);
    assert_eq!(first.body["data"][0]["facts"]["capture_method"], "ON_FILE");
    let next = app
        .staff_get("/api/v1/decisions?count=2&start_index=2")
        .await;
    assert_eq!(next.body["count"], 1);
    assert_eq!(next.body["is_more"], false);
    assert_eq!(next.body["data"][0]["facts"]["capture_method"], "BANK_APP");
    let bad = app.staff_get("/api/v1/decisions?count=abc").await;
    assert_eq!(bad.status, 400);
}

#[actix_web::test]
async fn unknown_resources_are_404() {
    let app = spawn_app().await;
    assert_eq!(app.staff_get("/api/v1/tokens/VC-none").await.status, 404);
    assert_eq!(
        app.staff_get("/api/v1/tokens/VC-none/transitions")
            .await
            .status,
        404
    );
    assert_eq!(app.staff_get("/api/v1/enrollments/none").await.status, 404);
    assert_eq!(app.staff_get("/api/v1/cards/none/tokens").await.status, 404);
}

#[actix_web::test]
async fn health_endpoints_answer_without_auth() {
    let app = spawn_app().await;
    let live = app
        .client
        .get(format!("{}/health/live", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status().as_u16(), 200);
    let ready = app
        .client
        .get(format!("{}/health/ready", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(
        body["checks"],
        json!({"store": true, "rules": true, "keys": true})
    );
}
