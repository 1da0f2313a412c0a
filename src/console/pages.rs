//! The record pages: a card with its tokens, a token (state, history, device and requestor,
//! lineage both ways, decisions), a decision (outcome, every rule with why, facts, shadow and
//! stand-in review), an enrolment (eligibility → decisions → OTP sends → notifications).
//! Reads go through `crate::service::staff_queries`, shared with the staff API.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::actions::{operation_notice, token_actions};
use super::card_actions::card_actions;
use super::gate::Staff;
use super::layout::{
    empty, facts_table as kv, message_page, or_dash, outcome_pill, page, pager, state_badge, when,
    Nav,
};
use super::views::{
    card_href, card_link, decided_by, decisions_table, enrollment_link, facts_table, mask_contact,
    requestor, token_href, token_link, token_number, tokens_table, trace_table,
};
use super::{staff_or_turned, ConsoleState};
use crate::config::StaffRole;
use crate::domain::{DecisionRecord, Enrollment, TokenRecord, Transition};
use crate::service::staff_actions::marqeta_state;
use crate::service::staff_queries::{self, QueryError, TokenDetail};
use crate::service::{cards, Services};
use crate::store::Page;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/cards/{id}", web::get().to(card))
        .route("/tokens/{id}", web::get().to(token))
        .route("/decisions/{id}", web::get().to(decision))
        .route("/enrollments/{id}", web::get().to(enrollment));
}

/// Rows per list page.
pub const PAGE_SIZE: usize = 25;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub start: Option<usize>,
    /// A staff operation just requested from this page (its correlation id).
    pub op: Option<String>,
}

impl ListQuery {
    pub fn page(&self) -> Page {
        Page::new(self.start.unwrap_or(0).min(1_000_000), PAGE_SIZE)
    }
}

pub fn store_trouble(e: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "console read failed");
    message_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The store did not answer. Try again in a moment.",
    )
}

/// A staff read that failed: the thing is missing (404 page) or the store did not answer.
pub(super) fn query_trouble(staff: &Staff, e: QueryError) -> HttpResponse {
    match e {
        QueryError::NotFound(what) => missing(staff, what),
        QueryError::Store(e) => store_trouble(e),
    }
}

fn missing(staff: &Staff, what: &str) -> HttpResponse {
    super::layout::page_with_status(
        StatusCode::NOT_FOUND,
        staff,
        Nav::None,
        "Not found",
        html! { h1 { "Not found" } p { "No " (what) " has that identifier." } p { a href="/console/" { "Back to search" } } },
    )
}

macro_rules! viewer {
    ($req:expr, $svc:expr, $state:expr) => {
        match staff_or_turned(&$req, &$svc, &$state, StaffRole::Viewer).await {
            Ok(staff) => staff,
            Err(response) => return response,
        }
    };
}

async fn card(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
    svc: web::Data<Services>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let staff = viewer!(req, svc, state);
    let reference = path.into_inner();
    let page_req = query.page();
    let (card, tokens) = match staff_queries::card_with_tokens(&svc, &reference, page_req).await {
        Ok(found) => found,
        Err(e) => return query_trouble(&staff, e),
    };
    let notice = operation_notice(&svc, query.op.as_deref()).await;
    let product = cards::effective_product(&card, &svc.settings.cards);
    let rows: Vec<(&TokenRecord, Option<&str>)> = tokens.data.iter().map(|t| (t, None)).collect();
    let body = html! {
        div.crumbs { a href="/console/" { "Search" } " / Card" }
        div.pagehead { h1 { "Card " span.mono { (card.pan_masked) } } (state_badge(card.status.as_str())) }
        (notice)
        div.grid2 {
            section.panel {
                h2 { "Card" }
                (kv(&[
                    ("Card reference", html! { span.mono { (card.issuer_card_ref_id) } }),
                    ("Card number", html! { span.mono { (card.pan_masked) } }),
                    ("Expiry (MMYY)", html! { (card.exp.mmyy()) }),
                    ("Status", state_badge(card.status.as_str())),
                    ("Product", or_dash(product)),
                    ("Cardholder", or_dash(card.cardholder_name.as_deref())),
                    ("Phone", or_dash(card.phone.as_deref().map(mask_contact).as_deref())),
                    ("E-mail", or_dash(card.email.as_deref().map(mask_contact).as_deref())),
                    ("Created", when(&card.created_time)),
                    ("Last modified", when(&card.last_modified_time)),
                ]))
            }
            (card_actions(&staff, &card))
        }
        section.panel {
            h2 { "Tokens" }
            @if rows.is_empty() { (empty("This card has no token.")) } @else { (tokens_table(&rows)) }
            (pager(&card_href(&card.issuer_card_ref_id), tokens.start_index, PAGE_SIZE, tokens.count, tokens.is_more))
        }
    };
    page(&staff, Nav::None, "Card", body)
}

