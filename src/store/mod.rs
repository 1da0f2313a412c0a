//! Storage boundary. Handlers and services see [`Store`] and the [`Tx`] trait only. Engines live
//! behind the private `engine::Engine` trait: sled (`sled_backend`, embedded, one process) and
//! PostgreSQL (`postgres`, shared by any number of instances). Nothing above this module knows
//! which one runs.
//!
//! Writes run as one atomic transaction off the async workers. On sled they then wait for a
//! group-committed flush that ends in `fdatasync` (see `sled_sync`); on PostgreSQL the COMMIT is
//! the durability point. Either way, when `Store::write` returns Ok the state is on stable
//! storage: that is what lets a handler answer 200 ("acknowledged means durable").

pub mod counters;
mod engine;
mod eventing;
mod events;
mod group_commit;
mod lifecycle_ops;
mod lifecycle_sync;
mod lineage_ops;
mod postgres;
mod search_ops;
mod sled_backend;
mod sled_sync;
pub mod space;
pub mod transfer;

use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use counters::{Cell, MemberId, SeriesId, Span};

use crate::config::{PostgresSettings, StoreBackend, StoreSettings};
use crate::domain::{
    AuditEntry, CardRecord, DecisionRecord, Enrollment, OutboxEvent, ReconciliationReport,
    TokenRecord, TokenSync, Transition, TshOperation,
};
use engine::{Engine, Flow, Order, TokenScan, Visit};
pub use group_commit::GroupCommit;
pub use postgres::PG_SCHEMA_VERSION;
pub use sled_backend::SledBackend;

/// Page cache of a store opened without settings (CLI tools, tests): `store.cache_mb`'s default.
pub const DEFAULT_CACHE_BYTES: u64 = crate::config::DEFAULT_STORE_CACHE_MB * 1024 * 1024;

