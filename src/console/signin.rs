//! Sign-in and sign-out. A staff member signs in with their staff API bearer token; the console
//! keeps only their configured name and role in a MAC'ed session cookie. Every attempt is audited
//! (`console.signin`, `console.signout`); failed attempts are counted per client address in the
//! store's event counters (exact across instances) and, past `console.login_max_failures` within
//! `console.login_window_secs`, refused without looking at the token.
//!
//! Must not: echo, log or audit the presented token; say why a token was refused (one generic
//! message); trust `X-Forwarded-For` (spoofable) for the rate limit.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::gate::{now_unix, session_cookie, session_of};
use super::layout::bare_page;
use super::session::{random_hex, Session, LOGIN_COOKIE};
use super::ConsoleState;
use crate::domain::time::now_rfc3339;
use crate::domain::AuditOutcome;
use crate::http::staff_auth::identify;
use crate::service::audit::{self, Actor, AuditDraft};
use crate::service::Services;
use crate::store::counters::{self, Series};

/// Longest accepted token text; anything longer is simply a wrong token.
const MAX_TOKEN_LEN: usize = 512;

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    m: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Fixed notices selected by `?m=`; the query text itself is never shown.
fn notice(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "expired" => Some("Your session expired. Sign in again."),
        "signed_out" => Some("You are signed out."),
        "revoked" => Some("Your staff token is no longer configured. Sign in with a current one."),
        _ => None,
    }
}

fn login_form(
    state: &ConsoleState,
    nonce: &str,
    notice: Option<&str>,
    error: Option<&str>,
) -> Markup {
    html! {
        section.panel.signin {
            h1 { "Sign in" }
            p.lede { "Use your staff API bearer token. The console keeps only your staff name and role." }
            @if let Some(text) = notice { p.notice { (text) } }
            @if let Some(text) = error { p.error role="alert" { (text) } }
            form method="post" action="/console/login" autocomplete="off" {
                input type="hidden" name="csrf" value=(state.keys.login_token(nonce));
                label for="token" { "Staff token" }
                input #token type="password" name="token" required autofocus maxlength="512";
                button.primary type="submit" { "Sign in" }
            }
        }
    }
}

fn login_cookie(nonce: String, secure: bool) -> Cookie<'static> {
    Cookie::build(LOGIN_COOKIE, nonce)
        .path("/console")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::hours(1))
        .finish()
}

/// The sign-in page with a fresh nonce cookie.
fn login_page(
    state: &ConsoleState,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> HttpResponse {
    let nonce = random_hex();
    let mut response = bare_page(status, "Sign in", login_form(state, &nonce, notice, error));
    let _ = response.add_cookie(&login_cookie(nonce, state.secure));
    response
}

/// `GET /console/login`: the form, or straight into the console with a valid session.
pub async fn show(
    req: HttpRequest,
    query: web::Query<LoginQuery>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    if let Ok(Some(session)) = session_of(&req, &state.keys) {
        if !session.is_expired(now_unix()) && query.m.is_none() {
            return redirect("/console/");
        }
    }
    login_page(&state, StatusCode::OK, notice(query.m.as_deref()), None)
}

pub fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}

/// The client address the rate limit counts (the TCP peer, never a forwarded header).
fn client_address(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// An audit draft for someone not (yet) identified.
fn anonymous_draft(outcome: AuditOutcome, status: u16, detail: String) -> AuditDraft {
    AuditDraft {
        who: "anonymous".to_owned(),
        role: "none".to_owned(),
        what: "console.signin",
        target: "console".to_owned(),
        outcome,
        http_status: status,
        correlation_id: None,
        detail: None,
    }
    .detail(detail)
}

fn failures_series(address: &str) -> Series {
    Series::single("console.signin_failures", address)
}

/// Failures within the window, counted from the store's event counters.
async fn recent_failures(svc: &Services, address: &str, window: u64) -> Option<u64> {
    let series = failures_series(address);
    let now = now_unix();
    let result = svc
        .store
        .read(move |r| counters::count(|span| r.counter_sum(span), &series, now, window))
        .await;
    match result {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::error!(error = %e, "console sign-in limiter could not read the store");
            None
        }
    }
}

