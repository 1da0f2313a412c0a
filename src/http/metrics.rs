//! `GET /metrics` (Prometheus scrape, no authentication, like the health checks) and the
//! middleware counting staff API requests by route pattern and status (and logging the cause of
//! a staff request's server-side failure). The metric definitions
//! live in `crate::metrics`; this file only connects them to HTTP.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

/// `GET /metrics`: the registry in the OpenMetrics text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "metrics",
    responses((status = 200, description = "Prometheus metrics (OpenMetrics text)", body = String,
        content_type = "application/openmetrics-text")))]
pub async fn scrape() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(crate::metrics::render())
}

/// Counts each staff request once it is answered. The route label is the matched pattern
/// (`/api/v1/tokens/{virtual_card_id}`), never the raw path, so identifiers never become series.
pub async fn count_staff_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    // Standard methods only: a made-up method must not become a new series.
    const KNOWN: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    let method = KNOWN
        .into_iter()
        .find(|m| *m == req.method().as_str())
        .unwrap_or("OTHER");
    let result = next.call(req).await;
    // Staff errors carry their cause in `Display` (never in the body); a server-side failure is
    // logged here, once, where every staff request ends.
    if let Ok(res) = &result {
        if let Some(error) = res.response().error() {
            if res.status().is_server_error() {
                tracing::error!(error = %error, "staff request failed");
            }
        }
    }
    let (route, status) = match &result {
        Ok(res) => (res.request().match_pattern(), res.status().as_u16()),
        Err(e) => (None, e.as_response_error().status_code().as_u16()),
    };
    crate::metrics::staff_answered(method, route.as_deref().unwrap_or("unmatched"), status);
    result
}
