//! The transactional outbox: a [`Tx`] wrapper, used when the event feed is on, that adds one
//! outbox event for every transition and every new decision written through it — inside the same
//! transaction, so an event exists if and only if the change it reports was committed, on every
//! backend (the wrapper only calls `Tx` methods).
//!
//! Doing it here rather than in each use case means no code path that records a state change or a
//! decision can forget its event. Must not: build event content itself (that is
//! `domain::event`), or touch anything but the wrapped transaction.

use std::sync::atomic::{AtomicBool, Ordering};

use super::counters::{Cell, MemberId, SeriesId, Span};
use super::{Tx, TxError};
use crate::domain::{
    AuditEntry, CardRecord, DecisionRecord, Enrollment, OutboxEvent, ReconciliationReport,
    TokenRecord, TokenSync, Transition, TshOperation,
};

pub(super) struct EventingTx<'a> {
    inner: &'a dyn Tx,
    /// Set when this transaction added an event (the worker is woken after the commit).
    added: &'a AtomicBool,
}

impl<'a> EventingTx<'a> {
    pub(super) fn new(inner: &'a dyn Tx, added: &'a AtomicBool) -> EventingTx<'a> {
        EventingTx { inner, added }
    }

    fn add(&self, event: OutboxEvent) -> Result<(), TxError> {
        self.inner.put_event(&event)?;
        self.added.store(true, Ordering::Relaxed);
        Ok(())
    }
}

impl Tx for EventingTx<'_> {
    fn append_transition(&self, transition: &Transition) -> Result<(), TxError> {
        self.inner.append_transition(transition)?;
        let sequence = self.inner.next_id()?;
        self.add(OutboxEvent::state_changed(sequence, transition))
    }

    fn put_decision(&self, decision: &DecisionRecord) -> Result<(), TxError> {
        // A decision is reported once, when it is created; later updates are not new events.
        let is_new = self.inner.decision(&decision.decision_id)?.is_none();
        self.inner.put_decision(decision)?;
        if is_new {
            let sequence = self.inner.next_id()?;
            self.add(OutboxEvent::decision(sequence, decision))?;
        }
        Ok(())
    }

    // Everything else is passed through unchanged.

    fn card(&self, issuer_card_ref_id: &str) -> Result<Option<CardRecord>, TxError> {
        self.inner.card(issuer_card_ref_id)
    }
    fn card_ref_by_pan_fingerprint(&self, fingerprint: &str) -> Result<Option<String>, TxError> {
        self.inner.card_ref_by_pan_fingerprint(fingerprint)
    }
    fn put_card(&self, card: &CardRecord) -> Result<(), TxError> {
        self.inner.put_card(card)
    }
    fn enrollment(&self, correlation_id: &str) -> Result<Option<Enrollment>, TxError> {
        self.inner.enrollment(correlation_id)
    }
    fn put_enrollment(&self, enrollment: &Enrollment) -> Result<(), TxError> {
        self.inner.put_enrollment(enrollment)
    }
    fn next_id(&self) -> Result<u64, TxError> {
        self.inner.next_id()
    }
    fn decision(&self, decision_id: &str) -> Result<Option<DecisionRecord>, TxError> {
        self.inner.decision(decision_id)
    }
    fn token(&self, virtual_card_id: &str) -> Result<Option<TokenRecord>, TxError> {
        self.inner.token(virtual_card_id)
    }
    fn put_token(&self, token: &TokenRecord) -> Result<(), TxError> {
        self.inner.put_token(token)
    }
    fn token_ids_by_reference(&self, reference_id: &str) -> Result<Vec<String>, TxError> {
        self.inner.token_ids_by_reference(reference_id)
    }
    fn token_ids_by_number_fingerprint(&self, fingerprint: &str) -> Result<Vec<String>, TxError> {
        self.inner.token_ids_by_number_fingerprint(fingerprint)
    }
    fn token_ids_made_from(&self, virtual_card_id: &str) -> Result<Vec<String>, TxError> {
        self.inner.token_ids_made_from(virtual_card_id)
    }
    fn mark_seen(&self, fingerprint: &str, at: &str) -> Result<bool, TxError> {
        self.inner.mark_seen(fingerprint, at)
    }
    fn counter_add(&self, cell: &Cell, delta: i64) -> Result<(), TxError> {
        self.inner.counter_add(cell, delta)
    }
    fn counter_sum(&self, span: &Span) -> Result<i64, TxError> {
        self.inner.counter_sum(span)
    }
    fn last_seen_swap(
        &self,
        series: &SeriesId,
        member: &MemberId,
        at: u64,
    ) -> Result<Option<u64>, TxError> {
        self.inner.last_seen_swap(series, member, at)
    }
    fn tsh_operation(&self, correlation_id: &str) -> Result<Option<TshOperation>, TxError> {
        self.inner.tsh_operation(correlation_id)
    }
    fn put_tsh_operation(&self, operation: &TshOperation) -> Result<(), TxError> {
        self.inner.put_tsh_operation(operation)
    }
    fn append_audit(&self, entry: &AuditEntry) -> Result<(), TxError> {
        self.inner.append_audit(entry)
    }
    fn revoke_session(&self, session_id: &str, until: u64) -> Result<(), TxError> {
        self.inner.revoke_session(session_id, until)
    }
    fn put_event(&self, event: &OutboxEvent) -> Result<(), TxError> {
        self.inner.put_event(event)?;
        if event.status == crate::domain::EventStatus::Pending {
            // A re-queued event: wake the worker too.
            self.added.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
    fn event(&self, id: &str) -> Result<Option<OutboxEvent>, TxError> {
        self.inner.event(id)
    }
    fn token_sync(&self, virtual_card_id: &str) -> Result<Option<TokenSync>, TxError> {
        self.inner.token_sync(virtual_card_id)
    }
    fn put_token_sync(&self, sync: &TokenSync) -> Result<(), TxError> {
        self.inner.put_token_sync(sync)
    }
    fn put_reconciliation(&self, report: &ReconciliationReport) -> Result<(), TxError> {
        self.inner.put_reconciliation(report)
    }
}
