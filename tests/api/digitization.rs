//! `requestCardDigitization`: the baseline decisions, step-up lists, traces and records.

use serde_json::{json, Value};
use tsh_issuer::crypto::seal::KeyTransport;
use tsh_issuer::crypto::CvvVerifier;

use crate::helpers::*;

fn valid_cvv(pan: &str) -> String {
    let cvv = CvvVerifier::from_hex("0123456789ABCDEF", "FEDCBA9876543210").unwrap();
    let exp = card_exp(pan);
    let yymm = format!("{}{}", &exp[2..], &exp[..2]);
    cvv.compute(pan, &yymm, "000").unwrap()
}

async fn decide(app: &TestApp, pan: &str, capture: &str, extra: Value) -> Value {
    let body = digitization_body(app, pan, capture, extra);
    let reply = app
        .call("requestCardDigitization", &cid("dig"), &body)
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body
}

#[actix_web::test]
async fn thales_baseline_decisions() {
    let app = spawn_app().await;
    let wrong_cvv = if valid_cvv(PAN_FULL) == "000" {
        "111"
    } else {
        "000"
    };
    let good_cvv = app.seal(
        &json!({"cvv": valid_cvv(PAN_FULL)}),
        KeyTransport::OaepSha256,
    );
    let bad_cvv = app.seal(&json!({"cvv": wrong_cvv}), KeyTransport::Pkcs1v15);
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "cvvValidated by the TSP",
            "MANUAL",
            json!({"cvvValidated": true}),
            "green",
        ),
        (
            "valid CVV2 in authenticationValue",
            "MANUAL",
            json!({"authenticationValue": good_cvv}),
            "green",
        ),
        (
            "invalid CVV2 declines",
            "MANUAL",
            json!({"authenticationValue": bad_cvv}),
            "red",
        ),
        ("bank app", "BANK_APP", json!({}), "green"),
        ("card on file", "ON_FILE", json!({}), "green"),
        ("camera without CVV", "CAMERA", json!({}), "red"),
        ("manual without CVV", "MANUAL", json!({}), "red"),
        ("unknown capture method", "HOLOGRAM", json!({}), "red"),
    ];
    for (name, capture, extra, expected) in cases {
        let body = decide(&app, PAN_FULL, capture, extra).await;
        assert_eq!(body["levelOfTrust"], expected, "{name}: {body}");
        if expected != "yellow" {
            assert!(body.get("idvMethodList").is_none(), "{name}: {body}");
        }
    }
}

#[actix_web::test]
async fn a_cvv_inside_the_card_info_is_verified_too() {
    let app = spawn_app().await;
    let card = app.seal(
        &json!({"fpan": PAN_FULL, "exp": "1230", "cvv": valid_cvv(PAN_FULL)}),
        KeyTransport::OaepSha256,
    );
    let body =
        json!({"cipheredCardInfo": card, "cardCaptureInformation": {"captureMethod": "MANUAL"}});
    let reply = app
        .call("requestCardDigitization", &cid("dig"), &body)
        .await;
    assert_eq!(reply.body["levelOfTrust"], "green", "{:?}", reply.body);
}

#[actix_web::test]
async fn low_wallet_scores_step_up_with_the_cards_contacts_or_decline_without() {
    let app = spawn_app().await;
    let low = json!({"scoringInformation": {"deviceScore": "2", "accountScore": 4}});
    let yellow = decide(&app, PAN_FULL, "BANK_APP", low.clone()).await;
    assert_eq!(yellow["levelOfTrust"], "yellow", "{yellow}");
    let methods = yellow["idvMethodList"].as_array().unwrap();
    assert_eq!(methods.len(), 2, "{yellow}");
    assert_eq!(methods[0]["type"], "cell_phone");
    assert_eq!(methods[1]["type"], "email");
    let shown = yellow.to_string();
    assert!(
        !shown.contains("+447700900123") && !shown.contains("ada.dev@example.com"),
        "contacts must be masked: {shown}"
    );
    // Ids are stable between calls.
    let again = decide(&app, PAN_FULL, "BANK_APP", low.clone()).await;
    assert_eq!(again["idvMethodList"], yellow["idvMethodList"]);

    let no_contact = decide(&app, PAN_NO_CONTACT, "BANK_APP", low).await;
    assert_eq!(no_contact["levelOfTrust"], "red", "{no_contact}");

    let fine = decide(
        &app,
        PAN_FULL,
        "BANK_APP",
        json!({"scoringInformation": {"deviceScore": 5, "accountScore": "4"}}),
    )
    .await;
    assert_eq!(fine["levelOfTrust"], "green", "{fine}");
}

