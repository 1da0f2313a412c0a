//! Staff endpoints about decision rules: status, hot reload, the shadow comparison, and stand-in
//! review (network approvals our rules would have refused). Reads go through
//! `service::staff_queries`; the reload through `service::rules_state`, audited here.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};

use super::error::StaffError;
use super::staff_auth::{Caller, Viewer};
use super::staff_params::{filter_text, Paging};
use super::staff_views::DecisionView;
use crate::domain::AuditOutcome;
use crate::service::audit::{self, Actor, AuditDraft};
use crate::service::rules_state::RulesStatus;
use crate::service::staff_queries as queries;
use crate::service::Services;

type Reply = Result<HttpResponse, StaffError>;

#[derive(Serialize)]
struct RulesView {
    #[serde(flatten)]
    status: RulesStatus,
    live: String,
    shadow: Option<String>,
}

pub async fn status(_: Viewer, svc: web::Data<Services>) -> HttpResponse {
    let overview = queries::rules_overview(&svc);
    HttpResponse::Ok().json(RulesView {
        status: overview.status,
        live: overview.live,
        shadow: overview.shadow,
    })
}

/// Re-reads the rules files; all or nothing, audited either way.
pub async fn reload(staff: Caller, svc: web::Data<Services>) -> Reply {
    let actor = staff
        .require_operator(&svc, "rules.reload", "rules")
        .await?;
    let result = reload_rules(&svc).await;
    audit::record_or_log(&svc.store, reload_audit(&actor, &result)).await;
    let status = result?;
    tracing::info!(version = %status.live_version, "rules reloaded by staff");
    Ok(HttpResponse::Ok().json(status))
}

/// Reloads off the async workers (the files are read and compiled).
async fn reload_rules(svc: &web::Data<Services>) -> Result<RulesStatus, StaffError> {
    let reloading = svc.clone();
    match web::block(move || reloading.rules.reload()).await {
        Ok(Ok(status)) => Ok(status),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "rules reload refused; previous rules stay in force");
            Err(StaffError::InvalidRules(e))
        }
        Err(e) => Err(StaffError::Internal {
            message: "reload did not complete",
            cause: e.to_string(),
        }),
    }
}

fn reload_audit(actor: &Actor, result: &Result<RulesStatus, StaffError>) -> AuditDraft {
    let (outcome, status, detail) = match result {
        Ok(status) => (
            AuditOutcome::Succeeded,
            200,
            format!("live version {}", status.live_version),
        ),
        Err(e) => {
            let detail = match e {
                StaffError::InvalidRules(reason) => format!("refused: {reason}"),
                _ => "reload did not complete".to_owned(),
            };
            (AuditOutcome::Failed, e.status_code().as_u16(), detail)
        }
    };
    AuditDraft::new(actor, "rules.reload", "rules", outcome, status).detail(detail)
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

#[derive(Debug, Deserialize)]
pub struct StandInQuery {
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

pub async fn standins(
    _: Viewer,
    Paging(page): Paging,
    query: web::Query<StandInQuery>,
    svc: web::Data<Services>,
) -> Reply {
    let standins = queries::standins(&svc, query.only_mismatches()?, page).await?;
    Ok(HttpResponse::Ok().json(standins.map(|d| DecisionView::from(&d))))
}
