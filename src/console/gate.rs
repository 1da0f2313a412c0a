//! The check in front of every console page: a valid, unexpired, not signed-out session of a
//! staff member still configured, with the role the page needs. No session (or an expired or
//! signed-out one) → 303 to the sign-in page; a cookie whose MAC fails → 403 (and it is cleared);
//! too small a role → 403.
//!
//! Must not: trust the role written in the cookie over the configuration (a token removed or
//! downgraded in the configuration takes effect on the next request).

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};

use super::session::{CookieError, Session, SessionKeys, SESSION_COOKIE};
use super::ConsoleState;
use crate::config::{StaffRole, StaffSettings};
use crate::http::staff_auth::BOOTSTRAP_NAME;
use crate::service::audit::Actor;
use crate::service::Services;

/// A signed-in staff member, as every page sees them.
#[derive(Debug, Clone)]
pub struct Staff {
    pub actor: Actor,
    pub session: Session,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
}

impl Staff {
    pub fn is_operator(&self) -> bool {
        self.actor.role >= StaffRole::Operator
    }
}

/// Why the gate turned a request away, and the response for it.
#[derive(Debug)]
pub enum Turned {
    /// 303 to the sign-in page (with a reason the page shows).
    SignIn(&'static str),
    /// 403 with a short page.
    Forbidden(&'static str),
    /// The store did not answer.
    Unavailable,
}

pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The configured role of a staff name now (`None`: no longer configured).
fn configured_role(staff: &StaffSettings, who: &str) -> Option<StaffRole> {
    if who == BOOTSTRAP_NAME {
        return staff.bootstrap_token.as_ref().map(|_| StaffRole::Operator);
    }
    staff.tokens.iter().find(|t| t.name == who).map(|t| t.role)
}

/// Reads and verifies the session cookie (no store access).
pub fn session_of(req: &HttpRequest, keys: &SessionKeys) -> Result<Option<Session>, CookieError> {
    match req.cookie(SESSION_COOKIE) {
        None => Ok(None),
        Some(cookie) => keys.open(cookie.value()).map(Some),
    }
}

/// The whole check; `needed` is the role the page or action requires.
pub async fn require(
    req: &HttpRequest,
    svc: &Services,
    state: &ConsoleState,
    needed: StaffRole,
) -> Result<Staff, Turned> {
    let session = match session_of(req, &state.keys) {
        Ok(Some(session)) => session,
        Ok(None) => return Err(Turned::SignIn("")),
        Err(CookieError::Tampered) => {
            return Err(Turned::Forbidden(
                "The session cookie is not valid. Sign in again.",
            ))
        }
    };
    let now = now_unix();
    if session.is_expired(now) {
        return Err(Turned::SignIn("expired"));
    }
    let sid = session.sid.clone();
    match svc.store.read(move |r| r.session_revoked(&sid, now)).await {
        Ok(false) => {}
        Ok(true) => return Err(Turned::SignIn("signed_out")),
        Err(e) => {
            tracing::error!(error = %e, "console session check failed");
            return Err(Turned::Unavailable);
        }
    }
    let Some(role) = configured_role(&svc.settings.staff, &session.who) else {
        return Err(Turned::SignIn("revoked"));
    };
    if role < needed {
        return Err(Turned::Forbidden(
            "Your role does not allow this. Ask an operator.",
        ));
    }
    let csrf = state.keys.csrf_token(&session);
    Ok(Staff {
        actor: Actor {
            name: session.who.clone(),
            role,
        },
        session,
        csrf,
    })
}

/// The session cookie with the console's attributes (an empty value and zero age clears it).
pub fn session_cookie(value: String, max_age_secs: i64, secure: bool) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/console")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_secs))
        .finish()
}

impl Turned {
    pub fn response(self, secure: bool) -> HttpResponse {
        match self {
            Turned::SignIn(reason) => {
                let location = if reason.is_empty() {
                    "/console/login".to_owned()
                } else {
                    format!("/console/login?m={reason}")
                };
                let mut response = HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, location))
                    .finish();
                if !reason.is_empty() {
                    let _ = response.add_cookie(&session_cookie(String::new(), 0, secure));
                }
                response
            }
            Turned::Forbidden(message) => {
                let mut response =
                    super::layout::message_page(StatusCode::FORBIDDEN, "Not allowed", message);
                if message.starts_with("The session cookie") {
                    let _ = response.add_cookie(&session_cookie(String::new(), 0, secure));
                }
                response
            }
            Turned::Unavailable => super::layout::message_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "The console could not check your session. Try again in a moment.",
            ),
        }
    }
}
