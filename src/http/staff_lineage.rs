//! Staff routes of token-for-token lineage (issue 10):
//!
//! - `GET /api/v1/tokens/{virtual_card_id}/lineage` — the token, its ancestors (its original, the
//!   original's original, …) and every descendant (viewer);
//! - `GET /api/v1/lineage/orphans` — COF tokens flagged by the original-death policy (viewer).
//!
//! Handlers take the caller (role checked by the extractor) and call `service::staff_queries`.

use actix_web::{web, HttpResponse};

use super::error::StaffError;
use super::openapi::StaffRefusals;
use super::staff_auth::Viewer;
use super::staff_params::{PageQuery, Paging};
use super::staff_views::{LineageView, TokenView};
use crate::service::staff_queries;
use crate::service::Services;
use crate::store::Paged;

#[utoipa::path(get, path = "/api/v1/tokens/{virtual_card_id}/lineage", tag = "staff", operation_id = "getTokenLineage", security(("staffBearer" = [])), params(("virtual_card_id" = String, Path, description = "the token's virtualCardId")), responses((status = 200, description = "The token's lineage both ways", body = LineageView), StaffRefusals))]
pub async fn token_lineage(
    _: Viewer,
    path: web::Path<String>,
    svc: web::Data<Services>,
) -> Result<HttpResponse, StaffError> {
    let lineage = staff_queries::lineage(&svc, &path).await?;
    Ok(HttpResponse::Ok().json(LineageView::from(&lineage)))
}

/// `GET /api/v1/lineage/orphans`: COF tokens flagged because a token they were made from was
/// suspended or deleted (`token_for_token.on_original_death`), paginated, by virtual card id.
#[utoipa::path(get, path = "/api/v1/lineage/orphans", tag = "staff", operation_id = "listLineageOrphans", security(("staffBearer" = [])), params(PageQuery), responses((status = 200, description = "Tokens whose original token is gone", body = Paged<TokenView>), StaffRefusals))]
pub async fn list_orphans(
    _: Viewer,
    Paging(page): Paging,
    svc: web::Data<Services>,
) -> Result<HttpResponse, StaffError> {
    let orphans = staff_queries::orphans(&svc, page).await?;
    Ok(HttpResponse::Ok().json(orphans.map(|t| TokenView::from(&t))))
}
