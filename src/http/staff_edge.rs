//! The edge of the staff API that no handler sees: extractor failures (query string, path) and
//! unknown routes answered in the staff error shape *after* authentication, and one access-log
//! line per staff request. Must not: log a body, a raw path or a query string (any of them could
//! hold a card number typed by staff); only the matched route template is logged.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{InternalError, PathError, QueryPayloadError};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpRequest, HttpResponse, ResponseError};

use super::error::{staff_error, StaffError};
use super::staff_auth::caller;
use crate::service::Services;

/// The header a staff request may carry to tie its log line to the caller's own logs; answered
/// back (generated when absent or unusable).
const CORRELATION_HEADER: &str = "x-correlation-id";

/// Installs the extractor error handlers on the `/api/v1` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error));
}

/// A refusal that comes before the handler: an unauthenticated caller gets 401 (authentication
/// first, whatever else is wrong with the request), anyone else `refusal`.
fn after_authentication(req: &HttpRequest, refusal: HttpResponse) -> HttpResponse {
    let authenticated = req
        .app_data::<web::Data<Services>>()
        .is_some_and(|svc| caller(req, svc).is_some());
    if authenticated {
        refusal
    } else {
        StaffError::Unauthorized.error_response()
    }
}

/// Why a query string was refused, naming a parameter only when it is one of ours (a name made of
/// lowercase letters and underscores); the value is never repeated.
pub(crate) fn query_problem(query: &str) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        let plain = !name.is_empty()
            && name.len() <= 40
            && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        if plain && seen.contains(&name) {
            return format!("query parameter {name} is given more than once");
        }
        seen.push(name);
    }
    "the query string is malformed".to_owned()
}

fn query_error(err: QueryPayloadError, req: &HttpRequest) -> Error {
    let message = query_problem(req.query_string());
    let refusal = staff_error(StatusCode::BAD_REQUEST, "invalid_parameter", message);
    InternalError::from_response(err, after_authentication(req, refusal)).into()
}

fn path_error(err: PathError, req: &HttpRequest) -> Error {
    let refusal = staff_error(StatusCode::NOT_FOUND, "not_found", "no such resource");
    InternalError::from_response(err, after_authentication(req, refusal)).into()
}

/// Unknown routes (and known paths with another method) under `/api/v1`.
pub async fn no_route(req: HttpRequest) -> HttpResponse {
    let refusal = staff_error(StatusCode::NOT_FOUND, "not_found", "no such endpoint");
    after_authentication(&req, refusal)
}

/// The caller's correlation id when it is one we can log safely (1–64 printable ASCII, given
/// once), else a fresh one.
fn correlation_id(req: &ServiceRequest) -> String {
    let mut values = req.headers().get_all(CORRELATION_HEADER);
    let given = match (values.next(), values.next()) {
        (Some(value), None) => value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|v| (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic())),
        _ => None,
    };
    given.map_or_else(crate::tsh_client::new_correlation_id, str::to_owned)
}

/// One log line per staff request once it is answered: method, route template, status, actor,
/// latency, correlation id. The actor is worked out here again (a SHA-256 per request) so that
/// refusals before any handler (401, 403, 400) are logged with it too.
pub async fn log_staff_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let correlation_id = correlation_id(&req);
    let actor = req
        .app_data::<web::Data<Services>>()
        .and_then(|svc| caller(req.request(), svc))
        .map_or_else(|| "anonymous".to_owned(), |a| a.name);
    let mut result = next.call(req).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (route, status) = match &mut result {
        Ok(res) => {
            if let Ok(value) = HeaderValue::from_str(&correlation_id) {
                res.headers_mut()
                    .insert(HeaderName::from_static(CORRELATION_HEADER), value);
            }
            (res.request().match_pattern(), res.status().as_u16())
        }
        Err(e) => (None, e.as_response_error().status_code().as_u16()),
    };
    tracing::info!(
        method = %method,
        route = route.as_deref().unwrap_or("unmatched"),
        status,
        actor = %actor,
        latency_ms = format!("{latency_ms:.1}"),
        correlation_id = %correlation_id,
        "staff request"
    );
    result
}

#[cfg(test)]
mod tests {
    use super::query_problem;

    #[test]
    fn a_repeated_query_parameter_is_named_but_odd_names_are_not() {
        assert_eq!(
            query_problem("count=1&count=2"),
            "query parameter count is given more than once"
        );
        assert_eq!(
            query_problem("4111111111111111=1&4111111111111111=2"),
            "the query string is malformed"
        );
        assert_eq!(query_problem("%ff"), "the query string is malformed");
    }
}
