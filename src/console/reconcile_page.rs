//! Reconciliation with TSH in the console (issue 11): the runs, newest first, with how much drift
//! each found (`/console/reconciliations`), and one run with every difference and every card TSH
//! could not answer for (`/console/reconciliations/{id}`). Reads go through
//! `service::staff_queries`, like the staff API's `GET /api/v1/reconciliations`.
//!
//! Must not: show a token or card number: tokens appear by their `virtual_card_id` (TSH's token
//! reference), cards by their `issuerCardRefId`; a run records nothing else.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::layout::{empty, facts_table, or_dash, page, pager, state_badge, when, Nav};
use super::pages::{query_trouble, ListQuery, PAGE_SIZE};
use super::search::url_encode;
use super::views::{card_link, token_link};
use super::{staff_or_turned, ConsoleState};
use crate::config::StaffRole;
use crate::domain::reconciliation::{Drift, DriftAction};
use crate::domain::{ReconcileStatus, ReconciliationReport};
use crate::service::staff_queries;
use crate::service::Services;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/reconciliations", web::get().to(runs))
        .route("/reconciliations/{id}", web::get().to(run));
}

fn run_href(id: &str) -> String {
    format!("/console/reconciliations/{}", url_encode(id))
}

fn status_badge(status: ReconcileStatus) -> Markup {
    let class = match status {
        ReconcileStatus::Running => "badge badge-info",
        ReconcileStatus::Completed => "badge badge-ok",
        ReconcileStatus::CompletedWithFailures => "badge badge-bad",
    };
    html! { span class=(class) { (status.as_str()) } }
}

fn action_badge(action: DriftAction) -> Markup {
    let class = match action {
        DriftAction::Transitioned | DriftAction::Created => "badge badge-warn",
        DriftAction::KeptDeleted => "badge badge-muted",
        DriftAction::UnknownToTsh | DriftAction::UnreadableStatus => "badge badge-bad",
    };
    html! { span class=(class) { (action.as_str()) } }
}

/// A state as written by us or TSH, as a badge; a dash when absent.
fn maybe_state(state: Option<&str>) -> Markup {
    match state {
        Some(state) => state_badge(state),
        None => or_dash(None),
    }
}

async fn runs(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    svc: web::Data<Services>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let staff = match staff_or_turned(&req, &svc, &state, StaffRole::Viewer).await {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    let reports = match staff_queries::reconciliations(&svc, query.page()).await {
        Ok(reports) => reports,
        Err(e) => return query_trouble(&staff, e),
    };
    let body = html! {
        h1 { "Reconciliation" }
        p.lede { "Runs comparing our token states with TSH's (getCardInfo / getTokenInfo), newest first: from `tsh-issuer reconcile`, the staff API or the periodic job. TSH is the authority; a deleted token is never revived." }
        section.panel {
            @if reports.data.is_empty() { (empty("No reconciliation run yet.")) } @else {
                div.tablewrap { table {
                    thead { tr { th { "Run" } th { "Started" } th { "Scope" } th { "By" } th { "Status" } th { "Cards" } th { "Tokens" } th { "Drift" } th { "Failures" } } }
                    tbody { @for r in &reports.data { (run_row(r)) } }
                } }
            }
            (pager("/console/reconciliations", reports.start_index, PAGE_SIZE, reports.count, reports.is_more))
        }
    };
    page(&staff, Nav::Reconciliation, "Reconciliation", body)
}

fn run_row(r: &ReconciliationReport) -> Markup {
    html! {
        tr {
            td { a.mono href=(run_href(&r.reconciliation_id)) { (r.reconciliation_id) } }
            td { (when(&r.started_time)) }
            td.mono { (r.scope) }
            td { (r.requested_by) }
            td { (status_badge(r.status)) }
            td { (r.cards_checked) }
            td { (r.tokens_checked) }
            td { @if r.drift.is_empty() { "0" } @else { strong { (r.drift.len()) } } }
            td { (r.failures.len()) }
        }
    }
}

async fn run(
    req: HttpRequest,
    path: web::Path<String>,
    svc: web::Data<Services>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let staff = match staff_or_turned(&req, &svc, &state, StaffRole::Viewer).await {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    let report = match staff_queries::reconciliation(&svc, &path).await {
        Ok(report) => report,
        Err(e) => return query_trouble(&staff, e),
    };
    let title = format!("Reconciliation {}", report.reconciliation_id);
    let body = html! {
        h1 { "Reconciliation " span.mono { (report.reconciliation_id) } }
        section.panel { (run_summary(&report)) }
        section.panel #drift {
            h2 { "Drift " span.dim { "(" (report.drift.len()) ")" } }
            @if report.drift.is_empty() { (empty("Our states matched TSH's.")) }
            @else { (drift_table(&report.drift)) }
        }
        @if !report.failures.is_empty() {
            section.panel #failures {
                h2 { "Cards TSH could not answer for" }
                p.hint { "Their tokens were left unchanged." }
                ul { @for f in &report.failures { li { (card_link(&f.issuer_card_ref_id)) " · " (f.error) } } }
            }
        }
        p { a href="/console/reconciliations" { "All runs" } }
    };
    page(&staff, Nav::Reconciliation, &title, body)
}

fn run_summary(r: &ReconciliationReport) -> Markup {
    facts_table(&[
        ("Status", status_badge(r.status)),
        ("Scope", html! { span.mono { (r.scope) } }),
        ("Requested by", html! { (r.requested_by) }),
        ("Started", when(&r.started_time)),
        (
            "Finished",
            match &r.finished_time {
                Some(t) => when(t),
                None => or_dash(None),
            },
        ),
        ("Cards compared", html! { (r.cards_checked) }),
        ("Tokens compared", html! { (r.tokens_checked) }),
    ])
}

fn drift_table(drift: &[Drift]) -> Markup {
    html! {
        div.tablewrap { table {
            thead { tr { th { "Token" } th { "Card" } th { "Ours" } th { "TSH" } th { "Done" } } }
            tbody { @for d in drift { tr {
                td { (token_link(&d.virtual_card_id)) }
                td { (card_link(&d.issuer_card_ref_id)) }
                td { (maybe_state(d.ours.as_deref())) }
                td { (maybe_state(d.tsh.as_deref())) }
                td { (action_badge(d.action)) }
            } } }
        } }
    }
}
