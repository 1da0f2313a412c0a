//! The PostgreSQL engine: any number of service instances share one database. Each `Tx` body runs
//! as one SERIALIZABLE transaction, re-run (bounded, with jittered backoff) on serialization
//! failures and deadlocks; a commit is durable when it returns, so no group flush is needed.
//! Reads are single autocommit statements; scans walk keyset pages. A background probe keeps
//! `/health/ready` current without blocking a request, and broken connections are replaced, so
//! the service recovers by itself when the database comes back.

mod pool;
mod reads;
mod schema;
mod transfer;
mod tx;

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use tokio_postgres::error::SqlState;

use super::counters::{MemberId, SeriesId, Span};
use super::engine::{Engine, Flusher, ListIndex, Order, TokenScan, Visit};
use super::transfer::Record;
use super::{StoreError, Tx, TxError, TxErrorKind};
use crate::config::{masked_url, PostgresSettings};
use crate::domain::{
    AuditEntry, CardRecord, DecisionRecord, Enrollment, OutboxEvent, ReconciliationReport,
    TokenRecord, TokenSync, Transition, TshOperation,
};
use pool::{describe, Pool, PoolError};
pub use schema::LATEST as PG_SCHEMA_VERSION;
use tx::PgTx;

/// Attempts per transaction when the database reports a conflict (40001 / 40P01).
const MAX_ATTEMPTS: u32 = 12;
/// How often the health probe checks the database.
const PROBE_EVERY: Duration = Duration::from_secs(1);

pub struct PgBackend {
    pool: Arc<Pool>,
    healthy: Arc<AtomicBool>,
    /// Dropping it stops the health probe.
    _probe: mpsc::Sender<()>,
}

/// How one attempt at a transaction ended.
enum Attempt {
    /// Rolled back by a conflict or a lost connection before COMMIT: safe to run again.
    Retry(String),
    Failed(StoreError),
}

fn unavailable(e: PoolError) -> StoreError {
    match e {
        PoolError::Connect(cause) => StoreError::Unavailable(format!("cannot connect: {cause}")),
        PoolError::Exhausted => {
            StoreError::Unavailable("every database connection stayed busy".to_owned())
        }
    }
}

fn is_conflict(e: &tokio_postgres::Error) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE
        || *c == SqlState::T_R_DEADLOCK_DETECTED
        // Two instances inserting the same key: the loser re-runs and sees the winner's row.
        || *c == SqlState::UNIQUE_VIOLATION)
}

/// Lost connection (server gone, socket closed): the transaction did not commit.
fn is_connection_loss(e: &tokio_postgres::Error) -> bool {
    e.is_closed()
        || e.as_db_error().is_none() && e.code().is_none()
        || matches!(e.code(), Some(c) if c.code().starts_with("08")
            || *c == SqlState::ADMIN_SHUTDOWN
            || *c == SqlState::CRASH_SHUTDOWN
            || *c == SqlState::CANNOT_CONNECT_NOW)
}

/// PostgreSQL `text` cannot hold NUL, so no stored key contains one: a lookup by such a key
/// (hostile input) finds nothing instead of failing the statement.
fn storable(key: &str) -> bool {
    !key.contains('\0')
}

/// Exponential backoff with jitter, capped at ~100 ms: instances that collided spread out.
fn backoff(attempt: u32) {
    let base = 1u64 << attempt.min(6);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = u64::from(nanos) % (base * 1000);
    std::thread::sleep(Duration::from_micros(base * 1000 + jitter).min(Duration::from_millis(100)));
}

impl PgBackend {
    /// Connects, migrates the schema and starts the health probe. Every failure names
    /// `store.url` (password masked), so startup can refuse with one precise message.
    pub fn open(settings: &PostgresSettings) -> Result<PgBackend, StoreError> {
        let shown = masked_url(&settings.url);
        let refuse = |message: String| StoreError::Config {
            key: "store.url",
            message: format!("{shown}: {message}"),
        };
        let mut config: tokio_postgres::Config = settings
            .url
            .parse()
            .map_err(|e: tokio_postgres::Error| refuse(format!("not a PostgreSQL URL ({e})")))?;
        config.connect_timeout(Duration::from_millis(settings.connect_timeout_ms));
        config.keepalives(true);
        let pool = Pool::new(config, settings.pool_size, settings.statement_timeout_ms)
            .map_err(|e| StoreError::Io(format!("cannot start the database I/O thread: {e}")))?;
        {
            let conn = pool.get().map_err(|e| match e {
                PoolError::Connect(cause) => refuse(format!("cannot connect: {cause}")),
                PoolError::Exhausted => refuse("no connection available".to_owned()),
            })?;
            schema::migrate(&conn.conn().client).map_err(|e| match e {
                StoreError::Schema { found, expected } => refuse(format!(
                    "the database has schema version {found}, newer than this build knows \
                     ({expected}); run a newer tsh-issuer (refusing to misread it)"
                )),
                other => refuse(other.to_string()),
            })?;
        }
        let pool = Arc::new(pool);
        let healthy = Arc::new(AtomicBool::new(true));
        let probe = start_probe(pool.clone(), healthy.clone());
        tracing::info!(url = %shown, pool_size = settings.pool_size, "PostgreSQL store open");
        Ok(PgBackend {
            pool,
            healthy,
            _probe: probe,
        })
    }

