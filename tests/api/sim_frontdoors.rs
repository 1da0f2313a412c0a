//! `tsh-sim serve`'s requestor front doors (seeds 001, 003, 004) in process, over one simulated
//! TSP core driving a service on port 0: every outcome each seed documents, checked both in the
//! front door's answer and in the issuer's own records (staff API). No answer carries a PAN.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};
use tsh_issuer::sim::frontdoors::{self, FrontDoors};
use tsh_issuer::sim::tsp::{Tsp, TspOptions};

use crate::helpers::*;

const MASTERCARD: &str = PAN_EMAIL_ONLY; // 5555555555554444, exp 0631

struct Doors {
    app: TestApp,
    url: String,
    doors: web::Data<FrontDoors>,
    client: reqwest::Client,
}

impl Doors {
    async fn post(&self, path: &str, headers: &[(&str, &str)], body: &Value) -> Reply {
        let mut request = self.client.post(format!("{}{path}", self.url)).json(body);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        for pan in [PAN_FULL, PAN_SUSPENDED, MASTERCARD, PAN_NO_PRODUCT] {
            assert!(!text.contains(pan), "{path} answered a PAN: {text}");
        }
        Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    async fn get(&self, path: &str) -> Reply {
        let response = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        Reply {
            status: response.status().as_u16(),
            body: response.json().await.unwrap_or(Value::Null),
        }
    }

    /// The issuer's view of the newest token the TSP made: state ACTIVE, approved by our rules.
    async fn assert_issuer_activated_last_token(&self) -> String {
        let token = self.doors.tsp.tokens().pop().expect("a token was made");
        let staff = self
            .app
            .staff_get(&format!("/api/v1/tokens/{}", token.virtual_card_id))
            .await;
        assert_eq!(staff.status, 200, "{:?}", staff.body);
        assert_eq!(staff.body["state"], "ACTIVE", "{:?}", staff.body);
        let enrollment = self
            .app
            .staff_get(&format!("/api/v1/enrollments/{}", token.correlation_id))
            .await;
        assert_eq!(enrollment.status, 200, "{:?}", enrollment.body);
        token.correlation_id
    }
}

/// A service on port 0 and the front doors in process against it.
async fn doors() -> Doors {
    let app = spawn_app().await;
    let pem =
        std::fs::read_to_string(repo_root().join("fixtures/dev-keys/issuer-dev.crt")).unwrap();
    let tsp = Tsp::new(TspOptions::local(&app.address, pem)).unwrap();
    let doors = web::Data::new(FrontDoors::new(tsp, false));
    let shared = doors.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let d = shared.clone();
        App::new().configure(move |cfg| frontdoors::configure(cfg, d))
    })
    .workers(2)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    Doors {
        app,
        url: format!("http://127.0.0.1:{port}"),
        doors,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap(),
    }
}

// ---------------------------------------------------------------- seed 003: Cybersource TMS

fn cybersource_request(number: &str, month: &str, year: &str) -> Value {
    json!({"source": "ONFILE", "card": {"number": number, "expirationMonth": month, "expirationYear": year}})
}

