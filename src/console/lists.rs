//! The list pages: the stand-in review queue (network approvals our rules would refuse first)
//! and the staff audit trail, newest first, paginated.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use super::layout::{empty, or_dash, page, pager, when, Nav};
use super::pages::{store_trouble, ListQuery, PAGE_SIZE};
use super::views::decisions_table;
use super::{staff_or_turned, ConsoleState};
use crate::config::StaffRole;
use crate::domain::AuditOutcome;
use crate::service::staff_queries;
use crate::service::Services;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/standins", web::get().to(standins))
        .route("/audit", web::get().to(audit_trail));
}

async fn standins(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    svc: web::Data<Services>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let staff = match staff_or_turned(&req, &svc, &state, StaffRole::Viewer).await {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    let queue = match staff_queries::standin_review_queue(&svc, query.page()).await {
        Ok(queue) => queue,
        Err(e) => return store_trouble(e),
    };
    let mismatches = queue
        .data
        .iter()
        .filter(|d| d.review.as_ref().is_some_and(|r| r.mismatch))
        .count();
    let body = html! {
        h1 { "Stand-in review" }
        p.lede { "Digitizations the network decided on our behalf (stand-in). Mismatches — the network approved what our rules refuse — come first, marked in red." }
        @if svc.settings.rules.standin_auto_suspend {
            p.notice { "Auto-suspend is on: mismatching tokens are suspended through TSH as they arrive." }
        }
        section.panel {
            h2 { "Queue " span.dim { "(" (mismatches) " mismatch(es) on this page)" } }
            @if queue.data.is_empty() { (empty("No stand-in decision recorded.")) }
            @else { (decisions_table(&queue.data)) }
            (pager("/console/standins", queue.start_index, PAGE_SIZE, queue.count, queue.is_more))
        }
    };
    page(&staff, Nav::StandIns, "Stand-in review", body)
}

fn outcome_class(outcome: AuditOutcome) -> &'static str {
    match outcome {
        AuditOutcome::Succeeded => "badge badge-ok",
        AuditOutcome::Pending => "badge badge-info",
        AuditOutcome::Refused => "badge badge-warn",
        AuditOutcome::Failed => "badge badge-bad",
    }
}

async fn audit_trail(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    svc: web::Data<Services>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let staff = match staff_or_turned(&req, &svc, &state, StaffRole::Viewer).await {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    let entries = match staff_queries::audit(&svc, query.page()).await {
        Ok(entries) => entries,
        Err(e) => return store_trouble(e),
    };
    let body = html! {
        h1 { "Audit trail" }
        p.lede { "Every staff action and sign-in, from the staff API and this console, newest first. Entries are never changed." }
        section.panel {
            @if entries.data.is_empty() { (empty("Nothing audited yet.")) } @else {
                div.tablewrap { table {
                    thead { tr { th { "Time" } th { "Who" } th { "Role" } th { "What" } th { "Target" } th { "Outcome" } th { "HTTP" } th { "Operation" } th { "Detail" } } }
                    tbody { @for e in &entries.data { tr {
                        td { (when(&e.created_time)) }
                        td { (e.who) }
                        td.dim { (e.role) }
                        td.mono { (e.what) }
                        td.mono { (e.target) }
                        td { span class=(outcome_class(e.outcome)) { (e.outcome.as_str()) } }
                        td { (e.http_status) }
                        td.mono { (or_dash(e.correlation_id.as_deref())) }
                        td { (or_dash(e.detail.as_deref())) }
                    } } }
                } }
            }
            (pager("/console/audit", entries.start_index, PAGE_SIZE, entries.count, entries.is_more))
        }
    };
    page(&staff, Nav::Audit, "Audit trail", body)
}