    fn attempt(&self, body: &dyn Fn(&dyn Tx) -> Result<(), TxError>) -> Result<(), Attempt> {
        let pooled = self
            .pool
            .get()
            .map_err(|e| Attempt::Failed(unavailable(e)))?;
        let conn = pooled.conn();
        if let Err(e) = conn.batch("BEGIN ISOLATION LEVEL SERIALIZABLE") {
            pooled.discard();
            return Err(Attempt::Retry(describe(&e)));
        }
        let tx = PgTx {
            conn,
            failure: RefCell::new(None),
        };
        let outcome = body(&tx);
        if let Some(e) = tx.failure.take() {
            // Never COMMIT after an error: PostgreSQL would answer it with a silent ROLLBACK.
            let rolled_back = conn.batch("ROLLBACK").is_ok();
            let reason = describe(&e);
            if !rolled_back {
                pooled.discard();
            }
            return Err(if is_conflict(&e) || is_connection_loss(&e) {
                Attempt::Retry(reason)
            } else {
                Attempt::Failed(StoreError::Io(reason))
            });
        }
        if let Err(TxError(kind)) = outcome {
            if conn.batch("ROLLBACK").is_err() {
                pooled.discard();
            }
            return Err(Attempt::Failed(match kind {
                TxErrorKind::Abort(reason) => StoreError::Aborted(reason),
                TxErrorKind::Codec(reason) => StoreError::Codec(reason),
                other => StoreError::Io(format!("{other:?}")),
            }));
        }
        let started = std::time::Instant::now();
        let committed = conn.batch("COMMIT");
        crate::metrics::store_flush(started.elapsed());
        match committed {
            Ok(()) => Ok(()),
            Err(e) if is_conflict(&e) => Err(Attempt::Retry(describe(&e))),
            Err(e) => {
                // The COMMIT may or may not have reached the database: nothing is acknowledged,
                // and the caller (TSH) retries; every callback is idempotent.
                pooled.discard();
                Err(Attempt::Failed(StoreError::Unavailable(format!(
                    "commit outcome unknown: {}",
                    describe(&e)
                ))))
            }
        }
    }
}

