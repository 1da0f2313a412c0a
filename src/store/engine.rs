//! The contract between [`Store`](super::Store) and a storage engine (sled, PostgreSQL): one atomic
//! transaction runner, a durability barrier, a health probe, point reads and ordered scans. Scans
//! call a visitor that can stop early, so engines stream (sled iterators, SQL keyset pages) rather
//! than materialise whole tables. Nothing above the store module sees this trait.

use std::sync::Arc;

use super::counters::{MemberId, SeriesId, Span};
use super::space::SpaceReport;
use super::transfer::Record;
use super::{StoreError, Tx, TxError};
use crate::domain::{
    AuditEntry, CardRecord, DecisionRecord, Enrollment, OutboxEvent, ReconciliationReport,
    TokenRecord, TokenSync, Transition, TshOperation,
};

/// What a visitor wants after one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// A scan's callback.
pub type Visit<'a, T> = &'a mut dyn FnMut(T) -> Result<Flow, StoreError>;

/// A flush function run by the group-commit thread once per batch.
pub type Flusher = Arc<dyn Fn() -> Result<(), StoreError> + Send + Sync>;

/// Ordered id scans (decisions, audit entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    NewestFirst,
    OldestFirst,
}

/// Which tokens a scan visits; always in byte order of the virtual card id.
#[derive(Debug, Clone, Copy)]
pub enum TokenScan<'a> {
    All,
    Card(&'a str),
    OriginalReference(&'a str),
    OriginalFingerprint(&'a str),
    /// By the last four digits of the token's own number (staff search).
    Last4(&'a str),
}

/// The list-valued token indexes: own reference id, own number fingerprint, lineage parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListIndex {
    OwnReference,
    OwnFingerprint,
    Parent,
}

pub trait Engine: Send + Sync {
    /// `sled` or `postgres` (exports name their source).
    fn name(&self) -> &'static str;
    /// True when a point read is a memory access or a local page read (sled), false when it is a
    /// network round trip (PostgreSQL): decides whether `Store::lookup` may run on the caller.
    fn reads_are_local(&self) -> bool;
    /// Runs `body` as one atomic transaction, re-running it on conflicts (so it must have no side
    /// effects). Returns once the engine has applied it; [`Engine::group_flusher`] says whether a
    /// flush is still needed for durability.
    fn transact(&self, body: &dyn Fn(&dyn Tx) -> Result<(), TxError>) -> Result<(), StoreError>;
    /// The same, run by the group-commit thread: the batch's flush (`group_flusher`) makes it
    /// durable, so an engine may defer work to it (sled stages the writes until then).
    fn transact_batched(
        &self,
        body: &dyn Fn(&dyn Tx) -> Result<(), TxError>,
    ) -> Result<(), StoreError> {
        self.transact(body)
    }
    /// `Some` when commits need a separate flush to be durable (sled); `None` when a committed
    /// transaction is already durable (PostgreSQL).
    fn group_flusher(&self) -> Option<Flusher>;
    /// Makes everything committed so far durable, synchronously.
    fn flush(&self) -> Result<(), StoreError>;
    /// Cheap and non-blocking: answers from the last known state.
    fn is_healthy(&self) -> bool;

    fn card(&self, issuer_card_ref_id: &str) -> Result<Option<CardRecord>, StoreError>;
    fn card_by_pan_fingerprint(&self, fingerprint: &str) -> Result<Option<CardRecord>, StoreError>;
    fn card_count(&self) -> Result<usize, StoreError>;
    fn enrollment(&self, correlation_id: &str) -> Result<Option<Enrollment>, StoreError>;
    fn decision(&self, decision_id: &str) -> Result<Option<DecisionRecord>, StoreError>;
    fn token(&self, virtual_card_id: &str) -> Result<Option<TokenRecord>, StoreError>;
    fn tsh_operation(&self, correlation_id: &str) -> Result<Option<TshOperation>, StoreError>;
    /// The sum of every shard of every cell in `span` (see `store::counters`).
    fn counter_sum(&self, span: &Span) -> Result<i64, StoreError>;
    /// A distinct-count member's last-seen time (Unix seconds).
    fn last_seen(&self, series: &SeriesId, member: &MemberId) -> Result<Option<u64>, StoreError>;
    /// Deletes counter cells lying entirely before `before` and members last seen before it;
    /// returns how many went.
    fn prune_counters(&self, before: u64) -> Result<u64, StoreError>;
    /// Virtual card ids under `key` in a list-valued index.
    fn list_index(&self, index: ListIndex, key: &str) -> Result<Vec<String>, StoreError>;
    fn event(&self, id: &str) -> Result<Option<OutboxEvent>, StoreError>;

    fn scan_decisions(
        &self,
        order: Order,
        visit: Visit<'_, DecisionRecord>,
    ) -> Result<(), StoreError>;
    fn scan_tokens(
        &self,
        which: TokenScan<'_>,
        visit: Visit<'_, TokenRecord>,
    ) -> Result<(), StoreError>;
    /// One token's transitions, oldest first.
    fn scan_transitions(
        &self,
        virtual_card_id: &str,
        visit: Visit<'_, Transition>,
    ) -> Result<(), StoreError>;
    fn scan_audit(&self, order: Order, visit: Visit<'_, AuditEntry>) -> Result<(), StoreError>;
    /// Cards whose PAN ends with `last4`, by card reference (staff search).
    fn scan_cards_by_last4(
        &self,
        last4: &str,
        visit: Visit<'_, CardRecord>,
    ) -> Result<(), StoreError>;
    /// Unix time until which a signed-out console session stays refused, if it was revoked.
    fn session_revoked_until(&self, session_id: &str) -> Result<Option<u64>, StoreError>;
    /// Drops revocations of sessions that have expired anyway; returns how many went.
    fn prune_revoked_sessions(&self, now: u64) -> Result<usize, StoreError>;
    /// Tokens flagged by the original-death policy, by virtual card id.
    fn scan_orphans(&self, visit: Visit<'_, TokenRecord>) -> Result<(), StoreError>;
    /// How many records an export would write (indexes and metadata not counted).
    fn record_count(&self) -> Result<u64, StoreError>;
    /// Visits every record, table by table in `transfer::TABLES` order.
    fn export_records(&self, visit: Visit<'_, Record>) -> Result<(), StoreError>;
    /// Runs `body` once to load records into a store no service is using (offline fills): same
    /// records and indexes as [`Engine::transact`], possibly not atomic across tables (sled
    /// applies one batch per tree). The default is one transaction.
    fn bulk_load(&self, body: &dyn Fn(&dyn Tx) -> Result<(), TxError>) -> Result<(), StoreError> {
        self.transact(body)
    }
    /// Where the store's bytes go (`store stats`); engines that cannot say refuse.
    fn space_report(&self) -> Result<SpaceReport, StoreError> {
        Err(StoreError::Config {
            key: "store.backend",
            message: format!("store stats reads a sled store, not {}", self.name()),
        })
    }
    /// Writes records as they are (indexes rebuilt, same keys replaced) in one transaction.
    fn import_records(&self, records: &[Record]) -> Result<(), StoreError>;
    /// Makes every id allocated from now on greater than `past`.
    fn advance_ids(&self, past: u64) -> Result<(), StoreError>;
    /// A token's synchronisation record with TSH.
    fn token_sync(&self, virtual_card_id: &str) -> Result<Option<TokenSync>, StoreError>;
    /// Sync records whose `check` is set, by virtual card id.
    fn scan_token_checks(&self, visit: Visit<'_, TokenSync>) -> Result<(), StoreError>;
    /// Issuer operations still pending, by correlation id.
    fn scan_pending_tsh_operations(&self, visit: Visit<'_, TshOperation>)
        -> Result<(), StoreError>;
    fn reconciliation(&self, id: &str) -> Result<Option<ReconciliationReport>, StoreError>;
    /// Reconciliation reports, newest first.
    fn scan_reconciliations(
        &self,
        visit: Visit<'_, ReconciliationReport>,
    ) -> Result<(), StoreError>;
    /// Every card, by card reference.
    fn scan_cards(&self, visit: Visit<'_, CardRecord>) -> Result<(), StoreError>;
    /// Outbox events by sequence; only pending ones with `pending_only`.
    fn scan_events(
        &self,
        order: Order,
        pending_only: bool,
        visit: Visit<'_, OutboxEvent>,
    ) -> Result<(), StoreError>;
}
