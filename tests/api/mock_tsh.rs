//! An in-test TSH: serves the inbound API (`updateCardState`, `getCardInfo`, `getTokenInfo`,
//! `updateCard`) on 127.0.0.1:0, records every request with its headers, and — as TSH does —
//! answers 200 and then POSTs one `notifyVirtualCardChange` per affected token back to the
//! service, carrying the request's `x-correlation-id`. Per token, it can refuse the token's own
//! `updateCardState` or never notify about it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

use crate::helpers::{ISSUER_ID, PREFIX};

/// How the mock answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TshMode {
    Accept,
    /// HTTP 400 with `{"responseCode": 911, ...}`.
    Refuse,
    /// Answers after this many milliseconds.
    Slow(u64),
}

/// One request as TSH received it.
#[derive(Debug, Clone)]
pub struct TshRequest {
    pub operation: String,
    pub correlation_id: Option<String>,
    pub issuer_id: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct State {
    requests: Vec<TshRequest>,
    mode: Option<TshMode>,
    service: Option<String>,
    /// issuerCardRefId → virtualCardIds TSH knows for it.
    cards: BTreeMap<String, Vec<String>>,
    /// Tokens whose own `updateCardState` TSH refuses (400 / 911).
    refused_tokens: BTreeSet<String>,
    /// Tokens TSH accepts calls for but never notifies about (their operations stay pending).
    silent_tokens: BTreeSet<String>,
}

pub struct MockTsh {
    /// Base URL for `tsh.base_url`.
    pub base_url: String,
    state: Arc<Mutex<State>>,
}

async fn handle(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<Value>,
    state: web::Data<Arc<Mutex<State>>>,
) -> HttpResponse {
    let operation = path.into_inner();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let request = TshRequest {
        operation: operation.clone(),
        correlation_id: header("x-correlation-id"),
        issuer_id: header("x-issuer-id"),
        body: body.into_inner(),
    };
    let (mode, service, cards, refused, silent) = {
        let mut s = state.lock().unwrap();
        s.requests.push(request.clone());
        (
            s.mode.unwrap_or(TshMode::Accept),
            s.service.clone(),
            s.cards.clone(),
            s.refused_tokens.clone(),
            s.silent_tokens.clone(),
        )
    };
    let named = request.body["virtualCardId"].as_str().unwrap_or_default();
    if operation == "updateCardState" && refused.contains(named) {
        return HttpResponse::BadRequest()
            .json(json!({"responseCode": 911, "errorMessage": "operation failed for this token"}));
    }
    match mode {
        TshMode::Refuse => {
            return HttpResponse::BadRequest()
                .json(json!({"responseCode": 911, "errorMessage": "operation failed"}))
        }
        TshMode::Slow(ms) => actix_web::rt::time::sleep(Duration::from_millis(ms)).await,
        TshMode::Accept => {}
    }
    let body = &request.body;
    let card = body["issuerCardRefId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let tokens_of_card = cards.get(&card).cloned().unwrap_or_default();
    let (answer, notifications): (Value, Vec<Value>) = match operation.as_str() {
        "updateCardState" => {
            let action = body["action"].as_str().unwrap_or_default().to_owned();
            let targets = match body["virtualCardId"].as_str() {
                Some(vcid) => vec![vcid.to_owned()],
                None => tokens_of_card,
            };
            let notes = targets
                .into_iter()
                .map(|vcid| json!({"issuerCardRefId": card, "virtualCardId": vcid, "walletProviderId": "APPLE_PAY", "action": action, "source": "ISSUER"}))
                .collect();
            (json!({}), notes)
        }
        "updateCard" => {
            let new_card = body["newIssuerCardRefId"]
                .as_str()
                .unwrap_or(&card)
                .to_owned();
            let notes = tokens_of_card
                .into_iter()
                .map(|vcid| json!({"issuerCardRefId": new_card, "virtualCardId": vcid, "walletProviderId": "APPLE_PAY", "action": "UPDATE", "source": "ISSUER"}))
                .collect();
            (json!({}), notes)
        }
        "getCardInfo" => {
            let list: Vec<Value> = tokens_of_card
                .iter()
                .map(|vcid| json!({"virtualCardId": vcid, "issuerCardRefId": card, "walletProviderId": "APPLE_PAY", "status": "ACTIVE", "deviceInformation": {"deviceType": "PHONE"}}))
                .collect();
            (
                json!({"issuerCardRefId": card, "virtualCardList": list}),
                vec![],
            )
        }
        "getTokenInfo" => (
            json!({"virtualCardId": body["virtualCardId"], "issuerCardRefId": card, "walletProviderId": "APPLE_PAY", "status": "ACTIVE", "tokenRequestorId": "40010030273"}),
            vec![],
        ),
        _ => {
            return HttpResponse::NotFound()
                .json(json!({"responseCode": 111, "errorMessage": "no such operation"}))
        }
    };
    let notifications: Vec<Value> = notifications
        .into_iter()
        .filter(|n| !silent.contains(n["virtualCardId"].as_str().unwrap_or_default()))
        .collect();
    if let (Some(service), Some(correlation_id)) = (service, request.correlation_id) {
        // After the answer, as TSH does: the notifications carry the operation's correlation id.
        actix_web::rt::spawn(async move {
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
            let client = reqwest::Client::new();
            for note in notifications {
                let reply = client
                    .post(format!("{service}{PREFIX}/notifyVirtualCardChange"))
                    .header("x-correlation-id", &correlation_id)
                    .header("x-issuer-id", ISSUER_ID)
                    .json(&note)
                    .send()
                    .await;
                // A test that points notifications nowhere wants them lost; say so, don't panic.
                match reply {
                    Ok(r) if r.status().is_success() => {}
                    Ok(r) => eprintln!("mock TSH: notification answered {}", r.status()),
                    Err(e) => eprintln!("mock TSH: notification not delivered: {e}"),
                }
            }
        });
    }
    HttpResponse::Ok().json(answer)
}

impl MockTsh {
    pub async fn start() -> MockTsh {
        MockTsh::start_with(None).await
    }

    /// Over TLS when a rustls server config is given (mutual TLS when it requires client certs).
    pub async fn start_with(tls: Option<rustls::ServerConfig>) -> MockTsh {
        let state: Arc<Mutex<State>> = Arc::default();
        let data = web::Data::new(state.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/gtep/igwapi/v2.0/{operation}", web::post().to(handle))
        })
        .workers(2);
        let scheme = if tls.is_some() { "https" } else { "http" };
        let server = match tls {
            None => server.listen(listener),
            Some(config) => server.listen_rustls_0_23(listener, config),
        }
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        MockTsh {
            base_url: format!("{scheme}://127.0.0.1:{port}/gtep/igwapi/v2.0"),
            state,
        }
    }

    /// Where to send notifications (the service under test).
    pub fn notify_to(&self, service_address: &str) {
        self.state.lock().unwrap().service = Some(service_address.to_owned());
    }

    pub fn set_mode(&self, mode: TshMode) {
        self.state.lock().unwrap().mode = Some(mode);
    }

    /// Tells the mock which tokens a card has (for card-level operations and getCardInfo).
    pub fn add_token(&self, issuer_card_ref_id: &str, virtual_card_id: &str) {
        self.state
            .lock()
            .unwrap()
            .cards
            .entry(issuer_card_ref_id.to_owned())
            .or_default()
            .push(virtual_card_id.to_owned());
    }

    /// TSH refuses `updateCardState` naming this token (`false`: accepts it again).
    pub fn refuse_token(&self, virtual_card_id: &str, refuse: bool) {
        let tokens = &mut self.state.lock().unwrap().refused_tokens;
        if refuse {
            tokens.insert(virtual_card_id.to_owned());
        } else {
            tokens.remove(virtual_card_id);
        }
    }

    /// TSH never notifies about this token: an operation on it stays pending.
    pub fn silence_token(&self, virtual_card_id: &str) {
        let tokens = &mut self.state.lock().unwrap().silent_tokens;
        tokens.insert(virtual_card_id.to_owned());
    }

    pub fn requests(&self) -> Vec<TshRequest> {
        self.state.lock().unwrap().requests.clone()
    }
}
