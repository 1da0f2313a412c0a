//! Staff write actions on tokens and cards (Marqeta's shapes, seed 002) and the audit trail:
//!
//! - `POST /api/v1/tokentransitions` {`virtual_card_id`, `state`, `reason_code`, `reason`} → 202
//!   with the pending transition; `GET /api/v1/tokentransitions/{token}` follows it;
//! - `POST /api/v1/cards/{issuer_card_ref_id}/block` | `/unblock` | `/replace` (a renewal is a
//!   replace with `exp` only); `/close` lives in `staff_card_close`;
//! - `GET /api/v1/audit` (newest first; there is no route that edits or deletes an entry).
//!
//! Handlers parse and authenticate; `service::staff_actions` validates, calls TSH and audits.

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Map, Value};

use super::body::{is_json_or_absent, read_limited};
use super::error::{staff_action_status, StaffError};
use super::openapi::{StaffBodyRefusals, StaffRefusals, TshRefusals};
use super::staff_auth::Caller;
use crate::contract::parse::{parse_object, typed};
use crate::domain::{
    AuditOutcome, OperationConfirmation, OperationExpiry, Secret, TokenOutcome, TshOperation,
};
use crate::service::audit::{self, Actor, AuditDraft};
use crate::service::cards::{self, CardInput, UpsertedCard};
use crate::service::staff_actions::{
    self, is_reason_code, marqeta_state, ReplaceRequest, RequestedState, TransitionRequest,
};
use crate::service::Services;

type Reply = Result<HttpResponse, StaffError>;

#[derive(Serialize, utoipa::ToSchema)]
pub struct WalletTokenRef {
    token: String,
}

/// A staff-initiated operation in Marqeta's transition shape, with its progress.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OperationView {
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
    /// Per token: `pending`, `confirmed` or `failed` (a card-level action reaches every token).
    tokens: Vec<TokenOutcome>,
    /// Set when it outlived `lifecycle.pending_timeout_secs` and is settled by asking TSH.
    expiry: Option<OperationExpiry>,
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
            tokens: op.token_outcomes(),
            expiry: op.expiry.clone(),
            tsh_accepted_time: op.tsh_accepted_time.clone(),
            created_time: op.created_time.clone(),
            last_modified_time: op.last_modified_time.clone(),
        }
    }
}

/// Audits a request refused before reaching its use case, and returns the refusal.
pub(super) async fn refused(
    svc: &Services,
    actor: &Actor,
    what: &'static str,
    target: String,
    error: StaffError,
) -> StaffError {
    let status = error.status_code().as_u16();
    let draft = AuditDraft::new(actor, what, target, AuditOutcome::Refused, status)
        .detail(format!("refused: {error}"));
    audit::record_or_log(&svc.store, draft).await;
    error
}

/// The bytes of a JSON body within the size limit (zeroized when dropped: a card body holds a PAN).
async fn json_body(
    req: &HttpRequest,
    payload: web::Payload,
    svc: &Services,
) -> Result<zeroize::Zeroizing<Vec<u8>>, StaffError> {
    if !is_json_or_absent(req) {
        return Err(StaffError::InvalidContentType);
    }
    let bytes = read_limited(req, payload, svc.settings.server.max_body_bytes).await?;
    Ok(zeroize::Zeroizing::new(bytes.to_vec()))
}

/// A JSON object body (an absent or blank body is `{}` when `allow_empty`).
pub(super) async fn object_body(
    req: &HttpRequest,
    payload: web::Payload,
    svc: &Services,
    allow_empty: bool,
) -> Result<Map<String, Value>, StaffError> {
    let bytes = json_body(req, payload, svc).await?;
    if allow_empty && bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match parse_object(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(StaffError::InvalidBody(
            "the body must be a JSON object".to_owned(),
        )),
        Err(e) => Err(StaffError::InvalidBody(e.0)),
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

pub(super) fn reason_fields(
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

// The request bodies below are read field by field (so that a refusal names the field and never
// echoes its value); these types only document them, next to the code that reads them.

/// `POST /api/v1/tokentransitions` (Marqeta's shape).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TransitionBody {
    /// The token; Marqeta's `digital_wallet_token: {token}` is accepted instead.
    #[schema(max_length = 64)]
    virtual_card_id: Option<String>,
    digital_wallet_token: Option<WalletTokenBody>,
    /// ACTIVE, SUSPENDED or TERMINATED (any case is accepted).
    #[schema(pattern = "^(ACTIVE|SUSPENDED|TERMINATED)$")]
    state: String,
    /// Marqeta's two-digit reason code, 00 to 21.
    #[schema(pattern = "^(0[0-9]|1[0-9]|2[01])$")]
    reason_code: String,
    #[schema(max_length = 255)]
    reason: Option<String>,
}

/// Marqeta's `digital_wallet_token` in a request (`WalletTokenRef` is the answer's, closed).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct WalletTokenBody {
    token: String,
}

/// The optional body of `/block`, `/unblock` and `/close`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ReasonBody {
    /// Marqeta's two-digit reason code, 00 to 21 (default 15, initiated by the issuer).
    #[schema(pattern = "^(0[0-9]|1[0-9]|2[01])$")]
    reason_code: Option<String>,
    #[schema(max_length = 255)]
    reason: Option<String>,
}

