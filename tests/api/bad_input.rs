//! Malformed headers, bodies and fields: a 4xx in the contract's error shape, and nothing changes.

use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn malformed_requests_are_refused_in_the_contract_shape_and_change_nothing() {
    let app = spawn_app().await;
    let good = json!({"cipheredCardInfo": app.card_info(PAN_FULL)})
        .to_string()
        .into_bytes();
    let json_ct = Some("application/json");
    let long_cid = "c".repeat(65);
    type Case<'a> = (
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Vec<u8>,
        u16,
        i64,
    );
    let cases: Vec<Case> = vec![
        (
            "no correlation id",
            "checkCardEligibility",
            None,
            Some(ISSUER_ID),
            json_ct,
            good.clone(),
            400,
            111,
        ),
        (
            "correlation id too long",
            "checkCardEligibility",
            Some(long_cid.as_str()),
            Some(ISSUER_ID),
            json_ct,
            good.clone(),
            400,
            111,
        ),
        (
            "no issuer id",
            "checkCardEligibility",
            Some("bad-1"),
            None,
            json_ct,
            good.clone(),
            400,
            111,
        ),
        (
            "issuer id of 9 chars",
            "checkCardEligibility",
            Some("bad-2"),
            Some("ISSUERDEV"),
            json_ct,
            good.clone(),
            400,
            111,
        ),
        (
            "someone else's issuer id",
            "checkCardEligibility",
            Some("bad-3"),
            Some("OTHERBANK1"),
            json_ct,
            good.clone(),
            400,
            113,
        ),
        (
            "wrong content type",
            "checkCardEligibility",
            Some("bad-4"),
            Some(ISSUER_ID),
            Some("text/plain"),
            good.clone(),
            400,
            111,
        ),
        (
            "not JSON",
            "checkCardEligibility",
            Some("bad-5"),
            Some(ISSUER_ID),
            json_ct,
            b"{nope".to_vec(),
            400,
            111,
        ),
        (
            "JSON array",
            "checkCardEligibility",
            Some("bad-6"),
            Some(ISSUER_ID),
            json_ct,
            b"[1,2]".to_vec(),
            400,
            111,
        ),
        (
            "empty body",
            "sendOTP",
            Some("bad-7"),
            Some(ISSUER_ID),
            json_ct,
            Vec::new(),
            400,
            111,
        ),
        (
            "object where a string belongs",
            "checkCardEligibility",
            Some("bad-8"),
            Some(ISSUER_ID),
            json_ct,
            br#"{"issuerCardRefId":{"a":1}}"#.to_vec(),
            400,
            111,
        ),
        (
            "number where card data belongs",
            "requestCardDigitization",
            Some("bad-9"),
            Some(ISSUER_ID),
            json_ct,
            br#"{"cipheredCardInfo":4111111111111111}"#.to_vec(),
            400,
            111,
        ),
        (
            "card data not base64",
            "checkCardEligibility",
            Some("bad-10"),
            Some(ISSUER_ID),
            json_ct,
            br#"{"cipheredCardInfo":"%%%"}"#.to_vec(),
            400,
            166,
        ),
        (
            "card data too long",
            "checkCardEligibility",
            Some("bad-11"),
            Some(ISSUER_ID),
            json_ct,
            json!({"cipheredCardInfo": "A".repeat(9000)})
                .to_string()
                .into_bytes(),
            400,
            111,
        ),
        (
            "oversized body",
            "checkCardEligibility",
            Some("bad-12"),
            Some(ISSUER_ID),
            json_ct,
            vec![b' '; 70_000],
            413,
            111,
        ),
        (
            "unknown operation",
            "deleteAllCards",
            Some("bad-13"),
            Some(ISSUER_ID),
            json_ct,
            good.clone(),
            404,
            111,
        ),
        (
            "control chars in an id",
            "sendOTP",
            Some("bad-14"),
            Some(ISSUER_ID),
            json_ct,
            br#"{"issuerCardRefId":"a\u0000b","otpValue":"1"}"#.to_vec(),
            400,
            111,
        ),
    ];
    for (name, operation, correlation, issuer, content_type, body, status, code) in cases {
        let reply = app
            .post_raw(operation, correlation, issuer, content_type, body)
            .await;
        assert_eq!(reply.status, status, "{name}: {:?}", reply.body);
        assert_eq!(reply.code(), Some(code), "{name}: {:?}", reply.body);
        assert!(
            reply.body["errorMessage"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{name}"
        );
        assert!(
            !reply.body.to_string().contains("4111111111111111"),
            "{name} echoes card data"
        );
    }
    for i in 1..=14 {
        let view = app.staff_get(&format!("/api/v1/enrollments/bad-{i}")).await;
        assert_eq!(view.status, 404, "case bad-{i} created an enrolment");
    }
    let decisions = app.staff_get("/api/v1/decisions").await;
    assert_eq!(decisions.body["count"], 0);
}

#[actix_web::test]
async fn get_on_a_callback_is_405_in_the_contract_shape() {
    let app = spawn_app().await;
    let reply = app
        .client
        .get(format!("{}{PREFIX}/checkCardEligibility", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 405);
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(body["responseCode"], 111);
}

#[actix_web::test]
async fn unknown_fields_and_enum_values_are_tolerated() {
    let app = spawn_app().await;
    let body = digitization_body(
        &app,
        PAN_FULL,
        "BRAIN_IMPLANT",
        json!({"futureField": {"nested": [1, 2]}, "cvvValidated": "true", "scoringInformation": {"deviceScore": "n/a", "newScore": 9}}),
    );
    let reply = app
        .call("requestCardDigitization", &cid("tolerant"), &body)
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(
        reply.body["levelOfTrust"], "green",
        "cvvValidated as a string is still true"
    );
}
