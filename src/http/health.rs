//! `GET /health/live` (the process answers) and `GET /health/ready` (store open, rules and keys
//! loaded). No authentication: load balancers call these.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::service::Services;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/live", web::get().to(live))
        .route("/ready", web::get().to(ready));
}

/// `GET /health/live`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Live {
    /// Always `ok`.
    pub status: &'static str,
}

/// `GET /health/ready`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Ready {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    pub checks: ReadyChecks,
    pub rules_version: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReadyChecks {
    pub store: bool,
    pub rules: bool,
    pub keys: bool,
}

#[utoipa::path(get, path = "/health/live", tag = "operations", operation_id = "healthLive",
    responses((status = 200, description = "The process answers", body = Live)))]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Live { status: "ok" })
}

#[utoipa::path(get, path = "/health/ready", tag = "operations", operation_id = "healthReady",
    responses(
        (status = 200, description = "Store open, rules and keys loaded", body = Ready),
        (status = 503, description = "Not ready", body = Ready),
    ))]
pub async fn ready(svc: web::Data<Services>) -> HttpResponse {
    let store = svc.store.is_healthy();
    let rules = !svc.rules().is_empty();
    let keys = !svc.keys.is_empty();
    let body = Ready {
        status: if store && rules && keys {
            "ready"
        } else {
            "not_ready"
        },
        checks: ReadyChecks { store, rules, keys },
        rules_version: svc.rules().version().to_owned(),
    };
    if store && rules && keys {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
