//! Staff read endpoints (service-interface.md): a card, its tokens, tokens by filter, a token and
//! its transitions, an enrolment, decisions (one, a page, the NDJSON export), a staff-initiated
//! operation, and the audit trail. Each handler takes the caller (role checked by the extractor)
//! and its parameters, calls one `service::staff_queries` function, and shapes the answer.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::error::StaffError;
use super::openapi::StaffRefusals;
use super::staff_actions::OperationView;
use super::staff_auth::{Operator, Viewer};
use super::staff_params::{filter_text, PageQuery, Paging};
use super::staff_views::{DecisionView, EnrollmentView, TokenView};
use crate::domain::{AuditEntry, Transition};
use crate::service::cards::CardView;
use crate::service::staff_queries::{self as queries, TokenFilter};
use crate::service::Services;
use crate::store::Paged;

type Reply = Result<HttpResponse, StaffError>;

fn ok<T: serde::Serialize>(body: T) -> Reply {
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(get, path = "/api/v1/cards/{issuer_card_ref_id}", tag = "staff", operation_id = "getCard", security(("staffBearer" = [])), params(("issuer_card_ref_id" = String, Path, description = "the card reference (checkCardEligibility's issuerCardRefId)")), responses((status = 200, description = "The card (masked)", body = CardView), StaffRefusals))]
pub async fn get_card(_: Viewer, path: web::Path<String>, svc: web::Data<Services>) -> Reply {
    ok(queries::card(&svc, &path).await?)
}

