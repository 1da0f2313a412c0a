//! The sled backend: one tree per entity (named `<key>_<value>`), records in JSON or compact
//! (`sled_codec.rs`), multi-tree writes made atomic and durable by the write-ahead log
//! (`sled_wal.rs`, `sled_staged.rs`), and a schema version under `meta`. The only file that knows
//! sled (with its parts: counters, codec, transfer, bulk, space, staged, wal).

use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

use sled::transaction::UnabortableTransactionError;
use sled::{Db, IVec, Tree};

use super::counters::{Cell, MemberId, SeriesId, Span};
use super::engine::{Engine, Flow, Flusher, ListIndex, Order, TokenScan, Visit};
use super::sled_sync::SledSync;
use super::space::SpaceReport;
use super::transfer::Record;
use super::{id_number, StoreError, Tx, TxError, TxErrorKind, SCHEMA_VERSION};
use crate::domain::event::event_sequence;
use crate::domain::lineage::is_listed_orphan;
use crate::domain::reconciliation::reconciliation_sequence;
use crate::domain::{
    AuditEntry, CardRecord, DecisionRecord, Enrollment, EventStatus, OperationStatus, OutboxEvent,
    ReconciliationReport, TokenRecord, TokenSync, Transition, TshOperation,
};

/// Tree names, in the order of the transaction's tree list.
const TREES: [&str; 28] = [
    "issuercardrefid_card",
    "panfingerprint_issuercardrefid",
    "correlationid_enrollment",
    "decisionid_decision",
    "virtualcardid_token",
    "issuercardrefid_virtualcardid",
    "originaltokenreferenceid_virtualcardid",
    "originaltokenfingerprint_virtualcardid",
    "virtualcardid_transition",
    "messagefingerprint_receivedtime",
    "countercell_count",
    "meta",
    "seriesmember_lastseen",
    "correlationid_tshoperation",
    "auditid_auditentry",
    "eventseq_event",
    "pendingeventseq_empty",
    "tokenreferenceid_virtualcardids",
    "tokenfingerprint_virtualcardids",
    "originalvirtualcardid_virtualcardids",
    "originaldeath_virtualcardid",
    "cardlast4_issuercardrefid",
    "tokenlast4_virtualcardid",
    "sessionid_expiresat",
    "virtualcardid_tokensync",
    "checkvirtualcardid_empty",
    "pendingcorrelationid_empty",
    "reconciliationseq_report",
];
const CARDS: usize = 0;
const PAN_INDEX: usize = 1;
const ENROLLMENTS: usize = 2;
const DECISIONS: usize = 3;
const TOKENS: usize = 4;
const TOKENS_BY_CARD: usize = 5;
const TOKENS_BY_ORIGINAL_REF: usize = 6;
const TOKENS_BY_ORIGINAL_FP: usize = 7;
const TRANSITIONS: usize = 8;
const SEEN: usize = 9;
const COUNTER_CELLS: usize = 10;
const META: usize = 11;
const LAST_SEEN: usize = 12;
const TSH_OPERATIONS: usize = 13;
const AUDIT: usize = 14;
const EVENTS: usize = 15;
const PENDING_EVENTS: usize = 16;
/// Tokens by their own reference id / own number fingerprint, and lineage children by parent:
/// one key per value holding a JSON list of virtual card ids, so a transaction can read them
/// (a transaction reads keys, it cannot scan a prefix).
const TOKENS_BY_OWN_REF: usize = 17;
const TOKENS_BY_OWN_FP: usize = 18;
const TOKENS_BY_PARENT: usize = 19;
/// Tokens flagged by the original-death policy (key: virtual card id, empty value).
const ORPHANS: usize = 20;

/// The tree of a list-valued index (kept in `put_token`).
fn list_tree(index: ListIndex) -> usize {
    match index {
        ListIndex::OwnReference => TOKENS_BY_OWN_REF,
        ListIndex::OwnFingerprint => TOKENS_BY_OWN_FP,
        ListIndex::Parent => TOKENS_BY_PARENT,
    }
}
const CARDS_BY_LAST4: usize = 21;
const TOKENS_BY_LAST4: usize = 22;
const REVOKED_SESSIONS: usize = 23;
const TOKEN_SYNC: usize = 24;
const CHECKS: usize = 25;
const PENDING_OPERATIONS: usize = 26;
const RECONCILIATIONS: usize = 27;

/// `meta` key set once the last-four search indexes cover every record written before they
/// existed; see [`SledBackend::backfill_search_indexes`].
const SEARCH_INDEXES_BUILT: &[u8] = b"search_indexes_v1";

/// The index tree behind a token scan (`None`: the tokens tree itself).
fn index_tree(which: TokenScan<'_>) -> Option<(usize, &str)> {
    match which {
        TokenScan::All => None,
        TokenScan::Card(key) => Some((TOKENS_BY_CARD, key)),
        TokenScan::OriginalReference(key) => Some((TOKENS_BY_ORIGINAL_REF, key)),
        TokenScan::OriginalFingerprint(key) => Some((TOKENS_BY_ORIGINAL_FP, key)),
        TokenScan::Last4(key) => Some((TOKENS_BY_LAST4, key)),
    }
}