/// Counts one failure and audits it, atomically.
async fn record_failure(svc: &Services, address: &str, draft: AuditDraft) {
    let series = failures_series(address);
    let result = svc
        .store
        .write(move |tx| {
            counters::record(tx, &series, 0, now_unix())?;
            audit::append_in_tx(tx, &draft, &now_rfc3339())
        })
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "could not record a failed console sign-in");
    }
}

/// `POST /console/login`.
pub async fn submit(
    req: HttpRequest,
    form: web::Form<LoginForm>,
    svc: web::Data<Services>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let nonce = req
        .cookie(LOGIN_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if !state.keys.login_token_ok(&nonce, &form.csrf) {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            None,
            Some("The sign-in form expired or was not ours. Try again."),
        );
    }
    let address = client_address(&req);
    let limits = svc.settings.console;
    let failures = recent_failures(&svc, &address, limits.login_window_secs).await;
    if failures.is_none_or(|n| n >= u64::from(limits.login_max_failures)) {
        audit::record_or_log(
            &svc.store,
            anonymous_draft(
                AuditOutcome::Refused,
                429,
                format!("too many failed sign-ins from {address}; not checked"),
            ),
        )
        .await;
        return login_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            None,
            Some("Too many failed sign-ins from this address. Wait a few minutes and try again."),
        );
    }
    let presented = form.token.trim();
    let actor = (!presented.is_empty() && presented.len() <= MAX_TOKEN_LEN)
        .then(|| identify(presented, &svc.settings.staff))
        .flatten();
    let Some(actor) = actor else {
        let draft = anonymous_draft(
            AuditOutcome::Refused,
            401,
            format!("wrong staff token from {address}"),
        );
        record_failure(&svc, &address, draft).await;
        return login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            None,
            Some("Sign-in failed. Check the token and try again."),
        );
    };
    signed_in(&svc, &state, actor, &address).await
}

async fn signed_in(
    svc: &Services,
    state: &ConsoleState,
    actor: Actor,
    address: &str,
) -> HttpResponse {
    let ttl = svc.settings.console.session_ttl_secs;
    let session = Session::new(&actor.name, actor.role, now_unix(), ttl);
    audit::record_or_log(
        &svc.store,
        AuditDraft::new(
            &actor,
            "console.signin",
            "console",
            AuditOutcome::Succeeded,
            303,
        )
        .detail(format!("session {} from {address}", &session.sid[..8])),
    )
    .await;
    tracing::info!(who = %actor.name, "staff signed in to the console");
    let mut response = redirect("/console/");
    let cookie = session_cookie(state.keys.seal(&session), ttl as i64, state.secure);
    let _ = response.add_cookie(&cookie);
    let _ = response.add_removal_cookie(&login_cookie(String::new(), state.secure));
    response
}

/// `POST /console/logout`: revokes the session everywhere (in the store) and clears the cookie.
pub async fn sign_out(
    req: HttpRequest,
    form: web::Form<CsrfForm>,
    svc: web::Data<Services>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let staff =
        match super::gate::require(&req, &svc, &state, crate::config::StaffRole::Viewer).await {
            Ok(staff) => staff,
            Err(turned) => return turned.response(state.secure),
        };
    if !state.keys.csrf_ok(&staff.session, &form.csrf) {
        return super::forms::csrf_refused();
    }
    let (sid, until) = (staff.session.sid.clone(), staff.session.exp);
    let draft = AuditDraft::new(
        &staff.actor,
        "console.signout",
        "console",
        AuditOutcome::Succeeded,
        303,
    )
    .detail(format!("session {}", &staff.session.sid[..8]));
    let result = svc
        .store
        .write(move |tx| {
            tx.revoke_session(&sid, until)?;
            audit::append_in_tx(tx, &draft, &now_rfc3339())
        })
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "could not record a console sign-out");
    }
    if let Err(e) = svc.store.prune_revoked_sessions(now_unix()).await {
        tracing::warn!(error = %e, "could not prune expired console sign-outs");
    }
    let mut response = redirect("/console/login?m=signed_out");
    let _ = response.add_cookie(&session_cookie(String::new(), 0, state.secure));
    response
}
