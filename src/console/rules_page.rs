//! The rules page: the live rules (status, the file on disk, the compiled listing), how the
//! shadow rules agree with them, a backtest of a pasted candidate file against every recorded
//! decision (before → after, never applied), and, for operators, an audited reload with a reason
//! and a confirmation step. Backtest and reload call `service::rules_admin`, as the API does.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::forms::csrf_refused;
use super::gate::Staff;
use super::layout::{
    empty, facts_table as kv, or_dash, outcome_pill, page, page_with_status, pager, when, Nav,
};
use super::pages::{store_trouble, ListQuery, PAGE_SIZE};
use super::views::{decision_href, decisions_table};
use super::{staff_or_turned, ConsoleState};
use crate::config::StaffRole;
use crate::replay::ReplayReport;
use crate::service::rules_admin::{self, BacktestError};
use crate::service::search::looks_like_card_number;
use crate::service::{staff_queries, Services};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/rules", web::get().to(rules))
        .route("/rules/backtest", web::post().to(backtest))
        .route("/rules/reload", web::post().to(reload));
}

/// Most changed decisions listed on the backtest page.
const MAX_CHANGES_SHOWN: usize = 200;

fn short(version: &str) -> &str {
    &version[..version.len().min(16)]
}

fn status_panel(svc: &Services) -> Markup {
    let status = svc.rules.status();
    html! {
        section.panel {
            h2 { "Rules in force" }
            (kv(&[
                ("Live version", html! { span.mono { (short(&status.live_version)) } }),
                ("Live rules", html! { (status.live_rules) }),
                ("Loaded", when(&status.loaded_time)),
                ("Reloads", html! { (status.reloads) }),
                ("Last reload error", or_dash(status.last_reload_error.as_deref())),
                ("Shadow version", or_dash(status.shadow_version.as_deref().map(short))),
                ("Shadow rules", or_dash(status.shadow_rules.map(|n| n.to_string()).as_deref())),
            ]))
        }
    }
}

/// The live file as it is on disk now, flagged when it differs from what is loaded.
fn live_file_panel(svc: &Services) -> Markup {
    let path = &svc.settings.rules.file;
    let text = std::fs::read_to_string(path);
    let on_disk_version = text.as_ref().ok().map(|t| {
        hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, t.as_bytes()).as_ref())
    });
    let loaded = svc.rules().version().to_owned();
    html! {
        section.panel {
            h2 { "Live rules file " span.dim.mono { (path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()) } }
            @match &text {
                Err(_) => p.error { "The live rules file cannot be read right now; the loaded rules stay in force." },
                Ok(text) => {
                    @if on_disk_version.as_deref() != Some(loaded.as_str()) {
                        p.notice { "The file on disk differs from the rules loaded. A reload would apply it (if it is valid)." }
                    }
                    pre { (text) }
                }
            }
        }
    }
}

fn shadow_panel(agreement: &staff_queries::ShadowSummary, shadow_on: bool) -> Markup {
    html! {
        section.panel #shadow {
            h2 { "Shadow agreement" }
            @if !shadow_on && agreement.evaluated == 0 {
                p.dim { "No shadow rules configured (rules.shadow_file)." }
            } @else {
                div.stats {
                    div.stat { div.n { (agreement.evaluated) } div.l { "decisions compared" } }
                    div.stat { div.n { (agreement.agreements) } div.l { "agree" } }
                    div.stat { div.n { (agreement.disagreements()) } div.l { "differ" } }
                }
                @if !agreement.by_outcome.is_empty() {
                    table { thead { tr { th { "Live → shadow" } th { "Decisions" } } }
                        tbody { @for (pair, n) in &agreement.by_outcome { tr { td { (pair) } td { (n) } } } } }
                }
                h3 { "Disagreeing decisions" }
                @if agreement.disagreeing.data.is_empty() { (empty("None.")) }
                @else { (decisions_table(&agreement.disagreeing.data)) }
                (pager("/console/rules", agreement.disagreeing.start_index, PAGE_SIZE, agreement.disagreeing.count, agreement.disagreeing.is_more))
            }
        }
    }
}