/// `POST /api/v1/cards/{issuer_card_ref_id}/replace`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ReplaceBody {
    /// The new card number (absent: same number, new expiry). Never stored or echoed in clear.
    pan: Option<String>,
    /// The new expiry, MMYY.
    #[schema(pattern = "^(0[1-9]|1[0-2])[0-9]{2}$")]
    exp: String,
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

fn accepted(operation: &TshOperation) -> Reply {
    Ok(HttpResponse::Accepted().json(OperationView::from(operation)))
}

/// `POST /api/v1/tokentransitions`.
#[utoipa::path(post, path = "/api/v1/tokentransitions", tag = "staff", operation_id = "createTokenTransition", security(("staffBearer" = [])), request_body = TransitionBody, responses((status = 202, description = "Sent to TSH; pending until its notification; operator role", body = OperationView), StaffRefusals, StaffBodyRefusals, TshRefusals))]
pub async fn create_transition(
    staff: Caller,
    req: HttpRequest,
    payload: web::Payload,
    svc: web::Data<Services>,
) -> Reply {
    const WHAT: &str = "tokentransition.create";
    let actor = &staff.require_operator(&svc, WHAT, "token:?").await?;
    let body = match object_body(&req, payload, &svc, false).await {
        Ok(body) => body,
        Err(e) => return Err(refused(&svc, actor, WHAT, "token:?".to_owned(), e).await),
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
            let error = StaffError::InvalidBody(message);
            return Err(refused(&svc, actor, WHAT, target, error).await);
        }
    };
    let op = staff_actions::transition_token(&svc, actor, request, staff_action_status).await?;
    accepted(&op)
}

/// `POST /api/v1/cards/{ref}/block` (`block`) or `/unblock`.
async fn block_or_unblock(
    staff: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    svc: web::Data<Services>,
    block: bool,
) -> Reply {
    let what = if block { "card.block" } else { "card.unblock" };
    let reference = path.into_inner();
    let target = format!("card:{reference}");
    let actor = &staff.require_operator(&svc, what, &target).await?;
    let fields = match object_body(&req, payload, &svc, true).await {
        Ok(body) => reason_fields(&body, false).map_err(StaffError::InvalidBody),
        Err(e) => Err(e),
    };
    let (reason_code, reason) = match fields {
        Ok(fields) => fields,
        Err(e) => return Err(refused(&svc, actor, what, target, e).await),
    };
    // Default: 15, "initiated by issuer".
    let reason_code = reason_code.unwrap_or_else(|| "15".to_owned());
    let op = staff_actions::block_card(
        &svc,
        actor,
        &reference,
        block,
        reason_code,
        reason,
        staff_action_status,
    )
    .await?;
    accepted(&op)
}

#[utoipa::path(post, path = "/api/v1/cards/{issuer_card_ref_id}/block", tag = "staff", operation_id = "blockCard", security(("staffBearer" = [])), params(("issuer_card_ref_id" = String, Path, description = "the card reference (checkCardEligibility's issuerCardRefId)")), request_body(content = Option<ReasonBody>, description = "optional; reason_code defaults to 15"), responses((status = 202, description = "Suspension of every token sent to TSH; operator role", body = OperationView), StaffRefusals, StaffBodyRefusals, TshRefusals))]
pub async fn block_card(
    staff: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    svc: web::Data<Services>,
) -> Reply {
    block_or_unblock(staff, req, path, payload, svc, true).await
}

#[utoipa::path(post, path = "/api/v1/cards/{issuer_card_ref_id}/unblock", tag = "staff", operation_id = "unblockCard", security(("staffBearer" = [])), params(("issuer_card_ref_id" = String, Path, description = "the card reference (checkCardEligibility's issuerCardRefId)")), request_body(content = Option<ReasonBody>, description = "optional; reason_code defaults to 15"), responses((status = 202, description = "Resumption sent to TSH; operator role", body = OperationView), StaffRefusals, StaffBodyRefusals, TshRefusals))]
pub async fn unblock_card(
    staff: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    svc: web::Data<Services>,
) -> Reply {
    block_or_unblock(staff, req, path, payload, svc, false).await
}