async fn token(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
    svc: web::Data<Services>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let staff = viewer!(req, svc, state);
    let vcid = path.into_inner();
    let detail = match staff_queries::token_detail(&svc, &vcid, query.page()).await {
        Ok(detail) => detail,
        Err(e) => return query_trouble(&staff, e),
    };
    let notice = operation_notice(&svc, query.op.as_deref()).await;
    let t = &detail.token;
    let body = html! {
        div.crumbs { a href="/console/" { "Search" } " / " a href=(card_href(&t.issuer_card_ref_id)) { "Card" } " / Token" }
        div.pagehead { h1 { "Token " span.mono { (t.virtual_card_id) } } (state_badge(marqeta_state(t.state))) }
        (notice)
        div.grid2 {
            (token_summary(t))
            div.stack {
                (device_panel(t))
                (token_actions(&staff, t))
            }
        }
        (lineage_panel(&detail))
        (history_panel(&detail))
        section.panel {
            h2 { "Decisions" }
            @if detail.decisions.is_empty() { (empty("No decision recorded for this token's enrolment.")) }
            @else { (decisions_table(&detail.decisions)) }
        }
    };
    page(&staff, Nav::None, "Token", body)
}

fn token_summary(t: &TokenRecord) -> Markup {
    html! {
        section.panel {
            h2 { "Token" }
            (kv(&[
                ("Virtual card id", html! { span.mono { (t.virtual_card_id) } }),
                ("State", state_badge(marqeta_state(t.state))),
                ("Card", card_link(&t.issuer_card_ref_id)),
                ("Token number", html! { span.mono { (token_number(t)) } }),
                ("Token reference id", or_dash(t.token_reference_id.as_deref())),
                ("Wallet provider", or_dash(t.wallet_provider_id.as_deref())),
                ("Token requestor", requestor(t)),
                ("Capture method", or_dash(t.capture_method.as_deref())),
                ("Enrolment", enrollment_link(t.correlation_id.as_deref())),
                ("Created", when(&t.created_time)),
                ("Activated", t.activated_time.as_deref().map(when).unwrap_or_else(|| or_dash(None))),
                ("Last modified", when(&t.last_modified_time)),
                ("Last error", or_dash(t.last_error.as_ref().map(|e| format!("{} on {} ({})", e.error_code, e.action, e.created_time)).as_deref())),
            ]))
        }
    }
}

fn device_panel(t: &TokenRecord) -> Markup {
    let info = t.token_requestor.as_ref();
    html! {
        section.panel {
            h2 { "Device and requestor" }
            (kv(&[
                ("Device binding ref.", or_dash(t.device_binding_reference.as_deref())),
                ("Wallet card ref. id", or_dash(t.wallet_card_ref_id.as_deref())),
                ("Wallet virtual card", or_dash(t.wallet_virtual_card_id.as_deref())),
                ("Token storage id", or_dash(t.token_storage_id.as_deref())),
                ("Primary on device", or_dash(t.is_primary.map(|p| if p { "yes" } else { "no" }))),
                ("Requestor id", or_dash(info.and_then(|r| r.id.as_deref()))),
                ("Requestor wallet id", or_dash(info.and_then(|r| r.wallet_id.as_deref()))),
                ("Merchant id", or_dash(info.and_then(|r| r.merchant_id.as_deref()))),
            ]))
        }
    }
}

fn lineage_panel(detail: &TokenDetail) -> Markup {
    let t = &detail.token;
    let derived: Vec<(&TokenRecord, Option<&str>)> =
        detail.derived.iter().map(|d| (d, None)).collect();
    let siblings: Vec<(&TokenRecord, Option<&str>)> =
        detail.siblings.iter().map(|d| (d, None)).collect();
    html! {
        section.panel {
            h2 { "Token-for-token lineage" }
            @match &t.original_token {
                None => p.dim { "Not made from another token." },
                Some(o) => {
                    h3 { "Made from (original token)" }
                    (kv(&[
                        ("Original token", or_dash(o.token_masked.as_deref())),
                        ("Reference id", or_dash(o.token_reference_id.as_deref())),
                        ("Requestor id", or_dash(o.token_requestor_id.as_deref())),
                        ("Assurance level", or_dash(o.assurance_level.as_deref())),
                        ("Our token record", match &detail.original { Some(orig) => token_link(&orig.virtual_card_id), None => html! { span.dim { "not issued on our cards (or not yet seen)" } } }),
                    ]))
                }
            }
            h3 { "Tokens made from this one" }
            @if derived.is_empty() { (empty("None.")) } @else { (tokens_table(&derived)) }
            @if !siblings.is_empty() {
                h3 { "Other tokens from the same original" }
                (tokens_table(&siblings))
            }
        }
    }
}

