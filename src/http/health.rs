//! `GET /health/live` (the process answers) and `GET /health/ready` (store open, rules and keys
//! loaded). No authentication: load balancers call these.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::service::Services;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/live", web::get().to(live))
        .route("/ready", web::get().to(ready));
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn ready(svc: web::Data<Services>) -> HttpResponse {
    let store = svc.store.is_healthy();
    let rules = !svc.rules().is_empty();
    let keys = !svc.keys.is_empty();
    let body = json!({
        "status": if store && rules && keys { "ready" } else { "not_ready" },
        "checks": {"store": store, "rules": rules, "keys": keys},
        "rules_version": svc.rules().version(),
    });
    if store && rules && keys {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
