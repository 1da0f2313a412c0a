//! Staff endpoints about decision rules: status, hot reload, the shadow comparison, and stand-in
//! review (network approvals our rules would have refused). Reads go through
//! `service::staff_queries`; the audited reload through `service::rules_admin` (shared with the console).

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::error::StaffError;
use super::error::StaffErrorBody;
use super::openapi::StaffRefusals;
use super::staff_auth::{Caller, Viewer};
use super::staff_params::{filter_text, PageQuery, Paging};
use super::staff_views::DecisionView;
use crate::service::rules_admin::{self, ReloadError};
use crate::service::rules_state::RulesStatus;
use crate::service::staff_queries as queries;
use crate::service::Services;
use crate::store::Paged;

type Reply = Result<HttpResponse, StaffError>;

#[derive(Serialize, utoipa::ToSchema)]
pub struct RulesView {
    #[serde(flatten)]
    status: RulesStatus,
    live: String,
    shadow: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/rules", tag = "staff", operation_id = "getRules", security(("staffBearer" = [])), responses((status = 200, description = "The live and shadow rules", body = RulesView), StaffRefusals))]
pub async fn status(_: Viewer, svc: web::Data<Services>) -> HttpResponse {
    let overview = queries::rules_overview(&svc);
    HttpResponse::Ok().json(RulesView {
        status: overview.status,
        live: overview.live,
        shadow: overview.shadow,
    })
}

/// Re-reads the rules files; all or nothing, audited either way (`service::rules_admin`).
#[utoipa::path(post, path = "/api/v1/rules/reload", tag = "staff", operation_id = "reloadRules", security(("staffBearer" = [])), responses((status = 200, description = "Reloaded (all or nothing); operator role", body = RulesStatus), (status = 422, description = "The new rules are invalid; the previous rules stay in force", body = StaffErrorBody), StaffRefusals))]
pub async fn reload(staff: Caller, svc: web::Data<Services>) -> Reply {
    let actor = staff
        .require_operator(&svc, "rules.reload", "rules")
        .await?;
    match rules_admin::reload(svc.into_inner(), &actor, None).await {
        Ok(status) => Ok(HttpResponse::Ok().json(status)),
        Err(ReloadError::Invalid(e)) => Err(StaffError::InvalidRules(e)),
        Err(ReloadError::Interrupted) => Err(StaffError::Internal {
            message: "reload did not complete",
            cause: "the reload task ended early".to_owned(),
        }),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ShadowReport {
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

#[utoipa::path(get, path = "/api/v1/rules/shadow", tag = "staff", operation_id = "getShadowReport", security(("staffBearer" = [])), params(PageQuery), responses((status = 200, description = "Live against shadow rules, with the disagreeing decisions", body = ShadowReport), StaffRefusals))]
pub async fn shadow_report(_: Viewer, Paging(page): Paging, svc: web::Data<Services>) -> Reply {
    let summary = queries::shadow_summary(&svc, page).await?;
    let page = summary.disagreeing;
    Ok(HttpResponse::Ok().json(ShadowReport {
        shadow_version: summary.shadow_version,
        evaluated: summary.evaluated,
        agreements: summary.agreements,
        disagreements: summary.evaluated - summary.agreements,
        by_outcome: summary.by_outcome,
        count: page.count,
        start_index: page.start_index,
        end_index: page.end_index,
        is_more: page.is_more,
        data: page.data.iter().map(DecisionView::from).collect(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StandInQuery {
    /// `true`: only stand-ins our rules would have refused; `false`: only the others.
    #[param(value_type = Option<bool>)]
    mismatch: Option<String>,
}

impl StandInQuery {
    fn only_mismatches(&self) -> Result<Option<bool>, StaffError> {
        match filter_text(self.mismatch.as_deref()).as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(StaffError::InvalidParameter(
                "mismatch must be true or false".to_owned(),
            )),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/standins", tag = "staff", operation_id = "listStandIns", security(("staffBearer" = [])), params(PageQuery, StandInQuery), responses((status = 200, description = "Network stand-in decisions", body = Paged<DecisionView>), StaffRefusals))]
pub async fn standins(
    _: Viewer,
    Paging(page): Paging,
    query: web::Query<StandInQuery>,
    svc: web::Data<Services>,
) -> Reply {
    let standins = queries::standins(&svc, query.only_mismatches()?, page).await?;
    Ok(HttpResponse::Ok().json(standins.map(|d| DecisionView::from(&d))))
}
