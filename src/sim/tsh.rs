//! The simulated TSH inbound API of `tsh-sim serve` (contract §5): the other end of the service's
//! TSH client (`tsh.base_url`, default `http://127.0.0.1:8090/gtep/igwapi/v2.0`).
//!
//! Owns: answering `updateCardState`, `getCardInfo`, `getTokenInfo` and `updateCard` (operation
//! names case-insensitive, `x-correlation-id` and `x-issuer-id` required), its own view of the
//! tokens (issuerCardRefId → tokens with state), and — as TSH does — one `notifyVirtualCardChange`
//! per affected token POSTed back to the issuer after the answer, carrying the request's
//! `x-correlation-id`. Listens on loopback only (through the gateway's server).
//!
//! | method + path | what |
//! |---|---|
//! | `POST /gtep/igwapi/v2.0/{operation}` | TSH's inbound API; 200, or 400 `{"responseCode","errorMessage"}` |
//! | `GET /tsh/tokens`, `POST /tsh/tokens` | the token view; register `{"issuer_card_ref_id","virtual_card_id","state"?,"wallet_provider_id"?}` |
//! | `GET /tsh/requests` | what it received (oldest first) with the outcome of each notification |
//!
//! Must not: log, keep or answer a PAN (`fpanDetails` is decrypted only with `--tsh-key`, and only
//! masked PANs are listed), retry a notification, keep more than [`MAX_REQUESTS`] requests or
//! [`MAX_TOKENS`] tokens.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::crypto::KeyRing;
use crate::domain::pan::Pan;

/// Where TSH's inbound API is served (the path of the service's default `tsh.base_url`).
pub const TSH_PREFIX: &str = "/gtep/igwapi/v2.0";
/// Requests kept in memory; older ones are dropped first.
pub const MAX_REQUESTS: usize = 1000;
/// Tokens the view holds at most; registrations beyond are refused.
pub const MAX_TOKENS: usize = 10_000;
/// Deadline of one notification to the issuer (never retried).
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between TSH's answer and its first notification.
const NOTIFY_DELAY: Duration = Duration::from_millis(20);

/// Token states in the simulator's view.
const STATES: [&str; 3] = ["ACTIVE", "SUSPENDED", "DELETED"];

/// One token as the simulated TSH knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimToken {
    pub virtual_card_id: String,
    pub state: String,
    pub wallet_provider_id: String,
}

#[derive(Debug, Default)]
struct Inner {
    /// issuerCardRefId → virtualCardId → token.
    cards: BTreeMap<String, BTreeMap<String, SimToken>>,
    requests: VecDeque<Value>,
    received: u64,
}

impl Inner {
    fn token_count(&self) -> usize {
        self.cards.values().map(BTreeMap::len).sum()
    }

    fn card_of(&self, virtual_card_id: &str) -> Option<String> {
        self.cards
            .iter()
            .find(|(_, tokens)| tokens.contains_key(virtual_card_id))
            .map(|(card, _)| card.clone())
    }
}

/// Where notifications go.
#[derive(Debug, Clone)]
pub struct IssuerTarget {
    /// tsh-issuer base URL (`--issuer-url`).
    pub url: String,
    /// Its callback prefix (`server.prefix`).
    pub prefix: String,
    /// Expected on requests and sent on notifications (`--issuer-id`).
    pub issuer_id: String,
}

impl Default for IssuerTarget {
    fn default() -> Self {
        IssuerTarget {
            url: "http://127.0.0.1:8080".into(),
            prefix: "/issuer/igwapi/v2.0".into(),
            issuer_id: "ISSUERDEV1".into(),
        }
    }
}

/// Shared state of the simulated TSH.
pub struct TshState {
    inner: Mutex<Inner>,
    target: Mutex<IssuerTarget>,
    keys: Option<KeyRing>,
    http: reqwest::Client,
    echo: bool,
}

