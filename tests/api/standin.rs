//! `notifyStandInProcess`: a network decision, recorded and linked, never changing token state.

use serde_json::json;

use crate::helpers::*;
use crate::notifications::{card_ref, notification};

#[actix_web::test]
async fn a_stand_in_is_recorded_as_a_network_decision_linked_to_enrolment_and_token() {
    let app = spawn_app().await;
    let correlation = cid("standin");
    let card = card_ref(&app, PAN_FULL).await;
    let body = json!({"issuerCardRefId": card, "virtualCardId": "VC-standin", "walletProviderId": "APPLE_PAY", "standInDecision": "APPROVED", "reason": "issuer timeout"});
    let reply = app.call("notifyStandInProcess", &correlation, &body).await;
    assert_eq!((reply.status, reply.body.clone()), (200, json!({})));
    // Duplicate: recorded once.
    assert_eq!(
        app.call("notifyStandInProcess", &correlation, &body)
            .await
            .status,
        200
    );

    let view = app
        .staff_get(&format!("/api/v1/enrollments/{correlation}"))
        .await;
    let decisions = view.body["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 1, "{:?}", view.body);
    assert_eq!(decisions[0]["decided_by"], "network");
    assert_eq!(decisions[0]["level_of_trust"], "green");
    assert_eq!(decisions[0]["network_decision"], "APPROVED");

    let token = app.staff_get("/api/v1/tokens/VC-standin").await;
    assert_eq!(token.body["decision"]["decided_by"], "network");
    assert_eq!(token.body["state"], "REQUESTED");
}

#[actix_web::test]
async fn a_stand_in_never_changes_an_existing_tokens_state() {
    let app = spawn_app().await;
    let card = card_ref(&app, PAN_FULL).await;
    app.call(
        "notifyVirtualCardChange",
        &cid("n"),
        &notification(&card, "VC-kept", "ACTIVATE"),
    )
    .await;
    let body = json!({"issuerCardRefId": card, "virtualCardId": "VC-kept", "walletProviderId": "APPLE_PAY", "decision": "05"});
    assert_eq!(
        app.call("notifyStandInProcess", &cid("s"), &body)
            .await
            .status,
        200
    );
    let token = app.staff_get("/api/v1/tokens/VC-kept").await;
    assert_eq!(token.body["state"], "ACTIVE");
    assert_eq!(token.body["decision"]["level_of_trust"], "red");
    assert_eq!(token.body["decision"]["decided_by"], "network");
}

#[actix_web::test]
async fn a_stand_in_for_an_unknown_card_or_without_identifiers_is_refused() {
    let app = spawn_app().await;
    let unknown = app
        .call(
            "notifyStandInProcess",
            &cid("s"),
            &json!({"issuerCardRefId": "ICR-nobody", "levelOfTrust": "green"}),
        )
        .await;
    assert_eq!(unknown.code(), Some(116));
    let nothing = app
        .call(
            "notifyStandInProcess",
            &cid("s"),
            &json!({"levelOfTrust": "green"}),
        )
        .await;
    assert_eq!(nothing.code(), Some(111));
}
