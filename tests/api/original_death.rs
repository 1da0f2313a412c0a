//! When the original dies (issue 10): the `token_for_token.on_original_death` policy for the COF
//! tokens made from a device token that is suspended or deleted — `flag` (default: listed at
//! `GET /api/v1/lineage/orphans`, counted in metrics), `suspend` (through TSH's `updateCardState`,
//! reason recorded, audited) and `none`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;
use crate::mock_tsh::MockTsh;
use crate::notifications::card_ref;
use crate::token_for_token::{lifecycle, make_cof_token, provision_device_token};

const DEVICE: (&str, &str) = ("REF-OD-DEVICE", "4895370012003001");
const COF_1: (&str, &str) = ("REF-OD-COF-1", "4895370012003002");

/// device → COF 1 → COF 2 on the dev card; returns the card reference.
async fn chain(app: &TestApp) -> String {
    let card = card_ref(app, PAN_FULL).await;
    provision_device_token(app, &card, "VC-od-device", DEVICE.0, DEVICE.1).await;
    let first = make_cof_token(app, &card, DEVICE, ("VC-od-cof-1", COF_1.0, COF_1.1)).await;
    let second = make_cof_token(
        app,
        &card,
        COF_1,
        ("VC-od-cof-2", "REF-OD-COF-2", "4895370012003003"),
    )
    .await;
    assert_eq!((first.as_str(), second.as_str()), ("green", "green"));
    card
}

async fn orphans(app: &TestApp) -> Value {
    let reply = app.staff_get("/api/v1/lineage/orphans").await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body
}

fn ids(list: &Value) -> Vec<&str> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["virtual_card_id"].as_str().unwrap())
        .collect()
}