#[actix_web::test]
async fn cybersource_provisions_an_on_file_network_token_with_the_issuers_approval() {
    let d = doors().await;
    let reply = d
        .post(
            "/tms/v2/tokenized-cards",
            &[],
            &cybersource_request(PAN_FULL, "12", "2030"),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let b = &reply.body;
    assert_eq!(b["object"], "tokenizedCard");
    assert_eq!(b["state"], "ACTIVE");
    assert_eq!(b["source"], "ONFILE");
    assert_eq!(b["type"], "visa");
    assert_eq!(b["card"]["suffix"], "1111");
    assert_eq!(b["card"]["expirationMonth"], "12");
    assert_eq!(b["card"]["expirationYear"], "2030");
    let number = b["number"].as_str().unwrap();
    assert!(
        number.starts_with("489537XXXXXX") && number.len() == 16,
        "{number}"
    );
    assert_eq!(b["id"].as_str().unwrap().len(), 32);
    assert_eq!(b["tokenReferenceId"].as_str().unwrap().len(), 32);
    assert_eq!(b["paymentAccountReference"].as_str().unwrap().len(), 29);
    assert_eq!(b["expirationYear"].as_str().unwrap().len(), 4);
    d.assert_issuer_activated_last_token().await;

    let again = d
        .get(&format!(
            "/tms/v2/tokenized-cards/{}",
            b["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["tokenReferenceId"], b["tokenReferenceId"]);
    assert_eq!(d.get("/tms/v2/tokenized-cards/NOPE").await.status, 404);
}

#[actix_web::test]
async fn cybersource_declines_when_the_issuer_refuses() {
    let d = doors().await;
    let reply = d
        .post(
            "/tms/v2/tokenized-cards",
            &[],
            &cybersource_request(PAN_SUSPENDED, "12", "2030"),
        )
        .await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.body["errors"][0]["type"], "declined");
    assert_eq!(reply.body["reason"], "CARD_NOT_ALLOWED");
    assert!(d.doors.tsp.tokens().is_empty());
}

#[actix_web::test]
async fn cybersource_refuses_invalid_requests_and_answers_the_seeds_own_sample() {
    let d = doors().await;
    // The seed's own sample request: its redacted number stands for the dev card in this sandbox.
    let sample = cybersource_request("X622943123116478", "12", "2030");
    let reply = d.post("/tms/v2/tokenized-cards", &[], &sample).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["card"]["suffix"], "1111");
    // Another masked number is invalid data.
    let masked = cybersource_request("X411111111111111", "12", "2030");
    let reply = d.post("/tms/v2/tokenized-cards", &[], &masked).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["errors"][0]["type"], "invalidRequest");
    assert_eq!(reply.body["errors"][0]["details"][0]["name"], "card.number");
    let mut no_source = cybersource_request(PAN_FULL, "12", "2030");
    no_source.as_object_mut().unwrap().remove("source");
    let reply = d.post("/tms/v2/tokenized-cards", &[], &no_source).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["errors"][0]["details"][0]["name"], "source");
    let reply = d
        .post(
            "/tms/v2/tokenized-cards",
            &[],
            &cybersource_request(PAN_FULL, "13", "2030"),
        )
        .await;
    assert_eq!(
        reply.body["errors"][0]["details"][0]["name"],
        "card.expirationMonth"
    );
}

// ------------------------------------------------------ seed 004: Thales merchant tokenization

fn thales_request(merchant: &str, pan: &str, exp: &str, account: Option<&str>) -> Value {
    let mut card = json!({"fpan": pan, "exp": exp});
    if let Some(a) = account {
        card["accountId"] = json!(a);
    }
    json!({"merchantId": merchant, "encryptedData": card, "source": "ON_FILE"})
}

#[actix_web::test]
async fn thales_creates_a_token_synchronously_and_refuses_what_the_issuer_refuses() {
    let d = doors().await;
    let reply = d
        .post(
            "/tsh-cof/tokens",
            &[("x-correlation-id", "thales-sync-1")],
            &thales_request("MERCHANT-1", PAN_FULL, "1230", Some("acct-1")),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.body["cardLastDigits"], "1111");
    assert_eq!(reply.body["cardBin"], "411111");
    assert_eq!(reply.body["cardExpiryDate"], "1230");
    assert_eq!(reply.body["state"], "ACTIVE");
    assert_eq!(reply.body["tokenLastDigits"].as_str().unwrap().len(), 4);
    assert!(reply.body["tokenId"].is_string());
    // The merchant's correlation id is the session's id at the issuer.
    assert_eq!(
        d.assert_issuer_activated_last_token().await,
        "thales-sync-1"
    );

    let refused = d
        .post(
            "/tsh-cof/tokens",
            &[("x-correlation-id", "thales-sync-2")],
            &thales_request("MERCHANT-1", PAN_SUSPENDED, "1230", None),
        )
        .await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert_eq!(refused.body["errorCode"], "CARD_NOT_ELIGIBLE");
    assert_eq!(refused.body["issuerResponseCode"], 159);
    assert!(refused.body.get("tokenId").is_none());

    // MANUAL entry without CVV: the issuer's baseline rules decide red.
    let mut manual = thales_request("MERCHANT-1", PAN_FULL, "1230", None);
    manual["source"] = json!("MANUAL");
    let red = d
        .post(
            "/tsh-cof/tokens",
            &[("x-correlation-id", "thales-sync-3")],
            &manual,
        )
        .await;
    assert_eq!(red.status, 403, "{:?}", red.body);
    assert_eq!(red.body["errorCode"], "TOKENIZATION_DECLINED");
}

