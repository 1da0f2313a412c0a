//! Acknowledged means durable: state answered 200 survives a kill -9 and a restart on the same store.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

/// Notifications for fresh tokens, sent one after another by one of several concurrent senders
/// until the service dies; returns the virtual card ids answered 200.
async fn send_until_refused(
    client: reqwest::Client,
    url: String,
    card: String,
    correlation: String,
    sender: usize,
    answered: Arc<AtomicUsize>,
) -> Vec<String> {
    let mut acknowledged = Vec::new();
    for i in 0.. {
        let vcid = format!("VC-crash-{sender}-{i}");
        let body = json!({"issuerCardRefId": card, "virtualCardId": vcid, "walletProviderId": "APPLE_PAY", "action": "ACTIVATE"});
        let sent = client
            .post(&url)
            .header("x-correlation-id", &correlation)
            .header("x-issuer-id", ISSUER_ID)
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == 200 => {
                acknowledged.push(vcid);
                answered.fetch_add(1, Ordering::SeqCst);
            }
            // Refused or cut off by the kill: not acknowledged, so nothing is owed.
            _ => break,
        }
    }
    acknowledged
}

/// The kill lands while writes are in flight and batches are being committed: every callback
/// answered 200 before it is there after the restart, with its transition (whole transactions,
/// nothing half-applied), and the store takes new writes.
#[actix_web::test]
async fn a_hard_kill_under_concurrent_load_loses_no_acknowledged_notification() {
    let gateway = MockGateway::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut first = ServiceProcess::start(&store, &gateway.url, &[]);
    let client = ProcessClient::new(&first.address);
    let correlation = "crash-load-enrolment";
    let (card, _) = client.enrol(correlation, "BANK_APP").await;

    let url = format!("{}{PREFIX}/notifyVirtualCardChange", first.address);
    let answered = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..8)
        .map(|sender| {
            actix_web::rt::spawn(send_until_refused(
                client.client.clone(),
                url.clone(),
                card.clone(),
                correlation.to_owned(),
                sender,
                answered.clone(),
            ))
        })
        .collect();
    // Let a few hundred writes through (bounded in time), then kill mid-stream.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while answered.load(Ordering::SeqCst) < 300 && std::time::Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill_hard();
    let mut acknowledged = Vec::new();
    for sender in senders {
        acknowledged.extend(sender.await.unwrap());
    }
    assert!(!acknowledged.is_empty(), "some notifications were answered");

    let second = ServiceProcess::start(&store, &gateway.url, &[]);
    let client = ProcessClient::new(&second.address);
    if !postgres_backend() {
        // sled's own files are synced only at checkpoints: these writes came back from the log.
        let log = second.log_text();
        assert!(log.contains("write-ahead log"), "no log replay: {log}");
    }
    for vcid in &acknowledged {
        let token = client.staff_get(&format!("/api/v1/tokens/{vcid}")).await;
        assert_eq!(token.status, 200, "{vcid} acknowledged, then lost");
        assert_eq!(token.body["state"], "ACTIVE", "{vcid}");
        let transitions = client
            .staff_get(&format!("/api/v1/tokens/{vcid}/transitions"))
            .await;
        assert_eq!(
            transitions.body["count"], 1,
            "{vcid}: token without its transition"
        );
    }
    let after = client
        .call(
            "notifyVirtualCardChange",
            correlation,
            &json!({"issuerCardRefId": card, "virtualCardId": "VC-after-crash", "walletProviderId": "APPLE_PAY", "action": "ACTIVATE"}),
        )
        .await;
    assert_eq!(after.status, 200, "{:?}", after.body);
}
