//! Staff read endpoints (service-interface.md): a card, its tokens, tokens by filter, a token and
//! its transitions, an enrolment, decisions (one, a page, the NDJSON export), a staff-initiated
//! operation, and the audit trail. Each handler takes the caller (role checked by the extractor)
//! and its parameters, calls one `service::staff_queries` function, and shapes the answer.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::error::StaffError;
use super::staff_actions::OperationView;
use super::staff_auth::{Operator, Viewer};
use super::staff_params::{filter_text, Paging};
use super::staff_views::{DecisionView, EnrollmentView, TokenView};
use crate::service::staff_queries::{self as queries, TokenFilter};
use crate::service::Services;

type Reply = Result<HttpResponse, StaffError>;

fn ok<T: serde::Serialize>(body: T) -> Reply {
    Ok(HttpResponse::Ok().json(body))
}

pub async fn get_card(_: Viewer, path: web::Path<String>, svc: web::Data<Services>) -> Reply {
    ok(queries::card(&svc, &path).await?)
}

pub async fn card_tokens(
    _: Viewer,
    Paging(page): Paging,
    path: web::Path<String>,
    svc: web::Data<Services>,
) -> Reply {
    let tokens = queries::tokens_of_card(&svc, &path, page).await?;
    ok(tokens.map(|t| TokenView::from(&t)))
}

#[derive(Debug, Deserialize)]
pub struct TokenListQuery {
    original_token_reference_id: Option<String>,
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

pub async fn list_tokens(
    _: Viewer,
    Paging(page): Paging,
    query: web::Query<TokenListQuery>,
    svc: web::Data<Services>,
) -> Reply {
    let tokens = queries::tokens(&svc, query.filter(), page).await?;
    ok(tokens.map(|t| TokenView::from(&t)))
}

pub async fn get_token(_: Viewer, path: web::Path<String>, svc: web::Data<Services>) -> Reply {
    ok(TokenView::from(&queries::token(&svc, &path).await?))
}

pub async fn token_transitions(
    _: Viewer,
    Paging(page): Paging,
    path: web::Path<String>,
    svc: web::Data<Services>,
) -> Reply {
    ok(queries::transitions(&svc, &path, page).await?)
}

pub async fn get_enrollment(_: Viewer, path: web::Path<String>, svc: web::Data<Services>) -> Reply {
    let detail = queries::enrollment(&svc, &path).await?;
    ok(EnrollmentView::of(&detail.enrollment, &detail.decisions))
}

pub async fn list_decisions(_: Viewer, Paging(page): Paging, svc: web::Data<Services>) -> Reply {
    let decisions = queries::decisions(&svc, page).await?;
    ok(decisions.map(|d| DecisionView::from(&d)))
}

pub async fn get_decision(_: Viewer, path: web::Path<String>, svc: web::Data<Services>) -> Reply {
    ok(DecisionView::from(&queries::decision(&svc, &path).await?))
}

/// `GET /api/v1/decisions/export` (operator): every decision as NDJSON, oldest first — the input of
/// `tsh-issuer replay --input FILE` while the service keeps its store locked.
pub async fn export_decisions(_: Operator, svc: web::Data<Services>) -> Reply {
    let all = queries::all_decisions(&svc).await?;
    let body = crate::replay::write_export(&all).map_err(StaffError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .body(body))
}

pub async fn get_transition(_: Viewer, path: web::Path<String>, svc: web::Data<Services>) -> Reply {
    ok(OperationView::from(&queries::operation(&svc, &path).await?))
}

pub async fn list_audit(_: Viewer, Paging(page): Paging, svc: web::Data<Services>) -> Reply {
    ok(queries::audit(&svc, page).await?)
}
