//! Staff write actions on tokens and cards (Marqeta's shapes, seed 002) and the audit trail:
//!
//! - `POST /api/v1/tokentransitions` {`virtual_card_id`, `state`, `reason_code`, `reason`} → 202
//!   with the pending transition; `GET /api/v1/tokentransitions/{token}` follows it;
//! - `POST /api/v1/cards/{issuer_card_ref_id}/block` | `/unblock` | `/replace`;
//! - `GET /api/v1/audit` (newest first; there is no route that edits or deletes an entry).
//!
//! Handlers parse and authenticate; `service::staff_actions` validates, calls TSH and audits.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{Map, Value};

use super::body::{is_json_or_absent, read_limited};
use super::error::staff_error;
use super::staff::{authorize, authorize_write, authorized_page, internal, PageQuery, Role};
use crate::contract::parse::parse_object;
use crate::domain::{AuditOutcome, OperationConfirmation, Secret, TshOperation};
use crate::service::audit::{self, Actor, AuditDraft};
use crate::service::staff_actions::{
    self, is_reason_code, marqeta_state, ActionError, ReplaceRequest, RequestedState,
    TransitionRequest,
};
use crate::service::Services;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/tokentransitions", web::post().to(create_transition))
        .route("/tokentransitions/{token}", web::get().to(get_transition))
        .route(
            "/cards/{issuer_card_ref_id}/block",
            web::post().to(block_card),
        )
        .route(
            "/cards/{issuer_card_ref_id}/unblock",
            web::post().to(unblock_card),
        )
        .route(
            "/cards/{issuer_card_ref_id}/replace",
            web::post().to(replace_card),
        )
        .route("/audit", web::get().to(list_audit));
}

#[derive(Serialize)]
struct WalletTokenRef {
    token: String,
}

/// A staff-initiated operation in Marqeta's transition shape, with its progress.
#[derive(Serialize)]
struct OperationView {
    /// The transition's identifier: the `x-correlation-id` sent to TSH.
    token: String,
    correlation_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    digital_wallet_token: Option<WalletTokenRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    virtual_card_id: Option<String>,
    issuer_card_ref_id: String,
    operation: String,
    action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    from_state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    transition_type: Option<&'static str>,
    channel: &'static str,
    reason_code: Option<String>,
    reason: Option<String>,
    /// PENDING until TSH's notification confirms; CONFIRMED; FAILED.
    status: &'static str,
    error: Option<String>,
    requested_by: String,
    expected_virtual_card_ids: Vec<String>,
    confirmations: Vec<OperationConfirmation>,
    tsh_accepted_time: Option<String>,
    created_time: String,
    last_modified_time: String,
}

impl From<&TshOperation> for OperationView {
    fn from(op: &TshOperation) -> Self {
        OperationView {
            token: op.correlation_id.clone(),
            correlation_id: op.correlation_id.clone(),
            digital_wallet_token: op
                .virtual_card_id
                .clone()
                .map(|token| WalletTokenRef { token }),
            virtual_card_id: op.virtual_card_id.clone(),
            issuer_card_ref_id: op.issuer_card_ref_id.clone(),
            operation: op.operation.clone(),
            action: op.action.clone(),
            from_state: op.from_state.map(marqeta_state),
            state: op.target_state.map(marqeta_state),
            transition_type: staff_actions::pending_type(op),
            channel: staff_actions::CHANNEL_API,
            reason_code: op.reason_code.clone(),
            reason: op.reason.clone(),
            status: op.status.as_str(),
            error: op.error.clone(),
            requested_by: op.requested_by.clone(),
            expected_virtual_card_ids: op.expected_virtual_card_ids.clone(),
            confirmations: op.confirmations.clone(),
            tsh_accepted_time: op.tsh_accepted_time.clone(),
            created_time: op.created_time.clone(),
            last_modified_time: op.last_modified_time.clone(),
        }
    }
}

fn action_error(error: ActionError) -> HttpResponse {
    match &error {
        ActionError::Invalid(m) => staff_error(StatusCode::BAD_REQUEST, "invalid_body", m.clone()),
        ActionError::NotFound(_) => {
            staff_error(StatusCode::NOT_FOUND, "not_found", error.to_string())
        }
        ActionError::Conflict(m) => {
            staff_error(StatusCode::CONFLICT, "illegal_transition", m.clone())
        }
        ActionError::Tsh { error: tsh, .. } => {
            let status = StatusCode::from_u16(staff_actions::tsh_http_status(tsh))
                .unwrap_or(StatusCode::BAD_GATEWAY);
            let code = match status.as_u16() {
                503 => "tsh_not_configured",
                504 => "tsh_timeout",
                500 => "internal_error",
                _ => match tsh {
                    crate::tsh_client::TshError::Refused { .. } => "tsh_refused",
                    _ => "tsh_unavailable",
                },
            };
            staff_error(status, code, error.to_string())
        }
        ActionError::Store(e) => {
            tracing::error!(error = %e, "store error in a staff action");
            staff_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "unexpected server error",
            )
        }
    }
}