/// The sled schema this build reads and writes; stored under `meta/schema_version`.
/// Version 2 added the lineage indexes (a version-1 store is migrated when opened).
pub const SCHEMA_VERSION: u64 = 2;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store I/O error: {0}")]
    Io(String),
    #[error("the store at {0} is in use by another process (is the service running?)")]
    Locked(String),
    #[error("stored record could not be decoded: {0}")]
    Codec(String),
    #[error("store schema version {found} is not supported by this build (expects {expected})")]
    Schema { found: u64, expected: u64 },
    #[error("transaction aborted: {0}")]
    Aborted(String),
    #[error("background task failed: {0}")]
    Join(String),
    /// The store cannot be opened as configured (the message names the key, secrets masked).
    #[error("invalid configuration: {key}: {message}")]
    Config { key: &'static str, message: String },
    /// The database is unreachable or gave up on a transaction: nothing was acknowledged.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// An error inside a transaction body: a backend conflict (propagated so the backend can retry),
/// a record that would not encode/decode, or an explicit abort that rolls everything back.
#[derive(Debug)]
pub struct TxError(TxErrorKind);

#[derive(Debug)]
enum TxErrorKind {
    Sled(sled::transaction::UnabortableTransactionError),
    /// A database error; the engine decides (by SQLSTATE) whether to retry.
    Sql(String),
    Codec(String),
    Abort(String),
}

impl TxError {
    /// Rolls the transaction back; `Store::write` returns `StoreError::Aborted(reason)`.
    pub fn abort(reason: impl Into<String>) -> TxError {
        TxError(TxErrorKind::Abort(reason.into()))
    }

    fn codec(reason: impl Into<String>) -> TxError {
        TxError(TxErrorKind::Codec(reason.into()))
    }

    /// True for an explicit abort (as opposed to a conflict, codec or database error).
    pub(crate) fn is_abort(&self) -> bool {
        matches!(self.0, TxErrorKind::Abort(_))
    }

    fn sql(e: &tokio_postgres::Error) -> TxError {
        TxError(TxErrorKind::Sql(e.to_string()))
    }
}

/// Decision and audit ids are 16 hex digits of a monotonic u64, so string order is time order.
pub fn id_number(id: &str) -> Option<u64> {
    u64::from_str_radix(id, 16).ok().filter(|_| id.len() == 16)
}

/// Typed operations available inside one atomic write. Index maintenance (tokens by card, by
/// original token, by their own reference id and number fingerprint, by lineage parent, flagged
/// orphans) is the backend's job, done in `put_token`.
pub trait Tx {
    fn card(&self, issuer_card_ref_id: &str) -> Result<Option<CardRecord>, TxError>;
    fn card_ref_by_pan_fingerprint(&self, fingerprint: &str) -> Result<Option<String>, TxError>;
    fn put_card(&self, card: &CardRecord) -> Result<(), TxError>;
    fn enrollment(&self, correlation_id: &str) -> Result<Option<Enrollment>, TxError>;
    fn put_enrollment(&self, enrollment: &Enrollment) -> Result<(), TxError>;
    /// Allocates a monotonic id (decision ids, transition sequence numbers).
    fn next_id(&self) -> Result<u64, TxError>;
    fn put_decision(&self, decision: &DecisionRecord) -> Result<(), TxError>;
    fn decision(&self, decision_id: &str) -> Result<Option<DecisionRecord>, TxError>;
    fn token(&self, virtual_card_id: &str) -> Result<Option<TokenRecord>, TxError>;
    fn put_token(&self, token: &TokenRecord) -> Result<(), TxError>;
    /// Ids of the tokens whose own reference id (`TokenRecord::token_reference_id`) is this one.
    fn token_ids_by_reference(&self, reference_id: &str) -> Result<Vec<String>, TxError>;
    /// Ids of the tokens whose own number has this keyed fingerprint (`token_number`).
    fn token_ids_by_number_fingerprint(&self, fingerprint: &str) -> Result<Vec<String>, TxError>;
    /// Ids of the tokens linked to this one as their original (`original_virtual_card_id`).
    fn token_ids_made_from(&self, virtual_card_id: &str) -> Result<Vec<String>, TxError>;
    fn append_transition(&self, transition: &Transition) -> Result<(), TxError>;
    /// Marks a message fingerprint as seen; returns true if it had been seen before.
    fn mark_seen(&self, fingerprint: &str, at: &str) -> Result<bool, TxError>;
    /// Adds `delta` to one counter cell (a missing cell counts as 0). Event counters: see
    /// [`counters`]; a SQL backend does this as `INSERT … ON CONFLICT DO UPDATE SET n = n + delta`.
    fn counter_add(&self, cell: &Cell, delta: i64) -> Result<(), TxError>;
    /// The sum of every shard of every cell in `span` (missing cells count as 0).
    fn counter_sum(&self, span: &Span) -> Result<i64, TxError>;
    /// Sets a distinct-count member's last-seen time to the later of the stored one and `at`;
    /// returns the stored one (None if the member is new or was pruned).
    fn last_seen_swap(
        &self,
        series: &SeriesId,
        member: &MemberId,
        at: u64,
    ) -> Result<Option<u64>, TxError>;
    /// An issuer-initiated operation by the correlation id sent to TSH.
    fn tsh_operation(&self, correlation_id: &str) -> Result<Option<TshOperation>, TxError>;
    fn put_tsh_operation(&self, operation: &TshOperation) -> Result<(), TxError>;
    /// Appends a staff audit entry (id from [`Tx::next_id`] as 16 hex digits); an existing id is
    /// refused: entries are never overwritten.
    fn append_audit(&self, entry: &AuditEntry) -> Result<(), TxError>;
    /// Writes an outbox event, new or updated (the backend keeps its index of pending events in
    /// step with `event.status`). Events are added for the service by the store itself (see
    /// `eventing`): use cases only ever update delivery bookkeeping through this.
    fn put_event(&self, event: &OutboxEvent) -> Result<(), TxError>;
    fn event(&self, id: &str) -> Result<Option<OutboxEvent>, TxError>;
    /// Refuses a signed-out console session until `until` (Unix seconds, its own expiry).
    fn revoke_session(&self, session_id: &str, until: u64) -> Result<(), TxError>;
    /// A token's synchronisation record with TSH (held notifications, pending operation).
    fn token_sync(&self, virtual_card_id: &str) -> Result<Option<TokenSync>, TxError>;
    /// Writes it; the backend keeps an index of the tokens whose `check` is set.
    fn put_token_sync(&self, sync: &TokenSync) -> Result<(), TxError>;
    /// Writes a reconciliation report (new or updated), keyed by its id.
    fn put_reconciliation(&self, report: &ReconciliationReport) -> Result<(), TxError>;
}

/// Pagination request: zero-based `start_index`, at most `count` items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub start_index: usize,
    pub count: usize,
}

