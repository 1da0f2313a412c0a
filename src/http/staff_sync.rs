//! Staff routes for keeping tokens in step with TSH (issue 11):
//!
//! - `GET /api/v1/tokens/{virtual_card_id}/sync` — held notifications waiting for TSH's word, the
//!   last check, ambiguities the ordering rule decided alone, the pending issuer operation (viewer);
//! - `GET /api/v1/tokentransitions?status=PENDING` — issuer operations still waiting for TSH,
//!   oldest first, with their expiry once they outlived `lifecycle.pending_timeout_secs` (viewer).
//!
//! Handlers authenticate and shape the answer; the records come from `service::token_sync_views`.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::error::StaffError;
use super::openapi::StaffRefusals;
use super::staff_actions::OperationView;
use super::staff_auth::Viewer;
use crate::domain::token_sync::{Ambiguity, CheckResult, HeldNotification, StateCheck};
use crate::domain::{TokenSync, TshOperation};
use crate::service::token_sync_views;
use crate::service::Services;
use crate::store::Paged;

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OperationsQuery {
    /// Only `PENDING` (the default; any case).
    #[param(pattern = "^PENDING$")]
    status: Option<String>,
}

/// `GET /api/v1/tokentransitions?status=PENDING`: every pending issuer operation (a bounded set:
/// at most one per token), oldest first.
#[utoipa::path(get, path = "/api/v1/tokentransitions", tag = "staff",
    operation_id = "listPendingTokenTransitions", security(("staffBearer" = [])),
    params(OperationsQuery),
    responses((status = 200, description = "Issuer operations still waiting for TSH, oldest first (not paginated: at most one per token)",
        body = Paged<OperationView>), StaffRefusals))]
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
    Ok(HttpResponse::Ok().json(Paged {
        count: data.len(),
        start_index: 0,
        end_index: data.len().saturating_sub(1),
        is_more: false,
        data,
    }))
}

/// A notification held until TSH tells the token's state.
#[derive(Serialize, utoipa::ToSchema)]
pub struct HeldView<'a> {
    action: &'a str,
    correlation_id: &'a str,
    suspicion: &'static str,
    source: Option<&'a str>,
    received_time: &'a str,
}

impl<'a> From<&'a HeldNotification> for HeldView<'a> {
    fn from(h: &'a HeldNotification) -> Self {
        HeldView {
            action: &h.action,
            correlation_id: &h.correlation_id,
            suspicion: h.suspicion.as_str(),
            source: h.source.as_deref(),
            received_time: &h.received_time,
        }
    }
}

/// The check waiting for TSH's word.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CheckView<'a> {
    held: Vec<HeldView<'a>>,
    attempts: u32,
    last_error: Option<&'a str>,
    created_time: &'a str,
}

impl<'a> From<&'a StateCheck> for CheckView<'a> {
    fn from(c: &'a StateCheck) -> Self {
        CheckView {
            held: c.held.iter().map(HeldView::from).collect(),
            attempts: c.attempts,
            last_error: c.last_error.as_deref(),
            created_time: &c.created_time,
        }
    }
}

/// The last check and what it changed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CheckResultView<'a> {
    tsh_state: Option<&'a str>,
    state_before: &'static str,
    state_after: &'static str,
    held: Vec<HeldView<'a>>,
    created_time: &'a str,
}

impl<'a> From<&'a CheckResult> for CheckResultView<'a> {
    fn from(r: &'a CheckResult) -> Self {
        CheckResultView {
            tsh_state: r.tsh_state.as_deref(),
            state_before: r.state_before.as_str(),
            state_after: r.state_after.as_str(),
            held: r.held.iter().map(HeldView::from).collect(),
            created_time: &r.created_time,
        }
    }
}

/// A case the ordering rule decided without TSH.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AmbiguityView<'a> {
    action: &'a str,
    correlation_id: &'a str,
    suspicion: &'static str,
    outcome: &'a str,
    why: &'a str,
    created_time: &'a str,
}

impl<'a> From<&'a Ambiguity> for AmbiguityView<'a> {
    fn from(a: &'a Ambiguity) -> Self {
        AmbiguityView {
            action: &a.action,
            correlation_id: &a.correlation_id,
            suspicion: a.suspicion.as_str(),
            outcome: &a.outcome,
            why: &a.why,
            created_time: &a.created_time,
        }
    }
}

/// The pending issuer operation covering the token, in brief.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PendingBrief<'a> {
    token: &'a str,
    operation: &'a str,
    action: &'a str,
    status: &'static str,
    created_time: &'a str,
}

impl<'a> From<&'a TshOperation> for PendingBrief<'a> {
    fn from(op: &'a TshOperation) -> Self {
        PendingBrief {
            token: &op.correlation_id,
            operation: &op.operation,
            action: &op.action,
            status: op.status.as_str(),
            created_time: &op.created_time,
        }
    }
}

/// `GET /api/v1/tokens/{virtual_card_id}/sync`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenSyncView<'a> {
    virtual_card_id: &'a str,
    last_resume_time: Option<&'a str>,
    check: Option<CheckView<'a>>,
    last_check: Option<CheckResultView<'a>>,
    ambiguities: Vec<AmbiguityView<'a>>,
    pending_operation: Option<PendingBrief<'a>>,
}

fn sync_view<'a>(sync: &'a TokenSync, pending: Option<&'a TshOperation>) -> TokenSyncView<'a> {
    TokenSyncView {
        virtual_card_id: &sync.virtual_card_id,
        last_resume_time: sync.last_resume_time.as_deref(),
        check: sync.check.as_ref().map(CheckView::from),
        last_check: sync.last_check.as_ref().map(CheckResultView::from),
        ambiguities: sync.ambiguities.iter().map(AmbiguityView::from).collect(),
        pending_operation: pending.map(PendingBrief::from),
    }
}

#[utoipa::path(get, path = "/api/v1/tokens/{virtual_card_id}/sync", tag = "staff",
    operation_id = "getTokenSync", security(("staffBearer" = [])),
    params(("virtual_card_id" = String, Path, description = "the token's virtualCardId")),
    responses((status = 200, description = "The token's synchronisation with TSH: held notifications, last check, ambiguities, pending operation",
        body = TokenSyncView), StaffRefusals))]
pub async fn get_token_sync(
    _: Viewer,
    path: web::Path<String>,
    svc: web::Data<Services>,
) -> Result<HttpResponse, StaffError> {
    let (sync, pending) = token_sync_views::token_sync(&svc, &path)
        .await?
        .ok_or(StaffError::NotFound("token"))?;
    Ok(HttpResponse::Ok().json(sync_view(&sync, pending.as_ref())))
}
