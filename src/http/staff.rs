//! The staff API (service-interface.md): bearer-token authentication with roles, card upsert, and
//! the read views of tokens, transitions, enrolments and decisions. Lists use Marqeta's shape.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::body::{is_json_or_absent, read_limited};
use super::error::staff_error;
use super::staff_views::{DecisionView, EnrollmentView, TokenView};
use crate::contract::parse::{parse_object, typed};
use crate::domain::AuditOutcome;
use crate::service::audit::{self, Actor, AuditDraft};
use crate::service::cards::{self, CardError, CardInput, CardView};
use crate::service::Services;
use crate::store::{Page, Paged, StoreError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/cards", web::post().to(upsert_card))
        .route("/cards/{issuer_card_ref_id}", web::get().to(get_card))
        .route(
            "/cards/{issuer_card_ref_id}/tokens",
            web::get().to(card_tokens),
        )
        .route("/tokens", web::get().to(list_tokens))
        .route("/tokens/{virtual_card_id}", web::get().to(get_token))
        .route(
            "/tokens/{virtual_card_id}/transitions",
            web::get().to(token_transitions),
        )
        .route(
            "/enrollments/{correlation_id}",
            web::get().to(get_enrollment),
        )
        .route("/decisions", web::get().to(list_decisions))
        // Before `{decision_id}`: actix matches routes in registration order.
        .route("/decisions/export", web::get().to(export_decisions))
        .route("/decisions/{decision_id}", web::get().to(get_decision))
        .configure(super::staff_rules::configure)
        .configure(super::staff_actions::configure)
        .configure(super::staff_events::configure)
        .configure(super::staff_lineage::configure);
}

/// Staff roles; `Operator` can do everything `Viewer` can.
pub use crate::config::StaffRole as Role;

/// Why a staff request was turned away before reaching a handler body.
#[derive(Debug)]
pub enum Denied {
    Unauthorized,
    /// A known staff member without the role (kept for the audit trail).
    Forbidden(Actor),
    BadParameter(String),
}

impl Denied {
    pub(crate) fn response(self) -> HttpResponse {
        match self {
            Denied::Unauthorized => {
                let mut response = staff_error(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "a valid bearer token is required",
                );
                response.headers_mut().insert(
                    actix_web::http::header::WWW_AUTHENTICATE,
                    actix_web::http::header::HeaderValue::from_static("Bearer"),
                );
                response
            }
            Denied::Forbidden(_) => staff_error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this token lacks the required role",
            ),
            Denied::BadParameter(message) => {
                staff_error(StatusCode::BAD_REQUEST, "invalid_parameter", message)
            }
        }
    }
}

/// The staff member behind the request's bearer token, if it names one. A repeated
/// `Authorization` header is no token at all (which one would we believe?).
pub(crate) fn caller(req: &HttpRequest, svc: &Services) -> Option<Actor> {
    let mut values = req
        .headers()
        .get_all(actix_web::http::header::AUTHORIZATION);
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let presented = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())?;
    super::staff_auth::identify(presented, &svc.settings.staff)
}

/// Checks the bearer token and the role.
fn check_role(req: &HttpRequest, svc: &Services, needed: Role) -> Result<Actor, Denied> {
    let actor = caller(req, svc).ok_or(Denied::Unauthorized)?;
    if actor.role < needed {
        return Err(Denied::Forbidden(actor));
    }
    Ok(actor)
}

pub(crate) fn authorize(
    req: &HttpRequest,
    svc: &Services,
    needed: Role,
) -> Result<Role, Box<HttpResponse>> {
    authorize_actor(req, svc, needed).map(|actor| actor.role)
}

/// Like [`authorize`], returning who is calling (for the audit trail).
pub(crate) fn authorize_actor(
    req: &HttpRequest,
    svc: &Services,
    needed: Role,
) -> Result<Actor, Box<HttpResponse>> {
    check_role(req, svc, needed).map_err(|d| Box::new(d.response()))
}

/// Like [`authorize_actor`] for a write: a known staff member refused for lack of the role is
/// audited (`refused`, 403) under `what` and `target`, as every refused write attempt is. An
/// unknown or missing token is only logged (by the request log): auditing it would let anyone
/// grow the append-only trail.
pub(crate) async fn authorize_write(
    req: &HttpRequest,
    svc: &Services,
    what: &'static str,
    target: &str,
) -> Result<Actor, HttpResponse> {
    match check_role(req, svc, Role::Operator) {
        Ok(actor) => Ok(actor),
        Err(Denied::Forbidden(actor)) => {
            let draft = AuditDraft::new(&actor, what, target, AuditOutcome::Refused, 403)
                .detail("refused: this token lacks the operator role");
            audit::record_or_log(&svc.store, draft).await;
            Err(Denied::Forbidden(actor).response())
        }
        Err(denied) => Err(denied.response()),
    }
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    count: Option<String>,
    start_index: Option<String>,
    original_token_reference_id: Option<String>,
    issuer_card_ref_id: Option<String>,
}

