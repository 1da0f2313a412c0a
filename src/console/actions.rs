//! Operator actions: suspend / resume / delete a token (a card's block / unblock / close live in
//! `card_actions`, built from the pieces here). Each is a form
//! with a mandatory reason, then a confirmation page, then the very service function the staff
//! API calls (`service::staff_actions`): same checks, same TSH call, same audit entries. Viewers
//! see no action forms and get 403 if they post anyway.
//!
//! Must not: change anything on a refused CSRF token or role, or accept a reason that could hold
//! a card number (reasons end up in the audit trail and the token's history).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::forms::csrf_refused;
use super::gate::Staff;
use super::layout::{message_page, page, page_with_status, state_badge, Nav};
use super::views::token_href;
use super::{staff_or_turned, ConsoleState};
use crate::config::StaffRole;
use crate::domain::{AuditOutcome, OperationStatus, TokenRecord, TokenState};
use crate::http::error::staff_action_status;
use crate::service::audit::{self, AuditDraft};
use crate::service::search::looks_like_card_number;
use crate::service::staff_actions::{
    self, is_reason_code, marqeta_state, plan_staff_transition, ActionError, RequestedState,
    TransitionRequest,
};
use crate::service::staff_queries::{self, QueryError};
use crate::service::Services;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/tokens/{id}/action", web::post().to(token_action))
        .route(
            "/cards/{id}/action",
            web::post().to(super::card_actions::card_action),
        );
}

/// Reason codes offered (Marqeta's list, seed 002), in our own short words.
const REASON_CODES: [(&str, &str); 12] = [
    ("15", "15 · initiated by the issuer"),
    ("01", "01 · requested by the cardholder"),
    ("05", "05 · account under review"),
    ("06", "06 · suspicious activity"),
    ("07", "07 · activity outside programme rules"),
    ("08", "08 · confirmed fraud"),
    ("10", "10 · card lost or stolen"),
    ("11", "11 · card data cloned"),
    ("12", "12 · account or card compromised"),
    ("13", "13 · temporary hold"),
    ("18", "18 · information validated"),
    ("19", "19 · activity validated"),
];

const MAX_REASON: usize = 255;

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    pub(super) action: String,
    #[serde(default)]
    reason_code: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    pub(super) confirm: String,
    #[serde(default)]
    pub(super) csrf: String,
}

/// A validated action request.
pub(super) struct Checked {
    pub action: &'static str,
    pub label: &'static str,
    pub reason_code: String,
    pub reason: String,
}

pub(super) fn check_reason(form: &ActionForm) -> Result<(String, String), &'static str> {
    let code = form.reason_code.trim();
    if !is_reason_code(code) {
        return Err("Choose a reason code from the list.");
    }
    let reason = form.reason.trim();
    if reason.is_empty() {
        return Err("A reason is required.");
    }
    if reason.chars().count() > MAX_REASON {
        return Err("The reason must be at most 255 characters.");
    }
    if reason.chars().any(char::is_control) {
        return Err("The reason must be one line of text.");
    }
    if looks_like_card_number(reason) {
        return Err("The reason looks like it holds a card or token number; leave numbers out.");
    }
    Ok((code.to_owned(), reason.to_owned()))
}

/// The token actions its state allows (the service re-checks: this only hides useless buttons).
fn token_choices(state: TokenState) -> Vec<(&'static str, &'static str)> {
    [
        ("suspend", "Suspend", RequestedState::Suspended),
        ("resume", "Resume", RequestedState::Active),
        ("delete", "Delete (terminate)", RequestedState::Terminated),
    ]
    .into_iter()
    .filter(|(_, _, to)| plan_staff_transition(state, *to).is_ok())
    .map(|(a, l, _)| (a, l))
    .collect()
}

pub(super) fn reason_fields(selected_code: &str, reason: &str) -> Markup {
    html! {
        label { "Reason code"
            select name="reason_code" required {
                @for (code, label) in REASON_CODES {
                    option value=(code) selected[code == selected_code] { (label) }
                }
            }
        }
        label.grow { "Reason (required)"
            input type="text" name="reason" required maxlength="255" value=(reason)
                placeholder="Why, in a few words (no card numbers)";
        }
    }
}

