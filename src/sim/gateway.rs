//! The mock SMS / e-mail gateway of `tsh-sim serve`: the other end of the service's OTP webhook
//! (`otp.webhook_url`, default `http://127.0.0.1:8090/otp`).
//!
//! Owns: recording deliveries in memory (bounded), answering them according to a mode that can be
//! changed at run time (accept, fail, slow), and the read endpoints scenarios use to check that an
//! OTP arrived unchanged. Listens on loopback only. Must not: forward anything anywhere, or keep
//! more than [`MAX_DELIVERIES`] deliveries.
//!
//! | method + path | what |
//! |---|---|
//! | `POST /otp` | a delivery from tsh-issuer; 200 `{"status":"queued"}` (accept, slow) or 503 (fail) |
//! | `GET /otp/deliveries` | every recorded delivery, oldest first (JSON array) |
//! | `DELETE /otp/deliveries` | forget them |
//! | `GET /otp/last?issuer_card_ref_id=X` | the newest delivery (for card X); 404 if none |
//! | `GET /otp/mode`, `POST /otp/mode` | `{"mode": "accept"\|"fail"\|"slow", "delay_ms": n}` |
//! | `GET /health/live` | `{"status": "ok"}` |

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use serde::Deserialize;
use serde_json::{json, Value};

/// Deliveries kept in memory; older ones are dropped first.
pub const MAX_DELIVERIES: usize = 1000;
/// The longest delay `slow` mode accepts.
pub const MAX_DELAY_MS: u64 = 60_000;
/// `slow` without `delay_ms`: longer than the service's default `otp.timeout_ms` (3000).
pub const DEFAULT_SLOW_DELAY_MS: u64 = 5_000;

/// How the gateway answers deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// Answer 503 and record nothing.
    Fail,
    /// Wait `delay_ms`, then accept and record: even when the caller gave up in the meantime
    /// (tsh-issuer after `otp.timeout_ms`), as a slow real gateway may still send the SMS.
    Slow {
        delay_ms: u64,
    },
}

impl Mode {
    fn to_json(self) -> Value {
        match self {
            Mode::Accept => json!({"mode": "accept"}),
            Mode::Fail => json!({"mode": "fail"}),
            Mode::Slow { delay_ms } => json!({"mode": "slow", "delay_ms": delay_ms}),
        }
    }
}

#[derive(Debug)]
struct Inner {
    mode: Mode,
    deliveries: VecDeque<Value>,
    received: u64,
    refused: u64,
}

/// Shared state of one gateway: mode and recorded deliveries.
#[derive(Debug)]
pub struct GatewayState {
    inner: Mutex<Inner>,
    /// Print one line per delivery on stdout (the `serve` command; off in tests).
    echo: bool,
}