impl Page {
    pub const MAX_COUNT: usize = 500;

    pub fn new(start_index: usize, count: usize) -> Page {
        Page {
            start_index,
            count: count.clamp(1, Self::MAX_COUNT),
        }
    }
}

/// A page of results in Marqeta's list shape.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    pub count: usize,
    pub start_index: usize,
    pub end_index: usize,
    pub is_more: bool,
    pub data: Vec<T>,
}

impl<T> Paged<T> {
    /// Builds a page from an iterator over all items (in display order).
    pub fn from_iter<I: Iterator<Item = Result<T, StoreError>>>(
        items: I,
        page: Page,
    ) -> Result<Paged<T>, StoreError> {
        let mut data = Vec::with_capacity(page.count.min(64));
        let mut is_more = false;
        for item in items.skip(page.start_index) {
            if data.len() == page.count {
                is_more = true;
                break;
            }
            data.push(item?);
        }
        let end_index = (page.start_index + data.len()).saturating_sub(1);
        Ok(Paged {
            count: data.len(),
            start_index: page.start_index,
            end_index: if data.is_empty() {
                page.start_index
            } else {
                end_index
            },
            is_more,
            data,
        })
    }

    /// Builds a page from an engine scan, stopping the scan as soon as the page is known.
    fn from_scan(
        page: Page,
        scan: impl FnOnce(Visit<'_, T>) -> Result<(), StoreError>,
    ) -> Result<Paged<T>, StoreError> {
        let mut seen = 0usize;
        let mut data = Vec::with_capacity(page.count.min(64));
        let mut is_more = false;
        scan(&mut |item| {
            seen += 1;
            if seen <= page.start_index {
                return Ok(Flow::Continue);
            }
            if data.len() == page.count {
                is_more = true;
                return Ok(Flow::Stop);
            }
            data.push(item);
            Ok(Flow::Continue)
        })?;
        let end_index = if data.is_empty() {
            page.start_index
        } else {
            page.start_index + data.len() - 1
        };
        Ok(Paged {
            count: data.len(),
            start_index: page.start_index,
            end_index,
            is_more,
            data,
        })
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            count: self.count,
            start_index: self.start_index,
            end_index: self.end_index,
            is_more: self.is_more,
            data: self.data.into_iter().map(f).collect(),
        }
    }
}

/// The store handle shared by the service (cheap to clone).
#[derive(Clone)]
pub struct Store {
    engine: Arc<dyn Engine>,
    /// Present when commits need a flush to be durable (sled).
    commit: Option<GroupCommit>,
    /// Set when the outbound event feed is on: every transaction then adds an outbox event for
    /// each transition and new decision it writes, and wakes the delivery worker once durable.
    event_feed: Option<Arc<tokio::sync::Notify>>,
}

impl Store {
    /// Opens the configured store: sled at `store.path`, or PostgreSQL at `store.url`.
    pub fn open(settings: &StoreSettings) -> Result<Store, StoreError> {
        match (settings.backend, &settings.postgres) {
            (StoreBackend::Postgres, Some(pg)) => Store::open_postgres(pg),
            (StoreBackend::Postgres, None) => Err(StoreError::Config {
                key: "store.url",
                message: "is required when store.backend is \"postgres\"".to_owned(),
            }),
            (StoreBackend::Sled, _) => {
                Store::open_sled_with_cache(&settings.path, settings.cache_bytes)
            }
        }
    }

