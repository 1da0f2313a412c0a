//! Staff routes of reconciliation with TSH (issue 11):
//!
//! - `POST /api/v1/reconciliations` — `{"issuer_card_ref_id": "…"}` compares one card and answers
//!   200 with the finished report; `{"all": true}` starts a registry-wide run and answers 202 with
//!   the running report (operator, audited);
//! - `GET /api/v1/reconciliations` — the runs, newest first, each with its drift (viewer);
//! - `GET /api/v1/reconciliations/{reconciliation_id}` — one run (viewer).
//!
//! Handlers take the caller and call `service::reconcile`; answers are `reconcile_views`.

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde_json::{Map, Value};

use super::error::{staff_action_status, StaffError};
use super::openapi::{StaffBodyRefusals, StaffRefusals, TshRefusals};
use super::reconcile_views::{self as views, ReconciliationView};
use super::staff_actions::object_body;
use super::staff_auth::{Caller, Viewer};
use super::staff_params::{PageQuery, Paging};
use crate::domain::AuditOutcome;
use crate::service::audit::{self, AuditDraft};
use crate::service::reconcile::{self, Scope};
use crate::service::staff_queries as queries;
use crate::service::Services;

type Reply = Result<HttpResponse, StaffError>;

/// `POST /api/v1/reconciliations` as documented; read field by field by [`scope_of`].
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ReconcileBody {
    /// One card, answered when its run is finished (200)…
    #[schema(max_length = 64)]
    issuer_card_ref_id: Option<String>,
    /// … or `true`: every card, answered while the run goes on (202). Exactly one of the two.
    all: Option<bool>,
}

/// The scope named by the body: exactly one of `issuer_card_ref_id` and `all: true`.
fn scope_of(body: &Map<String, Value>) -> Result<Scope, StaffError> {
    let card = match body.get("issuer_card_ref_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 64 => {
            Some(s.trim().to_owned())
        }
        Some(_) => {
            return Err(StaffError::InvalidBody(
                "issuer_card_ref_id must be a non-empty string of at most 64 characters".into(),
            ))
        }
    };
    let all = match body.get("all") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(StaffError::InvalidBody("all must be a boolean".into())),
    };
    match (card, all) {
        (Some(card), false) => Ok(Scope::Card(card)),
        (None, true) => Ok(Scope::All),
        _ => Err(StaffError::InvalidBody(
            "give exactly one of issuer_card_ref_id and \"all\": true".into(),
        )),
    }
}

#[utoipa::path(post, path = "/api/v1/reconciliations", tag = "staff",
    operation_id = "startReconciliation", security(("staffBearer" = [])),
    request_body = ReconcileBody,
    responses(
        (status = 200, description = "The card's run, finished; operator role", body = ReconciliationView),
        (status = 202, description = "The registry-wide run, started; operator role", body = ReconciliationView),
        StaffRefusals, StaffBodyRefusals, TshRefusals))]
pub async fn start_reconciliation(
    staff: Caller,
    req: HttpRequest,
    payload: web::Payload,
    svc: web::Data<Services>,
) -> Reply {
    const WHAT: &str = "reconciliation.start";
    let actor = staff.require_operator(&svc, WHAT, "reconciliation").await?;
    let scope = object_body(&req, payload, &svc, false)
        .await
        .and_then(|body| scope_of(&body));
    let target = match &scope {
        Ok(Scope::Card(card)) => format!("card:{card}"),
        _ => "all".to_owned(),
    };
    let started = match scope {
        Ok(scope) => reconcile::start(&svc, &scope, &format!("staff:{}", actor.name))
            .await
            .map(|report| (scope, report))
            .map_err(StaffError::from),
        Err(e) => Err(e),
    };
    let (outcome, status) = match &started {
        Ok((Scope::Card(_), _)) => (AuditOutcome::Succeeded, 200),
        Ok((Scope::All, _)) => (AuditOutcome::Succeeded, 202),
        Err(e) => (AuditOutcome::Refused, e.status_code().as_u16()),
    };
    let draft = AuditDraft::new(&actor, WHAT, target, outcome, status);
    audit::record_or_log(&svc.store, draft).await;
    let (scope, report) = started?;
    if scope == Scope::All {
        let (runner, running) = (svc.clone().into_inner(), report.clone());
        svc.background.spawn(async move {
            if let Err(e) = reconcile::finish(&runner, running, &scope, staff_action_status).await {
                tracing::error!(error = %e, "reconciliation failed");
            }
        });
        return Ok(HttpResponse::Accepted().json(ReconciliationView::from(&report)));
    }
    let report = reconcile::finish(&svc, report, &scope, staff_action_status).await?;
    Ok(HttpResponse::Ok().json(ReconciliationView::from(&report)))
}

#[utoipa::path(get, path = "/api/v1/reconciliations", tag = "staff",
    operation_id = "listReconciliations", security(("staffBearer" = [])), params(PageQuery),
    responses((status = 200, description = "Reconciliation runs with their drift, newest first",
        body = crate::store::Paged<ReconciliationView>), StaffRefusals))]
pub async fn list_reconciliations(
    _: Viewer,
    Paging(page): Paging,
    svc: web::Data<Services>,
) -> Reply {
    let reports = queries::reconciliations(&svc, page).await?;
    Ok(HttpResponse::Ok().json(views::paged(&reports)))
}

#[utoipa::path(get, path = "/api/v1/reconciliations/{reconciliation_id}", tag = "staff",
    operation_id = "getReconciliation", security(("staffBearer" = [])),
    params(("reconciliation_id" = String, Path, description = "`rec-` + 16 hex digits")),
    responses((status = 200, description = "One reconciliation run", body = ReconciliationView),
        StaffRefusals))]
pub async fn get_reconciliation(
    _: Viewer,
    path: web::Path<String>,
    svc: web::Data<Services>,
) -> Reply {
    let report = queries::reconciliation(&svc, &path).await?;
    Ok(HttpResponse::Ok().json(ReconciliationView::from(&report)))
}
