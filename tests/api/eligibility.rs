//! `checkCardEligibility`: card lookup, status, expiry, product mapping, stable references.

use serde_json::json;
use tsh_issuer::crypto::seal::KeyTransport;

use crate::helpers::*;

#[actix_web::test]
async fn eligible_card_gets_a_stable_opaque_reference_and_its_bin_product() {
    let app = spawn_app().await;
    let first = app.eligibility(&cid("elig"), PAN_FULL).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let reference = first.body["issuerCardRefId"].as_str().unwrap().to_owned();
    assert_eq!(first.body["productId"], "VISA-CLASSIC-DEV");
    assert!(reference.len() <= 48, "{reference}");
    assert!(
        !reference.contains("411111") && !reference.contains("1111"),
        "reference leaks PAN digits: {reference}"
    );

    // Same PAN, other key transport, other session: same reference.
    let pkcs1 = app.seal(
        &json!({"fpan": PAN_FULL, "exp": "1230"}),
        KeyTransport::Pkcs1v15,
    );
    let second = app
        .call(
            "checkCardEligibility",
            &cid("elig"),
            &json!({"cipheredCardInfo": pkcs1}),
        )
        .await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    assert_eq!(second.body["issuerCardRefId"], reference.as_str());
}

#[actix_web::test]
async fn a_cards_own_product_wins_over_the_bin_table() {
    let app = spawn_app().await;
    let reply = app.eligibility(&cid("elig"), PAN_PHONE_ONLY).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["productId"], "VISA-GOLD-DEV");
}

#[actix_web::test]
async fn refusals_use_the_contract_codes() {
    let app = spawn_app().await;
    let cases = [
        ("unknown card", PAN_UNKNOWN, 116),
        ("suspended card", PAN_SUSPENDED, 159),
        ("expired card", PAN_EXPIRED, 160),
        ("no product for the BIN", PAN_NO_PRODUCT, 115),
    ];
    for (name, pan, code) in cases {
        let correlation = cid("refuse");
        let reply = app.eligibility(&correlation, pan).await;
        assert_eq!(reply.status, 400, "{name}: {:?}", reply.body);
        assert_eq!(reply.code(), Some(code), "{name}: {:?}", reply.body);
        assert!(reply.body["errorMessage"].is_string(), "{name}");
        let enrollment = app
            .staff_get(&format!("/api/v1/enrollments/{correlation}"))
            .await;
        assert_eq!(
            enrollment.status, 404,
            "{name}: a refusal must not create an enrolment"
        );
    }
}

#[actix_web::test]
async fn a_known_reference_can_be_checked_without_card_data() {
    let app = spawn_app().await;
    let first = app.eligibility(&cid("elig"), PAN_FULL).await;
    let reference = first.body["issuerCardRefId"].clone();
    let again = app
        .call(
            "checkCardEligibility",
            &cid("elig"),
            &json!({"issuerCardRefId": reference}),
        )
        .await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["issuerCardRefId"], reference);

    let unknown = app
        .call(
            "checkCardEligibility",
            &cid("elig"),
            &json!({"issuerCardRefId": "ICR-not-a-card"}),
        )
        .await;
    assert_eq!(unknown.code(), Some(116));
    let neither = app
        .call(
            "checkCardEligibility",
            &cid("elig"),
            &json!({"walletProviderId": "X"}),
        )
        .await;
    assert_eq!((neither.status, neither.code()), (400, Some(111)));
}

#[actix_web::test]
async fn eligibility_starts_the_enrolment_session() {
    let app = spawn_app().await;
    let correlation = cid("session");
    let body = json!({"cipheredCardInfo": app.card_info(PAN_FULL), "walletProviderId": "GOOGLE_PAY", "captureMethod": "camera", "tokenRequestor": {"id": 40010075001u64, "name": "Google Pay"}});
    let reply = app.call("checkCardEligibility", &correlation, &body).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let view = app
        .staff_get(&format!("/api/v1/enrollments/{correlation}"))
        .await;
    assert_eq!(view.status, 200);
    assert_eq!(view.body["capture_method"], "CAMERA");
    assert_eq!(view.body["wallet_provider_id"], "GOOGLE_PAY");
    assert_eq!(view.body["token_requestor"]["id"], "40010075001");
    assert_eq!(view.body["eligibility"]["product_id"], "VISA-CLASSIC-DEV");
    assert_eq!(
        view.body["issuer_card_ref_id"],
        reply.body["issuerCardRefId"]
    );
}
