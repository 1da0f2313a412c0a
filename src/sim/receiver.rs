//! The event-feed receiver of `tsh-sim serve`: the other end of the service's outbound event feed
//! (`events.webhook_url`, e.g. `http://127.0.0.1:8090/events`), standing in for the bank's fraud,
//! CRM or core-banking systems.
//!
//! Owns: checking each event's `x-tsh-issuer-signature` with the shared key (`--events-secret`),
//! recording what arrived in memory (bounded), flagging duplicates by `id` and a token's events
//! that arrive out of order, and a mode that lets tests make it fail (503) for a while.
//!
//! | method + path | what |
//! |---|---|
//! | `POST /events` | an event; 200 when the signature verifies, 401 when not, 503 in `fail` mode |
//! | `GET /events/received` | every event recorded, oldest first, with `verified`, `duplicate`, `out_of_order` |
//! | `DELETE /events/received` | forget them |
//! | `GET /events/mode`, `POST /events/mode` | `{"mode": "accept" \| "fail"}` |
//!
//! Must not: forward anything, keep more than [`MAX_EVENTS`] events, or print the key.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::events::signature::{self, HEADER};

/// Events kept in memory; older ones are dropped first.
pub const MAX_EVENTS: usize = 5000;
/// How far a signature's `t` may be from now (seconds): retries carry a fresh `t`.
pub const TOLERANCE_SECS: u64 = 300;

#[derive(Debug, Default)]
struct Inner {
    failing: bool,
    events: VecDeque<Value>,
    seen_ids: HashSet<String>,
    /// Newest event id received per ordering subject (the token), to flag reordering.
    last_per_token: HashMap<String, String>,
    received: u64,
    refused: u64,
}

/// Shared state of the receiver.
pub struct ReceiverState {
    secret: Vec<u8>,
    inner: Mutex<Inner>,
    echo: bool,
}