/// Reads a JSON object body (an absent or empty body is `{}` when `allow_empty`); a refusal is
/// audited as `refused` with the given subject.
async fn read_object(
    req: &HttpRequest,
    payload: web::Payload,
    svc: &Services,
    actor: &Actor,
    what: &'static str,
    target: &str,
    allow_empty: bool,
) -> Result<Map<String, Value>, HttpResponse> {
    let refused = |status: StatusCode, code: &'static str, message: String| {
        let draft = AuditDraft::new(actor, what, target, AuditOutcome::Refused, status.as_u16())
            .detail(format!("refused: {message}"));
        (draft, staff_error(status, code, message))
    };
    let outcome = if !is_json_or_absent(req) {
        Err(refused(
            StatusCode::BAD_REQUEST,
            "invalid_content_type",
            "Content-Type must be application/json".to_owned(),
        ))
    } else {
        match read_limited(req, payload, svc.settings.server.max_body_bytes).await {
            Err(e) => {
                let (status, code, message) = e.staff_answer();
                Err(refused(status, code, message.to_owned()))
            }
            Ok(bytes) if allow_empty && bytes.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
            Ok(bytes) => {
                let bytes = zeroize::Zeroizing::new(bytes.to_vec());
                match parse_object(&bytes) {
                    Ok(Value::Object(map)) => Ok(map),
                    Ok(_) => Err(refused(
                        StatusCode::BAD_REQUEST,
                        "invalid_body",
                        "the body must be a JSON object".to_owned(),
                    )),
                    Err(e) => Err(refused(StatusCode::BAD_REQUEST, "invalid_body", e.0)),
                }
            }
        }
    };
    match outcome {
        Ok(map) => Ok(map),
        Err((draft, response)) => {
            audit::record_or_log(&svc.store, draft).await;
            Err(response)
        }
    }
}

/// An optional string field: absent / null → None; any other type → an error naming the field.
fn opt_string(body: &Map<String, Value>, field: &str) -> Result<Option<String>, String> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        Some(_) => Err(format!("{field} must be a string")),
    }
}

