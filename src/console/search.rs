//! The home page: one search box over card references, last four digits, virtual card ids,
//! token reference ids and correlation ids. The box posts (with its CSRF token) and is redirected
//! to a bookmarkable GET, so a card number typed by mistake never reaches a URL; such input is
//! refused without being echoed.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::gate::Staff;
use super::layout::{empty, or_dash, page, state_badge, when, Nav};
use super::views::{card_link, decisions_table, enrollment_link, tokens_table};
use super::{staff_or_turned, ConsoleState};
use crate::config::StaffRole;
use crate::service::search::{check_query, search, SearchRefusal, SearchResults, TokenMatch};
use crate::service::{staff_queries, Services};
use crate::store::Page;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/search", web::get().to(home))
        .route("/search", web::post().to(submit));
}

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    csrf: String,
}

pub fn search_box(staff: &Staff, value: &str) -> Markup {
    html! {
        form.searchbox method="post" action="/console/search" role="search" {
            input type="hidden" name="csrf" value=(staff.csrf);
            input type="search" name="q" value=(value) maxlength="128" autofocus
                placeholder="Card reference, last 4 digits, virtual card id, token reference id or correlation id"
                aria-label="Search";
            button.primary type="submit" { "Search" }
        }
    }
}

/// `GET /console/` and `GET /console/search?q=`.
pub async fn home(
    req: HttpRequest,
    query: web::Query<SearchQuery>,
    svc: web::Data<Services>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let staff = match staff_or_turned(&req, &svc, &state, StaffRole::Viewer).await {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    let raw = query.q.as_deref().unwrap_or("");
    let shown = check_query(raw).unwrap_or("");
    let results = if raw.trim().is_empty() {
        None
    } else {
        match search(&svc.store, raw).await {
            Ok(outcome) => Some(outcome),
            Err(e) => {
                tracing::error!(error = %e, "console search failed");
                return super::layout::message_page(
                    actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                    "Search unavailable",
                    "The store did not answer. Try again in a moment.",
                );
            }
        }
    };
    let recent = if results.is_none() {
        staff_queries::decisions(&svc, Page::new(0, 8)).await.ok()
    } else {
        None
    };
    let body = html! {
        h1 { "Search" }
        (search_box(&staff, shown))
        p.hint { "Exact identifiers. Card and token numbers are never accepted: use the last four digits." }
        @match &results {
            Some(Err(refusal)) => p.error role="alert" { (refusal_text(*refusal)) },
            Some(Ok(found)) => (results_view(found)),
            None => {},
        }
        @if let Some(recent) = &recent {
            section.panel {
                h2 { "Latest decisions" }
                @if recent.data.is_empty() { (empty("No decision recorded yet.")) }
                @else { (decisions_table(&recent.data)) }
            }
        }
    };
    page(&staff, Nav::Search, "Search", body)
}

fn refusal_text(refusal: SearchRefusal) -> &'static str {
    match refusal {
        SearchRefusal::Empty => "Type an identifier to search for.",
        SearchRefusal::TooLong => "That text is too long to be an identifier (128 characters at most).",
        SearchRefusal::CardNumber => {
            "That looks like a card or token number. The console never takes one: search by the last four digits instead."
        }
    }
}

fn match_label(m: TokenMatch) -> &'static str {
    match m {
        TokenMatch::VirtualCardId => "virtual card id",
        TokenMatch::Last4 => "last four digits",
        TokenMatch::TokenReference => "token reference id",
        TokenMatch::OriginalTokenReference => "original token reference id",
    }
}

fn results_view(found: &SearchResults) -> Markup {
    let tokens: Vec<_> = found
        .tokens
        .iter()
        .map(|(t, m)| (t, Some(match_label(*m))))
        .collect();
    html! {
        @if found.is_empty() {
            section.panel { p.empty { "Nothing matches that text exactly." } }
        }
        @if !found.cards.is_empty() {
            section.panel {
                h2 { "Cards" }
                div.tablewrap { table {
                    thead { tr { th { "Card reference" } th { "Card" } th { "Status" } th { "Product" } th { "Expiry" } } }
                    tbody { @for card in &found.cards { tr {
                        td { (card_link(&card.issuer_card_ref_id)) }
                        td.mono { (card.pan_masked) }
                        td { (state_badge(card.status.as_str())) }
                        td { (or_dash(card.product_id.as_deref())) }
                        td { (card.exp.mmyy()) }
                    } } }
                } }
            }
        }
        @if !tokens.is_empty() {
            section.panel { h2 { "Tokens" } (tokens_table(&tokens)) }
        }
        @if let Some(e) = &found.enrollment {
            section.panel {
                h2 { "Enrolment" }
                p { (enrollment_link(Some(&e.correlation_id))) " · started " (when(&e.created_time)) }
            }
        }
        @if let Some(d) = &found.decision {
            section.panel { h2 { "Decision" } (decisions_table(std::slice::from_ref(d))) }
        }
    }
}

/// `POST /console/search`: checks the text, then redirects to the GET form of the search.
pub async fn submit(
    req: HttpRequest,
    form: web::Form<SearchForm>,
    svc: web::Data<Services>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let staff = match staff_or_turned(&req, &svc, &state, StaffRole::Viewer).await {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    if !state.keys.csrf_ok(&staff.session, &form.csrf) {
        return super::forms::csrf_refused();
    }
    match check_query(&form.q) {
        Ok(q) => super::signin::redirect(&format!("/console/search?q={}", url_encode(q))),
        // Refused text never reaches a URL: the refusal is shown right here.
        Err(refusal) => page(
            &staff,
            Nav::Search,
            "Search",
            html! {
                h1 { "Search" }
                (search_box(&staff, ""))
                p.error role="alert" { (refusal_text(refusal)) }
            },
        ),
    }
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
