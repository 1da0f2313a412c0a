//! Velocity and BIN-attack facts: counted from the store, used by rules, kept across restarts.

use serde_json::json;

use crate::helpers::*;

/// Completes 15 digits into a Luhn-valid 16-digit PAN.
fn luhn_complete(first15: &str) -> String {
    for check in 0..10 {
        let candidate = format!("{first15}{check}");
        let sum: u32 = candidate
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| {
                let d = u32::from(b - b'0');
                if i % 2 == 1 {
                    if d * 2 > 9 {
                        d * 2 - 9
                    } else {
                        d * 2
                    }
                } else {
                    d
                }
            })
            .sum();
        if sum.is_multiple_of(10) {
            return candidate;
        }
    }
    unreachable!()
}

const BIN_ATTACK_RULES: &str = r#"
[velocity]
bin_refusals_window_secs = 600

[[rule]]
id = "bin-attack"
stage = "adjust"
outcome = "red"
reason = "many refused eligibility checks on this BIN"
when = { fact = "velocity.bin_eligibility_refusals", ge = 3 }
"#;

#[actix_web::test]
async fn refused_eligibility_checks_on_a_bin_trip_a_bin_attack_rule() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    let shipped = std::fs::read_to_string(repo_root().join("config/rules.toml")).unwrap();
    std::fs::write(&rules, format!("{shipped}\n{BIN_ATTACK_RULES}")).unwrap();
    let app = spawn_app_with(&[("rules.file", rules.to_str().unwrap())]).await;

    let bank_app = digitization_body(&app, PAN_FULL, "BANK_APP", json!({}));
    assert_eq!(
        app.call("requestCardDigitization", &cid("v"), &bank_app)
            .await
            .body["levelOfTrust"],
        "green"
    );
    for i in 0..3 {
        let probe = luhn_complete(&format!("41111100000{i:04}"));
        let reply = app.eligibility(&cid("probe"), &probe).await;
        assert_eq!(reply.code(), Some(116), "probe {i}");
    }
    let after = app
        .call("requestCardDigitization", &cid("v"), &bank_app)
        .await;
    assert_eq!(after.body["levelOfTrust"], "red", "{:?}", after.body);
    let latest = app.staff_get("/api/v1/decisions?count=1").await;
    assert_eq!(latest.body["data"][0]["decided_by_rule"], "bin-attack");
    assert_eq!(
        latest.body["data"][0]["facts"]["velocity.bin_eligibility_refusals"],
        3.0
    );

    // Another BIN is not affected.
    let other = digitization_body(&app, PAN_EMAIL_ONLY, "BANK_APP", json!({}));
    assert_eq!(
        app.call("requestCardDigitization", &cid("v"), &other)
            .await
            .body["levelOfTrust"],
        "green"
    );
}

#[actix_web::test]
async fn attempts_and_distinct_cards_are_counted_per_card_device_and_requestor() {
    let app = spawn_app().await;
    let device = json!({"deviceInformation": {"deviceId": "DEVICE-123", "tokenStorageType": "SE"}});
    for pan in [PAN_FULL, PAN_FULL, PAN_PHONE_ONLY] {
        let body = digitization_body(&app, pan, "BANK_APP", device.clone());
        assert_eq!(
            app.call("requestCardDigitization", &cid("v"), &body)
                .await
                .status,
            200
        );
    }
    let decisions = app.staff_get("/api/v1/decisions?count=3").await;
    let facts: Vec<_> = decisions.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["facts"].clone())
        .collect();
    // Newest first: the third request (other card, same device).
    assert_eq!(facts[0]["velocity.card_attempts"], 1.0);
    assert_eq!(facts[0]["velocity.device_attempts"], 3.0);
    assert_eq!(facts[0]["velocity.device_distinct_cards"], 2.0);
    assert_eq!(facts[0]["velocity.token_requestor_attempts"], 3.0);
    assert_eq!(facts[1]["velocity.card_attempts"], 2.0);
    assert_eq!(facts[1]["velocity.device_distinct_cards"], 1.0);
    assert!(
        !decisions.body.to_string().contains("DEVICE-123"),
        "device ids are stored as fingerprints"
    );
}

#[actix_web::test]
async fn velocity_counts_survive_a_restart() {
    let gateway = MockGateway::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let body = json!({"cipheredCardInfo": dev_seal(&json!({"fpan": PAN_FULL, "exp": "1230"})), "cardCaptureInformation": {"captureMethod": "BANK_APP"}});
    {
        let mut first = ServiceProcess::start(&store, &gateway.url, &[]);
        let client = ProcessClient::new(&first.address);
        // Distinct correlation ids: the same request under the same id is a retry, answered
        // from the recorded decision and not counted again.
        for n in 1..=2 {
            assert_eq!(
                client
                    .call("requestCardDigitization", &format!("v-restart-{n}"), &body)
                    .await
                    .status,
                200
            );
        }
        first.kill_hard();
    }
    let second = ServiceProcess::start(&store, &gateway.url, &[]);
    let client = ProcessClient::new(&second.address);
    assert_eq!(
        client
            .call("requestCardDigitization", "v-restart-3", &body)
            .await
            .status,
        200
    );
    let latest = client.staff_get("/api/v1/decisions?count=1").await;
    assert_eq!(
        latest.body["data"][0]["facts"]["velocity.card_attempts"],
        3.0
    );
}