fn transition_row(tr: &Transition) -> Markup {
    html! {
        tr {
            td { (when(&tr.created_time)) }
            td { @if let Some(from) = tr.from_state { (state_badge(marqeta_state(from))) span.arrow { "→" } } (state_badge(marqeta_state(tr.state))) }
            td.mono { (tr.transition_type) }
            td { (tr.action) }
            td { (tr.channel) }
            td { (or_dash(tr.source.as_deref())) }
            td { (or_dash(tr.reason_code.as_deref())) }
            td { (or_dash(tr.reason.as_deref())) }
            td.mono { (tr.correlation_id) }
        }
    }
}

fn history_panel(detail: &TokenDetail) -> Markup {
    let page = &detail.transitions;
    html! {
        section.panel #history {
            h2 { "State history" }
            @if page.data.is_empty() { (empty("No transition recorded.")) } @else {
                div.tablewrap { table.transitions {
                    thead { tr { th { "Time" } th { "State" } th { "Type" } th { "Action" } th { "Channel" } th { "Source" } th { "Reason code" } th { "Reason" } th { "Correlation id" } } }
                    tbody { @for tr in &page.data { (transition_row(tr)) } }
                } }
            }
            (pager(&token_href(&detail.token.virtual_card_id), page.start_index, PAGE_SIZE, page.count, page.is_more))
        }
    }
}

async fn decision(
    req: HttpRequest,
    path: web::Path<String>,
    svc: web::Data<Services>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let staff = viewer!(req, svc, state);
    let id = path.into_inner();
    let d = match staff_queries::decision(&svc, &id).await {
        Ok(d) => d,
        Err(e) => return query_trouble(&staff, e),
    };
    let body = html! {
        div.crumbs { a href="/console/" { "Search" } " / " a href=(super::views::enrollment_href(&d.correlation_id)) { "Enrolment" } " / Decision" }
        div.pagehead { h1 { "Decision " span.mono { (d.decision_id) } } span class={ "pill big pill-" (d.level_of_trust.as_str()) } { (d.level_of_trust.as_str()) } }
        div.grid2 {
            (decision_summary(&d))
            (shadow_panel(&d))
        }
        section.panel { h2 { "Rules evaluated" } (trace_table(&d.rules)) }
        (review_panel(&d))
        section.panel { h2 { "Facts used" } (facts_table(&d.facts)) }
    };
    page(&staff, Nav::None, "Decision", body)
}

fn decision_summary(d: &DecisionRecord) -> Markup {
    let methods = d
        .idv_methods
        .iter()
        .map(|m| format!("{} {}", m.method_type.as_str(), m.value))
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        section.panel {
            h2 { "Outcome" }
            (kv(&[
                ("Outcome", outcome_pill(d.level_of_trust.as_str())),
                ("Decided by", html! { (decided_by(d.decided_by)) }),
                ("Reason", html! { (d.reason) }),
                ("Deciding rule", html! { span.mono { (or_dash(d.decided_by_rule.as_deref())) } }),
                ("Rules version", html! { span.mono { (or_dash(d.rules_version.as_deref().map(|v| &v[..v.len().min(16)]))) } }),
                ("Network decision", or_dash(d.network_decision.as_deref())),
                ("Step-up methods", or_dash(Some(methods.as_str()))),
                ("Capture method", or_dash(d.capture_method.as_deref())),
                ("Token-for-token", html! { (if d.token_for_token { "yes" } else { "no" }) }),
                ("Enrolment", enrollment_link(Some(&d.correlation_id))),
                ("Card", d.issuer_card_ref_id.as_deref().map(card_link).unwrap_or_else(|| or_dash(None))),
                ("Token", d.virtual_card_id.as_deref().map(token_link).unwrap_or_else(|| or_dash(None))),
                ("Time", when(&d.created_time)),
            ]))
        }
    }
}

fn shadow_panel(d: &DecisionRecord) -> Markup {
    html! {
        section.panel {
            h2 { "Shadow rules" }
            @match &d.shadow {
                None => p.dim { "No shadow rules were in force for this decision." },
                Some(s) => {
                    (kv(&[
                        ("Shadow outcome", outcome_pill(s.level_of_trust.as_str())),
                        ("Agrees with live", html! { @if s.agrees { span.badge.badge-ok { "yes" } } @else { span.badge.badge-bad { "no" } } }),
                        ("Reason", html! { (s.reason) }),
                        ("Deciding rule", or_dash(s.decided_by_rule.as_deref())),
                        ("Shadow version", html! { span.mono { (&s.rules_version[..s.rules_version.len().min(16)]) } }),
                    ]))
                    h3 { "Shadow trace" }
                    (trace_table(&s.rules))
                }
            }
        }
    }
}

