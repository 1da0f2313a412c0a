//! Acknowledged means durable: state answered 200 survives a kill -9 and a restart on the same store.

use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn acknowledged_state_survives_a_hard_kill() {
    let gateway = MockGateway::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");

    let mut first = ServiceProcess::start(&store, &gateway.url, &[]);
    let client = ProcessClient::new(&first.address);
    let correlation = "restart-enrolment-1";
    let elig = client
        .call(
            "checkCardEligibility",
            correlation,
            &json!({"cipheredCardInfo": dev_seal(&json!({"fpan": PAN_FULL, "exp": "1230"}))}),
        )
        .await;
    assert_eq!(elig.status, 200, "{:?}", elig.body);
    let card = elig.body["issuerCardRefId"].as_str().unwrap().to_owned();
    let decision = client
        .call(
            "requestCardDigitization",
            correlation,
            &json!({"cipheredCardInfo": dev_seal(&json!({"fpan": PAN_FULL, "exp": "1230"})), "cardCaptureInformation": {"captureMethod": "BANK_APP"}}),
        )
        .await;
    assert_eq!(decision.body["levelOfTrust"], "green");
    let notify = client
        .call(
            "notifyVirtualCardChange",
            correlation,
            &json!({"issuerCardRefId": card, "virtualCardId": "VC-durable", "walletProviderId": "APPLE_PAY", "action": "ACTIVATE"}),
        )
        .await;
    assert_eq!(notify.status, 200);
    // No graceful shutdown: whatever was acknowledged must already be on disk.
    first.kill_hard();

    let second = ServiceProcess::start(&store, &gateway.url, &[]);
    let client = ProcessClient::new(&second.address);
    let token = client.staff_get("/api/v1/tokens/VC-durable").await;
    assert_eq!(
        token.status, 200,
        "token lost after restart: {:?}",
        token.body
    );
    assert_eq!(token.body["state"], "ACTIVE");
    assert_eq!(token.body["decision"]["level_of_trust"], "green");
    let enrollment = client
        .staff_get(&format!("/api/v1/enrollments/{correlation}"))
        .await;
    assert_eq!(
        enrollment.body["decisions"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        enrollment.body["notifications"].as_array().map(Vec::len),
        Some(1)
    );
    // A duplicate after the restart is still recognised.
    let again = client
        .call(
            "notifyVirtualCardChange",
            correlation,
            &json!({"issuerCardRefId": card, "virtualCardId": "VC-durable", "walletProviderId": "APPLE_PAY", "action": "ACTIVATE"}),
        )
        .await;
    assert_eq!(again.status, 200);
    let transitions = client
        .staff_get("/api/v1/tokens/VC-durable/transitions")
        .await;
    assert_eq!(transitions.body["count"], 1);
}
