//! Seed 004, Thales merchant tokenization "Create a token": synchronous and asynchronous token
//! creation, under Thales' server base path `/tsh-cof`.
//!
//! Request (both): header `x-correlation-id` (1–36, required: it is also the TSP session's
//! correlation id towards the issuer), `authorization` (not checked); body `merchantId` (required),
//! `encryptedData` (required), `source` (`ON_FILE` default, or `MANUAL`). Thales expects a JWE in
//! `encryptedData`; the simulator does not decrypt JWE and takes its plaintext instead —
//! `{"fpan", "exp" (MMYY), "cvv"?, "accountId"?, "name"?, "email"?}` as a JSON object, as JSON
//! text, or base64 of it.
//!
//! - `POST /tsh-cof/tokens` (sync): **201** `{tokenId, merchantId, cardBin, cardLastDigits,
//!   cardExpiryDate, tokenLastDigits, tokenExpiryDate, par, state, timestamp}` on green / yellow;
//!   **400** `{errorCode, errorDescription}` for bad input; **403** `{errorCode:
//!   "TOKENIZATION_DECLINED" | "CARD_NOT_ELIGIBLE", errorDescription, issuerResponseCode?}` when
//!   the issuer refuses; **502** when it cannot be reached.
//! - `POST /tsh-cof/async/tokens` (async): **202** `{}` after validating the request, then the
//!   session runs in the background and the notification is POSTed to `callbackUrl` (a simulator
//!   extension of the body, loopback `http://` only) with the same `x-correlation-id`: the token's
//!   non-sensitive metadata, or only `{merchantId, errorCode, errorDescription}` on failure. Retried
//!   on 429 / 5xx / no answer at most [`NOTIFY_ATTEMPTS`] times. `GET /tsh-cof/notifications` lists
//!   what was sent (the last [`MAX_NOTIFICATIONS`]), with or without a `callbackUrl`.
//!
//! Token id per network, as the seed says: Visa reuses the `tokenId` for the same `merchantId`,
//! card data and `accountId` (the existing token is answered, no new session); Mastercard (and the
//! others here) create a new token each time.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::{parse_body, text_at, FrontDoors};
use crate::sim::tsp::{CardInput, Network, Outcome, Profile, TokenRecord, TspError};

pub const REQUESTOR: &str = "thales_merchant";
/// Notifications kept for `GET /tsh-cof/notifications`.
pub const MAX_NOTIFICATIONS: usize = 1000;
/// Delivery attempts per notification, and the pause before the first retry (doubled after).
pub const NOTIFY_ATTEMPTS: u32 = 3;
pub const NOTIFY_BACKOFF: Duration = Duration::from_millis(200);

/// Notifications sent by the asynchronous flow.
#[derive(Default)]
pub struct ThalesState {
    notifications: Mutex<VecDeque<Value>>,
}

impl ThalesState {
    pub fn notifications(&self) -> Vec<Value> {
        self.notifications
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    fn record(&self, entry: Value) {
        let mut list = self.notifications.lock().unwrap_or_else(|p| p.into_inner());
        if list.len() >= MAX_NOTIFICATIONS {
            list.pop_front();
        }
        list.push_back(entry);
    }
}

fn error(status: actix_web::http::StatusCode, code: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({"errorCode": code, "errorDescription": description}))
}

fn bad_request(description: &str) -> HttpResponse {
    error(
        actix_web::http::StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
        description,
    )
}

/// A validated create-token request.
struct CreateRequest {
    correlation_id: String,
    merchant_id: String,
    card: CardInput,
    account_id: Option<String>,
    capture_method: &'static str,
    callback_url: Option<reqwest::Url>,
    /// Masked PAN for the log line.
    masked: String,
}

/// The plaintext of `encryptedData`: an object, JSON text, or base64 of JSON text.
fn card_plaintext(value: &Value) -> Result<Value, String> {
    let text = match value {
        Value::Object(_) => return Ok(value.clone()),
        Value::String(s) => Zeroizing::new(s.trim().to_owned()),
        _ => return Err("encryptedData must be a string".into()),
    };
    if text.split('.').count() == 5 {
        return Err("encryptedData: the simulator does not decrypt JWE; send the JWE plaintext (the card JSON, or base64 of it)".into());
    }
    if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(&text) {
        return Ok(v);
    }
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    for engine in engines {
        if let Ok(bytes) = engine.decode(text.as_bytes()) {
            let bytes = Zeroizing::new(bytes);
            if let Ok(v @ Value::Object(_)) = serde_json::from_slice::<Value>(&bytes) {
                return Ok(v);
            }
        }
    }
    Err("encryptedData: expected the card JSON ({\"fpan\",\"exp\",…}), as an object, JSON text or base64".into())
}