impl std::fmt::Debug for TshState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TshState")
            .field("target", &self.target)
            .field("keys", &self.keys.is_some())
            .finish()
    }
}

/// An error answered to the issuer: 400 `{"responseCode", "errorMessage"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: u16,
    pub message: String,
}

fn refuse(code: u16, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

/// One notification to send: the body of `notifyVirtualCardChange`.
type Notification = Value;

impl TshState {
    /// `keys`: TSH's decryption keys (`--tsh-key`), to read `updateCard`'s `fpanDetails`.
    pub fn new(target: IssuerTarget, keys: Option<KeyRing>, echo: bool) -> Arc<TshState> {
        let http = reqwest::Client::builder()
            .timeout(NOTIFY_TIMEOUT)
            .connect_timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Arc::new(TshState {
            inner: Mutex::new(Inner::default()),
            target: Mutex::new(target),
            keys,
            http,
            echo,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Plain inserts and pushes: a poisoned lock still holds consistent data.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where notifications go and which `x-issuer-id` is expected.
    pub fn target(&self) -> IssuerTarget {
        self.target
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Changes the issuer (a test learns the service's port after starting the simulator).
    pub fn set_target(&self, target: IssuerTarget) {
        *self.target.lock().unwrap_or_else(|p| p.into_inner()) = target;
    }

    /// Registers (or updates) a token; refused beyond [`MAX_TOKENS`] or with bad fields.
    pub fn register(
        &self,
        issuer_card_ref_id: &str,
        virtual_card_id: &str,
        state: &str,
        wallet_provider_id: Option<&str>,
    ) -> Result<SimToken, String> {
        if issuer_card_ref_id.is_empty() || issuer_card_ref_id.len() > 48 {
            return Err("issuer_card_ref_id must be 1–48 characters".into());
        }
        if virtual_card_id.is_empty() || virtual_card_id.len() > 64 {
            return Err("virtual_card_id must be 1–64 characters".into());
        }
        let state = state.to_ascii_uppercase();
        if !STATES.contains(&state.as_str()) {
            return Err(format!(
                "state `{state}`: expected ACTIVE, SUSPENDED or DELETED"
            ));
        }
        let mut inner = self.lock();
        let previous_card = inner.card_of(virtual_card_id);
        if previous_card.is_none() && inner.token_count() >= MAX_TOKENS {
            return Err(format!("the simulator keeps at most {MAX_TOKENS} tokens"));
        }
        let previous = previous_card.and_then(|card| {
            let tokens = inner.cards.get_mut(&card)?;
            let token = tokens.remove(virtual_card_id);
            if tokens.is_empty() {
                inner.cards.remove(&card);
            }
            token
        });
        let token = SimToken {
            virtual_card_id: virtual_card_id.to_owned(),
            state,
            wallet_provider_id: wallet_provider_id
                .map(str::to_owned)
                .or(previous.map(|p| p.wallet_provider_id))
                .unwrap_or_else(|| "APPLE_PAY".into()),
        };
        inner
            .cards
            .entry(issuer_card_ref_id.to_owned())
            .or_default()
            .insert(virtual_card_id.to_owned(), token.clone());
        Ok(token)
    }

    /// The token view: `[{issuer_card_ref_id, virtual_card_id, state, wallet_provider_id}]`.
    pub fn tokens(&self) -> Vec<Value> {
        self.lock()
            .cards
            .iter()
            .flat_map(|(card, tokens)| {
                tokens.values().map(move |t| {
                    json!({"issuer_card_ref_id": card, "virtual_card_id": t.virtual_card_id,
                           "state": t.state, "wallet_provider_id": t.wallet_provider_id})
                })
            })
            .collect()
    }

    /// One token's state, if known.
    pub fn state_of(&self, virtual_card_id: &str) -> Option<String> {
        let inner = self.lock();
        let card = inner.card_of(virtual_card_id)?;
        inner.cards[&card]
            .get(virtual_card_id)
            .map(|t| t.state.clone())
    }

    /// Every request received (oldest first), with its notifications' outcomes.
    pub fn requests(&self) -> Vec<Value> {
        self.lock().requests.iter().cloned().collect()
    }

    fn record(&self, entry: Value) -> u64 {
        let mut inner = self.lock();
        inner.received += 1;
        let sequence = inner.received;
        let mut entry = entry;
        entry["sequence"] = json!(sequence);
        entry["received_at"] = json!(super::gateway::now_rfc3339());
        if inner.requests.len() >= MAX_REQUESTS {
            inner.requests.pop_front();
        }
        inner.requests.push_back(entry);
        sequence
    }

    fn note_notification(&self, sequence: u64, outcome: Value) {
        let mut inner = self.lock();
        if let Some(entry) = inner
            .requests
            .iter_mut()
            .rev()
            .find(|e| e["sequence"] == sequence)
        {
            if let Some(list) = entry["notifications"].as_array_mut() {
                list.push(outcome);
            }
        }
    }

    /// Applies one operation to the view: the answer and the notifications to send afterwards.
    /// `body` is the request (a JSON object); `detail` receives what may be listed about it.
    fn apply(
        &self,
        operation: &str,
        body: &Map<String, Value>,
        detail: &mut Map<String, Value>,
    ) -> Result<(Value, Vec<Notification>), Refusal> {
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
        let card = text("issuerCardRefId");
        match operation {
            "updatecardstate" => {
                let action = text("action")
                    .map(|a| a.to_ascii_uppercase())
                    .ok_or_else(|| refuse(111, "action is required"))?;
                let new_state = match action.as_str() {
                    "SUSPEND" => "SUSPENDED",
                    "RESUME" => "ACTIVE",
                    "DELETE" => "DELETED",
                    other => {
                        return Err(refuse(
                            111,
                            format!("action `{other}`: expected SUSPEND, RESUME or DELETE"),
                        ))
                    }
                };
                let vcid = text("virtualCardId");
                let mut inner = self.lock();
                let card = match (&card, &vcid) {
                    (Some(card), _) => card.clone(),
                    (None, Some(vcid)) => inner
                        .card_of(vcid)
                        .ok_or_else(|| refuse(119, format!("unknown virtual card {vcid}")))?,
                    (None, None) => {
                        return Err(refuse(111, "issuerCardRefId or virtualCardId is required"))
                    }
                };
                let targets: Vec<String> = match &vcid {
                    Some(vcid) => {
                        if inner.card_of(vcid).is_none() {
                            // Learnt from the request: the issuer names a token TSH should know.
                            drop(inner);
                            self.register(&card, vcid, "ACTIVE", None)
                                .map_err(|e| refuse(111, e))?;
                            inner = self.lock();
                        }
                        vec![vcid.clone()]
                    }
                    None => {
                        let tokens = inner
                            .cards
                            .get(&card)
                            .ok_or_else(|| refuse(116, format!("no token known for card {card} (register one: POST /tsh/tokens)")))?;
                        let wanted = |state: &str| match action.as_str() {
                            "SUSPEND" => state == "ACTIVE",
                            "RESUME" => state == "SUSPENDED",
                            _ => state != "DELETED",
                        };
                        tokens
                            .values()
                            .filter(|t| wanted(&t.state))
                            .map(|t| t.virtual_card_id.clone())
                            .collect()
                    }
                };
                let mut notes = Vec::new();
                for vcid in &targets {
                    let Some(card_now) = inner.card_of(vcid) else {
                        continue;
                    };
                    let Some(token) = inner.cards.get_mut(&card_now).and_then(|t| t.get_mut(vcid))
                    else {
                        continue;
                    };
                    token.state = new_state.to_owned();
                    notes.push(notification(&card_now, token, &action));
                }
                detail.insert("action".into(), json!(action));
                Ok((json!({}), notes))
            }
            "getcardinfo" => {
                let card = card.ok_or_else(|| refuse(111, "issuerCardRefId is required"))?;
                let inner = self.lock();
                let list: Vec<Value> = inner
                    .cards
                    .get(&card)
                    .into_iter()
                    .flat_map(BTreeMap::values)
                    .map(|t| {
                        json!({"virtualCardId": t.virtual_card_id, "issuerCardRefId": card,
                               "walletProviderId": t.wallet_provider_id, "status": t.state,
                               "deviceInformation": {"deviceType": "PHONE"}})
                    })
                    .collect();
                Ok((
                    json!({"issuerCardRefId": card, "virtualCardList": list}),
                    vec![],
                ))
            }
            "gettokeninfo" => {
                let vcid = text("virtualCardId")
                    .ok_or_else(|| refuse(111, "virtualCardId is required"))?;
                let inner = self.lock();
                let found = inner
                    .card_of(&vcid)
                    .and_then(|c| inner.cards[&c].get(&vcid).map(|t| (c.clone(), t.clone())));
                let (card, token) =
                    found.ok_or_else(|| refuse(119, format!("unknown virtual card {vcid}")))?;
                Ok((
                    json!({"virtualCardId": vcid, "issuerCardRefId": card,
                           "walletProviderId": token.wallet_provider_id, "status": token.state,
                           "tokenRequestorId": "40010030273"}),
                    vec![],
                ))
            }
            "updatecard" => {
                let card = card.ok_or_else(|| refuse(111, "issuerCardRefId is required"))?;
                let sealed = text("fpanDetails")
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| refuse(111, "fpanDetails is required"))?;
                detail.insert("fpanDetails".into(), self.read_fpan_details(&sealed)?);
                let new_card = text("newIssuerCardRefId").unwrap_or_else(|| card.clone());
                if new_card.is_empty() || new_card.len() > 48 {
                    return Err(refuse(111, "newIssuerCardRefId must be 1–48 characters"));
                }
                let mut inner = self.lock();
                let tokens = inner.cards.remove(&card).ok_or_else(|| {
                    refuse(
                        116,
                        format!("no token known for card {card} (register one: POST /tsh/tokens)"),
                    )
                })?;
                let notes = tokens
                    .values()
                    .filter(|t| t.state != "DELETED")
                    .map(|t| notification(&new_card, t, "UPDATE"))
                    .collect();
                inner.cards.entry(new_card).or_default().extend(tokens);
                Ok((json!({}), notes))
            }
            other => Err(refuse(111, format!("unknown operation `{other}`"))),
        }
    }

    /// What may be listed about `fpanDetails`: its size, and with `--tsh-key` the masked PANs and
    /// expiry dates. Never the PAN.
    fn read_fpan_details(&self, sealed: &str) -> Result<Value, Refusal> {
        let Some(keys) = &self.keys else {
            return Ok(json!({"sealed_base64_chars": sealed.len(), "decrypted": false}));
        };
        let clear = keys
            .decrypt_envelope(sealed)
            .map_err(|e| refuse(166, format!("fpanDetails cannot be decrypted: {e}")))?;
        let parsed: Value = serde_json::from_slice(&clear)
            .map_err(|_| refuse(166, "fpanDetails is not a JSON object"))?;
        let mask = |key: &str| -> Value {
            match parsed[key].as_str() {
                None => Value::Null,
                Some(raw) => Pan::parse(raw)
                    .map(|p| json!(p.masked()))
                    .unwrap_or_else(|_| json!("invalid")),
            }
        };
        Ok(json!({
            "decrypted": true,
            "oldFPAN": mask("oldFPAN"),
            "newFPAN": mask("newFPAN"),
            "oldExpDate": parsed["oldExpDate"],
            "newExpDate": parsed["newExpDate"],
        }))
    }

    /// Sends the notifications one after the other (each bounded by [`NOTIFY_TIMEOUT`], never
    /// retried) and records each outcome on request `sequence`.
    async fn notify(self: Arc<Self>, sequence: u64, correlation_id: String, notes: Vec<Value>) {
        actix_web::rt::time::sleep(NOTIFY_DELAY).await;
        let target = self.target();
        let url = format!(
            "{}{}/notifyVirtualCardChange",
            target.url.trim_end_matches('/'),
            target.prefix
        );
        for note in notes {
            let sent = self
                .http
                .post(&url)
                .header("x-correlation-id", &correlation_id)
                .header("x-issuer-id", &target.issuer_id)
                .json(&note)
                .send()
                .await;
            let outcome = match &sent {
                Ok(r) => json!({"virtualCardId": note["virtualCardId"], "action": note["action"],
                                "status": r.status().as_u16(), "delivered": r.status().is_success()}),
                Err(e) => json!({"virtualCardId": note["virtualCardId"], "action": note["action"],
                                 "delivered": false, "error": e.to_string()}),
            };
            if outcome["delivered"] != true {
                tracing::warn!(%correlation_id, outcome = %outcome, "simulated TSH: notification not delivered");
            }
            if self.echo {
                println!(
                    "tsh  → notifyVirtualCardChange {} {}  x-correlation-id {correlation_id}  {}",
                    note["action"].as_str().unwrap_or("-"),
                    note["virtualCardId"].as_str().unwrap_or("-"),
                    match &sent {
                        Ok(r) => r.status().to_string(),
                        Err(e) => format!("failed: {e}"),
                    }
                );
            }
            self.note_notification(sequence, outcome);
        }
    }
}

fn notification(card: &str, token: &SimToken, action: &str) -> Value {
    json!({"issuerCardRefId": card, "virtualCardId": token.virtual_card_id,
           "walletProviderId": token.wallet_provider_id, "action": action, "source": "ISSUER"})
}

/// Checks TSH's headers: the correlation id (1–64) and the issuer id (must be ours).
pub fn check_headers(
    correlation_id: Option<&str>,
    issuer_id: Option<&str>,
    expected_issuer_id: &str,
) -> Result<(), Refusal> {
    match correlation_id {
        Some(c) if !c.is_empty() && c.len() <= 64 => {}
        Some(_) => return Err(refuse(111, "x-correlation-id must be 1–64 characters")),
        None => return Err(refuse(111, "x-correlation-id header is required")),
    }
    match issuer_id {
        None | Some("") => Err(refuse(111, "x-issuer-id header is required")),
        Some(id) if id != expected_issuer_id => Err(refuse(113, format!("unknown issuer {id}"))),
        Some(_) => Ok(()),
    }
}

fn refusal_response(refusal: &Refusal) -> HttpResponse {
    HttpResponse::BadRequest()
        .json(json!({"responseCode": refusal.code, "errorMessage": refusal.message}))
}

/// The simulated TSH's routes, on any actix app.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<TshState>) {
    cfg.app_data(state)
        .route(
            &format!("{TSH_PREFIX}/{{operation}}"),
            web::post().to(operation),
        )
        .route("/tsh/tokens", web::get().to(list_tokens))
        .route("/tsh/tokens", web::post().to(add_token))
        .route("/tsh/requests", web::get().to(list_requests));
}

async fn operation(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<TshState>,
) -> HttpResponse {
    let name = path.into_inner();
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
    let correlation_id = header("x-correlation-id").map(str::to_owned);
    let mut entry = json!({
        "operation": name,
        "correlation_id": correlation_id,
        "issuer_id": header("x-issuer-id"),
        "notifications": [],
    });
    let checked = check_headers(
        correlation_id.as_deref(),
        header("x-issuer-id"),
        &state.target().issuer_id,
    )
    .and_then(|()| match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(refuse(111, "the body must be a JSON object")),
    });
    let mut detail = Map::new();
    let result = checked.and_then(|body| {
        for key in [
            "issuerCardRefId",
            "newIssuerCardRefId",
            "virtualCardId",
            "reasonCode",
            "reason",
        ] {
            if let Some(v) = body.get(key) {
                detail.insert(key.into(), v.clone());
            }
        }
        state.apply(&name.to_ascii_lowercase(), &body, &mut detail)
    });
    entry["request"] = Value::Object(detail);
    let (response, notes) = match result {
        Ok((answer, notes)) => {
            entry["status"] = json!(200);
            (HttpResponse::Ok().json(answer), notes)
        }
        Err(refusal) => {
            entry["status"] = json!(400);
            entry["response_code"] = json!(refusal.code);
            entry["error"] = json!(refusal.message);
            (refusal_response(&refusal), vec![])
        }
    };
    if state.echo {
        println!(
            "tsh #{} {name} {}  x-correlation-id {}  → {} ({} notification(s))",
            state.lock().received + 1,
            entry["request"]["action"].as_str().unwrap_or(""),
            correlation_id.as_deref().unwrap_or("-"),
            entry["status"],
            notes.len()
        );
    }
    let sequence = state.record(entry);
    if let (false, Some(correlation_id)) = (notes.is_empty(), correlation_id) {
        let state = state.into_inner();
        actix_web::rt::spawn(state.notify(sequence, correlation_id, notes));
    }
    response
}

async fn list_tokens(state: web::Data<TshState>) -> HttpResponse {
    HttpResponse::Ok().json(state.tokens())
}

async fn list_requests(state: web::Data<TshState>) -> HttpResponse {
    HttpResponse::Ok().json(state.requests())
}

#[derive(Debug, Deserialize)]
struct NewToken {
    issuer_card_ref_id: String,
    virtual_card_id: String,
    state: Option<String>,
    wallet_provider_id: Option<String>,
}

async fn add_token(state: web::Data<TshState>, body: web::Json<NewToken>) -> HttpResponse {
    let t = body.into_inner();
    match state.register(
        &t.issuer_card_ref_id,
        &t.virtual_card_id,
        t.state.as_deref().unwrap_or("ACTIVE"),
        t.wallet_provider_id.as_deref(),
    ) {
        Ok(token) => HttpResponse::Ok().json(json!({
            "issuer_card_ref_id": t.issuer_card_ref_id, "virtual_card_id": token.virtual_card_id,
            "state": token.state, "wallet_provider_id": token.wallet_provider_id})),
        Err(message) => HttpResponse::BadRequest().json(json!({"error": message})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> Arc<TshState> {
        TshState::new(IssuerTarget::default(), None, false)
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn headers_are_required_and_the_issuer_must_be_ours() {
        assert_eq!(
            check_headers(Some("c-1"), Some("ISSUERDEV1"), "ISSUERDEV1"),
            Ok(())
        );
        assert_eq!(
            check_headers(None, Some("ISSUERDEV1"), "ISSUERDEV1")
                .unwrap_err()
                .code,
            111
        );
        assert_eq!(
            check_headers(Some(""), Some("ISSUERDEV1"), "ISSUERDEV1")
                .unwrap_err()
                .code,
            111
        );
        let long = "x".repeat(65);
        assert_eq!(
            check_headers(Some(&long), Some("ISSUERDEV1"), "ISSUERDEV1")
                .unwrap_err()
                .code,
            111
        );
        assert_eq!(
            check_headers(Some("c-1"), None, "ISSUERDEV1")
                .unwrap_err()
                .code,
            111
        );
        assert_eq!(
            check_headers(Some("c-1"), Some("OTHERISSU1"), "ISSUERDEV1")
                .unwrap_err()
                .code,
            113
        );
    }

    #[test]
    fn the_token_view_follows_state_changes_and_card_level_actions() {
        let s = state();
        s.register("CARD-1", "VC-1", "active", None).unwrap();
        s.register("CARD-1", "VC-2", "SUSPENDED", Some("GOOGLE_PAY"))
            .unwrap();
        assert!(s.register("CARD-1", "VC-3", "LOST", None).is_err());
        assert!(s.register("", "VC-3", "ACTIVE", None).is_err());

        let mut detail = Map::new();
        let (_, notes) = s
            .apply("updatecardstate", &obj(json!({"issuerCardRefId": "CARD-1", "virtualCardId": "VC-1", "action": "suspend"})), &mut detail)
            .unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0]["action"], "SUSPEND");
        assert_eq!(s.state_of("VC-1").as_deref(), Some("SUSPENDED"));

        // Card-level resume: only the suspended tokens are affected, one notification each.
        let (_, notes) = s
            .apply(
                "updatecardstate",
                &obj(json!({"issuerCardRefId": "CARD-1", "action": "RESUME"})),
                &mut detail,
            )
            .unwrap();
        assert_eq!(notes.len(), 2);
        assert_eq!(notes[1]["walletProviderId"], "GOOGLE_PAY");
        assert_eq!(s.state_of("VC-2").as_deref(), Some("ACTIVE"));

        // A token named by the issuer is learnt; an unknown card without a token is refused.
        s.apply(
            "updatecardstate",
            &obj(json!({"issuerCardRefId": "CARD-2", "virtualCardId": "VC-9", "action": "DELETE"})),
            &mut detail,
        )
        .unwrap();
        assert_eq!(s.state_of("VC-9").as_deref(), Some("DELETED"));
        let err = s
            .apply(
                "updatecardstate",
                &obj(json!({"issuerCardRefId": "NOPE", "action": "SUSPEND"})),
                &mut detail,
            )
            .unwrap_err();
        assert_eq!(err.code, 116);
        assert_eq!(
            s.apply(
                "updatecardstate",
                &obj(json!({"issuerCardRefId": "CARD-1", "action": "FREEZE"})),
                &mut detail
            )
            .unwrap_err()
            .code,
            111
        );

        let (info, _) = s
            .apply(
                "getcardinfo",
                &obj(json!({"issuerCardRefId": "CARD-1"})),
                &mut detail,
            )
            .unwrap();
        assert_eq!(info["virtualCardList"].as_array().unwrap().len(), 2);
        let (info, _) = s
            .apply(
                "gettokeninfo",
                &obj(json!({"issuerCardRefId": "CARD-1", "virtualCardId": "VC-2"})),
                &mut detail,
            )
            .unwrap();
        assert_eq!(info["status"], "ACTIVE");
        assert_eq!(
            s.apply(
                "gettokeninfo",
                &obj(json!({"virtualCardId": "VC-404"})),
                &mut detail
            )
            .unwrap_err()
            .code,
            119
        );

        // updateCard moves the tokens to the new reference; sealed data is not read without keys.
        let (_, notes) = s
            .apply("updatecard", &obj(json!({"issuerCardRefId": "CARD-1", "newIssuerCardRefId": "CARD-1B", "fpanDetails": "MIIB"})), &mut detail)
            .unwrap();
        assert_eq!(notes.len(), 2);
        assert!(notes
            .iter()
            .all(|n| n["action"] == "UPDATE" && n["issuerCardRefId"] == "CARD-1B"));
        assert_eq!(detail["fpanDetails"]["decrypted"], false);
        assert!(s
            .tokens()
            .iter()
            .all(|t| t["issuer_card_ref_id"] != "CARD-1"));
        assert_eq!(
            s.apply("updatecard", &obj(json!({})), &mut detail)
                .unwrap_err()
                .code,
            111
        );
    }

    #[test]
    fn requests_are_bounded() {
        let s = state();
        for i in 0..(MAX_REQUESTS + 3) {
            s.record(json!({"operation": "getCardInfo", "i": i, "notifications": []}));
        }
        let all = s.requests();
        assert_eq!(all.len(), MAX_REQUESTS);
        assert_eq!(all[0]["i"], 3);
    }
}
