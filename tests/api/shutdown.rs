//! SIGTERM stops the service in order: the server stops accepting and finishes its requests,
//! background work (a follow-up call to TSH after an answered callback) finishes and records its
//! outcome, the store is flushed, and the process exits 0. Nothing is left half-written.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{MockGateway, ProcessClient, ServiceProcess};
use crate::mock_tsh::{MockTsh, TshMode};

/// How long TSH takes to answer the follow-up call: SIGTERM arrives while it is in flight.
const TSH_DELAY_MS: u64 = 1500;

fn sigterm(service: &ServiceProcess) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &service.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// Waits (bounded) for the process to exit on its own; its exit status.
fn wait_for_exit(service: &mut ServiceProcess, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = service.child.try_wait().expect("wait works") {
            return status;
        }
        assert!(
            started.elapsed() < limit,
            "the service did not stop within {limit:?}; log:\n{}",
            service.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Eligibility, a red digitization, then the network approves anyway (stand-in): with
/// `rules.standin.auto_suspend` the service answers and then asks TSH to suspend the token.
async fn stand_in_mismatch(client: &ProcessClient, vcid: &str) {
    let correlation = "shutdown-standin";
    let (card, decision) = client.enrol(correlation, "CAMERA").await;
    assert_eq!(decision.body["levelOfTrust"], "red", "{:?}", decision.body);
    let standin = json!({"issuerCardRefId": card, "virtualCardId": vcid, "walletProviderId": "APPLE_PAY", "decision": "APPROVED"});
    let reply = client
        .call("notifyStandInProcess", correlation, &standin)
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

#[actix_web::test]
async fn sigterm_lets_a_tsh_call_in_flight_finish_and_record_its_outcome() {
    // Arrange: TSH answers slowly; the stand-in mismatch triggers a follow-up suspension.
    let gateway = MockGateway::start().await;
    let tsh = MockTsh::start().await;
    tsh.set_mode(TshMode::Slow(TSH_DELAY_MS));
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let env = [
        ("TSH_ISSUER__TSH__BASE_URL", tsh.base_url.as_str()),
        ("TSH_ISSUER__RULES__STANDIN__AUTO_SUSPEND", "true"),
    ];
    let mut service = ServiceProcess::start(&store, &gateway.url, &env);
    let client = ProcessClient::new(&service.address);
    stand_in_mismatch(&client, "VC-shutdown").await;

    // Act: SIGTERM while the call to TSH is in flight.
    sigterm(&service);
    let status = actix_web::rt::task::spawn_blocking(move || {
        let status = wait_for_exit(&mut service, Duration::from_secs(30));
        service.kill_hard(); // already gone: joins the log readers so the log is complete
        (status, service)
    })
    .await
    .unwrap();
    let (status, service) = status;

    // Assert: a clean exit after TSH answered, with the outcome recorded before the flush.
    let log = service.log_text();
    assert!(status.success(), "exit status {status:?}; log:\n{log}");
    assert!(log.contains("background work drained"), "{log}");
    assert!(log.contains("store flushed; stopped"), "{log}");
    let asked = tsh
        .requests()
        .into_iter()
        .filter(|r| r.operation == "updateCardState")
        .count();
    assert_eq!(asked, 1, "TSH was asked once");

    let restarted = ServiceProcess::start(&store, &gateway.url, &[]);
    let audit = ProcessClient::new(&restarted.address)
        .staff_get("/api/v1/audit")
        .await;
    let entries = audit.body["data"].as_array().cloned().unwrap_or_default();
    let suspension = entries
        .iter()
        .find(|e| e["who"] == "stand-in-review")
        .unwrap_or_else(|| panic!("no audit entry for the suspension: {:?}", audit.body));
    // Written once TSH answered: accepted, waiting for TSH's confirming notification.
    assert_eq!(suspension["outcome"], "pending", "{suspension:?}");
    let operation = suspension["correlation_id"].as_str().expect("operation id");
    let recorded = ProcessClient::new(&restarted.address)
        .staff_get(&format!("/api/v1/tokentransitions/{operation}"))
        .await;
    assert_eq!(recorded.status, 200, "{:?}", recorded.body);
    assert!(
        recorded.body.get("error").is_none_or(|e| e.is_null()),
        "{:?}",
        recorded.body
    );
}
