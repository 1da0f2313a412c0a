//! The generated OpenAPI document against the running service: real responses of every callback
//! and every staff endpoint (successes and refusals) validate against the schema the document
//! gives for their status, and every documented operation is exercised here at least once.
//! (That every registered route is documented is `observability::openapi_documents_*`.)

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::mock_tsh::MockTsh;

/// Collects the responses and checks each against the document.
struct Conformance {
    doc: Value,
    exercised: BTreeSet<(String, String)>,
    failures: Vec<String>,
}

impl Conformance {
    async fn of(app: &TestApp) -> Conformance {
        let doc: Value = app
            .client
            .get(format!("{}/api/openapi.json", app.address))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Conformance {
            doc,
            exercised: BTreeSet::new(),
            failures: Vec::new(),
        }
    }

    /// The schema documented for `status` of `method template`, ready to validate with (the
    /// document's components beside it, so its references resolve).
    fn schema(&self, method: &str, template: &str, status: u16) -> Result<Value, String> {
        let operation = &self.doc["paths"][template][method.to_ascii_lowercase()];
        if operation.is_null() {
            return Err(format!("{method} {template} is not documented"));
        }
        let response = &operation["responses"][status.to_string()];
        let Some(content) = response["content"].as_object() else {
            return Err(format!(
                "{method} {template}: status {status} is not documented"
            ));
        };
        let mut schema = content
            .get("application/json")
            .map(|c| c["schema"].clone())
            .ok_or_else(|| format!("{method} {template} {status}: no JSON content"))?;
        schema["components"] = self.doc["components"].clone();
        Ok(schema)
    }

    fn check(&mut self, method: &str, template: &str, reply: &Reply) {
        self.exercised
            .insert((method.to_owned(), template.to_owned()));
        let problem = self
            .schema(method, template, reply.status)
            .and_then(|schema| {
                let validator = jsonschema::draft202012::new(&schema)
                    .map_err(|e| format!("{method} {template}: schema does not compile: {e}"))?;
                let errors: Vec<String> = validator
                    .iter_errors(&reply.body)
                    .map(|e| format!("{} at {}", e, e.instance_path()))
                    .collect();
                if errors.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "{method} {template} {}: {errors:#?}\nbody: {}",
                        reply.status, reply.body
                    ))
                }
            });
        if let Err(problem) = problem {
            self.failures.push(problem);
        }
    }

    async fn get(&mut self, app: &TestApp, template: &str, path: &str) -> Reply {
        let reply = app.staff_get(path).await;
        self.check("GET", template, &reply);
        reply
    }

    async fn post(&mut self, app: &TestApp, template: &str, path: &str, body: &Value) -> Reply {
        let reply = app.staff_post(path, body).await;
        self.check("POST", template, &reply);
        reply
    }

    async fn callback(&mut self, app: &TestApp, op: &str, cid: &str, body: &Value) -> Reply {
        let reply = app.call(op, cid, body).await;
        self.check("POST", &format!("{PREFIX}/{op}"), &reply);
        reply
    }
}

