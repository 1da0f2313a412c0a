//! The staff API's routes (service-interface.md), registered in one place: reads
//! (`staff_reads`), actions (`staff_actions`, `staff_card_close`), the rules endpoints
//! (`staff_rules`), the event feed (`staff_events`), token lineage (`staff_lineage`), keeping tokens in step with TSH
//! (`staff_sync`) and reconciliation with TSH (`staff_reconcile`). Callers are authenticated by
//! the `staff_auth` extractors; lists take `staff_params::Paging`. Nothing else lives here, so no
//! sibling needs to import this module.

use actix_web::web;

use super::{
    staff_actions as actions, staff_card_close as close, staff_events as events,
    staff_lineage as lineage, staff_reads as reads, staff_reconcile as reconcile,
    staff_rules as rules, staff_sync as sync,
};

/// Every staff route, in the order actix tries them (a literal segment before a `{parameter}`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cards_and_tokens(cfg);
    decisions_and_rules(cfg);
    issuer_operations(cfg);
    audit_and_events(cfg);
}

fn cards_and_tokens(cfg: &mut web::ServiceConfig) {
    cfg.route("/cards", web::post().to(actions::upsert_card))
        .route(
            "/cards/{issuer_card_ref_id}",
            web::get().to(reads::get_card),
        )
        .route(
            "/cards/{issuer_card_ref_id}/tokens",
            web::get().to(reads::card_tokens),
        )
        .route("/tokens", web::get().to(reads::list_tokens))
        .route("/tokens/{virtual_card_id}", web::get().to(reads::get_token))
        .route(
            "/tokens/{virtual_card_id}/transitions",
            web::get().to(reads::token_transitions),
        )
        .route(
            "/tokens/{virtual_card_id}/lineage",
            web::get().to(lineage::token_lineage),
        )
        .route(
            "/tokens/{virtual_card_id}/sync",
            web::get().to(sync::get_token_sync),
        )
        .route("/lineage/orphans", web::get().to(lineage::list_orphans))
        .route(
            "/enrollments/{correlation_id}",
            web::get().to(reads::get_enrollment),
        );
}

fn decisions_and_rules(cfg: &mut web::ServiceConfig) {
    cfg.route("/decisions", web::get().to(reads::list_decisions))
        // Before `{decision_id}`: actix matches routes in registration order.
        .route("/decisions/export", web::get().to(reads::export_decisions))
        .route(
            "/decisions/{decision_id}",
            web::get().to(reads::get_decision),
        )
        .route("/rules", web::get().to(rules::status))
        .route("/rules/reload", web::post().to(rules::reload))
        .route("/rules/shadow", web::get().to(rules::shadow_report))
        .route("/standins", web::get().to(rules::standins));
}

/// Staff actions through TSH, their progress, and reconciliation with TSH.
fn issuer_operations(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/tokentransitions",
        web::post().to(actions::create_transition),
    )
    .route(
        "/tokentransitions",
        web::get().to(sync::list_pending_operations),
    )
    .route(
        "/tokentransitions/{token}",
        web::get().to(reads::get_transition),
    )
    .route(
        "/cards/{issuer_card_ref_id}/block",
        web::post().to(actions::block_card),
    )
    .route(
        "/cards/{issuer_card_ref_id}/unblock",
        web::post().to(actions::unblock_card),
    )
    .route(
        "/cards/{issuer_card_ref_id}/replace",
        web::post().to(actions::replace_card),
    )
    .route(
        "/cards/{issuer_card_ref_id}/close",
        web::post().to(close::close_card),
    )
    .route(
        "/reconciliations",
        web::post().to(reconcile::start_reconciliation),
    )
    .route(
        "/reconciliations",
        web::get().to(reconcile::list_reconciliations),
    )
    .route(
        "/reconciliations/{reconciliation_id}",
        web::get().to(reconcile::get_reconciliation),
    );
}

fn audit_and_events(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(reads::list_audit))
        .route("/events", web::get().to(events::list_events))
        .route("/events/{event_id}", web::get().to(events::get_event))
        .route(
            "/events/{event_id}/resend",
            web::post().to(events::resend_event),
        );
}
