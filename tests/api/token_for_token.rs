//! Token-for-token (seed 000, issue 10): detection, attribute locations and aliases, provenance of
//! the original token (ours? same card? live? consistent?) and the shipped rules' colours, the
//! provenance facts recorded with each decision, malformed attributes refused, lineage both ways.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::notifications::card_ref;

const ORIGINAL_TOKEN: &str = "4895370012003478";

/// Provisions a device token on a card as TSH reports it: an ACTIVATE whose `tokenInfo` carries
/// the token's own reference id and number.
pub async fn provision_device_token(
    app: &TestApp,
    card: &str,
    vcid: &str,
    reference: &str,
    number: &str,
) {
    let body = json!({"issuerCardRefId": card, "virtualCardId": vcid, "walletProviderId": "APPLE_PAY",
        "action": "ACTIVATE", "source": "WALLET", "tokenRequestor": {"id": "40010030273", "name": "Apple Pay"},
        "tokenInfo": {"tokenReferenceId": reference, "tokenPan": number}});
    let reply = app
        .call("notifyVirtualCardChange", &cid("device"), &body)
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

/// A lifecycle action on an existing token, in its own TSH session.
pub async fn lifecycle(app: &TestApp, card: &str, vcid: &str, action: &str) {
    let body = json!({"issuerCardRefId": card, "virtualCardId": vcid, "walletProviderId": "APPLE_PAY", "action": action, "source": "WALLET"});
    let reply = app
        .call("notifyVirtualCardChange", &cid("life"), &body)
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

/// The original-token attributes of a token-for-token request (absent parts left out).
pub fn original_attributes(reference: Option<&str>, number: Option<&str>) -> Value {
    let mut attributes =
        json!({"originalTokenRequestorId": "40010030273", "originalTokenAssuranceLevel": "25"});
    if let Some(reference) = reference {
        attributes["originalTokenReferenceID"] = json!(reference);
    }
    if let Some(number) = number {
        attributes["originalToken"] = json!(number);
    }
    attributes
}

/// A token-for-token digitization of `pan`; returns the answer and the recorded decision.
pub async fn t4t_digitization(app: &TestApp, pan: &str, attributes: Value) -> (Reply, Value) {
    let mut body = digitization_body(app, pan, "TOKEN", attributes);
    body["walletProviderId"] = json!("VISA_MERCHANT");
    body["tokenRequestor"] = json!({"id": "40000000083", "name": "Merchant COF"});
    let reply = app
        .call("requestCardDigitization", &cid("t4t"), &body)
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let decisions = app.staff_get("/api/v1/decisions?count=1").await;
    (reply, decisions.body["data"][0].clone())
}

#[actix_web::test]
async fn token_for_token_colour_follows_the_original_tokens_provenance() {
    let app = spawn_app().await;
    let card = card_ref(&app, PAN_FULL).await;
    let other_card = card_ref(&app, PAN_PHONE_ONLY).await;
    provision_device_token(&app, &card, "VC-dev-ok", "REF-OK", "4895370012000101").await;
    provision_device_token(
        &app,
        &other_card,
        "VC-dev-other",
        "REF-OTHER",
        "4895370012000202",
    )
    .await;
    provision_device_token(&app, &card, "VC-dev-sus", "REF-SUS", "4895370012000303").await;
    lifecycle(&app, &card, "VC-dev-sus", "SUSPEND").await;
    provision_device_token(&app, &card, "VC-dev-del", "REF-DEL", "4895370012000404").await;
    lifecycle(&app, &card, "VC-dev-del", "DELETE").await;

    // (case, reference id, number, colour, deciding rule)
    #[rustfmt::skip]
    let cases = [
        ("unknown to us", Some("REF-NEVER-SEEN"), Some("4895370012009999"), "yellow", "token-for-token-original-unknown"),
        ("ours, same card, active", Some("REF-OK"), Some("4895370012000101"), "green", "token-for-token-provenance"),
        ("ours, found by reference id only", Some("REF-OK"), None, "green", "token-for-token-provenance"),
        ("ours, found by number only", None, Some("4895370012000101"), "green", "token-for-token-provenance"),
        ("ours, on another card", Some("REF-OTHER"), Some("4895370012000202"), "red", "original-token-other-card"),
        ("ours, suspended", Some("REF-SUS"), Some("4895370012000303"), "red", "original-token-not-live"),
        ("ours, deleted", Some("REF-DEL"), Some("4895370012000404"), "red", "original-token-not-live"),
        ("reference of one token, number of another", Some("REF-OK"), Some("4895370012000303"), "red", "original-token-inconsistent"),
        ("our reference id, a number we never saw", Some("REF-OK"), Some("4895370012008888"), "red", "original-token-inconsistent"),
    ];
    for (name, reference, number, colour, rule) in cases {
        let (reply, decision) =
            t4t_digitization(&app, PAN_FULL, original_attributes(reference, number)).await;
        assert_eq!(
            reply.body["levelOfTrust"], colour,
            "case {name}: {decision}"
        );
        assert_eq!(decision["decided_by_rule"], rule, "case {name}: {decision}");
        if colour == "yellow" {
            assert!(
                !reply.body["idvMethodList"].as_array().unwrap().is_empty(),
                "case {name}"
            );
        }
    }
}

#[actix_web::test]
async fn provenance_facts_are_recorded_with_the_decision_and_never_the_token_number() {
    let app = spawn_app().await;
    let card = card_ref(&app, PAN_FULL).await;
    provision_device_token(&app, &card, "VC-dev-facts", "REF-FACTS", ORIGINAL_TOKEN).await;

    let (_, decision) = t4t_digitization(
        &app,
        PAN_FULL,
        original_attributes(Some("REF-FACTS"), Some(ORIGINAL_TOKEN)),
    )
    .await;
    let facts = &decision["facts"];
    assert_eq!(facts["original_token.known"], true, "{facts}");
    assert_eq!(facts["original_token.consistent"], true);
    assert_eq!(facts["original_token.same_card"], true);
    assert_eq!(facts["original_token.state"], "ACTIVE");
    assert_eq!(facts["original_token.age_days"], 0.0);
    assert_eq!(facts["original_token.wallet_provider_id"], "APPLE_PAY");
    assert_eq!(facts["original_token.requestor_matches"], true);
    let export = app.staff_get("/api/v1/decisions?count=50").await;
    assert!(!export.body.to_string().contains(ORIGINAL_TOKEN));

    // A requestor id that differs from the one recorded is a fact; the shipped rules keep green.
    let mut attributes = original_attributes(Some("REF-FACTS"), None);
    attributes["originalTokenRequestorId"] = json!(40010075001u64);
    let (reply, decision) = t4t_digitization(&app, PAN_FULL, attributes).await;
    assert_eq!(decision["facts"]["original_token.requestor_matches"], false);
    assert_eq!(reply.body["levelOfTrust"], "green");

    // Unknown: only `known` and `consistent` are recorded.
    let (_, decision) = t4t_digitization(
        &app,
        PAN_FULL,
        original_attributes(Some("REF-UNSEEN"), None),
    )
    .await;
    let facts = decision["facts"].as_object().unwrap();
    assert_eq!(facts["original_token.known"], false);
    assert_eq!(facts["original_token.consistent"], true);
    assert!(!facts.contains_key("original_token.same_card"));
    assert!(!facts.contains_key("original_token.state"));

    // A request without original-token attributes carries no provenance facts.
    let body = digitization_body(&app, PAN_FULL, "BANK_APP", json!({}));
    app.call("requestCardDigitization", &cid("plain"), &body)
        .await;
    let last = app.staff_get("/api/v1/decisions?count=1").await;
    assert!(last.body["data"][0]["facts"]
        .get("original_token.known")
        .is_none());
}

#[actix_web::test]
async fn a_stand_in_with_original_token_attributes_records_its_provenance_facts() {
    let app = spawn_app().await;
    let card = card_ref(&app, PAN_FULL).await;
    provision_device_token(&app, &card, "VC-dev-si", "REF-SI", ORIGINAL_TOKEN).await;
    let mut body = json!({"issuerCardRefId": card, "virtualCardId": "VC-cof-si", "walletProviderId": "VISA_MERCHANT",
        "standInDecision": "APPROVED", "captureMethod": "TOKEN"});
    for (k, v) in original_attributes(Some("REF-SI"), Some(ORIGINAL_TOKEN))
        .as_object()
        .unwrap()
    {
        body[k] = v.clone();
    }
    let reply = app.call("notifyStandInProcess", &cid("si"), &body).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let decision = app.staff_get("/api/v1/decisions?count=1").await.body["data"][0].clone();
    assert_eq!(decision["decided_by"], "network");
    assert_eq!(
        decision["facts"]["original_token.known"], true,
        "{decision}"
    );
    assert_eq!(decision["facts"]["original_token.same_card"], true);
    assert_eq!(decision["facts"]["original_token.state"], "ACTIVE");
    assert!(!decision.to_string().contains(ORIGINAL_TOKEN));
}

#[actix_web::test]
async fn malformed_original_token_attributes_are_refused_naming_the_field_never_the_value() {
    let app = spawn_app().await;
    let card = card_ref(&app, PAN_FULL).await;
    let long_reference = "R".repeat(65);
    // (case, attributes, field named in the message, value that must not be echoed)
    let cases = [
        (
            "token number with dashes",
            json!({"originalToken": "4895-3700-1200-3478"}),
            "originalToken",
            "4895-3700-1200-3478",
        ),
        (
            "token number too short",
            json!({"originalToken": "48953700"}),
            "originalToken",
            "48953700",
        ),
        (
            "token number as an object",
            json!({"originalToken": {"pan": ORIGINAL_TOKEN}}),
            "originalToken",
            ORIGINAL_TOKEN,
        ),
        (
            "reference id too long",
            json!({"originalTokenReferenceID": long_reference}),
            "originalTokenReferenceID",
            long_reference.as_str(),
        ),
        (
            "control character in the requestor id",
            json!({"tokenRequestor": {"id": "1", "originalTokenRequestorId": "4001\u{0007}0030273"}}),
            "originalTokenRequestorId",
            "4001\u{0007}0030273",
        ),
    ];
    for (name, attributes, field, value) in cases {
        let digitization = digitization_body(&app, PAN_FULL, "TOKEN", attributes.clone());
        let mut notification = json!({"issuerCardRefId": card, "virtualCardId": "VC-bad", "walletProviderId": "VISA_MERCHANT", "action": "ACTIVATE"});
        let mut standin = json!({"issuerCardRefId": card, "virtualCardId": "VC-bad", "standInDecision": "APPROVED"});
        for (k, v) in attributes.as_object().unwrap() {
            notification[k] = v.clone();
            standin[k] = v.clone();
        }
        for (operation, body) in [
            ("requestCardDigitization", digitization),
            ("notifyVirtualCardChange", notification),
            ("notifyStandInProcess", standin),
        ] {
            let reply = app.call(operation, &cid("bad-original"), &body).await;
            assert_eq!(
                (reply.status, reply.code()),
                (400, Some(111)),
                "{name} / {operation}: {:?}",
                reply.body
            );
            let message = reply.body["errorMessage"].as_str().unwrap_or_default();
            assert!(message.contains(field), "{name} / {operation}: {message}");
            assert!(
                !reply.body.to_string().contains(value),
                "{name} / {operation} echoes the value"
            );
        }
    }
    assert_eq!(app.staff_get("/api/v1/decisions").await.body["count"], 0);
    assert_eq!(app.staff_get("/api/v1/tokens/VC-bad").await.status, 404);
}

#[actix_web::test]
async fn a_cof_token_from_a_device_token_keeps_its_lineage() {
    let app = spawn_app().await;
    let correlation = cid("t4t");
    let elig = app
        .call(
            "checkCardEligibility",
            &correlation,
            &json!({"cipheredCardInfo": app.card_info(PAN_FULL), "captureMethod": "TOKEN", "tokenRequestor": {"id": "40000000099", "name": "Merchant"}}),
        )
        .await;
    assert_eq!(elig.status, 200, "{:?}", elig.body);
    let card = elig.body["issuerCardRefId"].as_str().unwrap().to_owned();
    provision_device_token(
        &app,
        &card,
        "VC-device-1",
        "DNITHE000000001",
        ORIGINAL_TOKEN,
    )
    .await;

    // Attributes inside tokenRequestor, with the ID alias and a numeric requestor id.
    let body = digitization_body(
        &app,
        PAN_FULL,
        "TOKEN",
        json!({"tokenRequestor": {"id": "40000000099", "name": "Merchant", "originalToken": ORIGINAL_TOKEN, "originalTokenRequestorID": 40010030273u64, "originalTokenReferenceId": "DNITHE000000001", "originalTokenAssuranceLevel": "25"}}),
    );
    let decision = app
        .call("requestCardDigitization", &correlation, &body)
        .await;
    assert_eq!(
        decision.body["levelOfTrust"], "green",
        "{:?}",
        decision.body
    );

    // The activation carries the attributes inside tokenInfo, canonical spelling.
    let notify = json!({"issuerCardRefId": card, "virtualCardId": "VC-cof-1", "walletProviderId": "MERCHANT", "action": "ACTIVATE",
        "tokenInfo": {"originalTokenReferenceID": "DNITHE000000001", "originalToken": ORIGINAL_TOKEN}});
    assert_eq!(
        app.call("notifyVirtualCardChange", &correlation, &notify)
            .await
            .status,
        200
    );

    let token = app.staff_get("/api/v1/tokens/VC-cof-1").await;
    let original = &token.body["original_token"];
    assert_eq!(original["token_reference_id"], "DNITHE000000001");
    assert_eq!(original["token_requestor_id"], "40010030273");
    assert_eq!(original["assurance_level"], "25");
    assert_eq!(original["token_last4"], "3478");
    assert_eq!(original["token_masked"], "489537******3478");
    assert_eq!(token.body["capture_method"], "TOKEN");
    assert_eq!(token.body["token_for_token"], true);
    assert!(!token.body.to_string().contains(ORIGINAL_TOKEN));

    let lineage = app
        .staff_get("/api/v1/tokens?original_token_reference_id=DNITHE000000001")
        .await;
    assert_eq!(lineage.body["count"], 1, "{:?}", lineage.body);
    assert_eq!(lineage.body["data"][0]["virtual_card_id"], "VC-cof-1");

    let view = app
        .staff_get(&format!("/api/v1/enrollments/{correlation}"))
        .await;
    assert_eq!(view.body["token_for_token"], true);
    assert_eq!(view.body["original_token"]["assurance_level"], "25");
    let decisions = app.staff_get("/api/v1/decisions?count=1").await;
    assert_eq!(
        decisions.body["data"][0]["original_token"]["token_reference_id"],
        "DNITHE000000001"
    );
    assert_eq!(decisions.body["data"][0]["token_for_token"], true);
}

#[actix_web::test]
async fn token_for_token_without_assurance_level_steps_up() {
    let app = spawn_app().await;
    let card = card_ref(&app, PAN_FULL).await;
    provision_device_token(&app, &card, "VC-dev-2", "DNITHE2", ORIGINAL_TOKEN).await;
    let body = digitization_body(
        &app,
        PAN_FULL,
        "TOKEN",
        json!({"originalTokenReferenceID": "DNITHE2", "originalTokenRequestorId": "40010030273"}),
    );
    let decision = app
        .call("requestCardDigitization", &cid("t4t"), &body)
        .await;
    assert_eq!(
        decision.body["levelOfTrust"], "yellow",
        "{:?}",
        decision.body
    );
    assert!(!decision.body["idvMethodList"]
        .as_array()
        .unwrap()
        .is_empty());
    let last = app.staff_get("/api/v1/decisions?count=1").await;
    assert_eq!(
        last.body["data"][0]["decided_by_rule"],
        "token-for-token-unassured"
    );
}

#[actix_web::test]
async fn lineage_of_an_unknown_original_is_empty() {
    let app = spawn_app().await;
    let lineage = app
        .staff_get("/api/v1/tokens?original_token_reference_id=NOPE")
        .await;
    assert_eq!(lineage.status, 200);
    assert_eq!(lineage.body["count"], 0);
    assert_eq!(lineage.body["is_more"], false);
}

#[actix_web::test]
async fn replay_shows_what_the_provenance_rules_change_on_recorded_traffic() {
    // Before: the service answers with the rules shipped before issue 10 (any assurance level →
    // green); the decisions it records carry the provenance facts all the same.
    let before = repo_root().join("fixtures/rules/before-issue-10.toml");
    let app = spawn_app_with(&[("rules.file", before.to_str().unwrap())]).await;
    let card = card_ref(&app, PAN_FULL).await;
    let other_card = card_ref(&app, PAN_PHONE_ONLY).await;
    provision_device_token(&app, &card, "VC-r-ok", "REF-R-OK", "4895370012000505").await;
    provision_device_token(
        &app,
        &other_card,
        "VC-r-other",
        "REF-R-OTHER",
        "4895370012000606",
    )
    .await;
    provision_device_token(&app, &card, "VC-r-sus", "REF-R-SUS", "4895370012000707").await;
    lifecycle(&app, &card, "VC-r-sus", "SUSPEND").await;
    for (reference, number) in [
        ("REF-R-UNSEEN", "4895370012000808"),
        ("REF-R-OK", "4895370012000505"),
        ("REF-R-OTHER", "4895370012000606"),
        ("REF-R-SUS", "4895370012000707"),
    ] {
        let attributes = original_attributes(Some(reference), Some(number));
        let (reply, _) = t4t_digitization(&app, PAN_FULL, attributes).await;
        assert_eq!(reply.body["levelOfTrust"], "green", "before: {reference}");
    }
    let export = app
        .client
        .get(format!("{}/api/v1/decisions/export", app.address))
        .bearer_auth(STAFF_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let recorded = tsh_issuer::replay::read_export(&export).unwrap();

    // After: the shipped rules, replayed on those recorded decisions.
    let shipped = std::fs::read_to_string(repo_root().join("config/rules.toml")).unwrap();
    let rules = tsh_issuer::rules::RuleSet::from_toml_str(&shipped, "shipped").unwrap();
    let report = tsh_issuer::replay::replay(&rules, &recorded, None, |_| {});
    assert_eq!(
        (report.replayed, report.unchanged, report.changed),
        (4, 1, 3)
    );
    assert_eq!(report.old_counts.get("green"), Some(&4));
    assert_eq!(report.transitions.get("green→green"), Some(&1));
    assert_eq!(report.transitions.get("green→yellow"), Some(&1));
    assert_eq!(report.transitions.get("green→red"), Some(&2));
    let new_rules: Vec<&str> = report
        .changes
        .iter()
        .map(|c| c.new_rule.as_deref().unwrap_or("default"))
        .collect();
    assert_eq!(
        new_rules,
        [
            "token-for-token-original-unknown",
            "original-token-other-card",
            "original-token-not-live"
        ]
    );
    let human = tsh_issuer::replay::render(&report);
    assert!(human.contains("unchanged 1, changed 3"), "{human}");
}

/// A card-on-file token made by token-for-token from the token named by `original_ref` /
/// `original_number`: the digitization, then TSH's ACTIVATE carrying the new token's own
/// reference id and number. Returns the decision's colour.
pub async fn make_cof_token(
    app: &TestApp,
    card: &str,
    (original_ref, original_number): (&str, &str),
    (vcid, own_ref, own_number): (&str, &str, &str),
) -> String {
    let correlation = cid("cof");
    let mut body = digitization_body(
        app,
        PAN_FULL,
        "TOKEN",
        original_attributes(Some(original_ref), Some(original_number)),
    );
    body["walletProviderId"] = json!("VISA_MERCHANT");
    let decision = app
        .call("requestCardDigitization", &correlation, &body)
        .await;
    let activation = json!({"issuerCardRefId": card, "virtualCardId": vcid, "walletProviderId": "VISA_MERCHANT",
        "action": "ACTIVATE", "source": "TSP", "tokenRequestor": {"id": "40000000083", "name": "Merchant COF"},
        "tokenInfo": {"tokenReferenceId": own_ref, "tokenPan": own_number,
            "originalTokenReferenceID": original_ref, "originalToken": original_number}});
    let reply = app
        .call("notifyVirtualCardChange", &correlation, &activation)
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    decision.body["levelOfTrust"]
        .as_str()
        .unwrap_or("?")
        .to_owned()
}

fn ids_and_generations(list: &Value) -> Vec<(String, i64)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["virtual_card_id"].as_str().unwrap().to_owned(),
                t["generation"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn the_lineage_of_a_chain_device_cof_cof_is_returned_in_depth_both_ways() {
    let app = spawn_app().await;
    let card = card_ref(&app, PAN_FULL).await;
    let device = ("REF-DEVICE", "4895370012001001");
    let cof1 = ("REF-COF-1", "4895370012001002");
    provision_device_token(&app, &card, "VC-device", device.0, device.1).await;
    let first = make_cof_token(&app, &card, device, ("VC-cof-1", cof1.0, cof1.1)).await;
    let second = make_cof_token(
        &app,
        &card,
        cof1,
        ("VC-cof-2", "REF-COF-2", "4895370012001003"),
    )
    .await;
    let sibling = make_cof_token(
        &app,
        &card,
        device,
        ("VC-cof-1b", "REF-COF-1B", "4895370012001004"),
    )
    .await;
    assert_eq!(
        (first.as_str(), second.as_str(), sibling.as_str()),
        ("green", "green", "green")
    );

    let of_device = app.staff_get("/api/v1/tokens/VC-device/lineage").await;
    assert_eq!(of_device.status, 200, "{:?}", of_device.body);
    assert_eq!(of_device.body["virtual_card_id"], "VC-device");
    assert_eq!(of_device.body["ancestors"], json!([]));
    assert_eq!(
        ids_and_generations(&of_device.body["descendants"]),
        [
            ("VC-cof-1".to_owned(), 1),
            ("VC-cof-1b".to_owned(), 1),
            ("VC-cof-2".to_owned(), 2)
        ]
    );
    assert_eq!(
        of_device.body["descendants"][2]["original_virtual_card_id"],
        "VC-cof-1"
    );
    assert_eq!(of_device.body["is_truncated"], false);

    let of_middle = app.staff_get("/api/v1/tokens/VC-cof-1/lineage").await;
    assert_eq!(
        ids_and_generations(&of_middle.body["ancestors"]),
        [("VC-device".to_owned(), -1)]
    );
    assert_eq!(
        ids_and_generations(&of_middle.body["descendants"]),
        [("VC-cof-2".to_owned(), 1)]
    );
    assert_eq!(
        of_middle.body["token"]["original_virtual_card_id"],
        "VC-device"
    );
    assert_eq!(of_middle.body["token"]["token_reference_id"], "REF-COF-1");

    let of_leaf = app.staff_get("/api/v1/tokens/VC-cof-2/lineage").await;
    assert_eq!(
        ids_and_generations(&of_leaf.body["ancestors"]),
        [("VC-cof-1".to_owned(), -1), ("VC-device".to_owned(), -2)]
    );
    assert_eq!(of_leaf.body["descendants"], json!([]));
    for number in [device.1, cof1.1, "4895370012001003"] {
        assert!(!of_device.body.to_string().contains(number));
        assert!(!of_leaf.body.to_string().contains(number));
    }
}

#[actix_web::test]
async fn a_stand_in_token_for_token_is_linked_like_any_other() {
    let app = spawn_app().await;
    let card = card_ref(&app, PAN_FULL).await;
    provision_device_token(&app, &card, "VC-dev-sl", "REF-DEV-SL", ORIGINAL_TOKEN).await;
    let mut body = json!({"issuerCardRefId": card, "virtualCardId": "VC-cof-standin", "walletProviderId": "VISA_MERCHANT",
        "standInDecision": "APPROVED", "captureMethod": "TOKEN"});
    for (k, v) in original_attributes(Some("REF-DEV-SL"), Some(ORIGINAL_TOKEN))
        .as_object()
        .unwrap()
    {
        body[k] = v.clone();
    }
    let reply = app.call("notifyStandInProcess", &cid("sl"), &body).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let lineage = app.staff_get("/api/v1/tokens/VC-dev-sl/lineage").await;
    assert_eq!(
        ids_and_generations(&lineage.body["descendants"]),
        [("VC-cof-standin".to_owned(), 1)]
    );
    assert_eq!(
        lineage.body["descendants"][0]["decision"]["decided_by"],
        "network"
    );
}

#[actix_web::test]
async fn a_later_notification_cannot_relink_a_token_so_a_lineage_has_no_cycle() {
    let app = spawn_app().await;
    let card = card_ref(&app, PAN_FULL).await;
    provision_device_token(&app, &card, "VC-dev-c", "REF-DEV-C", "4895370012002001").await;
    make_cof_token(
        &app,
        &card,
        ("REF-DEV-C", "4895370012002001"),
        ("VC-cof-c", "REF-COF-C", "4895370012002002"),
    )
    .await;
    // The device token's next notification claims the COF token as its original: recorded as
    // an attribute, but the device token's lineage link was fixed when it was created.
    let update = json!({"issuerCardRefId": card, "virtualCardId": "VC-dev-c", "walletProviderId": "APPLE_PAY",
        "action": "UPDATE", "originalTokenReferenceID": "REF-COF-C"});
    assert_eq!(
        app.call("notifyVirtualCardChange", &cid("relink"), &update)
            .await
            .status,
        200
    );
    let of_cof = app.staff_get("/api/v1/tokens/VC-cof-c/lineage").await;
    assert_eq!(
        ids_and_generations(&of_cof.body["ancestors"]),
        [("VC-dev-c".to_owned(), -1)]
    );
    assert_eq!(of_cof.body["descendants"], json!([]));
    assert_eq!(of_cof.body["is_truncated"], false);
    let device = app.staff_get("/api/v1/tokens/VC-dev-c").await;
    assert_eq!(device.body["original_virtual_card_id"], Value::Null);
}

#[actix_web::test]
async fn the_lineage_of_an_unknown_token_is_404_and_needs_a_staff_token() {
    let app = spawn_app().await;
    let reply = app.staff_get("/api/v1/tokens/VC-nobody/lineage").await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body["error_code"], "not_found");
    let anonymous = app
        .client
        .get(format!("{}/api/v1/tokens/VC-nobody/lineage", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}
