//! HTTP: routes, header checks, body limits, and the mapping from service results to the
//! contract's error shape. Thin: every handler parses, calls one service function, and answers.

pub mod body;
pub mod callback_docs;
pub mod callbacks;
pub mod error;
pub mod headers;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod reconcile_views;
pub mod staff;
pub mod staff_actions;
pub mod staff_auth;
pub mod staff_card_close;
pub mod staff_edge;
pub mod staff_events;
pub mod staff_lineage;
pub mod staff_params;
pub mod staff_reads;
pub mod staff_reconcile;
pub mod staff_rules;
pub mod staff_sync;
pub mod staff_views;

use actix_web::web;

use crate::service::Services;

/// Registers every route on an actix `App`.
pub fn configure(cfg: &mut web::ServiceConfig, services: web::Data<Services>) {
    let prefix = services.settings.server.prefix.clone();
    let services_for_console = services.clone();
    cfg.app_data(services)
        .service(web::scope("/health").configure(health::configure))
        .route("/metrics", web::get().to(metrics::scrape))
        .route("/api/openapi.json", web::get().to(openapi::serve))
        .configure(|cfg| crate::console::configure(cfg, &services_for_console))
        .service(
            web::scope("/api/v1")
                .wrap(actix_web::middleware::from_fn(
                    metrics::count_staff_requests,
                ))
                .wrap(actix_web::middleware::from_fn(
                    staff_edge::log_staff_requests,
                ))
                .configure(staff_edge::configure)
                .configure(staff::configure)
                .default_service(web::to(staff_edge::no_route)),
        )
        .service(
            web::scope(&prefix)
                .app_data(web::PathConfig::default().error_handler(callbacks::path_error))
                .route("/{operation}", web::post().to(callbacks::handle))
                .route("/{operation}", web::to(callbacks::method_not_allowed)),
        )
        .default_service(web::to(error::not_found));
}