    /// Opens (or creates) the embedded sled store at `path`.
    pub fn open_sled(path: &Path) -> Result<Store, StoreError> {
        Store::open_sled_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// Opens the sled store with a page cache of `cache_bytes` (`store.cache_mb`).
    pub fn open_sled_with_cache(path: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        Ok(Store::from_engine(Arc::new(SledBackend::open(
            path,
            cache_bytes,
        )?)))
    }

    /// Connects to PostgreSQL and migrates its schema.
    pub fn open_postgres(settings: &PostgresSettings) -> Result<Store, StoreError> {
        Ok(Store::from_engine(Arc::new(postgres::PgBackend::open(
            settings,
        )?)))
    }

    fn from_engine(engine: Arc<dyn Engine>) -> Store {
        let commit = engine.group_flusher().map(GroupCommit::start);
        Store {
            engine,
            commit,
            event_feed: None,
        }
    }

    /// This store with the outbound event feed on (see [`Store::event_signal`]).
    pub fn with_event_feed(mut self) -> Store {
        self.event_feed = Some(Arc::new(tokio::sync::Notify::new()));
        self
    }

    /// Notified after a write that added outbox events is durable; None when the feed is off.
    pub fn event_signal(&self) -> Option<Arc<tokio::sync::Notify>> {
        self.event_feed.clone()
    }

    /// Runs `body` as one atomic transaction (blocking; use [`Store::write`] from async code).
    /// The body may run more than once on conflicts, so it must have no side effects.
    pub fn transact_blocking<R, F>(&self, body: F) -> Result<R, StoreError>
    where
        F: Fn(&dyn Tx) -> Result<R, TxError>,
    {
        let (result, added_events) = self.transact_reporting_events(body)?;
        if added_events {
            self.wake_event_worker();
        }
        Ok(result)
    }

    /// Runs the transaction (through the event-adding wrapper when the feed is on) and says
    /// whether it added outbox events.
    fn transact_reporting_events<R, F>(&self, body: F) -> Result<(R, bool), StoreError>
    where
        F: Fn(&dyn Tx) -> Result<R, TxError>,
    {
        transact_reporting_events(&*self.engine, self.event_feed.is_some(), false, body)
    }

    fn wake_event_worker(&self) {
        if let Some(signal) = &self.event_feed {
            signal.notify_one();
        }
    }

    /// Runs `body` atomically off the async workers, then waits until it is durable. On sled the
    /// transaction runs on the group-commit thread, which flushes once per batch; on PostgreSQL
    /// it runs on the blocking pool and its COMMIT is the durability point.
    pub async fn write<R, F>(&self, body: F) -> Result<R, StoreError>
    where
        F: Fn(&dyn Tx) -> Result<R, TxError> + Send + 'static,
        R: Send + 'static,
    {
        crate::metrics::store_write();
        let (result, added_events) = match &self.commit {
            Some(commit) => {
                let engine = self.engine.clone();
                write_grouped(commit, engine, self.event_feed.is_some(), body).await?
            }
            None => {
                let this = self.clone();
                tokio::task::spawn_blocking(move || this.transact_reporting_events(body))
                    .await
                    .map_err(|e| StoreError::Join(e.to_string()))??
            }
        };
        // Only now: an event must never reach a receiver before the change it reports is durable.
        if added_events {
            self.wake_event_worker();
        }
        Ok(result)
    }

    /// Flushes synchronously (CLI tools, shutdown).
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        self.engine.flush()
    }

    /// Runs a read-only closure against the backend off the async workers.
    pub async fn read<R, F>(&self, body: F) -> Result<R, StoreError>
    where
        F: FnOnce(&StoreReader<'_>) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let reader = StoreReader { store: &this };
            body(&reader)
        })
        .await
        .map_err(|e| StoreError::Join(e.to_string()))?
    }

    /// A few point reads (key lookups) on a callback's hot path. On an embedded engine they run
    /// right here on the async worker: a lookup is a memory access, or one page read on a cache
    /// miss, which is cheaper than the hand-off to the blocking pool and back (two context
    /// switches, the largest cost of a notification). Where a read is a network round trip
    /// (PostgreSQL) this is [`Store::read`]. Scans and staff reads use `read`: they can be long.
    pub async fn lookup<R, F>(&self, body: F) -> Result<R, StoreError>
    where
        F: FnOnce(&StoreReader<'_>) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        if self.engine.reads_are_local() {
            body(&StoreReader { store: self })
        } else {
            self.read(body).await
        }
    }

    /// Blocking reader for CLI tools and tests.
    pub fn reader(&self) -> StoreReader<'_> {
        StoreReader { store: self }
    }

    /// Deletes event-counter cells and members older than `before` (Unix seconds); returns how
    /// many entries went. Nothing removed is inside any window (see [`counters::prune_before`]).
    pub fn prune_counters_blocking(&self, before: u64) -> Result<u64, StoreError> {
        self.engine.prune_counters(before)
    }

    /// Forgets revocations of console sessions that have expired anyway (maintenance).
    pub async fn prune_revoked_sessions(&self, now: u64) -> Result<usize, StoreError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.engine.prune_revoked_sessions(now))
            .await
            .map_err(|e| StoreError::Join(e.to_string()))?
    }

    /// Loads records offline (benchmark fills): `body` runs once with the same `Tx` methods, so
    /// the same records and index entries as the service, but sled applies it as one batch per
    /// tree — not atomic across trees, no outbox events, no durability wait. Only for a store no
    /// service is using; call [`Store::flush_blocking`] after the last load.
    pub fn bulk_load_blocking<F>(&self, body: F) -> Result<(), StoreError>
    where
        F: Fn(&dyn Tx) -> Result<(), TxError>,
    {
        self.engine.bulk_load(&body)
    }

    /// Where the store's bytes go, tree by tree (sled; walks every entry).
    pub fn space_report_blocking(&self) -> Result<space::SpaceReport, StoreError> {
        self.engine.space_report()
    }

    /// `sled` or `postgres`.
    pub fn engine_name(&self) -> &'static str {
        self.engine.name()
    }

    /// True when the store answers (never blocks: engines report their last known state).
    pub fn is_healthy(&self) -> bool {
        self.engine.is_healthy()
    }
}