impl GatewayState {
    pub fn new(echo: bool) -> Arc<GatewayState> {
        Arc::new(GatewayState {
            inner: Mutex::new(Inner {
                mode: Mode::Accept,
                deliveries: VecDeque::new(),
                received: 0,
                refused: 0,
            }),
            echo,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the data inconsistent (plain pushes), so a
        // poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn mode(&self) -> Mode {
        self.lock().mode
    }

    pub fn set_mode(&self, mode: Mode) {
        self.lock().mode = mode;
    }

    pub fn deliveries(&self) -> Vec<Value> {
        self.lock().deliveries.iter().cloned().collect()
    }

    /// The newest delivery, optionally only for one card reference.
    pub fn last_for(&self, issuer_card_ref_id: Option<&str>) -> Option<Value> {
        self.lock()
            .deliveries
            .iter()
            .rev()
            .find(|d| issuer_card_ref_id.is_none_or(|id| d["issuer_card_ref_id"] == id))
            .cloned()
    }

    fn record(&self, mut delivery: Value) -> Value {
        let mut inner = self.lock();
        inner.received += 1;
        if let Value::Object(map) = &mut delivery {
            map.insert("sequence".into(), json!(inner.received));
            map.insert("received_at".into(), json!(now_rfc3339()));
        }
        if inner.deliveries.len() >= MAX_DELIVERIES {
            inner.deliveries.pop_front();
        }
        inner.deliveries.push_back(delivery.clone());
        delivery
    }
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("refusing to listen on {0}: the simulator has no authentication and listens on loopback only (e.g. 127.0.0.1:8090)")]
    NotLoopback(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A bound gateway: run `server` (spawn or await it) to serve.
pub struct RunningGateway {
    pub server: Server,
    pub addr: SocketAddr,
    pub state: Arc<GatewayState>,
}

impl RunningGateway {
    /// Base URL (`http://127.0.0.1:PORT`); the webhook is this plus `/otp`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Binds the gateway (port 0 picks a free port). Must be called inside an actix/tokio runtime.
pub fn start(bind: SocketAddr, state: Arc<GatewayState>) -> Result<RunningGateway, ServeError> {
    start_with(bind, state, |_| {})
}

/// Like [`start`], with more routes on the same server (`serve` adds the simulated TSH).
pub fn start_with<F>(
    bind: SocketAddr,
    state: Arc<GatewayState>,
    more: F,
) -> Result<RunningGateway, ServeError>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    if !bind.ip().is_loopback() {
        return Err(ServeError::NotLoopback(bind));
    }
    let bind_error = |source| ServeError::Bind { addr: bind, source };
    let listener = TcpListener::bind(bind).map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    let data = web::Data::from(state.clone());
    let server = HttpServer::new(move || {
        App::new()
            .configure(|cfg| configure(cfg, data.clone()))
            .configure(more.clone())
    })
    .workers(2)
    .shutdown_timeout(2)
    .listen(listener)
    .map_err(bind_error)?
    .run();
    Ok(RunningGateway {
        server,
        addr,
        state,
    })
}

/// The gateway's routes, on any actix app.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<GatewayState>) {
    cfg.app_data(state)
        .app_data(web::JsonConfig::default().limit(64 * 1024))
        .route("/otp", web::post().to(deliver))
        .route("/otp/deliveries", web::get().to(list))
        .route("/otp/deliveries", web::delete().to(clear))
        .route("/otp/last", web::get().to(last))
        .route("/otp/mode", web::get().to(get_mode))
        .route("/otp/mode", web::post().to(set_mode))
        .route(
            "/health/live",
            web::get().to(|| async { HttpResponse::Ok().json(json!({"status": "ok"})) }),
        );
}

async fn deliver(state: web::Data<GatewayState>, body: web::Json<Value>) -> HttpResponse {
    let body = body.into_inner();
    if !body.is_object() {
        return HttpResponse::BadRequest().json(json!({"error": "a delivery is a JSON object"}));
    }
    match state.mode() {
        Mode::Fail => {
            state.lock().refused += 1;
            return HttpResponse::ServiceUnavailable()
                .json(json!({"error": "gateway told to fail (POST /otp/mode)"}));
        }
        Mode::Slow { delay_ms } => {
            actix_web::rt::time::sleep(Duration::from_millis(delay_ms)).await;
        }
        Mode::Accept => {}
    }
    let recorded = state.record(body);
    if state.echo {
        println!(
            "otp #{}  {} → {}  otp {}  card {}  x-correlation-id {}",
            recorded["sequence"],
            text(&recorded["channel"]),
            text(&recorded["to"]),
            text(&recorded["otp"]),
            text(&recorded["issuer_card_ref_id"]),
            text(&recorded["correlation_id"]),
        );
    }
    HttpResponse::Ok().json(json!({"status": "queued", "sequence": recorded["sequence"]}))
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

async fn list(state: web::Data<GatewayState>) -> HttpResponse {
    HttpResponse::Ok().json(state.deliveries())
}

async fn clear(state: web::Data<GatewayState>) -> HttpResponse {
    state.lock().deliveries.clear();
    HttpResponse::NoContent().finish()
}

#[derive(Debug, Deserialize)]
struct LastQuery {
    issuer_card_ref_id: Option<String>,
}

async fn last(state: web::Data<GatewayState>, query: web::Query<LastQuery>) -> HttpResponse {
    let card = query.issuer_card_ref_id.as_deref();
    match state.last_for(card) {
        Some(delivery) => HttpResponse::Ok().json(delivery),
        None => HttpResponse::NotFound().json(json!({
            "error": match card {
                Some(id) => format!("no delivery for issuer_card_ref_id {id}"),
                None => "no delivery yet".to_owned(),
            }
        })),
    }
}

async fn get_mode(state: web::Data<GatewayState>) -> HttpResponse {
    let inner = state.lock();
    let mut body = inner.mode.to_json();
    body["received"] = json!(inner.received);
    body["refused"] = json!(inner.refused);
    body["kept"] = json!(inner.deliveries.len());
    HttpResponse::Ok().json(body)
}

#[derive(Debug, Deserialize)]
struct ModeRequest {
    mode: String,
    delay_ms: Option<u64>,
}

/// Parses a mode change; the error is the message answered with 400.
fn parse_mode(request: &ModeRequest) -> Result<Mode, String> {
    match request.mode.as_str() {
        "accept" => Ok(Mode::Accept),
        "fail" => Ok(Mode::Fail),
        "slow" => match request.delay_ms.unwrap_or(DEFAULT_SLOW_DELAY_MS) {
            ms if ms <= MAX_DELAY_MS => Ok(Mode::Slow { delay_ms: ms }),
            ms => Err(format!(
                "delay_ms {ms} is above the limit of {MAX_DELAY_MS}"
            )),
        },
        other => Err(format!(
            "unknown mode `{other}`: expected \"accept\", \"fail\" or \"slow\""
        )),
    }
}

async fn set_mode(state: web::Data<GatewayState>, body: web::Json<ModeRequest>) -> HttpResponse {
    match parse_mode(&body) {
        Ok(mode) => {
            state.set_mode(mode);
            if state.echo {
                println!("gateway mode: {}", mode.to_json());
            }
            HttpResponse::Ok().json(mode.to_json())
        }
        Err(message) => HttpResponse::BadRequest().json(json!({"error": message})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_with_bounded_delays() {
        let req = |mode: &str, delay_ms: Option<u64>| ModeRequest {
            mode: mode.into(),
            delay_ms,
        };
        assert_eq!(parse_mode(&req("accept", None)), Ok(Mode::Accept));
        assert_eq!(parse_mode(&req("fail", Some(5))), Ok(Mode::Fail));
        assert_eq!(
            parse_mode(&req("slow", None)),
            Ok(Mode::Slow {
                delay_ms: DEFAULT_SLOW_DELAY_MS
            })
        );
        assert_eq!(
            parse_mode(&req("slow", Some(10))),
            Ok(Mode::Slow { delay_ms: 10 })
        );
        assert!(parse_mode(&req("slow", Some(MAX_DELAY_MS + 1))).is_err());
        assert!(parse_mode(&req("explode", None)).is_err());
    }

    #[test]
    fn deliveries_are_bounded_and_the_last_is_found_per_card() {
        let state = GatewayState::new(false);
        for i in 0..(MAX_DELIVERIES + 5) {
            state.record(
                json!({"issuer_card_ref_id": format!("card-{}", i % 2), "otp": i.to_string()}),
            );
        }
        assert_eq!(state.deliveries().len(), MAX_DELIVERIES);
        let last_even = state.last_for(Some("card-0")).unwrap();
        assert_eq!(last_even["otp"], (MAX_DELIVERIES + 4).to_string());
        assert_eq!(
            state.last_for(None).unwrap()["issuer_card_ref_id"],
            "card-0"
        );
        assert!(state.last_for(Some("nobody")).is_none());
    }

    #[test]
    fn the_gateway_listens_on_loopback_only() {
        let err = start("0.0.0.0:0".parse().unwrap(), GatewayState::new(false))
            .err()
            .expect("refused");
        assert!(err.to_string().contains("loopback"), "{err}");
    }
}