fn backtest_form(staff: &Staff, candidate: &str) -> Markup {
    html! {
        section.panel #backtest {
            h2 { "Backtest a candidate rules file" }
            p.hint { "Paste a rules file. Every recorded issuer decision is re-evaluated under it from its stored facts; nothing is applied." }
            form method="post" action="/console/rules/backtest" {
                input type="hidden" name="csrf" value=(staff.csrf);
                textarea name="candidate" rows="14" required spellcheck="false" placeholder="version = 1 …" { (candidate) }
                div.actions { button.primary type="submit" { "Run backtest" } }
            }
        }
    }
}

fn reload_form(staff: &Staff) -> Markup {
    html! {
        @if staff.is_operator() {
            section.panel #reload {
                h2 { "Reload the live rules" }
                p.hint { "Re-reads the live (and shadow) rules files; an invalid file keeps the rules in force. Audited." }
                form method="post" action="/console/rules/reload" {
                    input type="hidden" name="csrf" value=(staff.csrf);
                    div.formrow {
                        label.grow { "Reason (required)"
                            input type="text" name="reason" required maxlength="255" placeholder="Why reload now";
                        }
                    }
                    div.actions { button.primary type="submit" { "Review…" } }
                }
            }
        }
    }
}

async fn rules(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    svc: web::Data<Services>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let staff = match staff_or_turned(&req, &svc, &state, StaffRole::Viewer).await {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    let agreement = match staff_queries::shadow_summary(&svc, query.page()).await {
        Ok(agreement) => agreement,
        Err(e) => return store_trouble(e),
    };
    let shadow_on = svc.rules_pair().shadow.is_some();
    let body = html! {
        h1 { "Rules" }
        div.grid2 { (status_panel(&svc)) (reload_form(&staff)) }
        (shadow_panel(&agreement, shadow_on))
        (backtest_form(&staff, ""))
        (live_file_panel(&svc))
        section.panel { h2 { "Compiled live rules" } pre { (svc.rules().describe()) } }
    };
    page(&staff, Nav::Rules, "Rules", body)
}

#[derive(Debug, Deserialize)]
pub struct BacktestForm {
    #[serde(default)]
    candidate: String,
    #[serde(default)]
    csrf: String,
}

fn report_view(report: &ReplayReport) -> Markup {
    let levels = ["green", "yellow", "red"];
    html! {
        section.panel #report {
            h2 { "Backtest result " span.dim.mono { (short(&report.candidate_version)) } }
            div.stats {
                div.stat { div.n { (report.replayed) } div.l { "decisions replayed" } }
                div.stat { div.n { (report.unchanged) } div.l { "unchanged" } }
                div.stat { div.n { (report.changed) } div.l { "would change" } }
                div.stat { div.n { (report.skipped) } div.l { "skipped (stand-ins, no facts)" } }
            }
            table { thead { tr { th { "Outcome" } th { "Recorded" } th { "Candidate" } } }
                tbody { @for level in levels { tr {
                    td { (outcome_pill(level)) }
                    td { (report.old_counts.get(level).copied().unwrap_or(0)) }
                    td { (report.new_counts.get(level).copied().unwrap_or(0)) }
                } } } }
            h3 { "Decisions that would change" }
            @if report.changes.is_empty() { (empty("None: the candidate decides every recorded case as before.")) } @else {
                div.tablewrap { table {
                    thead { tr { th { "Decision" } th { "Before" } th { "" } th { "After" } th { "Rule before" } th { "Rule after" } th { "Time" } } }
                    tbody { @for c in report.changes.iter().take(MAX_CHANGES_SHOWN) { tr {
                        td { a.mono href=(decision_href(&c.decision_id)) { (c.decision_id) } }
                        td { (outcome_pill(c.old_level_of_trust.as_str())) }
                        td.arrow { "→" }
                        td { (outcome_pill(c.new_level_of_trust.as_str())) }
                        td.mono { (or_dash(c.old_rule.as_deref())) }
                        td.mono { (or_dash(c.new_rule.as_deref())) }
                        td { (when(&c.created_time)) }
                    } } }
                } }
                @if report.changes.len() > MAX_CHANGES_SHOWN { p.hint { "First " (MAX_CHANGES_SHOWN) " shown." } }
            }
        }
    }
}

