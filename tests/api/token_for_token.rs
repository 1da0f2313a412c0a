//! Token-for-token (seed 000): detection, attribute locations and aliases, lineage both ways.

use serde_json::json;

use crate::helpers::*;

const ORIGINAL_TOKEN: &str = "4895370012003478";

#[actix_web::test]
async fn a_cof_token_from_a_device_token_keeps_its_lineage() {
    let app = spawn_app().await;
    let correlation = cid("t4t");
    let elig = app
        .call(
            "checkCardEligibility",
            &correlation,
            &json!({"cipheredCardInfo": app.card_info(PAN_FULL), "captureMethod": "TOKEN", "tokenRequestor": {"id": "40000000099", "name": "Merchant"}}),
        )
        .await;
    assert_eq!(elig.status, 200, "{:?}", elig.body);
    let card = elig.body["issuerCardRefId"].as_str().unwrap().to_owned();

    // Attributes inside tokenRequestor, with the ID alias and a numeric requestor id.
    let body = digitization_body(
        &app,
        PAN_FULL,
        "TOKEN",
        json!({"tokenRequestor": {"id": "40000000099", "name": "Merchant", "originalToken": ORIGINAL_TOKEN, "originalTokenRequestorID": 40010030273u64, "originalTokenReferenceId": "DNITHE000000001", "originalTokenAssuranceLevel": "25"}}),
    );
    let decision = app
        .call("requestCardDigitization", &correlation, &body)
        .await;
    assert_eq!(
        decision.body["levelOfTrust"], "green",
        "{:?}",
        decision.body
    );

    // The activation carries the attributes inside tokenInfo, canonical spelling.
    let notify = json!({"issuerCardRefId": card, "virtualCardId": "VC-cof-1", "walletProviderId": "MERCHANT", "action": "ACTIVATE",
        "tokenInfo": {"originalTokenReferenceID": "DNITHE000000001", "originalToken": ORIGINAL_TOKEN}});
    assert_eq!(
        app.call("notifyVirtualCardChange", &correlation, &notify)
            .await
            .status,
        200
    );

    let token = app.staff_get("/api/v1/tokens/VC-cof-1").await;
    let original = &token.body["original_token"];
    assert_eq!(original["token_reference_id"], "DNITHE000000001");
    assert_eq!(original["token_requestor_id"], "40010030273");
    assert_eq!(original["assurance_level"], "25");
    assert_eq!(original["token_last4"], "3478");
    assert_eq!(original["token_masked"], "489537******3478");
    assert_eq!(token.body["capture_method"], "TOKEN");
    assert_eq!(token.body["token_for_token"], true);
    assert!(!token.body.to_string().contains(ORIGINAL_TOKEN));

    let lineage = app
        .staff_get("/api/v1/tokens?original_token_reference_id=DNITHE000000001")
        .await;
    assert_eq!(lineage.body["count"], 1, "{:?}", lineage.body);
    assert_eq!(lineage.body["data"][0]["virtual_card_id"], "VC-cof-1");

    let view = app
        .staff_get(&format!("/api/v1/enrollments/{correlation}"))
        .await;
    assert_eq!(view.body["token_for_token"], true);
    assert_eq!(view.body["original_token"]["assurance_level"], "25");
    let decisions = app.staff_get("/api/v1/decisions?count=1").await;
    assert_eq!(
        decisions.body["data"][0]["original_token"]["token_reference_id"],
        "DNITHE000000001"
    );
    assert_eq!(decisions.body["data"][0]["token_for_token"], true);
}

#[actix_web::test]
async fn token_for_token_without_assurance_level_steps_up() {
    let app = spawn_app().await;
    let body = digitization_body(
        &app,
        PAN_FULL,
        "TOKEN",
        json!({"originalTokenReferenceID": "DNITHE2", "originalTokenRequestorId": "40010030273"}),
    );
    let decision = app
        .call("requestCardDigitization", &cid("t4t"), &body)
        .await;
    assert_eq!(
        decision.body["levelOfTrust"], "yellow",
        "{:?}",
        decision.body
    );
    assert!(!decision.body["idvMethodList"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[actix_web::test]
async fn lineage_of_an_unknown_original_is_empty() {
    let app = spawn_app().await;
    let lineage = app
        .staff_get("/api/v1/tokens?original_token_reference_id=NOPE")
        .await;
    assert_eq!(lineage.status, 200);
    assert_eq!(lineage.body["count"], 0);
    assert_eq!(lineage.body["is_more"], false);
}