fn loopback_url(raw: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("callbackUrl: {e}"))?;
    let loopback = match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    };
    if url.scheme() != "http" || !loopback {
        return Err("callbackUrl: the simulator only calls back http:// loopback URLs (127.0.0.1, localhost, [::1])".into());
    }
    Ok(url)
}

fn parse_request(request: &HttpRequest, body: &[u8]) -> Result<CreateRequest, Box<HttpResponse>> {
    let correlation_id = request
        .headers()
        .get("x-correlation-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    if correlation_id.is_empty() || correlation_id.len() > 36 {
        return Err(Box::new(bad_request(
            "x-correlation-id header is required (1 to 36 characters)",
        )));
    }
    let body = parse_body(body).map_err(|m| Box::new(bad_request(&m)))?;
    let merchant_id = match text_at(&body, "merchantId") {
        Some(m) if m.len() <= 128 => m.to_owned(),
        Some(_) => {
            return Err(Box::new(bad_request(
                "merchantId is longer than 128 characters",
            )))
        }
        None => return Err(Box::new(bad_request("merchantId is required"))),
    };
    let capture_method = match text_at(&body, "source") {
        None | Some("ON_FILE") => "ON_FILE",
        Some("MANUAL") => "MANUAL",
        Some(other) => {
            return Err(Box::new(bad_request(&format!(
                "source `{other}` is not supported by the simulator (ON_FILE or MANUAL)"
            ))))
        }
    };
    let Some(encrypted) = body.get("encryptedData") else {
        return Err(Box::new(bad_request("encryptedData is required")));
    };
    let plain = card_plaintext(encrypted).map_err(|m| Box::new(bad_request(&m)))?;
    let (Some(fpan), Some(exp)) = (text_at(&plain, "fpan"), text_at(&plain, "exp")) else {
        return Err(Box::new(bad_request(
            "encryptedData: fpan and exp (MMYY) are required for source ON_FILE / MANUAL",
        )));
    };
    let card = CardInput::new(fpan, exp, text_at(&plain, "cvv"))
        .map_err(|m| Box::new(bad_request(&format!("encryptedData: {m}"))))?;
    let callback_url = text_at(&body, "callbackUrl")
        .map(loopback_url)
        .transpose()
        .map_err(|m| Box::new(bad_request(&m)))?;
    Ok(CreateRequest {
        correlation_id,
        merchant_id,
        masked: card.pan.masked(),
        account_id: text_at(&plain, "accountId").map(str::to_owned),
        card,
        capture_method,
        callback_url,
    })
}

fn profile(request: &CreateRequest) -> Profile {
    Profile {
        requestor: REQUESTOR,
        wallet_provider_id: "THALES_COF",
        token_requestor_id: "40010088004",
        token_requestor_name: "Thales merchant tokenization (tsh-sim)",
        merchant_id: Some(request.merchant_id.clone()),
        account_id: request.account_id.clone(),
        capture_method: request.capture_method,
    }
}

fn token_metadata(t: &TokenRecord) -> Value {
    json!({
        "tokenId": t.id,
        "merchantId": t.merchant_id,
        "cardBin": t.card_bin,
        "cardLastDigits": t.card_last4,
        "cardExpiryDate": t.card_exp,
        "tokenLastDigits": t.token_last4(),
        "tokenExpiryDate": t.token_exp,
        "par": t.par,
        "state": t.state,
        "timestamp": t.created,
    })
}

/// What one create request came to.
enum Created {
    Token(Box<TokenRecord>),
    Refused(Value),
    Failed(String),
}

/// Visa: the same merchant, card data and account id get the same token back. Others: a new
/// session each time.
async fn create_token(doors: &FrontDoors, request: &CreateRequest) -> Created {
    if request.card.network() == Network::Visa {
        let existing = doors.tsp.find_active(REQUESTOR, &request.card.pan, |t| {
            t.merchant_id.as_deref() == Some(request.merchant_id.as_str())
                && t.account_id == request.account_id
                && t.card_exp == request.card.exp
        });
        if let Some(token) = existing {
            if doors.echo {
                println!(
                    "thales_merchant: card {}  → Visa tokenId {} reused [x-correlation-id {}]",
                    request.masked, token.id, request.correlation_id
                );
            }
            return Created::Token(Box::new(token));
        }
    }
    let outcome = doors
        .tsp
        .provision(
            &request.card,
            &profile(request),
            Some(request.correlation_id.clone()),
        )
        .await;
    match outcome {
        Ok(outcome) => {
            if doors.echo {
                let pan = request.card.pan.expose();
                doors.log_outcome("thales_merchant", pan, &outcome);
            }
            match outcome {
                Outcome::Provisioned(token) => Created::Token(token),
                Outcome::Refused {
                    response_code,
                    level_of_trust,
                    message,
                    ..
                } => Created::Refused(json!({
                    "merchantId": request.merchant_id,
                    "errorCode": if level_of_trust.is_some() { "TOKENIZATION_DECLINED" } else { "CARD_NOT_ELIGIBLE" },
                    "errorDescription": message,
                    "issuerResponseCode": response_code,
                })),
            }
        }
        Err(TspError(message)) => Created::Failed(message),
    }
}