fn parse_page(query: &PageQuery) -> Result<Page, Denied> {
    let parse = |name: &str, raw: &Option<String>, default: usize| -> Result<usize, Denied> {
        match raw.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(default),
            Some(v) => v.parse::<usize>().map_err(|_| {
                Denied::BadParameter(format!("{name} must be a non-negative integer"))
            }),
        }
    };
    let count = parse("count", &query.count, 25)?;
    if count == 0 || count > Page::MAX_COUNT {
        return Err(Denied::BadParameter(format!(
            "count must be between 1 and {}",
            Page::MAX_COUNT
        )));
    }
    Ok(Page::new(
        parse("start_index", &query.start_index, 0)?,
        count,
    ))
}

/// The prelude of every list endpoint: the caller's role, then its `count` / `start_index`.
pub(crate) fn authorized_page(
    req: &HttpRequest,
    svc: &Services,
    query: &PageQuery,
    role: Role,
) -> Result<Page, Box<HttpResponse>> {
    authorize(req, svc, role)?;
    page_of(query)
}

pub(crate) fn page_of(query: &PageQuery) -> Result<Page, Box<HttpResponse>> {
    parse_page(query).map_err(|d| Box::new(d.response()))
}

pub(crate) fn internal(e: StoreError) -> HttpResponse {
    tracing::error!(error = %e, "store error in the staff API");
    staff_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "unexpected server error",
    )
}

fn not_found(what: &str) -> HttpResponse {
    staff_error(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("{what} not found"),
    )
}

fn list<T: serde::Serialize, U>(
    page: Result<Paged<U>, StoreError>,
    view: impl FnMut(U) -> T,
) -> HttpResponse {
    match page {
        Ok(page) => HttpResponse::Ok().json(page.map(view)),
        Err(e) => internal(e),
    }
}

/// `POST /api/v1/cards`, audited (from the answer, never from the request: it holds the PAN).
async fn upsert_card(
    req: HttpRequest,
    payload: web::Payload,
    svc: web::Data<Services>,
) -> HttpResponse {
    let actor = match authorize_write(&req, &svc, "card.upsert", "card:?").await {
        Ok(actor) => actor,
        Err(r) => return r,
    };
    let response = upsert_card_unaudited(req, payload, svc.clone()).await;
    let status = response.status();
    let outcome = if status.is_success() {
        AuditOutcome::Succeeded
    } else if status.is_client_error() {
        AuditOutcome::Refused
    } else {
        AuditOutcome::Failed
    };
    let target = match response.extensions().get::<UpsertedCardRef>() {
        Some(reference) => format!("card:{}", reference.0),
        None => "card:?".to_owned(),
    };
    audit::record_or_log(
        &svc.store,
        AuditDraft::new(&actor, "card.upsert", target, outcome, status.as_u16()),
    )
    .await;
    response
}

/// The upserted card's reference, passed from the handler to its audit wrapper.
struct UpsertedCardRef(String);

async fn upsert_card_unaudited(
    req: HttpRequest,
    payload: web::Payload,
    svc: web::Data<Services>,
) -> HttpResponse {
    if let Err(r) = authorize(&req, &svc, Role::Operator) {
        return *r;
    }
    if !is_json_or_absent(&req) {
        return staff_error(
            StatusCode::BAD_REQUEST,
            "invalid_content_type",
            "Content-Type must be application/json",
        );
    }
    let bytes = match read_limited(&req, payload, svc.settings.server.max_body_bytes).await {
        Ok(b) => zeroize::Zeroizing::new(b.to_vec()),
        Err(e) => {
            let (status, code, message) = e.staff_answer();
            return staff_error(status, code, message);
        }
    };
    let input: CardInput = match parse_object(&bytes).and_then(|v| typed(&v)) {
        Ok(input) => input,
        Err(e) => return staff_error(StatusCode::BAD_REQUEST, "invalid_body", e.0),
    };
    match cards::upsert(&svc.store, &svc.fingerprints, &svc.settings.cards, input).await {
        Ok(upserted) => {
            let status = if upserted.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            tracing::info!(issuer_card_ref_id = %upserted.card.issuer_card_ref_id, result = ?upserted.result, "card upserted by staff");
            let reference = UpsertedCardRef(upserted.card.issuer_card_ref_id.clone());
            let mut response = HttpResponse::build(status).json(upserted);
            response.extensions_mut().insert(reference);
            response
        }
        Err(CardError::Invalid(e)) => {
            staff_error(StatusCode::BAD_REQUEST, "invalid_card", e.to_string())
        }
        Err(CardError::Store(e)) => internal(e),
    }
}

async fn get_card(
    req: HttpRequest,
    path: web::Path<String>,
    svc: web::Data<Services>,
) -> HttpResponse {
    if let Err(r) = authorize(&req, &svc, Role::Viewer) {
        return *r;
    }
    let reference = path.into_inner();
    match svc.store.read(move |r| r.card(&reference)).await {
        Ok(Some(card)) => HttpResponse::Ok().json(CardView::of(
            &card,
            cards::effective_product(&card, &svc.settings.cards),
        )),
        Ok(None) => not_found("card"),
        Err(e) => internal(e),
    }
}

