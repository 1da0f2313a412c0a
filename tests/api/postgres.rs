//! The PostgreSQL backend as operators run it: several instances on one database keep the
//! guarantees of one process (duplicates recorded once, decisions visible across, exact OTP rate
//! limit); a lost database answers 500 / 921 and the service recovers by itself; an unreachable
//! database stops startup with one message naming `store.url`. Each test uses the throw-away
//! cluster (or says loudly it did not run; fails in CI).

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;
use crate::pg_cluster;

/// An in-process service on the given database.
async fn instance(url: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut overrides = vec![("store.backend", "postgres"), ("store.url", url)];
    overrides.extend_from_slice(extra);
    spawn_app_with(&overrides).await
}

/// Two instances on one fresh database of the shared cluster.
async fn two_instances(test: &str, extra: &[(&str, &str)]) -> Option<(TestApp, TestApp)> {
    let cluster = pg_cluster::shared_or_skip(test)?;
    let url = cluster.url(&pg_cluster::fresh_database(cluster, "inst"));
    let a = instance(&url, extra).await;
    let b = instance(&url, extra).await;
    Some((a, b))
}

async fn ready_status(app: &TestApp) -> u16 {
    app.client
        .get(format!("{}/health/ready", app.address))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Polls readiness until it reports `want` (bounded).
async fn wait_ready(app: &TestApp, want: u16) -> bool {
    for _ in 0..100 {
        if ready_status(app).await == want {
            return true;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[actix_web::test]
async fn a_duplicate_sent_to_two_instances_at_once_is_recorded_once() {
    let Some((a, b)) = two_instances("duplicate notification on two instances", &[]).await else {
        return;
    };
    let elig = a.eligibility(&cid("dup2"), PAN_FULL).await;
    let card = elig.body["issuerCardRefId"].as_str().unwrap().to_owned();
    for round in 0..10 {
        let vcid = format!("VC-DUP2-{round}");
        let body = json!({"issuerCardRefId": card, "virtualCardId": vcid, "walletProviderId": "APPLE_PAY", "action": "ACTIVATE"});
        let correlation = format!("dup2-notify-{round}");
        let (ra, rb) = tokio::join!(
            a.call("notifyVirtualCardChange", &correlation, &body),
            b.call("notifyVirtualCardChange", &correlation, &body)
        );
        assert_eq!(
            (ra.status, rb.status),
            (200, 200),
            "round {round}: {ra:?} {rb:?}"
        );
        let transitions = b
            .staff_get(&format!("/api/v1/tokens/{vcid}/transitions"))
            .await;
        assert_eq!(
            transitions.body["count"], 1,
            "round {round}: one transition, whichever instance won: {:?}",
            transitions.body
        );
    }
}

#[actix_web::test]
async fn a_decision_made_on_one_instance_is_visible_on_the_other() {
    let Some((a, b)) = two_instances("decision visible across instances", &[]).await else {
        return;
    };
    let correlation = cid("cross");
    assert_eq!(a.eligibility(&correlation, PAN_FULL).await.status, 200);
    let body = digitization_body(&a, PAN_FULL, "BANK_APP", json!({}));
    let decision = a.call("requestCardDigitization", &correlation, &body).await;
    assert_eq!(decision.status, 200, "{:?}", decision.body);
    let seen = b
        .staff_get(&format!("/api/v1/enrollments/{correlation}"))
        .await;
    assert_eq!(seen.status, 200, "{:?}", seen.body);
    assert_eq!(seen.body["decisions"].as_array().map(Vec::len), Some(1));
    let listed = b.staff_get("/api/v1/decisions?count=10").await;
    assert_eq!(listed.body["count"], 1, "{:?}", listed.body);
}

#[actix_web::test]
async fn the_otp_rate_limit_is_exact_across_instances() {
    let Some((a, b)) = two_instances(
        "OTP rate limit across instances",
        &[("otp.rate_limit_count", "3")],
    )
    .await
    else {
        return;
    };
    let correlation = cid("otp2");
    let elig = a.eligibility(&correlation, PAN_FULL).await;
    let card = elig.body["issuerCardRefId"].as_str().unwrap().to_owned();
    let body = json!({"issuerCardRefId": card, "otpValue": "123987"});
    let sends: Vec<_> = (0..8)
        .map(|i| {
            let app = if i % 2 == 0 { &a } else { &b };
            app.call("sendOTP", &correlation, &body)
        })
        .collect();
    let replies = futures_util::future::join_all(sends).await;
    let accepted = replies.iter().filter(|r| r.status == 200).count();
    let limited = replies.iter().filter(|r| r.code() == Some(510)).count();
    assert_eq!((accepted, limited), (3, 5), "{replies:?}");
    let delivered = a.gateway.deliveries().len() + b.gateway.deliveries().len();
    assert_eq!(delivered, 3);
}

#[actix_web::test]
async fn a_lost_database_answers_921_then_the_service_recovers_by_itself() {
    let Some(cluster) = pg_cluster::private_or_skip("database lost while serving") else {
        return;
    };
    cluster.create_database("tsh");
    let app = instance(&cluster.url("tsh"), &[]).await;
    let elig = app.eligibility(&cid("lost"), PAN_FULL).await;
    assert_eq!(elig.status, 200, "{:?}", elig.body);
    let card = elig.body["issuerCardRefId"].as_str().unwrap().to_owned();
    let notify = |vcid: &str| json!({"issuerCardRefId": card, "virtualCardId": vcid, "walletProviderId": "APPLE_PAY", "action": "ACTIVATE"});

    cluster.stop_server().unwrap();
    let refused = app
        .call("notifyVirtualCardChange", "lost-1", &notify("VC-LOST"))
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (500, Some(921)),
        "{:?}",
        refused.body
    );
    assert!(wait_ready(&app, 503).await, "/health/ready turns not-ready");

    cluster.start_server().unwrap();
    assert!(
        wait_ready(&app, 200).await,
        "ready again once the database is back"
    );
    let token = app.staff_get("/api/v1/tokens/VC-LOST").await;
    assert_eq!(
        token.status, 404,
        "nothing was acknowledged: {:?}",
        token.body
    );
    let accepted = app
        .call("notifyVirtualCardChange", "lost-2", &notify("VC-BACK"))
        .await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
}

#[actix_web::test]
async fn an_unreachable_database_stops_startup_naming_store_url_with_the_password_masked() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tsh-issuer"))
        .arg("serve")
        .current_dir(repo_root())
        .env("TSH_ISSUER__SERVER__BIND", "127.0.0.1:0")
        .env("TSH_ISSUER__STORE__BACKEND", "postgres")
        .env(
            "TSH_ISSUER__STORE__URL",
            format!("postgres://tsh:s3cret@127.0.0.1:{port}/tsh"),
        )
        .env_remove("TSH_ISSUER_ENV")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("store.url"), "{stderr}");
    assert!(stderr.contains("tsh:***@127.0.0.1"), "{stderr}");
    assert!(!stderr.contains("s3cret") && !stdout.contains("s3cret"));
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "one message: {stderr}"
    );
}

#[actix_web::test]
async fn a_digitization_retried_on_the_other_instance_is_decided_once() {
    let Some((a, b)) = two_instances("digitization retried across instances", &[]).await else {
        return;
    };
    for round in 0..5 {
        let correlation = cid("failover-digi");
        assert_eq!(a.eligibility(&correlation, PAN_FULL).await.status, 200);
        let body = digitization_body(&a, PAN_FULL, "BANK_APP", json!({}));
        let (ra, rb) = tokio::join!(
            a.call("requestCardDigitization", &correlation, &body),
            b.call("requestCardDigitization", &correlation, &body)
        );
        assert_eq!((ra.status, rb.status), (200, 200), "round {round}");
        assert_eq!(ra.body, rb.body, "round {round}: one answer");
        let view = b
            .staff_get(&format!("/api/v1/enrollments/{correlation}"))
            .await;
        assert_eq!(
            view.body["decisions"].as_array().map(Vec::len),
            Some(1),
            "round {round}: {:?}",
            view.body
        );
    }
}