pub async fn create(
    doors: web::Data<FrontDoors>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let parsed = match parse_request(&request, &body) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    match create_token(&doors, &parsed).await {
        Created::Token(token) => HttpResponse::Created().json(token_metadata(&token)),
        Created::Refused(body) => HttpResponse::Forbidden().json(body),
        Created::Failed(message) => error(
            actix_web::http::StatusCode::BAD_GATEWAY,
            "SERVICE_UNAVAILABLE",
            &message,
        ),
    }
}

pub async fn create_async(
    doors: web::Data<FrontDoors>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let parsed = match parse_request(&request, &body) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    let doors = doors.into_inner();
    actix_web::rt::spawn(async move {
        let notification = match create_token(&doors, &parsed).await {
            Created::Token(token) => token_metadata(&token),
            Created::Refused(body) => body,
            Created::Failed(message) => json!({
                "merchantId": parsed.merchant_id,
                "errorCode": "SERVICE_UNAVAILABLE",
                "errorDescription": message,
            }),
        };
        let delivery = match &parsed.callback_url {
            Some(url) => notify(&doors, url, &parsed.correlation_id, &notification).await,
            None => json!({"delivered": false, "attempts": 0, "detail": "no callbackUrl"}),
        };
        if doors.echo {
            println!(
                "thales_merchant: notification [x-correlation-id {}] → {}",
                parsed.correlation_id,
                parsed
                    .callback_url
                    .as_ref()
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| "(kept, no callbackUrl)".into())
            );
        }
        doors.thales.record(json!({
            "x-correlation-id": parsed.correlation_id,
            "callbackUrl": parsed.callback_url.as_ref().map(|u| u.to_string()),
            "body": notification,
            "delivery": delivery,
        }));
    });
    HttpResponse::Accepted().json(json!({}))
}

/// POSTs the notification; retries on 429, 5xx and no answer, bounded by [`NOTIFY_ATTEMPTS`].
async fn notify(
    doors: &FrontDoors,
    url: &reqwest::Url,
    correlation_id: &str,
    body: &Value,
) -> Value {
    let mut pause = NOTIFY_BACKOFF;
    let mut last = String::new();
    for attempt in 1..=NOTIFY_ATTEMPTS {
        let sent = doors
            .tsp
            .client()
            .post(url.clone())
            .header("x-correlation-id", correlation_id)
            .header("authorization", "APIKEY tsh-sim")
            .json(body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {
                return json!({"delivered": true, "attempts": attempt, "http_status": r.status().as_u16()})
            }
            Ok(r) if r.status().as_u16() != 429 && !r.status().is_server_error() => {
                return json!({"delivered": false, "attempts": attempt, "http_status": r.status().as_u16(), "detail": "not retryable"})
            }
            Ok(r) => last = format!("HTTP {}", r.status().as_u16()),
            Err(e) => last = e.to_string(),
        }
        if attempt < NOTIFY_ATTEMPTS {
            actix_web::rt::time::sleep(pause).await;
            pause *= 2;
        }
    }
    json!({"delivered": false, "attempts": NOTIFY_ATTEMPTS, "detail": last})
}

pub async fn notifications(doors: web::Data<FrontDoors>) -> HttpResponse {
    HttpResponse::Ok().json(doors.thales.notifications())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_comes_as_object_json_or_base64() {
        let card = json!({"fpan": "4111111111111111", "exp": "1230"});
        assert_eq!(card_plaintext(&card).unwrap(), card);
        assert_eq!(card_plaintext(&json!(card.to_string())).unwrap(), card);
        let b64 = base64::engine::general_purpose::STANDARD.encode(card.to_string());
        assert_eq!(card_plaintext(&json!(b64)).unwrap(), card);
        assert!(card_plaintext(&json!("a.b.c.d.e"))
            .unwrap_err()
            .contains("JWE"));
    }

    #[test]
    fn callbacks_are_loopback_only() {
        assert!(loopback_url("http://127.0.0.1:9/notify").is_ok());
        assert!(loopback_url("http://localhost:9/notify").is_ok());
        assert!(loopback_url("http://example.com/notify").is_err());
        assert!(loopback_url("https://127.0.0.1/notify").is_err());
    }
}
