//! Staff endpoints about decision rules: status, hot reload, the shadow comparison, and stand-in
//! review (network approvals our rules would have refused).

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::error::staff_error;
use super::staff::{authorize, authorize_write, authorized_page, internal, PageQuery, Role};
use super::staff_views::DecisionView;
use crate::domain::DecidedBy;
use crate::service::rules_admin::{self, ReloadError};
use crate::service::Services;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/rules", web::get().to(status))
        .route("/rules/reload", web::post().to(reload))
        .route("/rules/shadow", web::get().to(shadow_report))
        .route("/standins", web::get().to(standins));
}

#[derive(Serialize)]
struct RulesView {
    #[serde(flatten)]
    status: crate::service::rules_state::RulesStatus,
    live: String,
    shadow: Option<String>,
}

async fn status(req: HttpRequest, svc: web::Data<Services>) -> HttpResponse {
    if let Err(r) = authorize(&req, &svc, Role::Viewer) {
        return *r;
    }
    let pair = svc.rules_pair();
    HttpResponse::Ok().json(RulesView {
        status: svc.rules.status(),
        live: pair.live.describe(),
        shadow: pair.shadow.as_ref().map(|s| s.describe()),
    })
}

async fn reload(req: HttpRequest, svc: web::Data<Services>) -> HttpResponse {
    let actor = match authorize_write(&req, &svc, "rules.reload", "rules").await {
        Ok(actor) => actor,
        Err(r) => return r,
    };
    match rules_admin::reload(svc.into_inner(), &actor, None).await {
        Ok(status) => HttpResponse::Ok().json(status),
        Err(ReloadError::Invalid(e)) => {
            staff_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_rules", e)
        }
        Err(ReloadError::Interrupted) => staff_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "reload did not complete",
        ),
    }
}

#[derive(Serialize)]
struct ShadowReport {
    shadow_version: Option<String>,
    evaluated: usize,
    agreements: usize,
    disagreements: usize,
    /// `live→shadow` outcome pairs, e.g. `green→red`.
    by_outcome: BTreeMap<String, usize>,
    count: usize,
    start_index: usize,
    end_index: usize,
    is_more: bool,
    data: Vec<DecisionView>,
}

async fn shadow_report(
    req: HttpRequest,
    query: web::Query<PageQuery>,
    svc: web::Data<Services>,
) -> HttpResponse {
    let page = match authorized_page(&req, &svc, &query, Role::Viewer) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let shadow_version = svc
        .rules_pair()
        .shadow
        .as_ref()
        .map(|s| s.version().to_owned());
    match crate::service::staff_queries::shadow_agreement(&svc.store, page).await {
        Ok(agreement) => HttpResponse::Ok().json(ShadowReport {
            shadow_version,
            evaluated: agreement.evaluated,
            agreements: agreement.agreements,
            disagreements: agreement.disagreements(),
            by_outcome: agreement.by_outcome,
            count: agreement.disagreeing.count,
            start_index: agreement.disagreeing.start_index,
            end_index: agreement.disagreeing.end_index,
            is_more: agreement.disagreeing.is_more,
            data: agreement
                .disagreeing
                .data
                .iter()
                .map(DecisionView::from)
                .collect(),
        }),
        Err(e) => internal(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct StandInQuery {
    mismatch: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

async fn standins(
    req: HttpRequest,
    query: web::Query<StandInQuery>,
    svc: web::Data<Services>,
) -> HttpResponse {
    let page = match authorized_page(&req, &svc, &query.page, Role::Viewer) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let only_mismatches = match query.mismatch.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return staff_error(
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                "mismatch must be true or false",
            )
        }
    };
    let result = svc
        .store
        .read(move |r| {
            r.decisions_where(page, |d| {
                d.decided_by == DecidedBy::Network
                    && only_mismatches
                        .is_none_or(|want| d.review.as_ref().is_some_and(|rv| rv.mismatch) == want)
            })
        })
        .await;
    match result {
        Ok(page) => HttpResponse::Ok().json(page.map(|d| DecisionView::from(&d))),
        Err(e) => internal(e),
    }
}
