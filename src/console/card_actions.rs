//! Operator actions on a card: block / unblock (one `updateCardState` for the card) and close (the
//! card CLOSED, every live token deleted at TSH one by one, with an outcome per token). Same steps
//! as the token actions (`actions`): form with a mandatory reason, confirmation, then the very
//! service function the staff API calls, with the same checks and audit entries.
//!
//! Must not: change anything on a refused CSRF token or role; show a card or token number.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::actions::{
    action_failed, audit_refusal, check_reason, confirm_page, operator, reason_fields,
    refused_form, ActionForm, Checked,
};
use super::gate::Staff;
use super::layout::{page, state_badge, Nav};
use super::views::{card_href, token_link};
use super::ConsoleState;
use crate::domain::CardRecord;
use crate::http::error::staff_action_status;
use crate::service::card_close::{self, CardClosure};
use crate::service::staff_actions::{self, marqeta_state};
use crate::service::Services;

/// What a card form can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CardVerb {
    Block,
    Unblock,
    Close,
}

impl CardVerb {
    fn parse(action: &str) -> Option<CardVerb> {
        match action {
            "block" => Some(CardVerb::Block),
            "unblock" => Some(CardVerb::Unblock),
            "close" => Some(CardVerb::Close),
            _ => None,
        }
    }

    /// (form value, label, audit name)
    fn words(self) -> (&'static str, &'static str, &'static str) {
        match self {
            CardVerb::Block => ("block", "Block card", "card.block"),
            CardVerb::Unblock => ("unblock", "Unblock card", "card.unblock"),
            CardVerb::Close => ("close", "Close card", "card.close"),
        }
    }

    /// What confirming will do, in a sentence.
    fn effect(self) -> &'static str {
        match self {
            CardVerb::Block => "every ACTIVE token becomes SUSPENDED (one updateCardState for the card).",
            CardVerb::Unblock => "every SUSPENDED token becomes ACTIVE again (one updateCardState for the card).",
            CardVerb::Close => "the card becomes CLOSED and every token not yet deleted is deleted at TSH, one updateCardState per token. Deletion is final.",
        }
    }
}

/// The card's block / unblock / close form, for operators only.
pub fn card_actions(staff: &Staff, card: &CardRecord) -> Markup {
    html! {
        @if staff.is_operator() {
            section.panel #actions {
                h2 { "Actions" }
                p.hint { "Block suspends every active token of the card, unblock resumes every suspended one (one updateCardState for the card). Close marks the card CLOSED and deletes each live token at TSH, with an outcome per token." }
                form method="post" action={ (card_href(&card.issuer_card_ref_id)) "/action" } {
                    input type="hidden" name="csrf" value=(staff.csrf);
                    div.formrow {
                        label { "Action"
                            select name="action" required {
                                option value="block" { "Block card" }
                                option value="unblock" { "Unblock card" }
                                option value="close" { "Close card" }
                            }
                        }
                        (reason_fields("15", ""))
                    }
                    div.actions { button.primary type="submit" { "Review…" } }
                }
            }
        }
    }
}

/// The verb and reason a card form asks for; a message when it is unusable.
fn requested(form: &ActionForm) -> Result<(CardVerb, Checked), &'static str> {
    let verb = CardVerb::parse(&form.action).ok_or("Choose an action.")?;
    let (action, label, _) = verb.words();
    let (reason_code, reason) = check_reason(form)?;
    let checked = Checked {
        action,
        label,
        reason_code,
        reason,
    };
    Ok((verb, checked))
}

pub async fn card_action(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<ActionForm>,
    svc: web::Data<Services>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let staff = match operator(&req, &svc, &state, &form.csrf).await {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    let reference = path.into_inner();
    let back = card_href(&reference);
    let (verb, checked) = match requested(&form) {
        Ok(ok) => ok,
        Err(message) => {
            let what = CardVerb::parse(&form.action).map_or("card.block", |v| v.words().2);
            audit_refusal(&svc, &staff, what, format!("card:{reference}"), message).await;
            return refused_form(&staff, &back, message);
        }
    };
    if form.confirm != "yes" {
        let what = html! {
            p { "Card " span.mono { (reference) } ": " (verb.effect()) }
            p.hint { "Tokens change when TSH's notifications confirm." }
        };
        return confirm_page(&staff, &format!("{back}/action"), &back, &checked, what);
    }
    match verb {
        CardVerb::Close => close(&svc, &staff, &reference, checked).await,
        CardVerb::Block | CardVerb::Unblock => {
            let result = staff_actions::block_card(
                &svc,
                &staff.actor,
                &reference,
                verb == CardVerb::Block,
                checked.reason_code,
                Some(checked.reason),
                staff_action_status,
            )
            .await;
            match result {
                Ok(op) => super::signin::redirect(&format!(
                    "{back}?op={}",
                    super::search::url_encode(&op.correlation_id)
                )),
                Err(error) => action_failed(&staff, &back, &error),
            }
        }
    }
}

async fn close(svc: &Services, staff: &Staff, reference: &str, checked: Checked) -> HttpResponse {
    let back = card_href(reference);
    let result = card_close::close_card(
        svc,
        &staff.actor,
        reference,
        checked.reason_code,
        Some(checked.reason),
        staff_action_status,
    )
    .await;
    match result {
        Ok(closure) => closure_page(staff, &closure),
        Err(error) => action_failed(staff, &back, &error),
    }
}

/// The outcome of a close, token by token (each sent deletion links to its token's history).
fn closure_page(staff: &Staff, closure: &CardClosure) -> HttpResponse {
    let back = card_href(&closure.issuer_card_ref_id);
    let body = html! {
        h1 { "Card closed" }
        p.success role="status" {
            "Card " span.mono { (closure.issuer_card_ref_id) } " is "
            strong { (closure.status.as_str()) } " (was " (closure.previous_status.as_str()) "). "
            "Deletions sent to TSH take effect when TSH confirms them."
        }
        section.panel {
            h2 { "Tokens" }
            div.tablewrap { table {
                thead { tr { th { "Token" } th { "State then" } th { "Outcome" } th { "Operation" } th { "Detail" } } }
                tbody { @for t in &closure.tokens { tr {
                    td { (token_link(&t.virtual_card_id)) }
                    td { (state_badge(marqeta_state(t.state))) }
                    td.mono { (t.outcome.as_str()) }
                    td.mono { (t.correlation_id.as_deref().unwrap_or("—")) }
                    td { (t.error.as_deref().unwrap_or("—")) }
                } } }
            } }
            p { a href=(back) { "Back to the card" } }
        }
    };
    page(staff, Nav::None, "Card closed", body)
}