fn check_text(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, String> {
    match value {
        Some(v) if v.chars().count() > max => {
            Err(format!("{field} must be at most {max} characters"))
        }
        Some(v) if v.chars().any(char::is_control) => {
            Err(format!("{field} must not contain control characters"))
        }
        other => Ok(other),
    }
}

fn reason_fields(
    body: &Map<String, Value>,
    required: bool,
) -> Result<(Option<String>, Option<String>), String> {
    let reason_code = opt_string(body, "reason_code")?;
    match &reason_code {
        None if required => {
            return Err("reason_code is required (Marqeta's two-digit code, 00 to 21)".to_owned())
        }
        // The message names the field only: the value could be anything, even a card number.
        Some(code) if !is_reason_code(code) => {
            return Err("reason_code must be one of Marqeta's two-digit codes 00 to 21".to_owned())
        }
        _ => {}
    }
    let reason = check_text("reason", opt_string(body, "reason")?, 255)?;
    Ok((reason_code, reason))
}

fn parse_transition(body: &Map<String, Value>) -> Result<TransitionRequest, String> {
    // Marqeta's own spelling `digital_wallet_token: {token}` is accepted too.
    let nested = match body.get("digital_wallet_token") {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => opt_string(o, "token")
            .map_err(|_| "digital_wallet_token.token must be a string".to_owned())?,
        Some(_) => return Err("digital_wallet_token must be an object {\"token\": ...}".into()),
    };
    let virtual_card_id = check_text(
        "virtual_card_id",
        opt_string(body, "virtual_card_id")?.or(nested),
        64,
    )?
    .ok_or("virtual_card_id is required")?;
    let state_raw =
        opt_string(body, "state")?.ok_or("state is required (ACTIVE, SUSPENDED or TERMINATED)")?;
    let state = RequestedState::parse(&state_raw)
        .ok_or("state must be one of ACTIVE, SUSPENDED, TERMINATED")?;
    let (reason_code, reason) = reason_fields(body, true)?;
    Ok(TransitionRequest {
        virtual_card_id,
        state,
        reason_code: reason_code.unwrap_or_default(),
        reason,
    })
}

async fn create_transition(
    req: HttpRequest,
    payload: web::Payload,
    svc: web::Data<Services>,
) -> HttpResponse {
    const WHAT: &str = "tokentransition.create";
    let actor = match authorize_write(&req, &svc, WHAT, "token:?").await {
        Ok(actor) => actor,
        Err(r) => return r,
    };
    let body = match read_object(&req, payload, &svc, &actor, WHAT, "token:?", false).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let request = match parse_transition(&body) {
        Ok(request) => request,
        Err(message) => {
            let target = match body.get("virtual_card_id") {
                Some(Value::String(v)) => {
                    format!("token:{}", v.chars().take(64).collect::<String>())
                }
                _ => "token:?".to_owned(),
            };
            audit::record_or_log(
                &svc.store,
                AuditDraft::new(&actor, WHAT, target, AuditOutcome::Refused, 400)
                    .detail(format!("refused: {message}")),
            )
            .await;
            return staff_error(StatusCode::BAD_REQUEST, "invalid_body", message);
        }
    };
    match staff_actions::transition_token(&svc, &actor, request).await {
        Ok(op) => HttpResponse::Accepted().json(OperationView::from(&op)),
        Err(e) => action_error(e),
    }
}

async fn get_transition(
    req: HttpRequest,
    path: web::Path<String>,
    svc: web::Data<Services>,
) -> HttpResponse {
    if let Err(r) = authorize(&req, &svc, Role::Viewer) {
        return *r;
    }
    let token = path.into_inner();
    match svc.store.read(move |r| r.tsh_operation(&token)).await {
        Ok(Some(op)) => HttpResponse::Ok().json(OperationView::from(&op)),
        Ok(None) => staff_error(StatusCode::NOT_FOUND, "not_found", "transition not found"),
        Err(e) => internal(e),
    }
}

async fn block_or_unblock(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    svc: web::Data<Services>,
    block: bool,
) -> HttpResponse {
    let what = if block { "card.block" } else { "card.unblock" };
    let reference = path.into_inner();
    let target = format!("card:{reference}");
    let actor = match authorize_write(&req, &svc, what, &target).await {
        Ok(actor) => actor,
        Err(r) => return r,
    };
    let body = match read_object(&req, payload, &svc, &actor, what, &target, true).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let (reason_code, reason) = match reason_fields(&body, false) {
        Ok(fields) => fields,
        Err(message) => {
            audit::record_or_log(
                &svc.store,
                AuditDraft::new(&actor, what, target, AuditOutcome::Refused, 400)
                    .detail(format!("refused: {message}")),
            )
            .await;
            return staff_error(StatusCode::BAD_REQUEST, "invalid_body", message);
        }
    };
    // Default: 15, "initiated by issuer".
    let reason_code = reason_code.unwrap_or_else(|| "15".to_owned());
    match staff_actions::block_card(&svc, &actor, &reference, block, reason_code, reason).await {
        Ok(op) => HttpResponse::Accepted().json(OperationView::from(&op)),
        Err(e) => action_error(e),
    }
}

async fn block_card(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    svc: web::Data<Services>,
) -> HttpResponse {
    block_or_unblock(req, path, payload, svc, true).await
}

async fn unblock_card(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    svc: web::Data<Services>,
) -> HttpResponse {
    block_or_unblock(req, path, payload, svc, false).await
}

async fn replace_card(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    svc: web::Data<Services>,
) -> HttpResponse {
    const WHAT: &str = "card.replace";
    let reference = path.into_inner();
    let target = format!("card:{reference}");
    let actor = match authorize_write(&req, &svc, WHAT, &target).await {
        Ok(actor) => actor,
        Err(r) => return r,
    };
    let body = match read_object(&req, payload, &svc, &actor, WHAT, &target, false).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let parsed = (|| -> Result<ReplaceRequest, String> {
        let pan = match body.get("pan") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Secret::new(s.clone())),
            Some(_) => return Err("pan must be a string of digits".to_owned()),
        };
        let exp = opt_string(&body, "exp")?.ok_or("exp is required (MMYY)")?;
        Ok(ReplaceRequest { pan, exp })
    })();
    let request = match parsed {
        Ok(request) => request,
        Err(message) => {
            audit::record_or_log(
                &svc.store,
                AuditDraft::new(&actor, WHAT, target, AuditOutcome::Refused, 400)
                    .detail(format!("refused: {message}")),
            )
            .await;
            return staff_error(StatusCode::BAD_REQUEST, "invalid_body", message);
        }
    };
    drop(body);
    match staff_actions::replace_card(&svc, &actor, &reference, request).await {
        Ok(op) => HttpResponse::Accepted().json(OperationView::from(&op)),
        Err(e) => action_error(e),
    }
}

async fn list_audit(
    req: HttpRequest,
    query: web::Query<PageQuery>,
    svc: web::Data<Services>,
) -> HttpResponse {
    let page = match authorized_page(&req, &svc, &query, Role::Viewer) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match svc.store.read(move |r| r.audit(page)).await {
        Ok(page) => HttpResponse::Ok().json(page),
        Err(e) => internal(e),
    }
}