impl std::fmt::Debug for ReceiverState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverState").finish_non_exhaustive()
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl ReceiverState {
    pub fn new(secret: Vec<u8>, echo: bool) -> Arc<ReceiverState> {
        Arc::new(ReceiverState {
            secret,
            inner: Mutex::new(Inner::default()),
            echo,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Plain pushes and inserts: a poisoned lock still holds consistent data.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_failing(&self, failing: bool) {
        self.lock().failing = failing;
    }

    /// Every event recorded, oldest first.
    pub fn events(&self) -> Vec<Value> {
        self.lock().events.iter().cloned().collect()
    }

    /// Checks and records one delivery; the HTTP status to answer.
    pub fn receive(&self, header: Option<&str>, body: &[u8]) -> (u16, Value) {
        if self.lock().failing {
            self.lock().refused += 1;
            return (
                503,
                json!({"error": "receiver told to fail (POST /events/mode)"}),
            );
        }
        let verified = header
            .ok_or(signature::VerifyError::Malformed)
            .and_then(|h| signature::verify(&self.secret, h, body, now_secs(), TOLERANCE_SECS));
        let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let id = parsed["id"].as_str().unwrap_or_default().to_owned();
        let token = parsed["data"]["virtual_card_id"]
            .as_str()
            .map(str::to_owned);
        let mut inner = self.lock();
        inner.received += 1;
        let duplicate = !id.is_empty() && !inner.seen_ids.insert(id.clone());
        // Ids grow with creation order, so a smaller id after a larger one for the same token is
        // a delivery out of order (a re-delivered duplicate is not).
        let out_of_order = match (&token, duplicate) {
            (Some(token), false) => {
                let before = inner.last_per_token.insert(token.clone(), id.clone());
                before.is_some_and(|b| b > id)
            }
            _ => false,
        };
        let entry = json!({
            "sequence": inner.received,
            "received_at": super::gateway::now_rfc3339(),
            "verified": verified.is_ok(),
            "signature_error": verified.as_ref().err().map(ToString::to_string),
            "duplicate": duplicate,
            "out_of_order": out_of_order,
            "event": parsed,
        });
        if inner.events.len() >= MAX_EVENTS {
            inner.events.pop_front();
        }
        inner.events.push_back(entry.clone());
        drop(inner);
        if self.echo {
            println!(
                "event #{} {} {} {}{}{}",
                entry["sequence"],
                entry["event"]["type"].as_str().unwrap_or("?"),
                id,
                if verified.is_ok() {
                    "signature ok"
                } else {
                    "SIGNATURE REFUSED"
                },
                if duplicate { " (duplicate)" } else { "" },
                if out_of_order { " (OUT OF ORDER)" } else { "" },
            );
        }
        match verified {
            Ok(_) => (
                200,
                json!({"status": "received", "sequence": entry["sequence"]}),
            ),
            Err(e) => (401, json!({"error": e.to_string()})),
        }
    }
}

/// The receiver's routes, on any actix app.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<ReceiverState>) {
    cfg.app_data(state)
        .route("/events", web::post().to(receive))
        .route("/events/received", web::get().to(list))
        .route("/events/received", web::delete().to(clear))
        .route("/events/mode", web::get().to(get_mode))
        .route("/events/mode", web::post().to(set_mode));
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<ReceiverState>,
) -> HttpResponse {
    let header = req.headers().get(HEADER).and_then(|v| v.to_str().ok());
    let (status, answer) = state.receive(header, &body);
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
    )
    .json(answer)
}

async fn list(state: web::Data<ReceiverState>) -> HttpResponse {
    HttpResponse::Ok().json(state.events())
}

async fn clear(state: web::Data<ReceiverState>) -> HttpResponse {
    let mut inner = state.lock();
    inner.events.clear();
    inner.seen_ids.clear();
    inner.last_per_token.clear();
    HttpResponse::NoContent().finish()
}

fn mode_view(inner: &Inner) -> Value {
    json!({"mode": if inner.failing { "fail" } else { "accept" },
           "received": inner.received, "refused": inner.refused, "kept": inner.events.len()})
}

async fn get_mode(state: web::Data<ReceiverState>) -> HttpResponse {
    HttpResponse::Ok().json(mode_view(&state.lock()))
}

#[derive(Debug, Deserialize)]
struct ModeRequest {
    mode: String,
}

async fn set_mode(state: web::Data<ReceiverState>, body: web::Json<ModeRequest>) -> HttpResponse {
    let failing = match body.mode.as_str() {
        "accept" => false,
        "fail" => true,
        other => return HttpResponse::BadRequest().json(
            json!({"error": format!("unknown mode `{other}`: expected \"accept\" or \"fail\"")}),
        ),
    };
    state.set_failing(failing);
    HttpResponse::Ok().json(mode_view(&state.lock()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn event(id: &str, vcid: &str) -> Vec<u8> {
        json!({"id": id, "type": "token.state_changed", "created_time": "t",
               "data": {"virtual_card_id": vcid}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn signed_events_are_verified_and_duplicates_and_reordering_flagged() {
        let r = ReceiverState::new(SECRET.to_vec(), false);
        let send = |id: &str, vcid: &str| {
            let body = event(id, vcid);
            let header = signature::sign(SECRET, now_secs(), &body);
            r.receive(Some(&header), &body).0
        };
        assert_eq!(send("evt-0000000000000002", "A"), 200);
        assert_eq!(send("evt-0000000000000002", "A"), 200);
        assert_eq!(send("evt-0000000000000001", "A"), 200);
        assert_eq!(send("evt-0000000000000001", "B"), 200);
        let got = r.events();
        let flags: Vec<(bool, bool, bool)> = got
            .iter()
            .map(|e| {
                (
                    e["verified"].as_bool().unwrap(),
                    e["duplicate"].as_bool().unwrap(),
                    e["out_of_order"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            flags,
            [
                (true, false, false),
                (true, true, false),
                (true, false, true),
                (true, true, false)
            ]
        );
    }

    #[test]
    fn a_bad_signature_is_refused_and_fail_mode_answers_503() {
        let r = ReceiverState::new(SECRET.to_vec(), false);
        let body = event("evt-0000000000000001", "A");
        let forged = signature::sign(b"not-the-shared-secret-0123456789", now_secs(), &body);
        assert_eq!(r.receive(Some(&forged), &body).0, 401);
        assert_eq!(r.receive(None, &body).0, 401);
        assert_eq!(r.events()[0]["verified"], false);
        r.set_failing(true);
        assert_eq!(r.receive(None, &body).0, 503);
        assert_eq!(r.events().len(), 2, "fail mode records nothing");
    }
}
