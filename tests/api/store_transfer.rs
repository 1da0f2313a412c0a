//! `tsh-issuer store export` / `store import`: a sled store filled by a real enrolment (cards,
//! decisions, velocity and OTP counters, tokens, transitions, audit, outbox events) travels
//! sled → PostgreSQL → sled, and the three exports hold exactly the same rows; none of them holds
//! card data in clear; import refuses a non-empty store unless told otherwise.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::pg_cluster;

const OTP: &str = "55443322";
const TOKEN_PAN: &str = "4761340000000027";

/// Runs `tsh-issuer store …` with the given environment; returns (success, stdout + stderr).
fn store_cli(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tsh-issuer"));
    command
        .arg("store")
        .args(args)
        .current_dir(repo_root())
        .env_remove("TSH_ISSUER_ENV")
        .env("TSH_ISSUER__STORE__BACKEND", "sled");
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("tsh-issuer runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The rows of an export (header dropped), sorted: engines may list tables in different orders.
fn rows(file: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut lines = text.lines();
    let header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(header["format"], "tsh-issuer-store-export", "{header}");
    let mut rows: Vec<Value> = lines.map(|l| serde_json::from_str(l).unwrap()).collect();
    rows.sort_by_key(|r| r.to_string());
    rows
}

/// Fills a sled store through a real service: staff card, enrolment with step-up and OTP,
/// activation with token info, a suspension by TSH, a rules reload by staff; events on.
async fn fill_sled_store(store: &Path) {
    let gateway = MockGateway::start().await;
    let env = [
        ("TSH_ISSUER__STORE__BACKEND", "sled"),
        ("TSH_ISSUER__EVENTS__WEBHOOK_URL", gateway.url.as_str()),
        ("TSH_ISSUER__EVENTS__SECRET", &"ab".repeat(32)),
    ];
    let mut service = ServiceProcess::start(store, &gateway.url, &env);
    let client = ProcessClient::new(&service.address);
    let correlation = "transfer-enrolment-1";
    let card_info = dev_seal(&json!({"fpan": PAN_FULL, "exp": "1230"}));
    let elig = client
        .call(
            "checkCardEligibility",
            correlation,
            &json!({"cipheredCardInfo": card_info}),
        )
        .await;
    assert_eq!(elig.status, 200, "{:?}", elig.body);
    let card = elig.body["issuerCardRefId"].as_str().unwrap().to_owned();
    let decision = client
        .call(
            "requestCardDigitization",
            correlation,
            &json!({"cipheredCardInfo": card_info, "cardCaptureInformation": {"captureMethod": "MANUAL"},
                    "scoringInformation": {"deviceScore": 1}}),
        )
        .await;
    assert_eq!(decision.status, 200, "{:?}", decision.body);
    if let Some(method) = decision.body["idvMethodList"][0]["id"].as_str() {
        let otp = client
            .call(
                "sendOTP",
                correlation,
                &json!({"issuerCardRefId": card, "otpValue": OTP, "otpMethodId": method}),
            )
            .await;
        assert_eq!(otp.status, 200, "{:?}", otp.body);
    }
    for (action, cid) in [("ACTIVATE", "transfer-n1"), ("SUSPEND", "transfer-n2")] {
        let notify = client
            .call(
                "notifyVirtualCardChange",
                cid,
                &json!({"issuerCardRefId": card, "virtualCardId": "VC-transfer", "walletProviderId": "APPLE_PAY",
                        "action": action, "tokenInfo": {"tokenPan": TOKEN_PAN}}),
            )
            .await;
        assert_eq!(notify.status, 200, "{:?}", notify.body);
    }
    // A staff action, so the audit trail has an entry.
    let reload = reqwest::Client::new()
        .post(format!("{}/api/v1/rules/reload", service.address))
        .bearer_auth(STAFF_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(reload.status(), 200);
    service.kill_hard();
}

#[actix_web::test]
async fn a_store_round_trips_sled_to_postgres_to_sled_unchanged() {
    let Some(cluster) = pg_cluster::shared_or_skip("store export/import round trip") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("first"), dir.path().join("second"));
    fill_sled_store(&first).await;
    let file = |name: &str| dir.path().join(name).display().to_string();
    let first_dir = first.display().to_string();

    let (ok, out) = store_cli(
        &["export", "--store", &first_dir, "--out", &file("1.jsonl")],
        &[],
    );
    assert!(ok, "{out}");
    let url = cluster.url(&pg_cluster::fresh_database(cluster, "transfer"));
    let pg = [
        ("TSH_ISSUER__STORE__BACKEND", "postgres"),
        ("TSH_ISSUER__STORE__URL", url.as_str()),
    ];
    let (ok, out) = store_cli(&["import", &file("1.jsonl")], &pg);
    assert!(ok, "{out}");
    assert!(out.contains("imported"), "{out}");
    let (ok, out) = store_cli(&["export", "--out", &file("2.jsonl")], &pg);
    assert!(ok, "{out}");
    let second_dir = second.display().to_string();
    let (ok, out) = store_cli(&["import", &file("2.jsonl"), "--store", &second_dir], &[]);
    assert!(ok, "{out}");
    let (ok, out) = store_cli(
        &["export", "--store", &second_dir, "--out", &file("3.jsonl")],
        &[],
    );
    assert!(ok, "{out}");

    let (one, two, three) = (
        rows(&dir.path().join("1.jsonl")),
        rows(&dir.path().join("2.jsonl")),
        rows(&dir.path().join("3.jsonl")),
    );
    let tables: std::collections::BTreeSet<&str> =
        one.iter().filter_map(|r| r["table"].as_str()).collect();
    for table in [
        "issuercardrefid_card",
        "correlationid_enrollment",
        "decisionid_decision",
        "virtualcardid_token",
        "virtualcardid_transition",
        "countercell_count",
        "auditid_auditentry",
        "eventseq_event",
        "messagefingerprint_receivedtime",
    ] {
        assert!(tables.contains(table), "{table} is exported: {tables:?}");
    }
    assert_eq!(one, two, "sled → PostgreSQL keeps every row");
    assert_eq!(two, three, "PostgreSQL → sled keeps every row");

    let text = std::fs::read_to_string(dir.path().join("1.jsonl")).unwrap();
    for secret in [PAN_FULL, TOKEN_PAN, OTP] {
        assert!(!text.contains(secret), "{secret} appears in the export");
    }

    // A second import into the now non-empty store is refused, naming the way to merge.
    let (ok, out) = store_cli(&["import", &file("2.jsonl"), "--store", &second_dir], &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("not empty") && out.contains("--into-non-empty"),
        "{out}"
    );
    let (ok, out) = store_cli(
        &[
            "import",
            &file("2.jsonl"),
            "--store",
            &second_dir,
            "--into-non-empty",
        ],
        &[],
    );
    assert!(ok, "{out}");
}