async fn backtest(
    req: HttpRequest,
    form: web::Form<BacktestForm>,
    svc: web::Data<Services>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let staff = match staff_or_turned(&req, &svc, &state, StaffRole::Viewer).await {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    if !state.keys.csrf_ok(&staff.session, &form.csrf) {
        return csrf_refused();
    }
    let (status, result) = match rules_admin::backtest(&svc, &form.candidate).await {
        Ok(report) => (StatusCode::OK, report_view(&report)),
        Err(BacktestError::Store(e)) => return store_trouble(e),
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            html! { section.panel #report { h2 { "Backtest not run" } p.error role="alert" { (e.to_string()) } } },
        ),
    };
    // Rules files never hold card numbers; one that seems to is not echoed back.
    let echo = if looks_like_card_number(&form.candidate)
        || form.candidate.len() > rules_admin::MAX_CANDIDATE_BYTES
    {
        ""
    } else {
        &form.candidate
    };
    let body = html! {
        div.crumbs { a href="/console/rules" { "Rules" } " / Backtest" }
        h1 { "Backtest" }
        (result)
        (backtest_form(&staff, echo))
    };
    page_with_status(status, &staff, Nav::Rules, "Backtest", body)
}

#[derive(Debug, Deserialize)]
pub struct ReloadForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    csrf: String,
}

async fn reload(
    req: HttpRequest,
    form: web::Form<ReloadForm>,
    svc: web::Data<Services>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let staff = match staff_or_turned(&req, &svc, &state, StaffRole::Operator).await {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    if !state.keys.csrf_ok(&staff.session, &form.csrf) {
        return csrf_refused();
    }
    let reason = form.reason.trim();
    let problem = if reason.is_empty() {
        Some("A reason is required.")
    } else if reason.chars().count() > 255 || reason.chars().any(char::is_control) {
        Some("The reason must be one line of at most 255 characters.")
    } else if looks_like_card_number(reason) {
        Some("The reason looks like it holds a card or token number; leave numbers out.")
    } else {
        None
    };
    if let Some(message) = problem {
        return page_with_status(
            StatusCode::BAD_REQUEST,
            &staff,
            Nav::Rules,
            "Not reloaded",
            html! {
                h1 { "Not reloaded" } p.error role="alert" { (message) } p { a href="/console/rules" { "Back" } }
            },
        );
    }
    if form.confirm != "yes" {
        return page(
            &staff,
            Nav::Rules,
            "Confirm",
            html! {
                h1 { "Confirm: reload the rules" }
                section.panel.confirm {
                    p { "The live rules file (and the shadow file, if any) are read and compiled again; if valid they replace the rules in force for every new decision." }
                    p { "Reason: " em { (reason) } }
                    form method="post" action="/console/rules/reload" {
                        input type="hidden" name="csrf" value=(staff.csrf);
                        input type="hidden" name="reason" value=(reason);
                        input type="hidden" name="confirm" value="yes";
                        div.actions { button.danger type="submit" { "Confirm reload" } a href="/console/rules" { "Cancel" } }
                    }
                }
            },
        );
    }
    let outcome = rules_admin::reload(svc.clone().into_inner(), &staff.actor, Some(reason)).await;
    let (status, message) = match &outcome {
        Ok(status) => (
            StatusCode::OK,
            html! { p.success role="status" { "Reloaded: live version " span.mono { (short(&status.live_version)) } " (" (status.live_rules) " rules)." } },
        ),
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            html! { p.error role="alert" { "Not reloaded; the rules in force stay: " (e.to_string()) } },
        ),
    };
    page_with_status(
        status,
        &staff,
        Nav::Rules,
        "Reload",
        html! {
            h1 { "Reload" } (message) p { a href="/console/rules" { "Back to the rules" } }
        },
    )
}