#[utoipa::path(get, path = "/api/v1/cards/{issuer_card_ref_id}/tokens", tag = "staff", operation_id = "listCardTokens", security(("staffBearer" = [])), params(("issuer_card_ref_id" = String, Path, description = "the card reference (checkCardEligibility's issuerCardRefId)"), PageQuery), responses((status = 200, description = "The card's tokens", body = Paged<TokenView>), StaffRefusals))]
pub async fn card_tokens(
    _: Viewer,
    Paging(page): Paging,
    path: web::Path<String>,
    svc: web::Data<Services>,
) -> Reply {
    let tokens = queries::tokens_of_card(&svc, &path, page).await?;
    ok(tokens.map(|t| TokenView::from(&t)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenListQuery {
    /// COF tokens made from this original token (wins over `issuer_card_ref_id`).
    original_token_reference_id: Option<String>,
    /// The tokens of this card.
    issuer_card_ref_id: Option<String>,
}

impl TokenListQuery {
    /// The original token reference wins over the card when both are given.
    fn filter(&self) -> TokenFilter {
        match (
            filter_text(self.original_token_reference_id.as_deref()),
            filter_text(self.issuer_card_ref_id.as_deref()),
        ) {
            (Some(original), _) => TokenFilter::ByOriginalReference(original),
            (None, Some(card)) => TokenFilter::OfCard(card),
            (None, None) => TokenFilter::All,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "staff", operation_id = "listTokens", security(("staffBearer" = [])), params(PageQuery, TokenListQuery), responses((status = 200, description = "Tokens, filtered", body = Paged<TokenView>), StaffRefusals))]
pub async fn list_tokens(
    _: Viewer,
    Paging(page): Paging,
    query: web::Query<TokenListQuery>,
    svc: web::Data<Services>,
) -> Reply {
    let tokens = queries::tokens(&svc, query.filter(), page).await?;
    ok(tokens.map(|t| TokenView::from(&t)))
}

#[utoipa::path(get, path = "/api/v1/tokens/{virtual_card_id}", tag = "staff", operation_id = "getToken", security(("staffBearer" = [])), params(("virtual_card_id" = String, Path, description = "the token's virtualCardId")), responses((status = 200, description = "One token", body = TokenView), StaffRefusals))]
pub async fn get_token(_: Viewer, path: web::Path<String>, svc: web::Data<Services>) -> Reply {
    ok(TokenView::from(&queries::token(&svc, &path).await?))
}

#[utoipa::path(get, path = "/api/v1/tokens/{virtual_card_id}/transitions", tag = "staff", operation_id = "listTokenTransitions", security(("staffBearer" = [])), params(("virtual_card_id" = String, Path, description = "the token's virtualCardId"), PageQuery), responses((status = 200, description = "Its transitions, oldest first", body = Paged<Transition>), StaffRefusals))]
pub async fn token_transitions(
    _: Viewer,
    Paging(page): Paging,
    path: web::Path<String>,
    svc: web::Data<Services>,
) -> Reply {
    ok(queries::transitions(&svc, &path, page).await?)
}

#[utoipa::path(get, path = "/api/v1/enrollments/{correlation_id}", tag = "staff", operation_id = "getEnrollment", security(("staffBearer" = [])), params(("correlation_id" = String, Path, description = "the x-correlation-id of the enrolment")), responses((status = 200, description = "The enrolment session (never an OTP)", body = EnrollmentView), StaffRefusals))]
pub async fn get_enrollment(_: Viewer, path: web::Path<String>, svc: web::Data<Services>) -> Reply {
    let detail = queries::enrollment(&svc, &path).await?;
    ok(EnrollmentView::of(&detail.enrollment, &detail.decisions))
}

#[utoipa::path(get, path = "/api/v1/decisions", tag = "staff", operation_id = "listDecisions", security(("staffBearer" = [])), params(PageQuery), responses((status = 200, description = "Decisions, newest first, with their rule trace", body = Paged<DecisionView>), StaffRefusals))]
pub async fn list_decisions(_: Viewer, Paging(page): Paging, svc: web::Data<Services>) -> Reply {
    let decisions = queries::decisions(&svc, page).await?;
    ok(decisions.map(|d| DecisionView::from(&d)))
}

#[utoipa::path(get, path = "/api/v1/decisions/{decision_id}", tag = "staff", operation_id = "getDecision", security(("staffBearer" = [])), params(("decision_id" = String, Path, description = "the decision id")), responses((status = 200, description = "One decision", body = DecisionView), StaffRefusals))]
pub async fn get_decision(_: Viewer, path: web::Path<String>, svc: web::Data<Services>) -> Reply {
    ok(DecisionView::from(&queries::decision(&svc, &path).await?))
}

/// `GET /api/v1/decisions/export` (operator): every decision as NDJSON, oldest first — the input of
/// `tsh-issuer replay --input FILE` while the service keeps its store locked.
#[utoipa::path(get, path = "/api/v1/decisions/export", tag = "staff", operation_id = "exportDecisions", security(("staffBearer" = [])), responses((status = 200, description = "Every decision as NDJSON (one JSON object a line), oldest first; operator role", body = String, content_type = "application/x-ndjson"), StaffRefusals))]
pub async fn export_decisions(_: Operator, svc: web::Data<Services>) -> Reply {
    let all = queries::all_decisions(&svc).await?;
    let body = crate::replay::write_export(&all).map_err(StaffError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .body(body))
}

#[utoipa::path(get, path = "/api/v1/tokentransitions/{token}", tag = "staff", operation_id = "getTokenTransition", security(("staffBearer" = [])), params(("token" = String, Path, description = "the correlation id of the operation")), responses((status = 200, description = "A staff-initiated operation and its progress", body = OperationView), StaffRefusals))]
pub async fn get_transition(_: Viewer, path: web::Path<String>, svc: web::Data<Services>) -> Reply {
    ok(OperationView::from(&queries::operation(&svc, &path).await?))
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "staff", operation_id = "listAudit", security(("staffBearer" = [])), params(PageQuery), responses((status = 200, description = "The audit trail, newest first", body = Paged<AuditEntry>), StaffRefusals))]
pub async fn list_audit(_: Viewer, Paging(page): Paging, svc: web::Data<Services>) -> Reply {
    ok(queries::audit(&svc, page).await?)
}