/// Drives one enrolment through every callback; returns the card reference and the token.
async fn callbacks(app: &TestApp, c: &mut Conformance) -> (String, String) {
    let session = cid("openapi");
    let eligible = c
        .callback(
            app,
            "checkCardEligibility",
            &session,
            &json!({"cipheredCardInfo": app.card_info(PAN_FULL), "captureMethod": "MANUAL"}),
        )
        .await;
    assert_eq!(eligible.status, 200, "{:?}", eligible.body);
    let card = eligible.body["issuerCardRefId"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = digitization_body(app, PAN_FULL, "MANUAL", json!({}));
    c.callback(app, "requestCardDigitization", &session, &body)
        .await;
    let body = digitization_body(
        app,
        PAN_FULL,
        "BANK_APP",
        json!({"scoringInformation": {"deviceScore": 1}}),
    );
    let yellow = c
        .callback(app, "requestCardDigitization", &session, &body)
        .await;
    let method = yellow.body["idvMethodList"][0]["id"]
        .as_str()
        .map(str::to_owned);
    let otp = json!({"issuerCardRefId": card, "otpValue": "123456", "otpMethodId": method});
    c.callback(app, "sendOTP", &session, &otp).await;
    let vcid = "VC-openapi-1".to_owned();
    let notice = json!({"issuerCardRefId": card, "virtualCardId": vcid,
        "walletProviderId": "WP1", "action": "ACTIVATE"});
    let ok = c
        .callback(app, "notifyVirtualCardChange", &session, &notice)
        .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    let standin = json!({"issuerCardRefId": card, "virtualCardId": "VC-openapi-2",
        "walletProviderId": "WP1", "decision": "APPROVED"});
    c.callback(app, "notifyStandInProcess", &session, &standin)
        .await;
    let idv = json!({"issuerCardRefId": card, "virtualCardId": vcid});
    c.callback(app, "getIDnVMethodList", &session, &idv).await;
    // Refusals are answers too: a bad field, an unknown card.
    c.callback(app, "sendOTP", &session, &json!({"issuerCardRefId": 7}))
        .await;
    c.callback(
        app,
        "getIDnVMethodList",
        &session,
        &json!({"issuerCardRefId": "nope", "virtualCardId": "nope"}),
    )
    .await;
    (card, vcid)
}

async fn staff_reads(app: &TestApp, c: &mut Conformance, card: &str, vcid: &str) {
    let session_decisions = c
        .get(app, "/api/v1/decisions", "/api/v1/decisions?count=5")
        .await;
    let decision_id = session_decisions.body["data"][0]["decision_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let correlation = session_decisions.body["data"][0]["correlation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reads = [
        (
            "/api/v1/cards/{issuer_card_ref_id}",
            format!("/api/v1/cards/{card}"),
        ),
        (
            "/api/v1/cards/{issuer_card_ref_id}/tokens",
            format!("/api/v1/cards/{card}/tokens"),
        ),
        ("/api/v1/tokens", "/api/v1/tokens".to_owned()),
        (
            "/api/v1/tokens",
            "/api/v1/tokens?original_token_reference_id=X".to_owned(),
        ),
        (
            "/api/v1/tokens/{virtual_card_id}",
            format!("/api/v1/tokens/{vcid}"),
        ),
        (
            "/api/v1/tokens/{virtual_card_id}",
            "/api/v1/tokens/VC-none".to_owned(),
        ),
        (
            "/api/v1/tokens/{virtual_card_id}/transitions",
            format!("/api/v1/tokens/{vcid}/transitions"),
        ),
        (
            "/api/v1/tokens/{virtual_card_id}/lineage",
            format!("/api/v1/tokens/{vcid}/lineage"),
        ),
        (
            "/api/v1/lineage/orphans",
            "/api/v1/lineage/orphans".to_owned(),
        ),
        (
            "/api/v1/enrollments/{correlation_id}",
            format!("/api/v1/enrollments/{correlation}"),
        ),
        ("/api/v1/decisions", "/api/v1/decisions?count=0".to_owned()),
        (
            "/api/v1/decisions/{decision_id}",
            format!("/api/v1/decisions/{decision_id}"),
        ),
        ("/api/v1/rules", "/api/v1/rules".to_owned()),
        ("/api/v1/rules/shadow", "/api/v1/rules/shadow".to_owned()),
        ("/api/v1/standins", "/api/v1/standins".to_owned()),
        (
            "/api/v1/standins",
            "/api/v1/standins?mismatch=maybe".to_owned(),
        ),
        ("/api/v1/audit", "/api/v1/audit".to_owned()),
        ("/api/v1/events", "/api/v1/events".to_owned()),
        ("/health/live", "/health/live".to_owned()),
        ("/health/ready", "/health/ready".to_owned()),
    ];
    for (template, path) in reads {
        c.get(app, template, &path).await;
    }
    let unauthenticated = Reply::of(
        app.client
            .get(format!("{}/api/v1/tokens", app.address))
            .send()
            .await
            .unwrap(),
    )
    .await;
    c.check("GET", "/api/v1/tokens", &unauthenticated);
    let export = app
        .client
        .get(format!("{}/api/v1/decisions/export", app.address))
        .bearer_auth(STAFF_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status().as_u16(), 200);
    let text = export.text().await.unwrap();
    assert!(text
        .lines()
        .all(|l| serde_json::from_str::<Value>(l).is_ok()));
    c.exercised
        .insert(("GET".to_owned(), "/api/v1/decisions/export".to_owned()));
}

async fn staff_writes(app: &TestApp, tsh: &MockTsh, c: &mut Conformance, card: &str, vcid: &str) {
    tsh.add_token(card, vcid);
    let card_body =
        json!({"pan": "4000056655665556", "exp": card_exp(PAN_PHONE_ONLY), "status": "ACTIVE"});
    c.post(app, "/api/v1/cards", "/api/v1/cards", &card_body)
        .await;
    c.post(app, "/api/v1/cards", "/api/v1/cards", &json!({"pan": "12"}))
        .await;
    let transition = c
        .post(
            app,
            "/api/v1/tokentransitions",
            "/api/v1/tokentransitions",
            &json!({"virtual_card_id": vcid, "state": "SUSPENDED", "reason_code": "01"}),
        )
        .await;
    assert_eq!(transition.status, 202, "{:?}", transition.body);
    let token = transition.body["token"].as_str().unwrap().to_owned();
    // Whether TSH's notification has landed yet or not, both answers are documented.
    c.get(
        app,
        "/api/v1/tokentransitions",
        "/api/v1/tokentransitions?status=PENDING",
    )
    .await;
    c.get(
        app,
        "/api/v1/tokentransitions",
        "/api/v1/tokentransitions?status=DONE",
    )
    .await;
    let sync = format!("/api/v1/tokens/{vcid}/sync");
    c.get(app, "/api/v1/tokens/{virtual_card_id}/sync", &sync)
        .await;
    c.get(
        app,
        "/api/v1/tokentransitions/{token}",
        &format!("/api/v1/tokentransitions/{token}"),
    )
    .await;
    c.post(
        app,
        "/api/v1/tokentransitions",
        "/api/v1/tokentransitions",
        &json!({"state": "X"}),
    )
    .await;
    for action in ["block", "unblock"] {
        let template = format!("/api/v1/cards/{{issuer_card_ref_id}}/{action}");
        c.post(
            app,
            &template,
            &format!("/api/v1/cards/{card}/{action}"),
            &json!({}),
        )
        .await;
    }
    let template = "/api/v1/cards/{issuer_card_ref_id}/replace";
    c.post(
        app,
        template,
        &format!("/api/v1/cards/{card}/replace"),
        &json!({"exp": "1299"}),
    )
    .await;
    c.post(
        app,
        template,
        &format!("/api/v1/cards/{card}/replace"),
        &json!({}),
    )
    .await;
    c.post(
        app,
        "/api/v1/rules/reload",
        "/api/v1/rules/reload",
        &json!({}),
    )
    .await;
    reconciliations(app, c, card).await;
    // Last: closing the card deletes its tokens.
    let close = "/api/v1/cards/{issuer_card_ref_id}/close";
    let path = format!("/api/v1/cards/{card}/close");
    c.post(app, close, &path, &json!({"reason_code": "99"}))
        .await;
    let closed = c.post(app, close, &path, &json!({})).await;
    assert_eq!(closed.status, 202, "{:?}", closed.body);
}

async fn reconciliations(app: &TestApp, c: &mut Conformance, card: &str) {
    let reconcile = "/api/v1/reconciliations";
    let run = c
        .post(
            app,
            reconcile,
            reconcile,
            &json!({"issuer_card_ref_id": card}),
        )
        .await;
    c.post(app, reconcile, reconcile, &json!({"all": "yes"}))
        .await;
    c.get(app, reconcile, reconcile).await;
    let one = "/api/v1/reconciliations/{reconciliation_id}";
    let id = run.body["reconciliation_id"].as_str().expect("a run");
    c.get(app, one, &format!("{reconcile}/{id}")).await;
    c.get(app, one, "/api/v1/reconciliations/rec-none").await;
}

async fn events(app: &TestApp, c: &mut Conformance) {
    let list = c.get(app, "/api/v1/events", "/api/v1/events").await;
    let id = list.body["data"][0]["id"]
        .as_str()
        .expect("an event")
        .to_owned();
    c.get(
        app,
        "/api/v1/events/{event_id}",
        &format!("/api/v1/events/{id}"),
    )
    .await;
    c.get(app, "/api/v1/events/{event_id}", "/api/v1/events/evt-none")
        .await;
    c.post(
        app,
        "/api/v1/events/{event_id}/resend",
        &format!("/api/v1/events/{id}/resend"),
        &json!({}),
    )
    .await;
}

#[actix_web::test]
async fn real_responses_of_every_callback_and_staff_endpoint_match_their_documented_schemas() {
    let tsh = MockTsh::start().await;
    let app = spawn_app_with(&[
        ("tsh.base_url", tsh.base_url.as_str()),
        // Deliveries fail (nothing listens there): events stay listed, and resend is allowed.
        ("events.webhook_url", "http://127.0.0.1:9/events"),
    ])
    .await;
    tsh.notify_to(&app.address);
    let mut c = Conformance::of(&app).await;

    let (card, vcid) = callbacks(&app, &mut c).await;
    staff_reads(&app, &mut c, &card, &vcid).await;
    staff_writes(&app, &tsh, &mut c, &card, &vcid).await;
    events(&app, &mut c).await;

    assert!(c.failures.is_empty(), "{}", c.failures.join("\n\n"));
    // The checker itself: an answer with a field the document does not list fails it.
    let mut probe = Conformance::of(&app).await;
    let extra = Reply {
        status: 200,
        body: json!({"responseCode": 0}),
    };
    probe.check("POST", &format!("{PREFIX}/sendOTP"), &extra);
    assert_eq!(probe.failures.len(), 1, "{:?}", probe.failures);
    let documented: BTreeSet<(String, String)> = tsh_issuer::http::openapi::operations(&c.doc)
        .into_iter()
        .filter(|(_, path)| path != "/metrics" && path != "/api/openapi.json")
        .collect();
    let missed: Vec<_> = documented.difference(&c.exercised).collect();
    assert!(
        missed.is_empty(),
        "documented but not exercised: {missed:#?}"
    );
}
