//! `POST /api/v1/cards/{issuer_card_ref_id}/close` {`reason_code`?, `reason`?} (operator): the
//! card is marked CLOSED and every live token of it is deleted at TSH, one `updateCardState` per
//! token (`service::card_close`). Answers 202 with one outcome per token; each sent deletion is
//! followed at `GET /api/v1/tokentransitions/{correlation_id}`. The view below is the wire shape;
//! the handler parses, authenticates and calls the service.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::error::{staff_action_status, StaffError};
use super::openapi::{StaffBodyRefusals, StaffRefusals, TshRefusals};
use super::staff_actions::{object_body, reason_fields, refused, ReasonBody};
use super::staff_auth::Caller;
use crate::service::card_close::{self, CardClosure, TokenClosure};
use crate::service::staff_actions::marqeta_state;
use crate::service::Services;

/// One token of the closed card.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenClosureView {
    virtual_card_id: String,
    /// The token's state (Marqeta's words) when the close was asked.
    state: &'static str,
    /// `sent` (deletion pending TSH's notification), `skipped_deleted` (already TERMINATED),
    /// `skipped_declined`, `conflict` (another operation on it is pending) or `failed` (TSH).
    #[schema(pattern = "^(sent|skipped_deleted|skipped_declined|conflict|failed)$")]
    outcome: &'static str,
    /// The deletion's operation (its transition token), when one was recorded.
    correlation_id: Option<String>,
    /// Why it was not sent, or why TSH did not take it.
    error: Option<String>,
}

/// The answer to a card close.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CardClosureView {
    issuer_card_ref_id: String,
    /// The card's status now: `CLOSED`.
    status: String,
    /// Its status before (`CLOSED` when it was closed already: closing again retries the tokens).
    previous_status: String,
    /// What TSH is asked for each live token: `DELETE`.
    action: &'static str,
    reason_code: String,
    reason: Option<String>,
    tokens: Vec<TokenClosureView>,
}

impl From<&TokenClosure> for TokenClosureView {
    fn from(t: &TokenClosure) -> Self {
        TokenClosureView {
            virtual_card_id: t.virtual_card_id.clone(),
            state: marqeta_state(t.state),
            outcome: t.outcome.as_str(),
            correlation_id: t.correlation_id.clone(),
            error: t.error.clone(),
        }
    }
}

impl From<&CardClosure> for CardClosureView {
    fn from(c: &CardClosure) -> Self {
        CardClosureView {
            issuer_card_ref_id: c.issuer_card_ref_id.clone(),
            status: c.status.as_str().to_owned(),
            previous_status: c.previous_status.as_str().to_owned(),
            action: "DELETE",
            reason_code: c.reason_code.clone(),
            reason: c.reason.clone(),
            tokens: c.tokens.iter().map(TokenClosureView::from).collect(),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/cards/{issuer_card_ref_id}/close", tag = "staff",
    operation_id = "closeCard", security(("staffBearer" = [])),
    params(("issuer_card_ref_id" = String, Path, description = "the card reference (checkCardEligibility's issuerCardRefId)")),
    request_body(content = Option<ReasonBody>, description = "optional; reason_code defaults to 15"),
    responses(
        (status = 202, description = "Card CLOSED; deletion of each live token sent to TSH, one outcome per token; operator role", body = CardClosureView),
        StaffRefusals, StaffBodyRefusals, TshRefusals))]
pub async fn close_card(
    staff: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    svc: web::Data<Services>,
) -> Result<HttpResponse, StaffError> {
    const WHAT: &str = "card.close";
    let reference = path.into_inner();
    let target = format!("card:{reference}");
    let actor = &staff.require_operator(&svc, WHAT, &target).await?;
    let fields = match object_body(&req, payload, &svc, true).await {
        Ok(body) => reason_fields(&body, false).map_err(StaffError::InvalidBody),
        Err(e) => Err(e),
    };
    let (reason_code, reason) = match fields {
        Ok(fields) => fields,
        Err(e) => return Err(refused(&svc, actor, WHAT, target, e).await),
    };
    // Default: 15, "initiated by issuer".
    let reason_code = reason_code.unwrap_or_else(|| "15".to_owned());
    let closure = card_close::close_card(
        &svc,
        actor,
        &reference,
        reason_code,
        reason,
        staff_action_status,
    )
    .await?;
    Ok(HttpResponse::Accepted().json(CardClosureView::from(&closure)))
}