fn parse_replace(body: &Map<String, Value>) -> Result<ReplaceRequest, String> {
    let pan = match body.get("pan") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Secret::new(s.clone())),
        Some(_) => return Err("pan must be a string of digits".to_owned()),
    };
    let exp = opt_string(body, "exp")?.ok_or("exp is required (MMYY)")?;
    Ok(ReplaceRequest { pan, exp })
}

/// `POST /api/v1/cards/{ref}/replace` {`pan`?, `exp`}.
#[utoipa::path(post, path = "/api/v1/cards/{issuer_card_ref_id}/replace", tag = "staff", operation_id = "replaceCard", security(("staffBearer" = [])), params(("issuer_card_ref_id" = String, Path, description = "the card reference (checkCardEligibility's issuerCardRefId)")), request_body = ReplaceBody, responses((status = 202, description = "updateCard sent to TSH; operator role", body = OperationView), StaffRefusals, StaffBodyRefusals, TshRefusals))]
pub async fn replace_card(
    staff: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    svc: web::Data<Services>,
) -> Reply {
    const WHAT: &str = "card.replace";
    let reference = path.into_inner();
    let target = format!("card:{reference}");
    let actor = &staff.require_operator(&svc, WHAT, &target).await?;
    let request = match object_body(&req, payload, &svc, false).await {
        // The body (a PAN) is dropped as soon as the request is read.
        Ok(body) => parse_replace(&body).map_err(StaffError::InvalidBody),
        Err(e) => Err(e),
    };
    let request = match request {
        Ok(request) => request,
        Err(e) => return Err(refused(&svc, actor, WHAT, target, e).await),
    };
    let op =
        staff_actions::replace_card(&svc, actor, &reference, request, staff_action_status).await?;
    accepted(&op)
}

/// `POST /api/v1/cards`, audited (from the answer, never from the request: it holds the PAN).
#[utoipa::path(post, path = "/api/v1/cards", tag = "staff", operation_id = "upsertCard", security(("staffBearer" = [])), request_body = CardInput, responses((status = 200, description = "Updated; operator role", body = UpsertedCard), (status = 201, description = "Created; operator role", body = UpsertedCard), StaffRefusals, StaffBodyRefusals))]
pub async fn upsert_card(
    staff: Caller,
    req: HttpRequest,
    payload: web::Payload,
    svc: web::Data<Services>,
) -> Reply {
    let actor = staff
        .require_operator(&svc, "card.upsert", "card:?")
        .await?;
    let result = upsert_card_from(&req, payload, &svc).await;
    let (outcome, status, target) = match &result {
        Ok((status, upserted)) => (
            AuditOutcome::Succeeded,
            status.as_u16(),
            format!("card:{}", upserted.card.issuer_card_ref_id),
        ),
        Err(e) if e.status_code().is_client_error() => (
            AuditOutcome::Refused,
            e.status_code().as_u16(),
            "card:?".to_owned(),
        ),
        Err(e) => (
            AuditOutcome::Failed,
            e.status_code().as_u16(),
            "card:?".to_owned(),
        ),
    };
    let draft = AuditDraft::new(&actor, "card.upsert", target, outcome, status);
    audit::record_or_log(&svc.store, draft).await;
    let (status, upserted) = result?;
    tracing::info!(issuer_card_ref_id = %upserted.card.issuer_card_ref_id, result = ?upserted.result, "card upserted by staff");
    Ok(HttpResponse::build(status).json(upserted))
}

/// Reads the card body and upserts it: 201 when the card is new, 200 otherwise.
async fn upsert_card_from(
    req: &HttpRequest,
    payload: web::Payload,
    svc: &Services,
) -> Result<(actix_web::http::StatusCode, cards::UpsertedCard), StaffError> {
    let bytes = json_body(req, payload, svc).await?;
    let input: CardInput = parse_object(&bytes)
        .and_then(|v| typed(&v))
        .map_err(|e| StaffError::InvalidBody(e.0))?;
    drop(bytes);
    let upserted = cards::upsert(&svc.store, &svc.fingerprints, &svc.settings.cards, input).await?;
    let status = if upserted.created {
        actix_web::http::StatusCode::CREATED
    } else {
        actix_web::http::StatusCode::OK
    };
    Ok((status, upserted))
}
