//! The page shell every console page shares (header, navigation, who is signed in, sign-out) and
//! the small pieces pages are built from: UTC times with their age, state and outcome badges,
//! pagers, tables, empty states. Markup only; no data access.
//!
//! Must not: emit inline scripts or styles (the CSP forbids them) or any third-party URL.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use maud::{html, Markup, DOCTYPE};

use super::gate::Staff;

/// The console's sections, for the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Search,
    StandIns,
    Rules,
    Reconciliation,
    Audit,
    None,
}

const NAV: [(Nav, &str, &str); 5] = [
    (Nav::Search, "/console/", "Search"),
    (Nav::StandIns, "/console/standins", "Stand-in review"),
    (Nav::Rules, "/console/rules", "Rules"),
    (
        Nav::Reconciliation,
        "/console/reconciliations",
        "Reconciliation",
    ),
    (Nav::Audit, "/console/audit", "Audit trail"),
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="referrer" content="no-referrer";
            title { (title) " · tsh-issuer console" }
            link rel="stylesheet" href="/console/static/console.css";
            link rel="icon" type="image/svg+xml" href="/console/static/favicon.svg";
        }
    }
}

fn top_bar(staff: &Staff, active: Nav) -> Markup {
    html! {
        header.topbar {
            a.brand href="/console/" { span.logo { "TSH" } " Issuer console" }
            nav.mainnav {
                @for (nav, href, label) in NAV {
                    a href=(href) class=[(nav == active).then_some("active")] { (label) }
                }
            }
            div.whoami {
                span.who { (staff.actor.name) }
                span class={ "role role-" (staff.actor.role.as_str()) } { (staff.actor.role.as_str()) }
                form method="post" action="/console/logout" {
                    input type="hidden" name="csrf" value=(staff.csrf);
                    button.linkish type="submit" { "Sign out" }
                }
            }
        }
    }
}

/// A full page for a signed-in staff member.
pub fn page(staff: &Staff, active: Nav, title: &str, body: Markup) -> HttpResponse {
    page_with_status(StatusCode::OK, staff, active, title, body)
}

pub fn page_with_status(
    status: StatusCode,
    staff: &Staff,
    active: Nav,
    title: &str,
    body: Markup,
) -> HttpResponse {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                (top_bar(staff, active))
                main.content { (body) }
                footer.foot { "All times UTC · card and token numbers are never shown in full" }
            }
        }
    };
    html_response(status, markup)
}

/// A page outside a session (sign-in, refusals).
pub fn bare_page(status: StatusCode, title: &str, body: Markup) -> HttpResponse {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                main.narrow {
                    div.brandline { span.logo { "TSH" } " Issuer console" }
                    (body)
                }
            }
        }
    };
    html_response(status, markup)
}

/// A short page with a heading and one sentence (403, 404, 429, 503...).
pub fn message_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    bare_page(
        status,
        title,
        html! {
            section.panel {
                h1 { (title) }
                p { (message) }
                p { a href="/console/" { "Back to the console" } }
            }
        },
    )
}

pub fn html_response(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

/// `2026-11-30 21:52:27 UTC` with its age (`3 min ago`); unparseable text is shown as is.
pub fn when(rfc3339: &str) -> Markup {
    match crate::domain::time::parse_rfc3339(rfc3339) {
        None => html! { span.time { (rfc3339) } },
        Some(at) => {
            let shown = format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute(),
                at.second()
            );
            let age = relative_age(at.unix_timestamp(), super::gate::now_unix() as i64);
            html! { time.time datetime=(rfc3339) { (shown) } " " span.age { (age) } }
        }
    }
}

/// `just now`, `42 s ago`, `5 min ago`, `3 h ago`, `12 d ago` (or `in …` for the future).
pub fn relative_age(at: i64, now: i64) -> String {
    let delta = now - at;
    let (magnitude, future) = (delta.unsigned_abs(), delta < 0);
    let text = match magnitude {
        0..=4 => return "just now".to_owned(),
        5..=59 => format!("{magnitude} s"),
        60..=3599 => format!("{} min", magnitude / 60),
        3600..=86_399 => format!("{} h", magnitude / 3600),
        _ => format!("{} d", magnitude / 86_400),
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// A token state badge (`ACTIVE`, `SUSPENDED`, ...).
pub fn state_badge(state: &str) -> Markup {
    let class = match state {
        "ACTIVE" => "ok",
        "SUSPENDED" => "warn",
        "REQUESTED" => "info",
        "DELETED" | "TERMINATED" => "muted",
        _ => "bad",
    };
    html! { span class={ "badge badge-" (class) } { (state) } }
}

/// A decision outcome pill (`green`, `yellow`, `red`).
pub fn outcome_pill(level: &str) -> Markup {
    html! { span class={ "pill pill-" (level) } { (level) } }
}

/// An identifier, monospaced, linked when `href` is given.
pub fn id_link(href: Option<String>, id: &str) -> Markup {
    html! {
        @match href {
            Some(href) => a.mono href=(href) { (id) },
            None => span.mono { (id) },
        }
    }
}

/// `—` for absent values.
pub fn or_dash(value: Option<&str>) -> Markup {
    html! {
        @match value.filter(|v| !v.is_empty()) {
            Some(v) => (v),
            None => span.dim { "—" },
        }
    }
}

/// Previous / next links for a list (`start_index` based, Marqeta style).
pub fn pager(base: &str, start: usize, count: usize, shown: usize, is_more: bool) -> Markup {
    let sep = if base.contains('?') { '&' } else { '?' };
    let previous = start.saturating_sub(count);
    html! {
        nav.pager {
            @if start > 0 {
                a href={ (base) (sep) "start=" (previous) } { "← Newer" }
            } @else {
                span.dim { "← Newer" }
            }
            span.range {
                @if shown == 0 { "nothing here" } @else { (start + 1) "–" (start + shown) }
            }
            @if is_more {
                a href={ (base) (sep) "start=" (start + shown) } { "Older →" }
            } @else {
                span.dim { "Older →" }
            }
        }
    }
}

/// A definition list of label / value rows.
pub fn facts_table(rows: &[(&str, Markup)]) -> Markup {
    html! {
        dl.kv {
            @for (label, value) in rows {
                dt { (label) }
                dd { (value) }
            }
        }
    }
}

pub fn empty(text: &str) -> Markup {
    html! { p.empty { (text) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        let cases = [
            (0, "just now"),
            (30, "30 s ago"),
            (61, "1 min ago"),
            (7200, "2 h ago"),
            (3 * 86_400, "3 d ago"),
            (-120, "in 2 min"),
        ];
        for (delta, expected) in cases {
            assert_eq!(
                relative_age(1_000_000 - delta, 1_000_000),
                expected,
                "{delta}"
            );
        }
    }
}