async fn orphans_counted(app: &TestApp, policy: &str, state: &str) -> f64 {
    let text = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = format!(
        "tsh_issuer_token_for_token_orphans_total{{policy=\"{policy}\",original_state=\"{state}\"}} "
    );
    text.lines()
        .find_map(|l| l.strip_prefix(&series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn state_of(app: &TestApp, vcid: &str) -> Value {
    app.staff_get(&format!("/api/v1/tokens/{vcid}")).await.body
}

#[actix_web::test]
async fn by_default_the_descendants_of_a_deleted_device_token_are_flagged_listed_and_counted() {
    let app = spawn_app().await;
    let card = chain(&app).await;
    assert_eq!(orphans(&app).await["count"], 0);
    let before = orphans_counted(&app, "flag", "DELETED").await;

    lifecycle(&app, &card, "VC-od-device", "DELETE").await;

    let listed = orphans(&app).await;
    assert_eq!(ids(&listed), ["VC-od-cof-1", "VC-od-cof-2"], "{listed}");
    for token in listed["data"].as_array().unwrap() {
        assert_eq!(token["state"], "ACTIVE", "flag never changes a state");
        let flag = &token["original_death"];
        assert_eq!(flag["original_virtual_card_id"], "VC-od-device");
        assert_eq!(flag["original_state"], "DELETED");
        assert_eq!(flag["policy"], "flag");
        assert!(flag["reason"].as_str().unwrap().contains("VC-od-device"));
    }
    assert!(!listed.to_string().contains(DEVICE.1));
    assert!(orphans_counted(&app, "flag", "DELETED").await >= before + 2.0);

    // A repeated or late notification flags nothing new; a flagged token that is deleted itself
    // leaves the list.
    lifecycle(&app, &card, "VC-od-device", "DELETE").await;
    assert_eq!(orphans(&app).await["count"], 2);
    lifecycle(&app, &card, "VC-od-cof-2", "DELETE").await;
    assert_eq!(ids(&orphans(&app).await), ["VC-od-cof-1"]);
    let deleted = state_of(&app, "VC-od-cof-2").await;
    assert_eq!(
        deleted["original_death"]["original_virtual_card_id"],
        "VC-od-device"
    );
}

#[actix_web::test]
async fn a_flag_is_cleared_when_the_suspended_original_resumes() {
    let app = spawn_app().await;
    let card = chain(&app).await;
    lifecycle(&app, &card, "VC-od-device", "SUSPEND").await;
    let listed = orphans(&app).await;
    assert_eq!(listed["count"], 2);
    assert_eq!(
        listed["data"][0]["original_death"]["original_state"],
        "SUSPENDED"
    );

    lifecycle(&app, &card, "VC-od-device", "RESUME").await;
    assert_eq!(orphans(&app).await["count"], 0);
    assert_eq!(
        state_of(&app, "VC-od-cof-1").await["original_death"],
        Value::Null
    );

    // Suspended, then deleted: the flag follows the worse state.
    lifecycle(&app, &card, "VC-od-device", "SUSPEND").await;
    lifecycle(&app, &card, "VC-od-device", "DELETE").await;
    let listed = orphans(&app).await;
    assert_eq!(listed["count"], 2);
    assert_eq!(
        listed["data"][0]["original_death"]["original_state"],
        "DELETED"
    );
}

#[actix_web::test]
async fn the_suspend_policy_suspends_descendants_through_tsh_with_a_reason_and_an_audit_entry() {
    let tsh = MockTsh::start().await;
    let app = spawn_app_with(&[
        ("tsh.base_url", tsh.base_url.as_str()),
        ("token_for_token.on_original_death", "suspend"),
    ])
    .await;
    tsh.notify_to(&app.address);
    let card = chain(&app).await;
    let before = orphans_counted(&app, "suspend", "DELETED").await;

    lifecycle(&app, &card, "VC-od-device", "DELETE").await;

    // TSH confirms each suspension with a notification carrying our correlation id.
    let deadline = Instant::now() + Duration::from_secs(10);
    for vcid in ["VC-od-cof-1", "VC-od-cof-2"] {
        while state_of(&app, vcid).await["state"] != "SUSPENDED" {
            assert!(Instant::now() < deadline, "{vcid} was not suspended");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    let calls: Vec<Value> = tsh
        .requests()
        .into_iter()
        .filter(|r| r.operation == "updateCardState")
        .map(|r| r.body)
        .collect();
    assert_eq!(
        calls.len(),
        2,
        "one call per descendant, none for the cascade: {calls:?}"
    );
    for call in &calls {
        assert_eq!(call["action"], "SUSPEND");
        assert!(
            call["reason"].as_str().unwrap().contains("VC-od-device"),
            "{call}"
        );
    }
    let transitions = app
        .staff_get("/api/v1/tokens/VC-od-cof-1/transitions")
        .await;
    let last = transitions.body["data"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["state"], "SUSPENDED");
    assert_eq!(last["channel"], "API");
    assert_eq!(last["reason_code"], "15");
    assert!(
        last["reason"].as_str().unwrap().contains("DELETED"),
        "{last}"
    );

    let audit = app.staff_get("/api/v1/audit?count=50").await;
    let entries: Vec<&Value> = audit.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["who"] == "lineage-policy")
        .collect();
    assert_eq!(entries.len(), 2, "{:?}", audit.body);
    assert!(entries
        .iter()
        .all(|e| e["what"] == "tokentransition.create"));

    let listed = orphans(&app).await;
    assert_eq!(listed["count"], 2);
    assert_eq!(listed["data"][0]["original_death"]["policy"], "suspend");
    assert!(orphans_counted(&app, "suspend", "DELETED").await >= before + 2.0);
}

#[actix_web::test]
async fn the_none_policy_leaves_descendants_alone() {
    let app = spawn_app_with(&[("token_for_token.on_original_death", "none")]).await;
    let card = chain(&app).await;
    lifecycle(&app, &card, "VC-od-device", "DELETE").await;
    assert_eq!(orphans(&app).await["count"], 0);
    assert_eq!(
        state_of(&app, "VC-od-cof-1").await["original_death"],
        Value::Null
    );
    let unauthenticated = app
        .client
        .get(format!("{}/api/v1/lineage/orphans", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status().as_u16(), 401);
}