/// Probes the database every [`PROBE_EVERY`] until the returned sender is dropped.
fn start_probe(pool: Arc<Pool>, healthy: Arc<AtomicBool>) -> mpsc::Sender<()> {
    let (stop, stopped) = mpsc::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("store-postgres-probe".to_owned())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(PROBE_EVERY) {
                let ok = match pool.get() {
                    Ok(pooled) => {
                        let ok = pooled.conn().batch("SELECT 1").is_ok();
                        if !ok {
                            pooled.discard();
                        }
                        ok
                    }
                    Err(_) => false,
                };
                if healthy.swap(ok, Ordering::Relaxed) != ok {
                    if ok {
                        tracing::info!("database reachable again");
                    } else {
                        tracing::error!(
                            "database unreachable: callbacks answer 500 until it returns"
                        );
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the database health probe");
    }
    stop
}

impl Engine for PgBackend {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn reads_are_local(&self) -> bool {
        false
    }

    fn transact(&self, body: &dyn Fn(&dyn Tx) -> Result<(), TxError>) -> Result<(), StoreError> {
        let mut attempt = 1;
        loop {
            match self.attempt(body) {
                Ok(()) => return Ok(()),
                Err(Attempt::Retry(reason)) if attempt < MAX_ATTEMPTS => {
                    tracing::debug!(attempt, reason = %reason, "transaction conflict, retrying");
                    backoff(attempt);
                    attempt += 1;
                }
                Err(Attempt::Retry(reason)) => {
                    return Err(StoreError::Unavailable(format!(
                        "transaction gave up after {MAX_ATTEMPTS} attempts: {reason}"
                    )))
                }
                Err(Attempt::Failed(e)) => {
                    if matches!(e, StoreError::Unavailable(_)) {
                        self.healthy.store(false, Ordering::Relaxed);
                    }
                    return Err(e);
                }
            }
        }
    }

    fn group_flusher(&self) -> Option<Flusher> {
        None
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    fn card(&self, issuer_card_ref_id: &str) -> Result<Option<CardRecord>, StoreError> {
        if !storable(issuer_card_ref_id) {
            return Ok(None);
        }
        self.doc(reads::CARD, &issuer_card_ref_id)
    }

    fn card_by_pan_fingerprint(&self, fingerprint: &str) -> Result<Option<CardRecord>, StoreError> {
        if !storable(fingerprint) {
            return Ok(None);
        }
        self.doc(reads::CARD_BY_PAN, &fingerprint)
    }

    fn card_count(&self) -> Result<usize, StoreError> {
        self.count(reads::CARD_COUNT)
    }

    fn enrollment(&self, correlation_id: &str) -> Result<Option<Enrollment>, StoreError> {
        if !storable(correlation_id) {
            return Ok(None);
        }
        self.doc(reads::ENROLLMENT, &correlation_id)
    }

    fn decision(&self, decision_id: &str) -> Result<Option<DecisionRecord>, StoreError> {
        match tx::id_key(decision_id) {
            Some(key) => self.doc(reads::DECISION, &key),
            None => Ok(None),
        }
    }

    fn token(&self, virtual_card_id: &str) -> Result<Option<TokenRecord>, StoreError> {
        if !storable(virtual_card_id) {
            return Ok(None);
        }
        self.doc(reads::TOKEN, &virtual_card_id)
    }

    fn tsh_operation(&self, correlation_id: &str) -> Result<Option<TshOperation>, StoreError> {
        if !storable(correlation_id) {
            return Ok(None);
        }
        self.doc(reads::TSH_OPERATION, &correlation_id)
    }

    fn counter_sum(&self, span: &Span) -> Result<i64, StoreError> {
        self.sum_span(span)
    }

    fn last_seen(&self, series: &SeriesId, member: &MemberId) -> Result<Option<u64>, StoreError> {
        self.member_seen(series, member)
    }

    fn prune_counters(&self, before: u64) -> Result<u64, StoreError> {
        self.prune(before)
    }

    fn list_index(&self, index: ListIndex, key: &str) -> Result<Vec<String>, StoreError> {
        if !storable(key) {
            return Ok(Vec::new());
        }
        let sql = match index {
            ListIndex::OwnReference => reads::IDS_BY_OWN_REFERENCE,
            ListIndex::OwnFingerprint => reads::IDS_BY_OWN_FINGERPRINT,
            ListIndex::Parent => reads::IDS_BY_PARENT,
        };
        self.ids(sql, key)
    }

    fn event(&self, id: &str) -> Result<Option<OutboxEvent>, StoreError> {
        match tx::event_key(id) {
            Some(seq) => self.doc(reads::EVENT, &seq),
            None => Ok(None),
        }
    }

    fn scan_decisions(
        &self,
        order: Order,
        visit: Visit<'_, DecisionRecord>,
    ) -> Result<(), StoreError> {
        let sql = match order {
            Order::NewestFirst => reads::DECISIONS_DESC,
            Order::OldestFirst => reads::DECISIONS_ASC,
        };
        self.scan_ids(sql, order, visit)
    }

    fn scan_tokens(
        &self,
        which: TokenScan<'_>,
        visit: Visit<'_, TokenRecord>,
    ) -> Result<(), StoreError> {
        let key = match which {
            TokenScan::All => "",
            TokenScan::Card(k)
            | TokenScan::OriginalReference(k)
            | TokenScan::OriginalFingerprint(k)
            | TokenScan::Last4(k) => k,
        };
        if !storable(key) {
            return Ok(());
        }
        match which {
            TokenScan::All => self.scan_text(reads::TOKENS_ALL, None, visit),
            TokenScan::Card(card) => self.scan_text(reads::TOKENS_BY_CARD, Some(card), visit),
            TokenScan::OriginalReference(reference) => {
                self.scan_text(reads::TOKENS_BY_ORIGINAL_REF, Some(reference), visit)
            }
            TokenScan::OriginalFingerprint(fp) => {
                self.scan_text(reads::TOKENS_BY_ORIGINAL_FP, Some(fp), visit)
            }
            TokenScan::Last4(last4) => self.scan_text(reads::TOKENS_BY_LAST4, Some(last4), visit),
        }
    }

    fn scan_transitions(
        &self,
        virtual_card_id: &str,
        visit: Visit<'_, Transition>,
    ) -> Result<(), StoreError> {
        if !storable(virtual_card_id) {
            return Ok(());
        }
        self.scan_keyed_ids(reads::TRANSITIONS, virtual_card_id, visit)
    }

    fn scan_audit(&self, order: Order, visit: Visit<'_, AuditEntry>) -> Result<(), StoreError> {
        let sql = match order {
            Order::NewestFirst => reads::AUDIT_DESC,
            Order::OldestFirst => reads::AUDIT_ASC,
        };
        self.scan_ids(sql, order, visit)
    }

    fn scan_cards_by_last4(
        &self,
        last4: &str,
        visit: Visit<'_, CardRecord>,
    ) -> Result<(), StoreError> {
        if !storable(last4) {
            return Ok(());
        }
        self.scan_text(reads::CARDS_BY_LAST4, Some(last4), visit)
    }

    fn session_revoked_until(&self, session_id: &str) -> Result<Option<u64>, StoreError> {
        if !storable(session_id) {
            return Ok(None);
        }
        let until: Option<i64> = self.with_conn(|conn| {
            Ok(conn
                .query_opt(reads::SESSION_REVOKED, &[&session_id])?
                .map(|r| r.get(0)))
        })?;
        Ok(until.and_then(|t| u64::try_from(t).ok()))
    }

    fn prune_revoked_sessions(&self, now: u64) -> Result<usize, StoreError> {
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let removed = self.with_conn(|conn| conn.execute(reads::PRUNE_SESSIONS, &[&now]))?;
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }

    fn scan_orphans(&self, visit: Visit<'_, TokenRecord>) -> Result<(), StoreError> {
        self.scan_text(reads::ORPHANS, None, visit)
    }

    fn record_count(&self) -> Result<u64, StoreError> {
        self.count_records()
    }

    fn export_records(&self, visit: Visit<'_, Record>) -> Result<(), StoreError> {
        self.export_all(visit)
    }

    fn import_records(&self, records: &[Record]) -> Result<(), StoreError> {
        self.import_all(records)
    }

    fn advance_ids(&self, past: u64) -> Result<(), StoreError> {
        self.skip_ids_past(past)
    }

    fn token_sync(&self, virtual_card_id: &str) -> Result<Option<TokenSync>, StoreError> {
        if !storable(virtual_card_id) {
            return Ok(None);
        }
        self.doc(reads::TOKEN_SYNC, &virtual_card_id)
    }

    fn scan_token_checks(&self, visit: Visit<'_, TokenSync>) -> Result<(), StoreError> {
        self.scan_text(reads::TOKEN_CHECKS, None, visit)
    }

    fn scan_pending_tsh_operations(
        &self,
        visit: Visit<'_, TshOperation>,
    ) -> Result<(), StoreError> {
        self.scan_text(reads::PENDING_TSH_OPERATIONS, None, visit)
    }

    fn reconciliation(&self, id: &str) -> Result<Option<ReconciliationReport>, StoreError> {
        match tx::reconciliation_key(id) {
            Some(seq) => self.doc(reads::RECONCILIATION, &seq),
            None => Ok(None),
        }
    }

    fn scan_reconciliations(
        &self,
        visit: Visit<'_, ReconciliationReport>,
    ) -> Result<(), StoreError> {
        self.scan_ids(reads::RECONCILIATIONS_DESC, Order::NewestFirst, visit)
    }

    fn scan_cards(&self, visit: Visit<'_, CardRecord>) -> Result<(), StoreError> {
        self.scan_text(reads::CARDS_ALL, None, visit)
    }

    fn scan_events(
        &self,
        order: Order,
        pending_only: bool,
        visit: Visit<'_, OutboxEvent>,
    ) -> Result<(), StoreError> {
        let sql = match (order, pending_only) {
            (Order::NewestFirst, false) => reads::EVENTS_DESC,
            (Order::OldestFirst, false) => reads::EVENTS_ASC,
            (Order::NewestFirst, true) => reads::PENDING_EVENTS_DESC,
            (Order::OldestFirst, true) => reads::PENDING_EVENTS_ASC,
        };
        self.scan_ids(sql, order, visit)
    }
}
