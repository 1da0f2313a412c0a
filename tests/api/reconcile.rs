//! Reconciliation with TSH as the authority (issue 11): a notification TSH never delivered is
//! healed by `POST /api/v1/reconciliations` (and `tsh-issuer reconcile`), every difference is a
//! SYSTEM transition and a drift entry; a deleted token is never revived; a TSH that is down
//! leaves states unchanged and the run reports the failure.

use serde_json::json;

use crate::helpers::*;
use crate::lifecycle_sync::with_sim_tsh;

#[actix_web::test]
async fn a_dropped_notification_is_healed_by_reconciling_the_card() {
    let s = with_sim_tsh(&[]).await;
    s.tsh.register(&s.card, "VC-rec-1", "ACTIVE", None).unwrap();
    s.deliver("VC-rec-1", "ACTIVATE").await;
    // TSH suspended the token; the notification was dropped on the way.
    s.tsh
        .register(&s.card, "VC-rec-1", "SUSPENDED", None)
        .unwrap();
    // TSH knows a token we never heard of, and one of ours was deleted while TSH says ACTIVE.
    s.tsh.register(&s.card, "VC-rec-2", "ACTIVE", None).unwrap();
    s.tsh.register(&s.card, "VC-rec-3", "ACTIVE", None).unwrap();
    s.deliver("VC-rec-3", "ACTIVATE").await;
    s.deliver("VC-rec-3", "DELETE").await;

    let reply = s
        .app
        .staff_post(
            "/api/v1/reconciliations",
            &json!({"issuer_card_ref_id": s.card}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let report = reply.body;
    assert_eq!(report["status"], "completed", "{report:#}");
    assert_eq!(report["requested_by"], "staff:bootstrap");
    let drift = report["drift"].as_array().unwrap();
    let action_of = |vcid: &str| {
        drift
            .iter()
            .find(|d| d["virtual_card_id"] == vcid)
            .map(|d| d["action"].as_str().unwrap().to_owned())
    };
    assert_eq!(action_of("VC-rec-1").as_deref(), Some("transitioned"));
    assert_eq!(action_of("VC-rec-2").as_deref(), Some("created"));
    assert_eq!(action_of("VC-rec-3").as_deref(), Some("kept_deleted"));

    assert_eq!(s.state_of("VC-rec-1").await, "SUSPENDED");
    assert_eq!(s.state_of("VC-rec-2").await, "ACTIVE");
    assert_eq!(s.state_of("VC-rec-3").await, "DELETED", "never revived");
    let last = s.transitions("VC-rec-1").await.pop().unwrap();
    assert_eq!(last["channel"], "SYSTEM", "{last}");
    assert_eq!(last["source"], "reconciliation");
    assert_eq!(last["action"], "RECONCILE");

    // A second run finds nothing more to do, and both runs are listed newest first.
    let again = s
        .app
        .staff_post(
            "/api/v1/reconciliations",
            &json!({"issuer_card_ref_id": s.card}),
        )
        .await;
    let again_drift: Vec<_> = again.body["drift"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["action"] != "kept_deleted")
        .collect();
    assert!(again_drift.is_empty(), "{:#}", again.body);
    let list = s.app.staff_get("/api/v1/reconciliations").await;
    assert_eq!(
        list.body["data"][0]["reconciliation_id"],
        again.body["reconciliation_id"]
    );
    let id = report["reconciliation_id"].as_str().unwrap();
    let one = s
        .app
        .staff_get(&format!("/api/v1/reconciliations/{id}"))
        .await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["drift"], report["drift"]);

    // Metrics are process-wide (other tests run beside this one): at least this run's drift.
    let metrics = s
        .app
        .client
        .get(format!("{}/metrics", s.app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let transitioned = metrics
        .lines()
        .find(|l| {
            l.starts_with("tsh_issuer_token_sync_total{kind=\"drift\",outcome=\"transitioned\"}")
        })
        .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok());
    assert!(transitioned.is_some_and(|n| n >= 1), "{metrics}");
}

#[actix_web::test]
async fn a_tsh_that_is_down_leaves_states_unchanged_and_the_run_reports_it() {
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", nowhere.local_addr().unwrap());
    drop(nowhere);
    let app = spawn_app_with(&[("tsh.base_url", dead.as_str())]).await;
    let card = crate::notifications::card_ref(&app, PAN_FULL).await;
    app.call(
        "notifyVirtualCardChange",
        &cid("rec-down"),
        &crate::notifications::notification(&card, "VC-rec-down", "ACTIVATE"),
    )
    .await;
    let reply = app
        .staff_post(
            "/api/v1/reconciliations",
            &json!({"issuer_card_ref_id": card}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "completed_with_failures");
    assert_eq!(
        reply.body["failures"][0]["issuer_card_ref_id"],
        card.as_str()
    );
    let token = app.staff_get("/api/v1/tokens/VC-rec-down").await;
    assert_eq!(token.body["state"], "ACTIVE");
}

#[actix_web::test]
async fn bad_reconciliation_requests_are_clear_4xx() {
    let s = with_sim_tsh(&[]).await;
    for (body, status) in [
        (json!({}), 400),
        (json!({"all": true, "issuer_card_ref_id": "x"}), 400),
        (json!({"all": "yes"}), 400),
        (json!({"issuer_card_ref_id": 5}), 400),
        (json!({"issuer_card_ref_id": "no-such-card"}), 404),
    ] {
        let reply = s.app.staff_post("/api/v1/reconciliations", &body).await;
        assert_eq!(reply.status, status, "{body}: {:?}", reply.body);
    }
    let missing = s
        .app
        .staff_get("/api/v1/reconciliations/rec-0000000000000001")
        .await;
    assert_eq!(missing.status, 404);
    let junk = s.app.staff_get("/api/v1/reconciliations/junk").await;
    assert_eq!(junk.status, 404);
}