#[actix_web::test]
async fn each_decision_is_recorded_with_its_rule_trace_and_no_card_data() {
    let app = spawn_app().await;
    let correlation = cid("trace");
    let body = digitization_body(&app, PAN_FULL, "CAMERA", json!({}));
    let reply = app
        .call("requestCardDigitization", &correlation, &body)
        .await;
    assert_eq!(reply.body["levelOfTrust"], "red");

    let decisions = app.staff_get("/api/v1/decisions?count=1").await;
    assert_eq!(decisions.status, 200);
    let latest = &decisions.body["data"][0];
    assert_eq!(latest["correlation_id"], correlation.as_str());
    assert_eq!(latest["decided_by"], "issuer");
    assert_eq!(latest["level_of_trust"], "red");
    let rules = latest["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["matched"] == true), "{latest}");
    assert!(latest["rules_version"].as_str().unwrap().len() == 64);
    assert_eq!(latest["facts"]["capture_method"], "CAMERA");
    assert!(!latest.to_string().contains(PAN_FULL));

    let enrollment = app
        .staff_get(&format!("/api/v1/enrollments/{correlation}"))
        .await;
    assert_eq!(enrollment.body["decisions"][0]["level_of_trust"], "red");
    assert_eq!(enrollment.body["decisions"][0]["decided_by"], "issuer");
}

#[actix_web::test]
async fn operation_names_are_matched_case_insensitively() {
    let app = spawn_app().await;
    let body = digitization_body(&app, PAN_FULL, "BANK_APP", json!({}));
    for name in [
        "RequestCardDigitization",
        "requestcarddigitization",
        "REQUESTCARDDIGITIZATION",
    ] {
        let reply = app.call(name, &cid("case"), &body).await;
        assert_eq!(reply.status, 200, "{name}: {:?}", reply.body);
        assert_eq!(reply.body["levelOfTrust"], "green", "{name}");
    }
}

#[actix_web::test]
async fn card_data_is_required_and_must_decrypt() {
    let app = spawn_app().await;
    let missing = app
        .call(
            "requestCardDigitization",
            &cid("d"),
            &json!({"walletProviderId": "X"}),
        )
        .await;
    assert_eq!((missing.status, missing.code()), (400, Some(111)));
    let garbage = app
        .call(
            "requestCardDigitization",
            &cid("d"),
            &json!({"cipheredCardInfo": "bm90IGNtcw=="}),
        )
        .await;
    assert_eq!((garbage.status, garbage.code()), (400, Some(166)));
    let not_a_pan = app.seal(
        &json!({"fpan": "4111111111111112"}),
        KeyTransport::OaepSha256,
    );
    let luhn = app
        .call(
            "requestCardDigitization",
            &cid("d"),
            &json!({"cipheredCardInfo": not_a_pan}),
        )
        .await;
    assert_eq!((luhn.status, luhn.code()), (400, Some(166)));
    assert!(!luhn.body.to_string().contains("4111111111111112"));
    let not_json = app
        .recipient
        .seal_base64(b"fpan=4111111111111111", KeyTransport::OaepSha256)
        .unwrap();
    let bad = app
        .call(
            "requestCardDigitization",
            &cid("d"),
            &json!({"cipheredCardInfo": not_json}),
        )
        .await;
    assert_eq!(bad.code(), Some(166));
}

#[actix_web::test]
async fn a_retried_digitization_is_answered_from_the_recorded_decision() {
    let app = spawn_app().await;
    let correlation = cid("retry");
    assert_eq!(app.eligibility(&correlation, PAN_FULL).await.status, 200);
    let body = digitization_body(
        &app,
        PAN_FULL,
        "BANK_APP",
        json!({"scoringInformation": {"deviceScore": 1}}),
    );
    let first = app
        .call("requestCardDigitization", &correlation, &body)
        .await;
    let again = app
        .call("requestCardDigitization", &correlation, &body)
        .await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(
        first.body, again.body,
        "the same answer, idvMethodList included"
    );
    let view = app
        .staff_get(&format!("/api/v1/enrollments/{correlation}"))
        .await;
    assert_eq!(
        view.body["decisions"].as_array().map(Vec::len),
        Some(1),
        "one correlation id, one decision: {:?}",
        view.body
    );
    // A different request under the same correlation id is a new decision, as before.
    let other = digitization_body(&app, PAN_FULL, "BANK_APP", json!({}));
    assert_eq!(
        app.call("requestCardDigitization", &correlation, &other)
            .await
            .status,
        200
    );
    let view = app
        .staff_get(&format!("/api/v1/enrollments/{correlation}"))
        .await;
    assert_eq!(view.body["decisions"].as_array().map(Vec::len), Some(2));
}
