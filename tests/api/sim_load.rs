//! `tsh-sim load` against a service on port 0: a tiny open-model run reports every operation of
//! the mix with counts and percentiles, and no errors. No timing assertions: this checks the
//! accounting, not the speed of the machine.

use std::time::Duration;

use tsh_issuer::sim::load::{run_load, Cards, LoadOptions};

use crate::helpers::*;

fn dev_cert() -> String {
    std::fs::read_to_string(repo_root().join("fixtures/dev-keys/issuer-dev.crt")).unwrap()
}

#[actix_web::test]
async fn a_tiny_load_reports_counts_and_percentiles_without_errors() {
    let app = spawn_app().await;
    let mut options = LoadOptions::local(&app.address, dev_cert(), 20.0, Duration::from_secs(1));
    options.mix = "eligibility=1,digitization=1,otp=1,notify=1"
        .parse()
        .unwrap();
    options.cards = Cards::Fresh(8);
    let report = run_load(options).await.expect("the run starts");
    let text = report.to_string();

    assert_eq!(report.scheduled, 20, "{text}");
    assert_eq!(report.started, 20, "{text}");
    assert_eq!((report.not_started, report.unfinished), (0, 0), "{text}");
    assert_eq!(report.total_errors(), 0, "{text}");
    assert_eq!(report.cards, 8, "{text}");
    // 20 sessions cycling through four kinds: 5 each. Eligibility opens every session but notify.
    let count = |op: &str| report.ops[op].count();
    assert_eq!(count("checkCardEligibility"), 15, "{text}");
    assert_eq!(count("requestCardDigitization"), 5, "{text}");
    assert_eq!(count("getIDnVMethodList"), 5, "{text}");
    assert_eq!(count("sendOTP"), 5, "{text}");
    assert_eq!(count("notifyVirtualCardChange"), 5, "{text}");
    assert_eq!(report.total_requests(), 35, "{text}");
    // The OTPs really reached the gateway the service hands them to.
    assert_eq!(app.gateway.deliveries().len(), 5, "{text}");

    for (op, stats) in &report.ops {
        if stats.count() == 0 {
            continue;
        }
        let h = &stats.histogram;
        assert!(h.min() >= 1, "{op}: {text}");
        assert!(
            h.value_at_quantile(0.5) <= h.value_at_quantile(0.99),
            "{op}"
        );
        assert!(h.value_at_quantile(0.99) <= h.max(), "{op}");
    }
    for needle in [
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "errors: none",
        "summary: offered=20.0",
    ] {
        assert!(text.contains(needle), "missing {needle}: {text}");
    }
    assert!(text.contains("requests=35 errors=0"), "{text}");

    // Every session had its own correlation id: each digitization is its own enrolment.
    let enrolments = app.staff_get("/api/v1/enrollments?count=100").await;
    if enrolments.status == 200 {
        let listed = enrolments.body["data"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0);
        assert!(listed >= 15, "{}", enrolments.body);
    }
}

#[actix_web::test]
async fn the_dev_cards_can_be_reused_and_remote_urls_are_refused() {
    let app = spawn_app().await;
    let mut options =
        LoadOptions::local(&app.address, dev_cert(), 10.0, Duration::from_millis(500));
    options.cards = Cards::Dev;
    let report = run_load(options).await.expect("the run starts");
    assert_eq!(report.total_errors(), 0, "{report}");
    assert_eq!(report.started, 5, "{report}");
    assert!(
        report.ops["notifyVirtualCardChange"].count() >= 1,
        "{report}"
    );

    let remote = LoadOptions::local(
        "http://192.0.2.1:8080",
        dev_cert(),
        10.0,
        Duration::from_secs(1),
    );
    let err = match run_load(remote).await {
        Err(e) => e,
        Ok(report) => panic!("a remote URL was loaded: {report}"),
    };
    assert!(err.contains("loopback"), "{err}");
}

#[actix_web::test]
async fn with_two_urls_a_request_the_first_cannot_answer_is_retried_on_the_other() {
    let app = spawn_app().await;
    // The second "instance" is a port nothing listens on: every session sent there fails to
    // connect and is retried on the live one, with the same correlation id.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let acks = dir.path().join("acks.jsonl");
    let mut options = LoadOptions::local(&app.address, dev_cert(), 20.0, Duration::from_secs(1));
    options.other_urls = vec![format!("http://127.0.0.1:{dead}")];
    options.acks = Some(acks.clone());
    options.mix = "eligibility=1,notify=1".parse().unwrap();
    options.cards = Cards::Fresh(4);
    let report = run_load(options).await.expect("the run starts");
    let text = report.to_string();

    assert_eq!(report.total_errors(), 0, "{text}");
    assert_eq!(
        report.retried, 10,
        "every odd session went to the dead URL first: {text}"
    );
    assert!(text.contains("failover: 10 request(s) retried"), "{text}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&acks)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len() as u64,
        report.total_requests(),
        "one ack per 200"
    );
    assert!(
        lines.iter().all(|l| l["url"] == app.address.as_str()),
        "{lines:?}"
    );
    let notified = lines
        .iter()
        .filter(|l| l["operation"] == "notifyVirtualCardChange")
        .count();
    assert_eq!(notified, 10);
}