/// Read-only queries (outside transactions, consistent per call).
pub struct StoreReader<'a> {
    store: &'a Store,
}

impl StoreReader<'_> {
    fn engine(&self) -> &dyn Engine {
        self.store.engine.as_ref()
    }

    pub fn card(&self, issuer_card_ref_id: &str) -> Result<Option<CardRecord>, StoreError> {
        self.engine().card(issuer_card_ref_id)
    }

    pub fn card_by_pan_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<Option<CardRecord>, StoreError> {
        self.engine().card_by_pan_fingerprint(fingerprint)
    }

    pub fn enrollment(&self, correlation_id: &str) -> Result<Option<Enrollment>, StoreError> {
        self.engine().enrollment(correlation_id)
    }

    pub fn decision(&self, decision_id: &str) -> Result<Option<DecisionRecord>, StoreError> {
        self.engine().decision(decision_id)
    }

    /// Decisions, newest first.
    pub fn decisions(&self, page: Page) -> Result<Paged<DecisionRecord>, StoreError> {
        Paged::from_scan(page, |visit| {
            self.engine().scan_decisions(Order::NewestFirst, visit)
        })
    }

    /// Decisions matching a predicate, newest first (a scan: staff reports, not the hot path).
    pub fn decisions_where(
        &self,
        page: Page,
        keep: impl Fn(&DecisionRecord) -> bool,
    ) -> Result<Paged<DecisionRecord>, StoreError> {
        Paged::from_scan(page, |visit| {
            self.engine().scan_decisions(Order::NewestFirst, &mut |d| {
                if keep(&d) {
                    visit(d)
                } else {
                    Ok(Flow::Continue)
                }
            })
        })
    }

    /// Visits every decision, newest first.
    pub fn for_each_decision(
        &self,
        mut visit: impl FnMut(&DecisionRecord),
    ) -> Result<(), StoreError> {
        self.engine().scan_decisions(Order::NewestFirst, &mut |d| {
            visit(&d);
            Ok(Flow::Continue)
        })
    }

    pub fn token(&self, virtual_card_id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.engine().token(virtual_card_id)
    }

    pub fn tokens(&self, page: Page) -> Result<Paged<TokenRecord>, StoreError> {
        Paged::from_scan(page, |visit| {
            self.engine().scan_tokens(TokenScan::All, visit)
        })
    }

    pub fn tokens_of_card(
        &self,
        issuer_card_ref_id: &str,
        page: Page,
    ) -> Result<Paged<TokenRecord>, StoreError> {
        Paged::from_scan(page, |visit| {
            self.engine()
                .scan_tokens(TokenScan::Card(issuer_card_ref_id), visit)
        })
    }

    /// Token-for-token lineage: COF tokens created from the original token with this reference id.
    pub fn tokens_by_original_reference(
        &self,
        reference_id: &str,
        page: Page,
    ) -> Result<Paged<TokenRecord>, StoreError> {
        Paged::from_scan(page, |visit| {
            self.engine()
                .scan_tokens(TokenScan::OriginalReference(reference_id), visit)
        })
    }

    /// Token-for-token lineage by the original token's fingerprint.
    pub fn tokens_by_original_fingerprint(
        &self,
        fingerprint: &str,
        page: Page,
    ) -> Result<Paged<TokenRecord>, StoreError> {
        Paged::from_scan(page, |visit| {
            self.engine()
                .scan_tokens(TokenScan::OriginalFingerprint(fingerprint), visit)
        })
    }

    /// Transitions of one token, oldest first.
    pub fn transitions(
        &self,
        virtual_card_id: &str,
        page: Page,
    ) -> Result<Paged<Transition>, StoreError> {
        Paged::from_scan(page, |visit| {
            self.engine().scan_transitions(virtual_card_id, visit)
        })
    }

    pub fn card_count(&self) -> Result<usize, StoreError> {
        self.engine().card_count()
    }

    /// The sum of every shard of every cell in `span` (see [`counters`]).
    pub fn counter_sum(&self, span: &Span) -> Result<i64, StoreError> {
        self.engine().counter_sum(span)
    }

    /// A distinct-count member's last-seen time (Unix seconds).
    pub fn last_seen(
        &self,
        series: &SeriesId,
        member: &MemberId,
    ) -> Result<Option<u64>, StoreError> {
        self.engine().last_seen(series, member)
    }

    /// Every decision, oldest first (exports and replay).
    pub fn all_decisions_oldest_first(&self) -> Result<Vec<DecisionRecord>, StoreError> {
        let mut all = Vec::new();
        self.engine().scan_decisions(Order::OldestFirst, &mut |d| {
            all.push(d);
            Ok(Flow::Continue)
        })?;
        Ok(all)
    }
}

