//! `sendOTP`: delivery to the gateway unchanged, method ids, rate limit, failures, isolation.

use serde_json::{json, Value};

use crate::helpers::*;

/// Runs eligibility + a yellow digitization; returns (correlation id, card ref, methods).
async fn yellow_enrolment(app: &TestApp, pan: &str) -> (String, String, Vec<Value>) {
    let correlation = cid("otp");
    let elig = app.eligibility(&correlation, pan).await;
    assert_eq!(elig.status, 200, "{:?}", elig.body);
    let body = digitization_body(
        app,
        pan,
        "BANK_APP",
        json!({"scoringInformation": {"deviceScore": 1}}),
    );
    let decision = app
        .call("requestCardDigitization", &correlation, &body)
        .await;
    assert_eq!(
        decision.body["levelOfTrust"], "yellow",
        "{:?}",
        decision.body
    );
    (
        correlation,
        elig.body["issuerCardRefId"].as_str().unwrap().to_owned(),
        decision.body["idvMethodList"].as_array().unwrap().clone(),
    )
}

#[actix_web::test]
async fn the_otp_reaches_the_gateway_unchanged_on_the_chosen_method() {
    let app = spawn_app().await;
    let (correlation, card_ref, methods) = yellow_enrolment(&app, PAN_FULL).await;
    let email = methods.iter().find(|m| m["type"] == "email").unwrap();
    let reply = app
        .call("sendOTP", &correlation, &json!({"issuerCardRefId": card_ref, "otpValue": "004817", "otpMethodId": email["id"], "walletProviderId": "APPLE_PAY"}))
        .await;
    assert_eq!((reply.status, reply.body.clone()), (200, json!({})));
    let delivered = app.gateway.deliveries();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0]["otp"], "004817");
    assert_eq!(delivered[0]["channel"], "email");
    assert_eq!(delivered[0]["to"], "ada.dev@example.com");
    assert_eq!(delivered[0]["correlation_id"], correlation.as_str());
    assert_eq!(delivered[0]["issuer_card_ref_id"], card_ref.as_str());

    let view = app
        .staff_get(&format!("/api/v1/enrollments/{correlation}"))
        .await;
    let sends = view.body["otp_sends"].as_array().unwrap();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0]["outcome"], "delivered");
    assert_eq!(sends[0]["channel"], "email");
    assert!(
        !view.body.to_string().contains("004817"),
        "the OTP must never be stored"
    );
}

#[actix_web::test]
async fn without_a_method_id_the_otp_goes_by_sms_and_numbers_are_accepted() {
    let app = spawn_app().await;
    let (correlation, card_ref, _) = yellow_enrolment(&app, PAN_FULL).await;
    let reply = app
        .call(
            "sendOTP",
            &correlation,
            &json!({"issuerCardRefId": card_ref, "otpValue": 123456}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let delivered = app.gateway.deliveries();
    assert_eq!(delivered[0]["channel"], "sms");
    assert_eq!(delivered[0]["to"], "+447700900123");
    assert_eq!(delivered[0]["otp"], "123456");
}

#[actix_web::test]
async fn refusals_follow_the_contract_order() {
    let app = spawn_app().await;
    let (correlation, card_ref, _) = yellow_enrolment(&app, PAN_FULL).await;
    let unknown_method = app
        .call("sendOTP", &correlation, &json!({"issuerCardRefId": card_ref, "otpValue": "1", "otpMethodId": "sms-000000000000"}))
        .await;
    assert_eq!(
        (unknown_method.status, unknown_method.code()),
        (400, Some(501))
    );
    let missing_otp = app
        .call(
            "sendOTP",
            &correlation,
            &json!({"issuerCardRefId": card_ref}),
        )
        .await;
    assert_eq!(missing_otp.code(), Some(111));
    let unknown_card = app
        .call(
            "sendOTP",
            &correlation,
            &json!({"issuerCardRefId": "nope", "otpValue": "1"}),
        )
        .await;
    assert_eq!(unknown_card.code(), Some(116));
    assert!(app.gateway.deliveries().is_empty());
}

#[actix_web::test]
async fn a_failing_gateway_gives_510_and_is_recorded() {
    let app = spawn_app().await;
    let (correlation, card_ref, _) = yellow_enrolment(&app, PAN_FULL).await;
    app.gateway.set_mode(GatewayMode::Fail);
    let reply = app
        .call(
            "sendOTP",
            &correlation,
            &json!({"issuerCardRefId": card_ref, "otpValue": "555111"}),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (400, Some(510)));
    let view = app
        .staff_get(&format!("/api/v1/enrollments/{correlation}"))
        .await;
    assert_eq!(view.body["otp_sends"][0]["outcome"], "failed");
}

#[actix_web::test]
async fn a_card_without_contacts_cannot_receive_an_otp() {
    let app = spawn_app().await;
    let elig = app.eligibility(&cid("otp"), PAN_NO_CONTACT).await;
    let reply = app
        .call(
            "sendOTP",
            &cid("otp"),
            &json!({"issuerCardRefId": elig.body["issuerCardRefId"], "otpValue": "1234"}),
        )
        .await;
    assert_eq!(reply.code(), Some(510));
}

#[actix_web::test]
async fn the_per_card_rate_limit_refuses_with_510() {
    let app = spawn_app_with(&[("otp.rate_limit_count", "2")]).await;
    let (correlation, card_ref, _) = yellow_enrolment(&app, PAN_FULL).await;
    let otp_body = json!({"issuerCardRefId": card_ref, "otpValue": "777888"});
    let send = || app.call("sendOTP", &correlation, &otp_body);
    assert_eq!(send().await.status, 200);
    assert_eq!(send().await.status, 200);
    let third = send().await;
    assert_eq!((third.status, third.code()), (400, Some(510)));
    assert_eq!(app.gateway.deliveries().len(), 2);
    let view = app
        .staff_get(&format!("/api/v1/enrollments/{correlation}"))
        .await;
    assert_eq!(view.body["otp_sends"][2]["outcome"], "rate_limited");
}

#[actix_web::test]
async fn a_slow_gateway_does_not_stall_other_callbacks() {
    let app = spawn_app().await;
    let (correlation, card_ref, _) = yellow_enrolment(&app, PAN_FULL).await;
    app.gateway.set_mode(GatewayMode::Slow(900));
    let slow_body = json!({"issuerCardRefId": card_ref, "otpValue": "246810"});
    let slow = app.call("sendOTP", &correlation, &slow_body);
    let quick = async {
        // Let the OTP call reach the gateway first.
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        app.eligibility(&cid("other"), PAN_PHONE_ONLY).await
    };
    let order = std::sync::Mutex::new(Vec::new());
    let (slow_reply, quick_reply) = tokio::join!(
        async {
            let r = slow.await;
            order.lock().unwrap().push("otp");
            r
        },
        async {
            let r = quick.await;
            order.lock().unwrap().push("eligibility");
            r
        }
    );
    assert_eq!(quick_reply.status, 200);
    assert_eq!(slow_reply.status, 200, "{:?}", slow_reply.body);
    assert_eq!(
        *order.lock().unwrap(),
        vec!["eligibility", "otp"],
        "the eligibility call waited for the OTP gateway"
    );
}
