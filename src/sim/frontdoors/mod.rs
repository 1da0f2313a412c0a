//! The seeds' token requestor front doors, served by `tsh-sim serve`: thin adapters that speak
//! each requestor's API (paths, field names, statuses of the seed documents) over the one
//! simulated TSP core ([`super::tsp::Tsp`]), which drives the issuer's real callbacks.
//!
//! | method + path | seed | what |
//! |---|---|---|
//! | `POST /tms/v2/tokenized-cards` | 003 Cybersource TMS | card-on-file network token (`source: ONFILE`) |
//! | `GET /tms/v2/tokenized-cards/{id}` | 003 | a tokenized card made here |
//! | `POST /tsh-cof/tokens` | 004 Thales merchant tokenization | synchronous create token |
//! | `POST /tsh-cof/async/tokens` | 004 | asynchronous create; notification POSTed to `callbackUrl` |
//! | `GET /tsh-cof/notifications` | 004 | the notifications sent (simulator only) |
//! | `POST /v1/tokens/enroll` | 001 Firstoken | enroll: `Enrolled` / `Already_enrolled` / `Not_enrolled` / 400 |
//!
//! Owns: request parsing and the mapping of issuer outcomes to each requestor's documented answers.
//! Must not: log or answer a clear PAN (masked only) or a CVV; send anything beyond loopback.

pub mod cybersource;
pub mod firstoken;
pub mod thales_merchant;

use actix_web::web;
use serde_json::Value;

use super::tsp::{mask, Outcome, Tsp, TspOptions};

/// Request bodies above this size are refused by the front doors.
pub const MAX_BODY: usize = 64 * 1024;

/// The front doors' shared state: the TSP core and each door's own memory.
pub struct FrontDoors {
    pub tsp: Tsp,
    pub thales: thales_merchant::ThalesState,
    /// Print one line per request on stdout (the `serve` command; off in tests).
    pub echo: bool,
}

impl FrontDoors {
    pub fn new(tsp: Tsp, echo: bool) -> FrontDoors {
        FrontDoors {
            tsp,
            thales: thales_merchant::ThalesState::default(),
            echo,
        }
    }

    /// One line per front-door request: masked card, the issuer's outcome, the session id.
    pub(crate) fn log(&self, door: &str, pan_text: &str, what: &str) {
        if self.echo {
            println!("{door}: card {}  {what}", mask(pan_text));
        }
    }

    pub(crate) fn log_outcome(&self, door: &str, pan_text: &str, outcome: &Outcome) {
        if !self.echo {
            return;
        }
        let what = match outcome {
            Outcome::Provisioned(t) => format!(
                "→ {} token {} virtualCardId {} [x-correlation-id {}]",
                t.level_of_trust,
                t.masked_token(),
                t.virtual_card_id,
                t.correlation_id
            ),
            Outcome::Refused {
                message,
                correlation_id,
                ..
            } => format!("→ refused: {message} [x-correlation-id {correlation_id}]"),
        };
        self.log(door, pan_text, &what);
    }
}

/// The front doors of `tsh-sim serve`: a TSP core calling the issuer at `issuer_url`.
pub fn for_serve(
    issuer_url: &str,
    prefix: &str,
    issuer_id: &str,
    issuer_cert_pem: String,
) -> Result<web::Data<FrontDoors>, String> {
    let mut options = TspOptions::local(issuer_url, issuer_cert_pem);
    options.prefix = prefix.to_owned();
    options.issuer_id = issuer_id.to_owned();
    Ok(web::Data::new(FrontDoors::new(Tsp::new(options)?, true)))
}

/// The `serve` banner lines of the front doors.
pub fn print_banner(base: &str, issuer_url: &str) {
    println!(
        "  requestor front doors (each drives tsh-issuer at {issuer_url} through its callbacks):"
    );
    println!("    seed 003 Cybersource TMS: POST {base}/tms/v2/tokenized-cards · GET {base}/tms/v2/tokenized-cards/{{id}}");
    println!("    seed 004 Thales merchant: POST {base}/tsh-cof/tokens · POST {base}/tsh-cof/async/tokens · GET {base}/tsh-cof/notifications");
    println!("    seed 001 Firstoken:       POST {base}/v1/tokens/enroll");
}

/// Every front door's routes, on any actix app.
pub fn configure(cfg: &mut web::ServiceConfig, doors: web::Data<FrontDoors>) {
    let limit = || web::PayloadConfig::new(MAX_BODY);
    cfg.app_data(doors)
        .service(
            web::resource("/tms/v2/tokenized-cards")
                .app_data(limit())
                .route(web::post().to(cybersource::create)),
        )
        .route(
            "/tms/v2/tokenized-cards/{id}",
            web::get().to(cybersource::retrieve),
        )
        .service(
            web::resource("/tsh-cof/tokens")
                .app_data(limit())
                .route(web::post().to(thales_merchant::create)),
        )
        .service(
            web::resource("/tsh-cof/async/tokens")
                .app_data(limit())
                .route(web::post().to(thales_merchant::create_async)),
        )
        .route(
            "/tsh-cof/notifications",
            web::get().to(thales_merchant::notifications),
        )
        .service(
            web::resource("/v1/tokens/enroll")
                .app_data(limit())
                .route(web::post().to(firstoken::enroll)),
        );
}

/// A JSON body, or why not (the caller answers in its own error shape).
pub(crate) fn parse_body(body: &[u8]) -> Result<Value, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("the body must be a JSON object".into()),
        Err(e) => Err(format!("the body is not valid JSON: {e}")),
    }
}

/// A non-empty string field at a dotted path, trimmed.
pub(crate) fn text_at<'a>(body: &'a Value, path: &str) -> Option<&'a str> {
    path.split('.')
        .try_fold(body, |v, key| v.get(key))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}
