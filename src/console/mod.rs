//! The staff console: server-rendered HTML under `/console/` on the service's own port
//! (service-interface.md, "Staff console"). Pages are maud templates (compile-time checked Rust,
//! escaped by default); the only asset is a stylesheet served from here; there is no script.
//!
//! Every page goes through [`gate::require`] (session + role); every form carries a CSRF token;
//! every response carries a strict Content-Security-Policy. Reads and actions call the same
//! service functions as the staff API (`crate::service`), never a copy of their logic.
//!
//! Must not: show a full card or token number anywhere (pages, forms, URLs, errors), take one as
//! input, or answer a 5xx to any input.

mod actions;
mod assets;
mod card_actions;
mod forms;
mod gate;
mod layout;
mod lists;
mod pages;
mod reconcile_page;
mod rules_page;
mod search;
mod session;
mod signin;
mod views;

use actix_web::http::StatusCode;
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::config::StaffRole;
use crate::service::Services;
pub use session::{Session, SessionKeys, LOGIN_COOKIE, SESSION_COOKIE};

/// The policy every console response carries: only this origin, no framing, forms post here only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/// What the console's handlers share besides [`Services`].
pub struct ConsoleState {
    pub keys: SessionKeys,
    /// Cookies get `Secure` when the service speaks TLS.
    pub secure: bool,
}

impl ConsoleState {
    pub fn new(svc: &Services) -> ConsoleState {
        ConsoleState {
            keys: SessionKeys::derive(&svc.settings.crypto.fingerprint_key),
            secure: svc.settings.server.tls.is_some(),
        }
    }
}

fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Cache-Control", "no-store"))
}

/// Registers `/console` (the app trims trailing slashes, so `/console/` arrives as `/console`).
pub fn configure(cfg: &mut web::ServiceConfig, svc: &Services) {
    let state = web::Data::new(ConsoleState::new(svc));
    cfg.service(
        web::scope("/console")
            .wrap(security_headers())
            .app_data(state)
            .app_data(forms::form_config(svc.settings.server.max_body_bytes))
            .route("", web::get().to(search::home))
            .route("/static/console.css", web::get().to(assets::stylesheet))
            .route("/static/favicon.svg", web::get().to(assets::icon))
            .route("/login", web::get().to(signin::show))
            .route("/login", web::post().to(signin::submit))
            .route("/logout", web::post().to(signin::sign_out))
            .configure(search::configure)
            .configure(pages::configure)
            .configure(actions::configure)
            .configure(lists::configure)
            .configure(rules_page::configure)
            .configure(reconcile_page::configure)
            .default_service(web::to(not_found)),
    );
}

/// Shared prelude of every page handler: the signed-in staff member with at least `role`, or
/// the response that turns the request away.
pub(crate) async fn staff_or_turned(
    req: &HttpRequest,
    svc: &Services,
    state: &ConsoleState,
    role: StaffRole,
) -> Result<gate::Staff, HttpResponse> {
    gate::require(req, svc, state, role)
        .await
        .map_err(|turned| turned.response(state.secure))
}

/// Unknown console paths: sign-in first (no probing without a session), then an HTML 404.
async fn not_found(
    req: HttpRequest,
    svc: web::Data<Services>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    match staff_or_turned(&req, &svc, &state, StaffRole::Viewer).await {
        Err(response) => response,
        Ok(_) => layout::message_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no console page here.",
        ),
    }
}