#[actix_web::test]
async fn thales_refuses_bad_requests() {
    let d = doors().await;
    let body = thales_request("MERCHANT-1", PAN_FULL, "1230", None);
    let reply = d.post("/tsh-cof/tokens", &[], &body).await;
    assert_eq!(reply.status, 400, "no x-correlation-id: {:?}", reply.body);
    let mut no_merchant = body.clone();
    no_merchant.as_object_mut().unwrap().remove("merchantId");
    let reply = d
        .post(
            "/tsh-cof/tokens",
            &[("x-correlation-id", "c1")],
            &no_merchant,
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["errorCode"], "INVALID_REQUEST");
    let mut jwe = body.clone();
    jwe["encryptedData"] = json!("eyJhbGciOi.x.y.z.w");
    let reply = d
        .post("/tsh-cof/tokens", &[("x-correlation-id", "c2")], &jwe)
        .await;
    assert_eq!(reply.status, 400);
    assert!(reply.body["errorDescription"]
        .as_str()
        .unwrap()
        .contains("JWE"));
    let mut far = body;
    far["callbackUrl"] = json!("http://example.com/notify");
    let reply = d
        .post("/tsh-cof/async/tokens", &[("x-correlation-id", "c3")], &far)
        .await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
}

#[actix_web::test]
async fn thales_visa_reuses_the_token_id_for_the_same_merchant_card_and_account() {
    let d = doors().await;
    let create = |cid: &'static str, merchant: &'static str, account: &'static str| {
        let body = thales_request(merchant, PAN_FULL, "1230", Some(account));
        let d = &d;
        async move {
            let r = d
                .post("/tsh-cof/tokens", &[("x-correlation-id", cid)], &body)
                .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            r.body["tokenId"].as_str().unwrap().to_owned()
        }
    };
    let first = create("visa-1", "MERCHANT-1", "acct-1").await;
    assert_eq!(create("visa-2", "MERCHANT-1", "acct-1").await, first);
    assert_ne!(create("visa-3", "MERCHANT-1", "acct-2").await, first);
    assert_ne!(create("visa-4", "MERCHANT-2", "acct-1").await, first);
}

