//! Staff routes of token-for-token lineage (issue 10):
//!
//! - `GET /api/v1/tokens/{virtual_card_id}/lineage` — the token, its ancestors (its original, the
//!   original's original, …) and every descendant (viewer);
//! - `GET /api/v1/lineage/orphans` — COF tokens flagged by the original-death policy (viewer).
//!
//! Handlers authenticate and answer; `service::lineage` walks the lineage.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::staff_error;
use super::staff::{authorize, authorized_page, internal, PageQuery, Role};
use super::staff_views::{LineageView, TokenView};
use crate::service::lineage;
use crate::service::Services;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/tokens/{virtual_card_id}/lineage",
        web::get().to(token_lineage),
    )
    .route("/lineage/orphans", web::get().to(list_orphans));
}

async fn token_lineage(
    req: HttpRequest,
    path: web::Path<String>,
    svc: web::Data<Services>,
) -> HttpResponse {
    if let Err(r) = authorize(&req, &svc, Role::Viewer) {
        return *r;
    }
    match lineage::lineage_of(&svc.store, &path.into_inner()).await {
        Ok(Some(found)) => HttpResponse::Ok().json(LineageView::from(&found)),
        Ok(None) => staff_error(StatusCode::NOT_FOUND, "not_found", "token not found"),
        Err(e) => internal(e),
    }
}

/// `GET /api/v1/lineage/orphans`: COF tokens flagged because a token they were made from was
/// suspended or deleted (`token_for_token.on_original_death`), paginated, by virtual card id.
async fn list_orphans(
    req: HttpRequest,
    query: web::Query<PageQuery>,
    svc: web::Data<Services>,
) -> HttpResponse {
    let page = match authorized_page(&req, &svc, &query, Role::Viewer) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match lineage::orphans(&svc.store, page).await {
        Ok(found) => HttpResponse::Ok().json(found.map(|t| TokenView::from(&t))),
        Err(e) => internal(e),
    }
}