pub struct SledBackend {
    db: Db,
    trees: Vec<Tree>,
    /// The store directory (`store stats` sizes its files).
    path: std::path::PathBuf,
    /// The durability point of every transaction (`sled_wal.rs`); sled is synced at checkpoints.
    wal: Arc<Wal>,
}

fn io(e: sled::Error) -> StoreError {
    StoreError::Io(e.to_string())
}

fn encode<T: Stored>(value: &T) -> Result<Vec<u8>, TxError> {
    codec::encode(value).map_err(TxError::codec)
}

fn decode<T: Stored>(bytes: &[u8]) -> Result<T, StoreError> {
    codec::decode(bytes).map_err(StoreError::Codec)
}

fn decode_tx<T: Stored>(bytes: &[u8]) -> Result<T, TxError> {
    codec::decode(bytes).map_err(TxError::codec)
}

/// `a \0 b`: ids never contain NUL (the contract layer refuses control characters in ids).
fn pair_key(a: &str, b: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(a.len() + 1 + b.len());
    key.extend_from_slice(a.as_bytes());
    key.push(0);
    key.extend_from_slice(b);
    key
}

fn prefix_key(a: &str) -> Vec<u8> {
    pair_key(a, b"")
}

/// Every secondary-index key of a token (tree, key); `put_token` keeps exactly these.
fn token_index_keys(t: &TokenRecord) -> Vec<(usize, Vec<u8>)> {
    let vcid = t.virtual_card_id.as_bytes();
    let mut keys = vec![(TOKENS_BY_CARD, pair_key(&t.issuer_card_ref_id, vcid))];
    if let Some(original) = &t.original_token {
        if let Some(reference) = &original.token_reference_id {
            keys.push((TOKENS_BY_ORIGINAL_REF, pair_key(reference, vcid)));
        }
        if let Some(fp) = &original.token_fingerprint {
            keys.push((TOKENS_BY_ORIGINAL_FP, pair_key(fp, vcid)));
        }
    }
    if let Some(number) = &t.token_number {
        keys.push((TOKENS_BY_LAST4, pair_key(&number.token_last4, vcid)));
    }
    keys
}

fn card_last4_key(card: &CardRecord) -> (usize, Vec<u8>) {
    (
        CARDS_BY_LAST4,
        pair_key(&card.last4, card.issuer_card_ref_id.as_bytes()),
    )
}

/// Decision and audit keys: the id's number, big-endian, so key order is id order.
fn decision_key(decision_id: &str) -> Option<[u8; 8]> {
    id_number(decision_id).map(u64::to_be_bytes)
}

/// Feeds decoded values to a visitor until it stops or the iterator ends.
fn drive<T: Stored>(
    entries: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
    visit: Visit<'_, T>,
) -> Result<(), StoreError> {
    for entry in entries {
        let (_, bytes) = entry.map_err(io)?;
        if visit(decode(&bytes)?)? == Flow::Stop {
            break;
        }
    }
    Ok(())
}

impl From<UnabortableTransactionError> for TxError {
    fn from(e: UnabortableTransactionError) -> Self {
        TxError(TxErrorKind::Sled(e))
    }
}

impl SledBackend {
    pub fn open(path: &Path, cache_bytes: u64) -> Result<SledBackend, StoreError> {
        let db = Self::open_db_waiting_for_release(path, cache_bytes)?;
        let trees = TREES
            .iter()
            .map(|name| db.open_tree(name))
            .collect::<Result<Vec<_>, _>>()
            .map_err(io)?;
        let sync = Arc::new(SledSync::open(path)?);
        let wal = Self::recover_log(path, &db, &trees, &sync)?;
        let backend = SledBackend {
            db,
            trees,
            path: path.to_path_buf(),
            wal,
        };
        backend.check_schema()?;
        backend.drop_obsolete_trees()?;
        backend.backfill_search_indexes()?;
        Ok(backend)
    }

    /// Replays the write-ahead log into sled (the records sled does not hold yet), makes sled
    /// durable, and starts a fresh log. Runs before anything else reads or writes the store.
    fn recover_log(
        path: &Path,
        db: &Db,
        trees: &[Tree],
        sync: &Arc<SledSync>,
    ) -> Result<Arc<Wal>, StoreError> {
        let dir = path.join("wal");
        let recovered = Wal::recover(&dir, |record| staged::replay(db, trees, record))?;
        if recovered.replayed > 0 {
            sync.sync(db)?;
            tracing::info!(
                records = recovered.replayed,
                "store recovered acknowledged writes from its write-ahead log"
            );
        }
        let engine_sync: wal::EngineSync = {
            let (db, sync) = (db.clone(), sync.clone());
            Arc::new(move || sync.sync(&db))
        };
        let engine_apply: wal::EngineApply = {
            let trees = trees.to_vec();
            Arc::new(move |writes| staged::apply(&trees, writes))
        };
        Wal::start(&dir, &recovered, engine_sync, engine_apply)
    }