#[actix_web::test]
async fn thales_mastercard_creates_a_new_token_id_each_time() {
    let d = doors().await;
    let mut ids = Vec::new();
    for cid in ["mc-1", "mc-2"] {
        let r = d
            .post(
                "/tsh-cof/tokens",
                &[("x-correlation-id", cid)],
                &thales_request("MERCHANT-1", MASTERCARD, "0631", Some("acct-1")),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        assert_eq!(r.body["cardBin"], "555555");
        ids.push(r.body["tokenId"].as_str().unwrap().to_owned());
    }
    assert_ne!(ids[0], ids[1]);
    assert_eq!(d.doors.tsp.tokens().len(), 2, "two issuer sessions");
}

/// Notifications a merchant received: (x-correlation-id, body).
type Received = Arc<Mutex<Vec<(String, Value)>>>;

/// A merchant's notification endpoint.
fn start_receiver() -> (String, Received) {
    let seen: Received = Arc::default();
    let s = seen.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let s = s.clone();
        App::new().route(
            "/notify",
            web::post().to(move |req: HttpRequest, body: web::Json<Value>| {
                let s = s.clone();
                async move {
                    let cid = req
                        .headers()
                        .get("x-correlation-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    s.lock().unwrap().push((cid, body.into_inner()));
                    HttpResponse::NoContent().finish()
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    (format!("http://127.0.0.1:{port}/notify"), seen)
}

async fn wait_for(seen: &Received, cid: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some((_, body)) = seen.lock().unwrap().iter().find(|(c, _)| c == cid) {
            return body.clone();
        }
        assert!(Instant::now() < deadline, "no notification for {cid}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn thales_async_create_notifies_the_callback_with_the_correlation_id() {
    let d = doors().await;
    let (callback, seen) = start_receiver();
    let mut body = thales_request("MERCHANT-1", PAN_FULL, "1230", Some("acct-9"));
    body["callbackUrl"] = json!(callback);
    let reply = d
        .post(
            "/tsh-cof/async/tokens",
            &[("x-correlation-id", "async-ok-1")],
            &body,
        )
        .await;
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    let notification = wait_for(&seen, "async-ok-1").await;
    assert!(notification["tokenId"].is_string(), "{notification:?}");
    assert_eq!(notification["merchantId"], "MERCHANT-1");
    assert_eq!(notification["cardLastDigits"], "1111");
    assert!(!notification.to_string().contains(PAN_FULL));
    assert_eq!(d.assert_issuer_activated_last_token().await, "async-ok-1");

    // A refusal notifies only the error, no token data.
    let mut refused = thales_request("MERCHANT-1", PAN_SUSPENDED, "1230", None);
    refused["callbackUrl"] = json!(callback);
    let reply = d
        .post(
            "/tsh-cof/async/tokens",
            &[("x-correlation-id", "async-ko-1")],
            &refused,
        )
        .await;
    assert_eq!(reply.status, 202);
    let notification = wait_for(&seen, "async-ko-1").await;
    assert_eq!(notification["errorCode"], "CARD_NOT_ELIGIBLE");
    assert!(notification.get("tokenId").is_none(), "{notification:?}");

    // The sender records each delivery's outcome after the receiver answered: wait for both.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sent = d.get("/tsh-cof/notifications").await;
        let sent = sent.body.as_array().cloned().unwrap_or_default();
        if sent.len() == 2 && sent.iter().all(|n| n["delivery"]["delivered"] == true) {
            break;
        }
        assert!(Instant::now() < deadline, "{sent:?}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

// ------------------------------------------------------------------------ seed 001: Firstoken

fn firstoken_request(number: &str, expiration: &str) -> Value {
    json!({
        "transaction_info": {"type": "enroll_card"},
        "card": {"number": number, "expiration_date": expiration},
        "bill_to": {
            "address_1": "Carrera 140", "city": "Bogotá DC", "state": "Bogotá",
            "postal_code": "110001", "country": "CO"
        }
    })
}

#[actix_web::test]
async fn firstoken_enrolled_then_already_enrolled() {
    let d = doors().await;
    let reply = d
        .post(
            "/v1/tokens/enroll",
            &[],
            &firstoken_request(PAN_FULL, "12/30"),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "Enrolled");
    let cid = d.assert_issuer_activated_last_token().await;
    assert_eq!(reply.body["correlation_id"], cid);

    let again = d
        .post(
            "/v1/tokens/enroll",
            &[],
            &firstoken_request(PAN_FULL, "1230"),
        )
        .await;
    assert_eq!(again.status, 409, "{:?}", again.body);
    assert_eq!(again.body["status"], "Already_enrolled");
    assert_eq!(d.doors.tsp.tokens().len(), 1, "no second issuer session");
}

#[actix_web::test]
async fn firstoken_not_enrolled_when_the_issuer_refuses_or_the_network_is_not_supported() {
    let d = doors().await;
    let reply = d
        .post(
            "/v1/tokens/enroll",
            &[],
            &firstoken_request(PAN_SUSPENDED, "12/30"),
        )
        .await;
    assert_eq!(reply.status, 409, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "Not_enrolled");
    assert_eq!(reply.body["reason"], "network_token_unavailable");
    assert_eq!(reply.body["issuer"]["response_code"], 159);

    let other = d
        .post(
            "/v1/tokens/enroll",
            &[],
            &firstoken_request(PAN_NO_PRODUCT, "12/30"),
        )
        .await;
    assert_eq!(other.status, 409, "{:?}", other.body);
    assert_eq!(other.body["status"], "Not_enrolled");
    assert_eq!(other.body["reason"], "workflow_not_implemented");
    assert!(d.doors.tsp.tokens().is_empty());
}

#[actix_web::test]
async fn firstoken_bad_request_for_missing_fields_and_token_references() {
    let d = doors().await;
    let mut no_address = firstoken_request(PAN_FULL, "12/30");
    no_address.as_object_mut().unwrap().remove("bill_to");
    let reply = d.post("/v1/tokens/enroll", &[], &no_address).await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "Bad_request");
    assert!(reply.body["fields"]
        .as_array()
        .unwrap()
        .contains(&json!("bill_to.address_1")));

    let mut no_number = firstoken_request(PAN_FULL, "12/30");
    no_number["card"].as_object_mut().unwrap().remove("number");
    let reply = d.post("/v1/tokens/enroll", &[], &no_number).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["fields"], json!(["card.number"]));

    // A reference the dev vault does not know.
    let unknown = firstoken_request("{{ OTHER_ID: detokenize }}", "{{ OTHER_ID: detokenize }}");
    let reply = d.post("/v1/tokens/enroll", &[], &unknown).await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert!(reply.body["message"]
        .as_str()
        .unwrap()
        .contains("Invalid Firstoken token reference"));
    assert!(d.doors.tsp.tokens().is_empty());

    // The seed's own sample, detokenize references and all: TOKEN_ID is the dev vault's card.
    let sample = firstoken_request("{{ TOKEN_ID: detokenize }}", "{{ TOKEN_ID: detokenize }}");
    let reply = d.post("/v1/tokens/enroll", &[], &sample).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "Enrolled");
}