/// The token's action form, for operators only.
pub fn token_actions(staff: &Staff, token: &TokenRecord) -> Markup {
    let choices = token_choices(token.state);
    html! {
        @if staff.is_operator() && !choices.is_empty() {
            section.panel #actions {
                h2 { "Actions" }
                p.hint { "Sent to TSH as updateCardState; the state changes when TSH confirms. You will be asked to confirm." }
                form method="post" action={ (token_href(&token.virtual_card_id)) "/action" } {
                    input type="hidden" name="csrf" value=(staff.csrf);
                    div.formrow {
                        label { "Action"
                            select name="action" required {
                                @for (value, label) in &choices { option value=(value) { (label) } }
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

/// The shared start of both handlers: operator role, then the CSRF token.
pub(super) async fn operator(
    req: &HttpRequest,
    svc: &Services,
    state: &ConsoleState,
    csrf: &str,
) -> Result<Staff, HttpResponse> {
    let staff = staff_or_turned(req, svc, state, StaffRole::Operator).await?;
    if !state.keys.csrf_ok(&staff.session, csrf) {
        return Err(csrf_refused());
    }
    Ok(staff)
}

pub(super) fn refused_form(staff: &Staff, back: &str, message: &str) -> HttpResponse {
    page_with_status(
        StatusCode::BAD_REQUEST,
        staff,
        Nav::None,
        "Not sent",
        html! {
            h1 { "Not sent" }
            p.error role="alert" { (message) }
            p { "Nothing was changed. " a href=(back) { "Back" } }
        },
    )
}

/// The confirmation step: everything the operator chose, resent with `confirm=yes`.
pub(super) fn confirm_page(
    staff: &Staff,
    post_to: &str,
    back: &str,
    checked: &Checked,
    what: Markup,
) -> HttpResponse {
    let body = html! {
        h1 { "Confirm: " (checked.label) }
        section.panel.confirm {
            (what)
            p { "Reason code " strong { (checked.reason_code) } " · reason: " em { (checked.reason) } }
            form method="post" action=(post_to) {
                input type="hidden" name="csrf" value=(staff.csrf);
                input type="hidden" name="action" value=(checked.action);
                input type="hidden" name="reason_code" value=(checked.reason_code);
                input type="hidden" name="reason" value=(checked.reason);
                input type="hidden" name="confirm" value="yes";
                div.actions {
                    button.danger type="submit" { "Confirm " (checked.label.to_lowercase()) }
                    a href=(back) { "Cancel" }
                }
            }
        }
    };
    page(staff, Nav::None, "Confirm", body)
}

pub(super) fn action_failed(staff: &Staff, back: &str, error: &ActionError) -> HttpResponse {
    // The staff API's status for the same failure (one mapping, `http::error`).
    let status = StatusCode::from_u16(staff_action_status(Err(error)))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    page_with_status(
        status,
        staff,
        Nav::None,
        "Not done",
        html! {
            h1 { "Not done" }
            p.error role="alert" { (error.to_string()) }
            p { a href=(back) { "Back" } }
        },
    )
}

/// Audits a console form refused before reaching the service (as the staff API audits its
/// refused bodies).
pub(super) async fn audit_refusal(
    svc: &Services,
    staff: &Staff,
    what: &'static str,
    target: String,
    message: &str,
) {
    audit::record_or_log(
        &svc.store,
        AuditDraft::new(&staff.actor, what, target, AuditOutcome::Refused, 400)
            .detail(format!("refused: {message} (console)")),
    )
    .await;
}

/// The transition a token form asks for, with its checked reason; a message when it is unusable.
fn requested_transition(form: &ActionForm) -> Result<(RequestedState, Checked), &'static str> {
    let (to, action, label) = match form.action.as_str() {
        "suspend" => (RequestedState::Suspended, "suspend", "Suspend token"),
        "resume" => (RequestedState::Active, "resume", "Resume token"),
        "delete" => (RequestedState::Terminated, "delete", "Delete token"),
        _ => return Err("Choose an action."),
    };
    let (reason_code, reason) = check_reason(form)?;
    let checked = Checked {
        action,
        label,
        reason_code,
        reason,
    };
    Ok((to, checked))
}

/// The confirmation step of a token transition: the state now → the state asked for.
async fn confirm_transition(
    svc: &Services,
    staff: &Staff,
    vcid: &str,
    to: RequestedState,
    checked: &Checked,
) -> HttpResponse {
    let back = token_href(vcid);
    let current = match staff_queries::token(svc, vcid).await {
        Ok(token) => token.state,
        Err(QueryError::NotFound(_)) => {
            return message_page(
                StatusCode::NOT_FOUND,
                "Not found",
                "No token has that identifier.",
            )
        }
        Err(e) => return super::pages::store_trouble(e),
    };
    let what = html! {
        p { "Token " span.mono { (vcid) } ": " (state_badge(marqeta_state(current))) span.arrow { "→" } (state_badge(to.as_str())) }
        p.hint { "TSH is asked through updateCardState; the token changes state when TSH's notification confirms it." }
    };
    confirm_page(staff, &format!("{back}/action"), &back, checked, what)
}

async fn token_action(
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
    let vcid = path.into_inner();
    let back = token_href(&vcid);
    let (to, checked) = match requested_transition(&form) {
        Ok(ok) => ok,
        Err(message) => {
            let target = format!("token:{vcid}");
            audit_refusal(&svc, &staff, "tokentransition.create", target, message).await;
            return refused_form(&staff, &back, message);
        }
    };
    if form.confirm != "yes" {
        return confirm_transition(&svc, &staff, &vcid, to, &checked).await;
    }
    let request = TransitionRequest {
        virtual_card_id: vcid.clone(),
        state: to,
        reason_code: checked.reason_code,
        reason: Some(checked.reason),
    };
    match staff_actions::transition_token(&svc, &staff.actor, request, staff_action_status).await {
        Ok(op) => super::signin::redirect(&format!(
            "{back}?op={}#history",
            super::search::url_encode(&op.correlation_id)
        )),
        Err(error) => action_failed(&staff, &back, &error),
    }
}

/// The banner for an operation just requested (`?op=`): pending, confirmed or failed.
pub async fn operation_notice(svc: &Services, op: Option<&str>) -> Markup {
    let Some(cid) = op.filter(|c| !c.is_empty() && c.len() <= 64) else {
        return html! {};
    };
    let Ok(operation) = staff_queries::operation(svc, cid).await else {
        return html! {};
    };
    let (class, text) = match operation.status {
        OperationStatus::Pending => (
            "notice",
            "Sent to TSH; waiting for its confirmation. Reload to see the new state.",
        ),
        OperationStatus::Confirmed => ("success", "Done: TSH confirmed the change."),
        OperationStatus::Failed => ("error", "TSH did not carry this out."),
    };
    html! {
        p class=(class) role="status" {
            strong { (operation.action) } " · " (text) " "
            span.dim { "Operation " span.mono { (operation.correlation_id) } }
            @if let Some(error) = &operation.error { " · " (error) }
        }
    }
}
