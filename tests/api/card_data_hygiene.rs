//! A full enrolment, then a scan of the store (every file of the sled directory, or a `pg_dump` of
//! the PostgreSQL database on that pass) and the captured logs for the PAN, the token numbers and
//! the OTP: none of them may appear, in ASCII or UTF-16.

use serde_json::json;

use crate::helpers::*;

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    let ascii = needle.as_bytes();
    let utf16: Vec<u8> = needle
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    haystack.windows(ascii.len()).any(|w| w == ascii)
        || haystack.windows(utf16.len()).any(|w| w == utf16.as_slice())
}

/// Everything the store holds: the sled directory's files, or the database as `pg_dump` writes it.
fn stored_bytes(store: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    match postgres_database(store) {
        Some(url) => {
            let database = url.rsplit('/').next().unwrap();
            let cluster = crate::pg_cluster::shared().unwrap();
            let dump = cluster.dump(database);
            assert!(dump.contains("COPY public.tokens"), "a real dump:\n{dump}");
            vec![(format!("pg_dump of {database}"), dump.into_bytes())]
        }
        None => files_under(store)
            .into_iter()
            .map(|f| (f.display().to_string(), std::fs::read(&f).unwrap()))
            .collect(),
    }
}

#[actix_web::test]
async fn no_pan_token_or_otp_in_the_store_or_the_logs() {
    const OTP: &str = "91827364";
    const DEVICE_TOKEN: &str = "4895370012003478";
    const COF_TOKEN: &str = "4761340000000019";
    let gateway = MockGateway::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut service = ServiceProcess::start(&store, &gateway.url, &[("RUST_LOG", "trace")]);
    let client = ProcessClient::new(&service.address);
    let correlation = "hygiene-1";
    let cvv = tsh_issuer::crypto::CvvVerifier::from_hex("0123456789ABCDEF", "FEDCBA9876543210")
        .unwrap()
        .compute(PAN_FULL, "3012", "000")
        .unwrap();
    let card_info = dev_seal(&json!({"fpan": PAN_FULL, "exp": "1230", "cvv": cvv}));

    let elig = client
        .call(
            "checkCardEligibility",
            correlation,
            &json!({"cipheredCardInfo": card_info, "captureMethod": "TOKEN"}),
        )
        .await;
    assert_eq!(elig.status, 200, "{:?}", elig.body);
    let card = elig.body["issuerCardRefId"].as_str().unwrap().to_owned();
    let decision = client
        .call(
            "requestCardDigitization",
            correlation,
            &json!({"cipheredCardInfo": card_info, "cardCaptureInformation": {"captureMethod": "TOKEN"},
                    "originalToken": DEVICE_TOKEN, "originalTokenReferenceID": "REF-H1", "originalTokenRequestorId": 40010030273u64,
                    "scoringInformation": {"deviceScore": 1}}),
        )
        .await;
    assert_eq!(
        decision.body["levelOfTrust"], "yellow",
        "{:?}",
        decision.body
    );
    let method = decision.body["idvMethodList"][0]["id"].clone();
    let otp = client
        .call(
            "sendOTP",
            correlation,
            &json!({"issuerCardRefId": card, "otpValue": OTP, "otpMethodId": method}),
        )
        .await;
    assert_eq!(otp.status, 200, "{:?}", otp.body);
    assert_eq!(gateway.deliveries()[0]["otp"], OTP);
    let activate = client
        .call(
            "notifyVirtualCardChange",
            correlation,
            &json!({"issuerCardRefId": card, "virtualCardId": "VC-hygiene", "walletProviderId": "MERCHANT", "action": "ACTIVATE",
                    "tokenInfo": {"tokenPan": COF_TOKEN, "originalToken": DEVICE_TOKEN}, "tokenRequestor": {"id": "1", "originalToken": DEVICE_TOKEN}}),
        )
        .await;
    assert_eq!(activate.status, 200);
    // Bad input that carries a PAN must not echo it either.
    let bad = client
        .call(
            "requestCardDigitization",
            correlation,
            &json!({"cipheredCardInfo": 4111111111111111u64}),
        )
        .await;
    assert_eq!(bad.status, 400);
    service.kill_hard();

    let log = service.log_text();
    assert!(
        log.contains("digitization decided"),
        "logs were captured:\n{log}"
    );
    let stored = stored_bytes(&store);
    assert!(!stored.is_empty(), "something was stored");
    for secret in [PAN_FULL, DEVICE_TOKEN, COF_TOKEN, OTP] {
        assert!(!log.contains(secret), "{secret} appears in the logs");
        for (name, bytes) in &stored {
            assert!(!contains(bytes, secret), "{secret} appears in {name}");
        }
    }
}