    fn open_db(path: &Path, cache_bytes: u64) -> Result<sled::Db, StoreError> {
        sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| match &e {
                sled::Error::Io(io_err) if io_err.kind() == std::io::ErrorKind::WouldBlock => {
                    StoreError::Locked(path.display().to_string())
                }
                sled::Error::Io(io_err) if io_err.to_string().contains("lock") => {
                    StoreError::Locked(path.display().to_string())
                }
                _ => io(e),
            })
    }

    /// Opens the database, retrying a lock refusal for a short while. sled releases its file lock
    /// when the last handle inside it goes, and its background flusher thread holds one for a
    /// moment after the `Db` is dropped: reopening in the same process right after a close (a
    /// restart in tests, `store import` after `serve`) would otherwise see our own lock. Another
    /// process holding the store is still refused, after the grace period.
    fn open_db_waiting_for_release(path: &Path, cache_bytes: u64) -> Result<sled::Db, StoreError> {
        const GRACE: std::time::Duration = std::time::Duration::from_secs(3);
        let started = std::time::Instant::now();
        loop {
            match Self::open_db(path, cache_bytes) {
                Err(StoreError::Locked(_)) if started.elapsed() < GRACE => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    /// Stores written before the search indexes existed get them built once, at open (the same
    /// keys `put_card` / `put_token` maintain; idempotent, so an interrupted build just reruns).
    fn backfill_search_indexes(&self) -> Result<(), StoreError> {
        let meta = &self.trees[META];
        if meta.get(SEARCH_INDEXES_BUILT).map_err(io)?.is_some() {
            return Ok(());
        }
        for entry in self.trees[CARDS].iter() {
            let (_, bytes) = entry.map_err(io)?;
            let card: CardRecord = decode(&bytes)?;
            let (tree, key) = card_last4_key(&card);
            self.trees[tree].insert(key, &[] as &[u8]).map_err(io)?;
        }
        for token in self.all_tokens() {
            for (tree, key) in token_index_keys(&token?) {
                self.trees[tree].insert(key, &[] as &[u8]).map_err(io)?;
            }
        }
        meta.insert(SEARCH_INDEXES_BUILT, b"1" as &[u8])
            .map_err(io)?;
        self.flush()
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        let meta = &self.trees[META];
        match meta.get(b"schema_version").map_err(io)? {
            Some(bytes) => {
                let found: u64 = decode(&bytes)?;
                if found == 1 {
                    return self.migrate_from_v1();
                }
                if found != SCHEMA_VERSION {
                    return Err(StoreError::Schema {
                        found,
                        expected: SCHEMA_VERSION,
                    });
                }
            }
            None => {
                let bytes = serde_json::to_vec(&SCHEMA_VERSION)
                    .map_err(|e| StoreError::Codec(e.to_string()))?;
                meta.insert(b"schema_version", bytes).map_err(io)?;
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Schema 1 → 2: the lineage indexes (tokens by own reference id and number fingerprint,
    /// children by parent, orphans) did not exist; rewriting every token builds them.
    fn migrate_from_v1(&self) -> Result<(), StoreError> {
        let tokens: Vec<TokenRecord> = self.all_tokens().collect::<Result<_, _>>()?;
        for token in &tokens {
            self.run_transaction(|tx| tx.put_token(token))?;
        }
        let bytes =
            serde_json::to_vec(&SCHEMA_VERSION).map_err(|e| StoreError::Codec(e.to_string()))?;
        self.trees[META]
            .insert(b"schema_version", bytes)
            .map_err(io)?;
        self.flush()?;
        tracing::info!(
            tokens = tokens.len(),
            "store migrated to schema 2 (lineage indexes)"
        );
        Ok(())
    }

    /// The group-commit thread's durability point: the batch's log records, one `fdatasync`.
    pub fn flusher(&self) -> Arc<dyn Fn() -> Result<(), StoreError> + Send + Sync> {
        let wal = self.wal.clone();
        Arc::new(move || wal.sync())
    }

    /// Makes everything written so far durable in sled's own files (a checkpoint: also what was
    /// written outside transactions, by maintenance and offline loads), synchronously.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.wal.checkpoint()
    }

    pub fn is_healthy(&self) -> bool {
        self.wal.is_healthy() && self.trees[META].get(b"schema_version").is_ok()
    }

    fn run_transaction<R, F>(&self, body: F) -> Result<R, StoreError>
    where
        F: Fn(&dyn Tx) -> Result<R, TxError>,
    {
        self.run_sled_transaction(|tx| body(tx))
    }

    /// A transaction over every tree, staged (`sled_staged.rs`; import writes raw entries too).
    /// It runs under the log's order lock, so log order is commit order and it sees every write
    /// staged before it. On success its record and writes join the batch, which becomes durable
    /// and reaches sled at the next log sync; on failure nothing of it remains.
    fn run_sled_transaction<R, F>(&self, body: F) -> Result<R, StoreError>
    where
        F: Fn(&SledTx<'_>) -> Result<R, TxError>,
    {
        let mut batch = self.wal.begin()?;
        let writes = RefCell::new(wal::WriteSet::default());
        let views = staged::staged_views(&self.db, &self.trees, &batch, &writes);
        let value = match body(&SledTx { trees: &views }) {
            Ok(value) => value,
            Err(TxError(kind)) => {
                // As before the log: a body's codec error rolls it back like an abort.
                return Err(match kind {
                    TxErrorKind::Sled(e) => StoreError::Io(e.to_string()),
                    TxErrorKind::Sql(reason)
                    | TxErrorKind::Codec(reason)
                    | TxErrorKind::Abort(reason) => StoreError::Aborted(reason),
                });
            }
        };
        if writes.borrow().is_empty() {
            return Ok(value);
        }
        let staged = staged::into_staged(views);
        batch.commit(&writes.into_inner(), staged);
        Ok(value)
    }

    fn get<T: Stored>(&self, tree: usize, key: &[u8]) -> Result<Option<T>, StoreError> {
        match self.trees[tree].get(key).map_err(io)? {
            Some(bytes) => Ok(Some(decode(&bytes)?)),
            None => Ok(None),
        }
    }

    pub fn card(&self, issuer_card_ref_id: &str) -> Result<Option<CardRecord>, StoreError> {
        self.get(CARDS, issuer_card_ref_id.as_bytes())
    }

    pub fn card_by_pan_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<Option<CardRecord>, StoreError> {
        match self.trees[PAN_INDEX]
            .get(fingerprint.as_bytes())
            .map_err(io)?
        {
            Some(reference) => {
                let reference = String::from_utf8_lossy(&reference).into_owned();
                self.card(&reference)
            }
            None => Ok(None),
        }
    }

    pub fn enrollment(&self, correlation_id: &str) -> Result<Option<Enrollment>, StoreError> {
        self.get(ENROLLMENTS, correlation_id.as_bytes())
    }

    pub fn decision(&self, decision_id: &str) -> Result<Option<DecisionRecord>, StoreError> {
        match decision_key(decision_id) {
            Some(key) => self.get(DECISIONS, &key),
            None => Ok(None),
        }
    }

    pub fn token(&self, virtual_card_id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.get(TOKENS, virtual_card_id.as_bytes())
    }

    pub fn all_tokens(&self) -> impl Iterator<Item = Result<TokenRecord, StoreError>> {
        self.trees[TOKENS].iter().map(|entry| {
            let (_, bytes) = entry.map_err(io)?;
            decode(&bytes)
        })
    }

    pub fn tsh_operation(&self, correlation_id: &str) -> Result<Option<TshOperation>, StoreError> {
        self.get(TSH_OPERATIONS, correlation_id.as_bytes())
    }

    /// Cards whose PAN ends with these four digits (index `cardlast4_issuercardrefid`).
    fn cards_by_last4<'a>(
        &'a self,
        last4: &str,
    ) -> impl Iterator<Item = Result<CardRecord, StoreError>> + 'a {
        let prefix = prefix_key(last4);
        let prefix_len = prefix.len();
        self.trees[CARDS_BY_LAST4]
            .scan_prefix(prefix)
            .filter_map(move |entry| {
                let (k, _) = match entry {
                    Ok(kv) => kv,
                    Err(e) => return Some(Err(io(e))),
                };
                let reference = String::from_utf8_lossy(&k[prefix_len..]).into_owned();
                self.card(&reference).transpose()
            })
    }

    /// Drops revocations of sessions that have expired anyway (a transaction cannot scan a tree,
    /// so this maintenance runs outside one; it is idempotent).
    fn prune_sessions(&self, now: u64) -> Result<usize, StoreError> {
        let tree = &self.trees[REVOKED_SESSIONS];
        let mut pruned = 0;
        for entry in tree.iter() {
            let (key, bytes) = entry.map_err(io)?;
            let until: u64 = decode(&bytes)?;
            if until <= now {
                tree.remove(key).map_err(io)?;
                pruned += 1;
            }
        }
        Ok(pruned)
    }

    pub fn event(&self, id: &str) -> Result<Option<OutboxEvent>, StoreError> {
        match event_sequence(id) {
            Some(seq) => self.get(EVENTS, &seq.to_be_bytes()),
            None => Ok(None),
        }
    }

    /// Visits the records of `records` named by the keys of `index` (key-only entries), skipping
    /// entries whose record vanished (both are written in one transaction; a reader between two
    /// calls may see one without the other).
    fn visit_indexed<T: Stored>(
        &self,
        index: usize,
        records: usize,
        visit: Visit<'_, T>,
    ) -> Result<(), StoreError> {
        for entry in self.trees[index].iter() {
            let (key, _) = entry.map_err(io)?;
            if let Some(record) = self.get(records, &key)? {
                if visit(record)? == Flow::Stop {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Visits the tokens named by the keys of an index tree (after `prefix`), skipping entries
    /// whose token vanished.
    fn visit_indexed_tokens(
        &self,
        tree: usize,
        prefix: &[u8],
        visit: Visit<'_, TokenRecord>,
    ) -> Result<(), StoreError> {
        for entry in self.trees[tree].scan_prefix(prefix) {
            let (k, _) = entry.map_err(io)?;
            let vcid = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            if let Some(token) = self.token(&vcid)? {
                if visit(token)? == Flow::Stop {
                    break;
                }
            }
        }
        Ok(())
    }
}

impl Engine for SledBackend {
    fn name(&self) -> &'static str {
        "sled"
    }

    fn reads_are_local(&self) -> bool {
        true
    }

    /// Standalone (CLI tools, startup imports): durable and in sled on return.
    fn transact(&self, body: &dyn Fn(&dyn Tx) -> Result<(), TxError>) -> Result<(), StoreError> {
        self.run_transaction(body)?;
        self.wal.sync()
    }

    /// On the group-commit thread: durable and in sled at the batch's flush.
    fn transact_batched(
        &self,
        body: &dyn Fn(&dyn Tx) -> Result<(), TxError>,
    ) -> Result<(), StoreError> {
        self.run_transaction(body)
    }

    fn group_flusher(&self) -> Option<Flusher> {
        Some(self.flusher())
    }

    fn flush(&self) -> Result<(), StoreError> {
        SledBackend::flush(self)
    }

    fn is_healthy(&self) -> bool {
        SledBackend::is_healthy(self)
    }

    fn card(&self, issuer_card_ref_id: &str) -> Result<Option<CardRecord>, StoreError> {
        SledBackend::card(self, issuer_card_ref_id)
    }

    fn card_by_pan_fingerprint(&self, fingerprint: &str) -> Result<Option<CardRecord>, StoreError> {
        SledBackend::card_by_pan_fingerprint(self, fingerprint)
    }

    fn card_count(&self) -> Result<usize, StoreError> {
        Ok(self.trees[CARDS].len())
    }

    fn enrollment(&self, correlation_id: &str) -> Result<Option<Enrollment>, StoreError> {
        SledBackend::enrollment(self, correlation_id)
    }

    fn decision(&self, decision_id: &str) -> Result<Option<DecisionRecord>, StoreError> {
        SledBackend::decision(self, decision_id)
    }

    fn token(&self, virtual_card_id: &str) -> Result<Option<TokenRecord>, StoreError> {
        SledBackend::token(self, virtual_card_id)
    }

    fn tsh_operation(&self, correlation_id: &str) -> Result<Option<TshOperation>, StoreError> {
        SledBackend::tsh_operation(self, correlation_id)
    }

    fn counter_sum(&self, span: &Span) -> Result<i64, StoreError> {
        SledBackend::counter_sum(self, span)
    }

    fn last_seen(&self, series: &SeriesId, member: &MemberId) -> Result<Option<u64>, StoreError> {
        SledBackend::last_seen(self, series, member)
    }

    fn prune_counters(&self, before: u64) -> Result<u64, StoreError> {
        SledBackend::prune_counters(self, before)
    }

    fn list_index(&self, index: ListIndex, key: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .get(list_tree(index), key.as_bytes())?
            .unwrap_or_default())
    }

    fn event(&self, id: &str) -> Result<Option<OutboxEvent>, StoreError> {
        SledBackend::event(self, id)
    }

    fn scan_decisions(
        &self,
        order: Order,
        visit: Visit<'_, DecisionRecord>,
    ) -> Result<(), StoreError> {
        match order {
            Order::NewestFirst => drive(self.trees[DECISIONS].iter().rev(), visit),
            Order::OldestFirst => drive(self.trees[DECISIONS].iter(), visit),
        }
    }

    fn scan_tokens(
        &self,
        which: TokenScan<'_>,
        visit: Visit<'_, TokenRecord>,
    ) -> Result<(), StoreError> {
        match index_tree(which) {
            None => drive(self.trees[TOKENS].iter(), visit),
            Some((tree, key)) => self.visit_indexed_tokens(tree, &prefix_key(key), visit),
        }
    }

    fn scan_cards_by_last4(
        &self,
        last4: &str,
        visit: Visit<'_, CardRecord>,
    ) -> Result<(), StoreError> {
        for card in self.cards_by_last4(last4) {
            if visit(card?)? == Flow::Stop {
                break;
            }
        }
        Ok(())
    }

    fn session_revoked_until(&self, session_id: &str) -> Result<Option<u64>, StoreError> {
        self.get(REVOKED_SESSIONS, session_id.as_bytes())
    }

    fn prune_revoked_sessions(&self, now: u64) -> Result<usize, StoreError> {
        self.prune_sessions(now)
    }

    fn scan_orphans(&self, visit: Visit<'_, TokenRecord>) -> Result<(), StoreError> {
        self.visit_indexed_tokens(ORPHANS, b"", visit)
    }

    fn scan_transitions(
        &self,
        virtual_card_id: &str,
        visit: Visit<'_, Transition>,
    ) -> Result<(), StoreError> {
        drive(
            self.trees[TRANSITIONS].scan_prefix(prefix_key(virtual_card_id)),
            visit,
        )
    }

    fn scan_audit(&self, order: Order, visit: Visit<'_, AuditEntry>) -> Result<(), StoreError> {
        match order {
            Order::NewestFirst => drive(self.trees[AUDIT].iter().rev(), visit),
            Order::OldestFirst => drive(self.trees[AUDIT].iter(), visit),
        }
    }

    fn record_count(&self) -> Result<u64, StoreError> {
        Ok(self.count_records())
    }

    fn export_records(&self, visit: Visit<'_, Record>) -> Result<(), StoreError> {
        self.export_all(visit)
    }

    fn import_records(&self, records: &[Record]) -> Result<(), StoreError> {
        self.import_all(records)
    }

    fn space_report(&self) -> Result<SpaceReport, StoreError> {
        self.measure_space()
    }

    fn bulk_load(&self, body: &dyn Fn(&dyn Tx) -> Result<(), TxError>) -> Result<(), StoreError> {
        SledBackend::bulk_load(self, body)
    }

    fn advance_ids(&self, past: u64) -> Result<(), StoreError> {
        self.skip_ids_past(past)
    }

    fn token_sync(&self, virtual_card_id: &str) -> Result<Option<TokenSync>, StoreError> {
        self.get(TOKEN_SYNC, virtual_card_id.as_bytes())
    }

    fn scan_token_checks(&self, visit: Visit<'_, TokenSync>) -> Result<(), StoreError> {
        self.visit_indexed(CHECKS, TOKEN_SYNC, visit)
    }

    fn scan_pending_tsh_operations(
        &self,
        visit: Visit<'_, TshOperation>,
    ) -> Result<(), StoreError> {
        self.visit_indexed(PENDING_OPERATIONS, TSH_OPERATIONS, visit)
    }

    fn reconciliation(&self, id: &str) -> Result<Option<ReconciliationReport>, StoreError> {
        match reconciliation_sequence(id) {
            Some(seq) => self.get(RECONCILIATIONS, &seq.to_be_bytes()),
            None => Ok(None),
        }
    }

    fn scan_reconciliations(
        &self,
        visit: Visit<'_, ReconciliationReport>,
    ) -> Result<(), StoreError> {
        drive(self.trees[RECONCILIATIONS].iter().rev(), visit)
    }

    fn scan_cards(&self, visit: Visit<'_, CardRecord>) -> Result<(), StoreError> {
        drive(self.trees[CARDS].iter(), visit)
    }

    fn scan_events(
        &self,
        order: Order,
        pending_only: bool,
        visit: Visit<'_, OutboxEvent>,
    ) -> Result<(), StoreError> {
        if !pending_only {
            return match order {
                Order::NewestFirst => drive(self.trees[EVENTS].iter().rev(), visit),
                Order::OldestFirst => drive(self.trees[EVENTS].iter(), visit),
            };
        }
        let keys = self.trees[PENDING_EVENTS].iter();
        let keys: Box<dyn Iterator<Item = _>> = match order {
            Order::NewestFirst => Box::new(keys.rev()),
            Order::OldestFirst => Box::new(keys),
        };
        for entry in keys {
            let (key, _) = entry.map_err(io)?;
            // The index and the events are written in one transaction: a dangling entry means
            // a damaged store.
            let event = self.get(EVENTS, &key)?.ok_or_else(|| {
                StoreError::Codec("pending index names a missing event".to_owned())
            })?;
            if visit(event)? == Flow::Stop {
                break;
            }
        }
        Ok(())
    }
}

#[path = "sled_counters.rs"]
mod counters;

#[path = "sled_transfer.rs"]
mod transfer;

#[path = "sled_codec.rs"]
mod codec;
use codec::Stored;

#[path = "sled_space.rs"]
mod space;

#[path = "sled_bulk.rs"]
mod bulk;

#[path = "sled_wal.rs"]
mod wal;
use wal::Wal;

#[path = "sled_staged.rs"]
mod staged;

/// What [`SledTx`] needs of a tree: the staged view inside a transaction (`sled_staged.rs`), or
/// the bulk loader's buffered one (`sled_bulk.rs`). One `Tx` implementation over both, so an offline fill
/// writes exactly the records and index entries the service writes.
trait TreeView {
    fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, TxError>;
    fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Option<IVec>, TxError>;
    fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, TxError>;
    fn generate_id(&self) -> Result<u64, TxError>;
}

struct SledTx<'a, V: TreeView = staged::StagedTree<'a>> {
    trees: &'a [V],
}

impl<V: TreeView> SledTx<'_, V> {
    fn get<T: Stored>(&self, tree: usize, key: &[u8]) -> Result<Option<T>, TxError> {
        match self.trees[tree].get(key)? {
            Some(bytes) => Ok(Some(decode_tx(&bytes)?)),
            None => Ok(None),
        }
    }

    fn put<T: Stored>(&self, tree: usize, key: &[u8], value: &T) -> Result<(), TxError> {
        self.trees[tree].insert(key, encode(value)?)?;
        Ok(())
    }

    fn list(&self, tree: usize, key: &str) -> Result<Vec<String>, TxError> {
        Ok(self.get(tree, key.as_bytes())?.unwrap_or_default())
    }

    /// Adds (`present`) or removes `vcid` in the list under `key`; an empty list is removed.
    fn set_in_list(
        &self,
        tree: usize,
        key: &str,
        vcid: &str,
        present: bool,
    ) -> Result<(), TxError> {
        let mut ids = self.list(tree, key)?;
        let had = ids.iter().any(|id| id == vcid);
        match (present, had) {
            (true, false) => ids.push(vcid.to_owned()),
            (false, true) => ids.retain(|id| id != vcid),
            _ => return Ok(()),
        }
        if ids.is_empty() {
            self.trees[tree].remove(key.as_bytes())?;
            Ok(())
        } else {
            self.put(tree, key.as_bytes(), &ids)
        }
    }

    /// The list-valued index entries and the orphan flag of one token.
    fn lineage_keys(token: &TokenRecord) -> Vec<(usize, String)> {
        let mut keys = Vec::new();
        if let Some(reference) = &token.token_reference_id {
            keys.push((TOKENS_BY_OWN_REF, reference.clone()));
        }
        if let Some(number) = &token.token_number {
            keys.push((TOKENS_BY_OWN_FP, number.token_fingerprint.clone()));
        }
        if let Some(parent) = &token.original_virtual_card_id {
            keys.push((TOKENS_BY_PARENT, parent.clone()));
        }
        keys
    }

    fn update_lineage_indexes(
        &self,
        previous: Option<&TokenRecord>,
        token: &TokenRecord,
    ) -> Result<(), TxError> {
        let vcid = token.virtual_card_id.as_str();
        let new_keys = Self::lineage_keys(token);
        if let Some(previous) = previous {
            for (tree, key) in Self::lineage_keys(previous) {
                if !new_keys.contains(&(tree, key.clone())) {
                    self.set_in_list(tree, &key, vcid, false)?;
                }
            }
        }
        for (tree, key) in &new_keys {
            self.set_in_list(*tree, key, vcid, true)?;
        }
        if is_listed_orphan(token) {
            self.trees[ORPHANS].insert(vcid.as_bytes(), &[] as &[u8])?;
        } else if previous.is_some_and(is_listed_orphan) {
            self.trees[ORPHANS].remove(vcid.as_bytes())?;
        }
        Ok(())
    }
}

impl<V: TreeView> Tx for SledTx<'_, V> {
    fn card(&self, issuer_card_ref_id: &str) -> Result<Option<CardRecord>, TxError> {
        self.get(CARDS, issuer_card_ref_id.as_bytes())
    }

    fn card_ref_by_pan_fingerprint(&self, fingerprint: &str) -> Result<Option<String>, TxError> {
        Ok(self.trees[PAN_INDEX]
            .get(fingerprint.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    fn put_card(&self, card: &CardRecord) -> Result<(), TxError> {
        self.put(CARDS, card.issuer_card_ref_id.as_bytes(), card)?;
        self.trees[PAN_INDEX].insert(
            card.pan_fingerprint.as_bytes(),
            card.issuer_card_ref_id.as_bytes(),
        )?;
        // The reference is derived from the PAN, so a card's last four never change.
        let (tree, key) = card_last4_key(card);
        self.trees[tree].insert(key, &[] as &[u8])?;
        Ok(())
    }

    fn enrollment(&self, correlation_id: &str) -> Result<Option<Enrollment>, TxError> {
        self.get(ENROLLMENTS, correlation_id.as_bytes())
    }

    fn put_enrollment(&self, enrollment: &Enrollment) -> Result<(), TxError> {
        self.put(
            ENROLLMENTS,
            enrollment.correlation_id.as_bytes(),
            enrollment,
        )
    }

    fn next_id(&self) -> Result<u64, TxError> {
        self.trees[META].generate_id()
    }

    fn put_decision(&self, decision: &DecisionRecord) -> Result<(), TxError> {
        let key = decision_key(&decision.decision_id)
            .ok_or_else(|| TxError::abort("decision id must be 16 hex digits"))?;
        self.put(DECISIONS, &key, decision)
    }

    fn decision(&self, decision_id: &str) -> Result<Option<DecisionRecord>, TxError> {
        match decision_key(decision_id) {
            Some(key) => self.get(DECISIONS, &key),
            None => Ok(None),
        }
    }

    fn token(&self, virtual_card_id: &str) -> Result<Option<TokenRecord>, TxError> {
        self.get(TOKENS, virtual_card_id.as_bytes())
    }

    fn put_token(&self, token: &TokenRecord) -> Result<(), TxError> {
        let vcid = token.virtual_card_id.as_bytes();
        let previous: Option<TokenRecord> = self.get(TOKENS, vcid)?;
        let new_keys = token_index_keys(token);
        if let Some(previous) = &previous {
            for stale in token_index_keys(previous) {
                if !new_keys.contains(&stale) {
                    self.trees[stale.0].remove(stale.1)?;
                }
            }
        }
        for (tree, key) in new_keys {
            self.trees[tree].insert(key, &[] as &[u8])?;
        }
        self.update_lineage_indexes(previous.as_ref(), token)?;
        self.put(TOKENS, vcid, token)
    }

    fn token_ids_by_reference(&self, reference_id: &str) -> Result<Vec<String>, TxError> {
        self.list(TOKENS_BY_OWN_REF, reference_id)
    }

    fn token_ids_by_number_fingerprint(&self, fingerprint: &str) -> Result<Vec<String>, TxError> {
        self.list(TOKENS_BY_OWN_FP, fingerprint)
    }

    fn token_ids_made_from(&self, virtual_card_id: &str) -> Result<Vec<String>, TxError> {
        self.list(TOKENS_BY_PARENT, virtual_card_id)
    }

    fn append_transition(&self, transition: &Transition) -> Result<(), TxError> {
        let seq = self.next_id()?;
        let key = pair_key(&transition.virtual_card_id, &seq.to_be_bytes());
        self.put(TRANSITIONS, &key, transition)
    }

    fn mark_seen(&self, fingerprint: &str, at: &str) -> Result<bool, TxError> {
        let previous = self.trees[SEEN].insert(fingerprint.as_bytes(), at.as_bytes())?;
        Ok(previous.is_some())
    }

    fn counter_add(&self, cell: &Cell, delta: i64) -> Result<(), TxError> {
        self.add_to_cell(cell, delta)
    }

    fn counter_sum(&self, span: &Span) -> Result<i64, TxError> {
        self.sum_span(span)
    }

    fn last_seen_swap(
        &self,
        series: &SeriesId,
        member: &MemberId,
        at: u64,
    ) -> Result<Option<u64>, TxError> {
        self.swap_last_seen(series, member, at)
    }

    fn tsh_operation(&self, correlation_id: &str) -> Result<Option<TshOperation>, TxError> {
        self.get(TSH_OPERATIONS, correlation_id.as_bytes())
    }

    fn put_tsh_operation(&self, operation: &TshOperation) -> Result<(), TxError> {
        let cid = operation.correlation_id.as_bytes();
        if operation.status == OperationStatus::Pending {
            self.trees[PENDING_OPERATIONS].insert(cid, &[] as &[u8])?;
        } else {
            self.trees[PENDING_OPERATIONS].remove(cid)?;
        }
        self.put(
            TSH_OPERATIONS,
            operation.correlation_id.as_bytes(),
            operation,
        )
    }

    fn revoke_session(&self, session_id: &str, until: u64) -> Result<(), TxError> {
        self.put(REVOKED_SESSIONS, session_id.as_bytes(), &until)
    }

    fn append_audit(&self, entry: &AuditEntry) -> Result<(), TxError> {
        let key = decision_key(&entry.audit_id)
            .ok_or_else(|| TxError::abort("audit id must be 16 hex digits"))?;
        if self.trees[AUDIT].get(key)?.is_some() {
            return Err(TxError::abort("audit entries are append-only"));
        }
        self.put(AUDIT, &key, entry)
    }

    fn put_event(&self, event: &OutboxEvent) -> Result<(), TxError> {
        let key = event_sequence(&event.id)
            .ok_or_else(|| TxError::abort("event id must be evt- and 16 hex digits"))?
            .to_be_bytes();
        if event.status == EventStatus::Pending {
            self.trees[PENDING_EVENTS].insert(key, &[] as &[u8])?;
        } else {
            self.trees[PENDING_EVENTS].remove(key)?;
        }
        self.put(EVENTS, &key, event)
    }

    fn event(&self, id: &str) -> Result<Option<OutboxEvent>, TxError> {
        match event_sequence(id) {
            Some(seq) => self.get(EVENTS, &seq.to_be_bytes()),
            None => Ok(None),
        }
    }

    fn token_sync(&self, virtual_card_id: &str) -> Result<Option<TokenSync>, TxError> {
        self.get(TOKEN_SYNC, virtual_card_id.as_bytes())
    }

    fn put_token_sync(&self, sync: &TokenSync) -> Result<(), TxError> {
        let vcid = sync.virtual_card_id.as_bytes();
        if sync.check.is_some() {
            self.trees[CHECKS].insert(vcid, &[] as &[u8])?;
        } else {
            self.trees[CHECKS].remove(vcid)?;
        }
        self.put(TOKEN_SYNC, vcid, sync)
    }

    fn put_reconciliation(&self, report: &ReconciliationReport) -> Result<(), TxError> {
        let key = reconciliation_sequence(&report.reconciliation_id)
            .ok_or_else(|| TxError::abort("reconciliation id must be rec- and 16 hex digits"))?
            .to_be_bytes();
        self.put(RECONCILIATIONS, &key, report)
    }
}