/// Runs the transaction (through the event-adding wrapper when the feed is on) and says whether it
/// added outbox events.
fn transact_reporting_events<R, F>(
    engine: &dyn Engine,
    feed_on: bool,
    batched: bool,
    body: F,
) -> Result<(R, bool), StoreError>
where
    F: Fn(&dyn Tx) -> Result<R, TxError>,
{
    // The engine runs a unit body (maybe several times); the last run's result is kept.
    let result = RefCell::new(None);
    let added = std::sync::atomic::AtomicBool::new(false);
    let unit_body = |tx: &dyn Tx| {
        let value = if feed_on {
            // A re-run starts afresh: only the committed run's events count.
            added.store(false, std::sync::atomic::Ordering::Relaxed);
            body(&eventing::EventingTx::new(tx, &added))?
        } else {
            body(tx)?
        };
        *result.borrow_mut() = Some(value);
        Ok(())
    };
    if batched {
        engine.transact_batched(&unit_body)?;
    } else {
        engine.transact(&unit_body)?;
    }
    let result = result
        .into_inner()
        .ok_or_else(|| StoreError::Aborted("the transaction produced no result".to_owned()))?;
    Ok((result, added.into_inner()))
}

/// The transaction as a job of the group-commit thread; answered once its batch is flushed
/// (a failed transaction is answered at once: there is nothing of it to flush). The job holds the
/// engine, not a `Store`: the last `Store` handle must never be dropped on the commit thread,
/// which would then have to join itself.
async fn write_grouped<R, F>(
    commit: &GroupCommit,
    engine: Arc<dyn Engine>,
    feed_on: bool,
    body: F,
) -> Result<(R, bool), StoreError>
where
    F: Fn(&dyn Tx) -> Result<R, TxError> + Send + 'static,
    R: Send + 'static,
{
    let (answer, answered) = tokio::sync::oneshot::channel();
    commit.submit(Box::new(move || {
        match transact_reporting_events(&*engine, feed_on, true, body) {
            Err(e) => {
                let _ = answer.send(Err(e));
                None
            }
            Ok(applied) => Some(Box::new(move |flushed: Result<(), String>| {
                let _ = answer.send(flushed.map(|()| applied).map_err(StoreError::Io));
            }) as group_commit::Completion),
        }
    }))?;
    answered.await.map_err(|_| {
        StoreError::Join("the write was dropped by the group-commit thread".to_owned())
    })?
}

#[cfg(test)]
mod tests;
