//! Reusable fragments over domain records: token and decision tables, links to the pages of
//! cards, tokens, decisions and enrolments, rule traces and facts. Only masked numbers appear
//! (`pan_masked`, `token_masked`, last four digits); contact details are masked here too.

use maud::{html, Markup};

use super::layout::{id_link, or_dash, outcome_pill, state_badge, when};
use super::search::url_encode;
use crate::domain::{DecidedBy, DecisionRecord, TokenRecord};
use crate::rules::{Facts, TraceEntry};
use crate::service::staff_actions::marqeta_state;

pub fn card_href(reference: &str) -> String {
    format!("/console/cards/{}", url_encode(reference))
}

pub fn token_href(vcid: &str) -> String {
    format!("/console/tokens/{}", url_encode(vcid))
}

pub fn decision_href(id: &str) -> String {
    format!("/console/decisions/{}", url_encode(id))
}

pub fn enrollment_href(cid: &str) -> String {
    format!("/console/enrollments/{}", url_encode(cid))
}

pub fn card_link(reference: &str) -> Markup {
    id_link(Some(card_href(reference)), reference)
}

pub fn token_link(vcid: &str) -> Markup {
    id_link(Some(token_href(vcid)), vcid)
}

pub fn enrollment_link(cid: Option<&str>) -> Markup {
    match cid {
        Some(cid) => id_link(Some(enrollment_href(cid)), cid),
        None => or_dash(None),
    }
}

/// The token's own number, masked (or its last four), or a dash.
pub fn token_number(token: &TokenRecord) -> Markup {
    or_dash(token.token_number.as_ref().map(|n| n.token_masked.as_str()))
}

pub fn requestor(token: &TokenRecord) -> Markup {
    let info = token.token_requestor.as_ref();
    let name = info.and_then(|r| r.name.as_deref());
    let id = info.and_then(|r| r.id.as_deref());
    html! {
        @match (name, id) {
            (Some(name), Some(id)) => { (name) " " span.dim.mono { (id) } },
            (Some(name), None) => (name),
            (None, Some(id)) => span.mono { (id) },
            (None, None) => (or_dash(None)),
        }
    }
}

/// A table of tokens (with an optional "found by" column for search).
pub fn tokens_table(tokens: &[(&TokenRecord, Option<&str>)]) -> Markup {
    let with_match = tokens.iter().any(|(_, m)| m.is_some());
    html! {
        div.tablewrap { table {
            thead { tr {
                th { "Virtual card id" } th { "State" } th { "Card" } th { "Token" }
                th { "Wallet" } th { "Requestor" } th { "Created" }
                @if with_match { th { "Found by" } }
            } }
            tbody {
                @for (token, matched) in tokens {
                    tr {
                        td { (token_link(&token.virtual_card_id)) }
                        td { (state_badge(marqeta_state(token.state))) }
                        td { (card_link(&token.issuer_card_ref_id)) }
                        td.mono { (token_number(token)) }
                        td { (or_dash(token.wallet_provider_id.as_deref())) }
                        td { (requestor(token)) }
                        td { (when(&token.created_time)) }
                        @if with_match { td.dim { (matched.unwrap_or("")) } }
                    }
                }
            }
        } }
    }
}

pub fn decided_by(d: DecidedBy) -> &'static str {
    match d {
        DecidedBy::Issuer => "issuer rules",
        DecidedBy::Network => "network stand-in",
    }
}

/// A table of decisions, newest or oldest first as given.
pub fn decisions_table(decisions: &[DecisionRecord]) -> Markup {
    html! {
        div.tablewrap { table {
            thead { tr {
                th { "Decision" } th { "Outcome" } th { "Decided by" } th { "Rule" }
                th { "Shadow" } th { "Enrolment" } th { "Time" }
            } }
            tbody {
                @for d in decisions {
                    tr class=[d.review.as_ref().is_some_and(|r| r.mismatch).then_some("mismatch")] {
                        td { (id_link(Some(decision_href(&d.decision_id)), &d.decision_id)) }
                        td { (outcome_pill(d.level_of_trust.as_str())) }
                        td { (decided_by(d.decided_by)) }
                        td.mono { (or_dash(d.decided_by_rule.as_deref())) }
                        td { (shadow_cell(d)) }
                        td { (enrollment_link(Some(&d.correlation_id))) }
                        td { (when(&d.created_time)) }
                    }
                }
            }
        } }
    }
}

fn shadow_cell(d: &DecisionRecord) -> Markup {
    html! {
        @match &d.shadow {
            None => span.dim { "—" },
            Some(s) => {
                (outcome_pill(s.level_of_trust.as_str()))
                @if s.agrees { " " span.dim { "agrees" } } @else { " " span.badge.badge-bad { "differs" } }
            }
        }
    }
}

/// Every rule of a trace: matched or not, its effect and the sentence saying why.
pub fn trace_table(trace: &[TraceEntry]) -> Markup {
    html! {
        @if trace.is_empty() {
            p.empty { "No rule trace recorded." }
        } @else {
            div.tablewrap { table {
                thead { tr { th { "Rule" } th { "Stage" } th { "Matched" } th { "Effect" } th { "Why" } } }
                tbody {
                    @for t in trace {
                        tr class=[t.matched.then_some("matched")] {
                            td.mono { (t.rule_id) }
                            td { (t.stage.as_str()) }
                            td { @if t.matched { span.badge.badge-ok { "yes" } } @else { span.dim { "no" } } }
                            td { (t.effect) }
                            td { (t.explanation) }
                        }
                    }
                }
            } }
        }
    }
}

/// The facts a decision was made from (never card data: facts are derived values).
pub fn facts_table(facts: &Facts) -> Markup {
    html! {
        @if facts.is_empty() {
            p.empty { "No facts recorded (network decisions carry none of ours)." }
        } @else {
            div.tablewrap { table {
                thead { tr { th { "Fact" } th { "Value" } } }
                tbody {
                    @for (name, value) in facts.iter() {
                        tr { td.mono { (name) } td { (value.to_string()) } }
                    }
                }
            } }
        }
    }
}

/// `+44*******999` / `s***@example.com`: enough to recognise, not to contact.
pub fn mask_contact(value: &str) -> String {
    if let Some((local, domain)) = value.split_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}***@{domain}");
    }
    let chars: Vec<char> = value.chars().collect();
    let keep = 3.min(chars.len());
    let shown_head: String = chars
        .iter()
        .take(3.min(chars.len().saturating_sub(keep)))
        .collect();
    let tail: String = chars[chars.len() - keep..].iter().collect();
    format!(
        "{shown_head}{}{tail}",
        "*".repeat(
            chars
                .len()
                .saturating_sub(keep + shown_head.chars().count())
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_masked() {
        assert_eq!(mask_contact("+447700900999"), "+44*******999");
        assert_eq!(mask_contact("sim.yellow@example.com"), "s***@example.com");
        assert_eq!(mask_contact("12"), "12");
    }
}