fn review_panel(d: &DecisionRecord) -> Markup {
    html! {
        @if let Some(review) = &d.review {
            section.panel {
                h2 { "Stand-in review: what our rules say" }
                (kv(&[
                    ("Our outcome", outcome_pill(review.our_level_of_trust.as_str())),
                    ("Mismatch", html! { @if review.mismatch { span.badge.badge-bad { "network approved, we would refuse" } } @else { span.dim { "no" } } }),
                    ("Reason", html! { (review.reason) }),
                    ("Deciding rule", or_dash(review.decided_by_rule.as_deref())),
                    ("Facts from", html! { (review.facts_source) }),
                ]))
                (trace_table(&review.rules))
            }
        }
    }
}

async fn enrollment(
    req: HttpRequest,
    path: web::Path<String>,
    svc: web::Data<Services>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let staff = viewer!(req, svc, state);
    let cid = path.into_inner();
    let detail = match staff_queries::enrollment(&svc, &cid).await {
        Ok(found) => found,
        Err(e) => return query_trouble(&staff, e),
    };
    let body = html! {
        div.crumbs { a href="/console/" { "Search" } " / Enrolment" }
        div.pagehead { h1 { "Enrolment " span.mono { (detail.enrollment.correlation_id) } } }
        section.panel { h2 { "Session" } (enrollment_summary(&detail.enrollment)) }
        section.panel { h2 { "Timeline" } (enrollment_timeline(&detail.enrollment, &detail.decisions)) }
    };
    page(&staff, Nav::None, "Enrolment", body)
}

fn enrollment_summary(e: &Enrollment) -> Markup {
    let requestor = e
        .token_requestor
        .as_ref()
        .and_then(|r| r.name.clone().or(r.id.clone()));
    html! {
        (kv(&[
            ("Correlation id", html! { span.mono { (e.correlation_id) } }),
            ("Card", e.issuer_card_ref_id.as_deref().map(card_link).unwrap_or_else(|| or_dash(None))),
            ("Capture method", or_dash(e.capture_method.as_deref())),
            ("Token-for-token", html! { (if e.token_for_token { "yes" } else { "no" }) }),
            ("Wallet provider", or_dash(e.wallet_provider_id.as_deref())),
            ("Token requestor", or_dash(requestor.as_deref())),
            ("Tokens", html! { @if e.virtual_card_ids.is_empty() { span.dim { "none yet" } } @for v in &e.virtual_card_ids { (token_link(v)) " " } }),
            ("Started", when(&e.created_time)),
        ]))
    }
}

fn enrollment_timeline(e: &Enrollment, decisions: &[DecisionRecord]) -> Markup {
    html! {
        ol.timeline {
            li {
                div.step { "Eligibility" }
                @match &e.eligibility {
                    None => p.dim { "No eligibility check recorded." },
                    Some(el) => p { "Product " strong { (el.product_id) } " · capture " (or_dash(el.capture_method.as_deref())) " · " (when(&el.created_time)) },
                }
            }
            li {
                div.step { "Decisions" }
                @if decisions.is_empty() { p.dim { "None." } } @else { (decisions_table(decisions)) }
            }
            li {
                div.step { "OTP sends" }
                @if e.otp_sends.is_empty() { p.dim { "None." } } @else {
                    table { thead { tr { th { "Method" } th { "Channel" } th { "Outcome" } th { "Detail" } th { "Time" } } }
                    tbody { @for s in &e.otp_sends { tr {
                        td.mono { (or_dash(s.method_id.as_deref())) } td { (or_dash(s.channel.as_deref())) }
                        td { (s.outcome) } td { (or_dash(s.detail.as_deref())) } td { (when(&s.created_time)) }
                    } } } }
                }
            }
            li {
                div.step { "Notifications from TSH" }
                @if e.notifications.is_empty() { p.dim { "None." } } @else {
                    table { thead { tr { th { "Token" } th { "Action" } th { "Outcome" } th { "Error code" } th { "Time" } } }
                    tbody { @for n in &e.notifications { tr {
                        td { (token_link(&n.virtual_card_id)) } td { (n.action) }
                        td { (or_dash(n.outcome.as_deref())) } td { (or_dash(n.error_code.map(|c| c.to_string()).as_deref())) }
                        td { (when(&n.created_time)) }
                    } } } }
                }
            }
        }
    }
}