async fn card_tokens(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
    svc: web::Data<Services>,
) -> HttpResponse {
    let page = match authorized_page(&req, &svc, &query, Role::Viewer) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let reference = path.into_inner();
    let lookup = reference.clone();
    match svc.store.read(move |r| r.card(&lookup)).await {
        Ok(Some(_)) => {}
        Ok(None) => return not_found("card"),
        Err(e) => return internal(e),
    }
    list(
        svc.store
            .read(move |r| r.tokens_of_card(&reference, page))
            .await,
        |t| TokenView::from(&t),
    )
}

async fn list_tokens(
    req: HttpRequest,
    query: web::Query<PageQuery>,
    svc: web::Data<Services>,
) -> HttpResponse {
    let page = match authorized_page(&req, &svc, &query, Role::Viewer) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let by_original = query
        .original_token_reference_id
        .clone()
        .filter(|s| !s.trim().is_empty());
    let by_card = query
        .issuer_card_ref_id
        .clone()
        .filter(|s| !s.trim().is_empty());
    let result = svc
        .store
        .read(move |r| match (by_original, by_card) {
            (Some(original), _) => r.tokens_by_original_reference(original.trim(), page),
            (None, Some(card)) => r.tokens_of_card(card.trim(), page),
            (None, None) => r.tokens(page),
        })
        .await;
    list(result, |t| TokenView::from(&t))
}

async fn get_token(
    req: HttpRequest,
    path: web::Path<String>,
    svc: web::Data<Services>,
) -> HttpResponse {
    if let Err(r) = authorize(&req, &svc, Role::Viewer) {
        return *r;
    }
    let vcid = path.into_inner();
    match svc.store.read(move |r| r.token(&vcid)).await {
        Ok(Some(token)) => HttpResponse::Ok().json(TokenView::from(&token)),
        Ok(None) => not_found("token"),
        Err(e) => internal(e),
    }
}

async fn token_transitions(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
    svc: web::Data<Services>,
) -> HttpResponse {
    let page = match authorized_page(&req, &svc, &query, Role::Viewer) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let vcid = path.into_inner();
    let result = svc
        .store
        .read(move |r| match r.token(&vcid)? {
            Some(_) => r.transitions(&vcid, page).map(Some),
            None => Ok(None),
        })
        .await;
    match result {
        Ok(Some(page)) => HttpResponse::Ok().json(page),
        Ok(None) => not_found("token"),
        Err(e) => internal(e),
    }
}

async fn get_enrollment(
    req: HttpRequest,
    path: web::Path<String>,
    svc: web::Data<Services>,
) -> HttpResponse {
    if let Err(r) = authorize(&req, &svc, Role::Viewer) {
        return *r;
    }
    let correlation_id = path.into_inner();
    let result =
        crate::service::staff_queries::enrollment_with_decisions(&svc.store, &correlation_id).await;
    match result {
        Ok(Some((enrollment, decisions))) => {
            HttpResponse::Ok().json(EnrollmentView::of(&enrollment, &decisions))
        }
        Ok(None) => not_found("enrollment"),
        Err(e) => internal(e),
    }
}

async fn list_decisions(
    req: HttpRequest,
    query: web::Query<PageQuery>,
    svc: web::Data<Services>,
) -> HttpResponse {
    let page = match authorized_page(&req, &svc, &query, Role::Viewer) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    list(svc.store.read(move |r| r.decisions(page)).await, |d| {
        DecisionView::from(&d)
    })
}

async fn get_decision(
    req: HttpRequest,
    path: web::Path<String>,
    svc: web::Data<Services>,
) -> HttpResponse {
    if let Err(r) = authorize(&req, &svc, Role::Viewer) {
        return *r;
    }
    let id = path.into_inner();
    match svc.store.read(move |r| r.decision(&id)).await {
        Ok(Some(d)) => HttpResponse::Ok().json(DecisionView::from(&d)),
        Ok(None) => not_found("decision"),
        Err(e) => internal(e),
    }
}

/// `GET /api/v1/decisions/export` (operator): every decision as NDJSON, oldest first — the input of
/// `tsh-issuer replay --input FILE` while the service keeps its store locked.
async fn export_decisions(req: HttpRequest, svc: web::Data<Services>) -> HttpResponse {
    if let Err(r) = authorize(&req, &svc, Role::Operator) {
        return *r;
    }
    let result = svc
        .store
        .read(|r| r.all_decisions_oldest_first())
        .await
        .and_then(|all| crate::replay::write_export(&all).map_err(StoreError::Codec));
    match result {
        Ok(body) => HttpResponse::Ok()
            .content_type("application/x-ndjson")
            .body(body),
        Err(e) => internal(e),
    }
}
