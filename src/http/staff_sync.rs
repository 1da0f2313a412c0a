//! Staff routes for keeping tokens in step with TSH (issue 11):
//!
//! - `GET /api/v1/tokens/{virtual_card_id}/sync` — held notifications waiting for TSH's word, the
//!   last check, ambiguities the ordering rule decided alone, the pending issuer operation (viewer);
//! - `GET /api/v1/tokentransitions?status=PENDING` — issuer operations still waiting for TSH,
//!   oldest first, with their expiry once they outlived `lifecycle.pending_timeout_secs` (viewer).
//!
//! Handlers authenticate and shape the answer; the records come from `service::token_sync_views`.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::error::StaffError;
use super::staff_actions::OperationView;
use super::staff_auth::Viewer;
use crate::domain::token_sync::{Ambiguity, CheckResult, HeldNotification, StateCheck};
use crate::domain::TokenSync;
use crate::service::token_sync_views;
use crate::service::Services;

#[derive(Debug, serde::Deserialize)]
pub struct OperationsQuery {
    status: Option<String>,
}

/// `GET /api/v1/tokentransitions?status=PENDING`: every pending issuer operation (a bounded set:
/// at most one per token), oldest first.
pub async fn list_pending_operations(
    _: Viewer,
    query: web::Query<OperationsQuery>,
    svc: web::Data<Services>,
) -> Result<HttpResponse, StaffError> {
    let status = query.status.as_deref().map(str::trim).unwrap_or("PENDING");
    if !status.eq_ignore_ascii_case("PENDING") {
        return Err(StaffError::InvalidParameter(
            "status must be PENDING (one operation is read with GET /api/v1/tokentransitions/{token})"
                .to_owned(),
        ));
    }
    let ops = token_sync_views::pending_operations(&svc).await?;
    let data: Vec<OperationView> = ops.iter().map(OperationView::from).collect();
    Ok(HttpResponse::Ok().json(json!({
        "count": data.len(),
        "start_index": 0,
        "end_index": data.len().saturating_sub(1),
        "is_more": false,
        "data": data,
    })))
}

fn held_view(h: &HeldNotification) -> Value {
    json!({"action": h.action, "correlation_id": h.correlation_id,
           "suspicion": h.suspicion.as_str(), "source": h.source, "received_time": h.received_time})
}

fn check_view(c: &StateCheck) -> Value {
    json!({"held": c.held.iter().map(held_view).collect::<Vec<_>>(), "attempts": c.attempts,
           "last_error": c.last_error, "created_time": c.created_time})
}

fn result_view(r: &CheckResult) -> Value {
    json!({"tsh_state": r.tsh_state, "state_before": r.state_before.as_str(),
           "state_after": r.state_after.as_str(),
           "held": r.held.iter().map(held_view).collect::<Vec<_>>(), "created_time": r.created_time})
}

fn ambiguity_view(a: &Ambiguity) -> Value {
    json!({"action": a.action, "correlation_id": a.correlation_id,
           "suspicion": a.suspicion.as_str(), "outcome": a.outcome, "why": a.why,
           "created_time": a.created_time})
}

fn sync_view(sync: &TokenSync, pending: Option<Value>) -> Value {
    json!({
        "virtual_card_id": sync.virtual_card_id,
        "last_resume_time": sync.last_resume_time,
        "check": sync.check.as_ref().map(check_view),
        "last_check": sync.last_check.as_ref().map(result_view),
        "ambiguities": sync.ambiguities.iter().map(ambiguity_view).collect::<Vec<_>>(),
        "pending_operation": pending,
    })
}

pub async fn get_token_sync(
    _: Viewer,
    path: web::Path<String>,
    svc: web::Data<Services>,
) -> Result<HttpResponse, StaffError> {
    let (sync, pending) = token_sync_views::token_sync(&svc, &path)
        .await?
        .ok_or(StaffError::NotFound("token"))?;
    let pending = pending.map(|op| {
        json!({"token": op.correlation_id, "operation": op.operation,
               "action": op.action, "status": op.status.as_str(),
               "created_time": op.created_time})
    });
    Ok(HttpResponse::Ok().json(sync_view(&sync, pending)))
}
