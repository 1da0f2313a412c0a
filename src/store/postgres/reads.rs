//! Reads outside transactions: point lookups and keyset-paged scans (each page one autocommit
//! statement, so a long scan never holds a snapshot or a lock). Text keys are ordered with
//! `COLLATE "C"` (byte order, as sled orders them, whatever the database's locale; CockroachDB
//! 22.2+ accepts and ignores it since its strings already compare bytewise).

use serde::de::DeserializeOwned;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::pool::{describe, Params, PgConn};
use super::{is_connection_loss, unavailable, PgBackend};
use crate::store::counters::{MemberId, SeriesId, Span, LEVELS};
use crate::store::engine::{Flow, Order, Visit};
use crate::store::StoreError;

/// Rows per scan page.
const PAGE: i64 = 256;

pub const CARD: &str = "SELECT doc FROM cards WHERE issuer_card_ref_id = $1";
pub const CARD_BY_PAN: &str = "SELECT c.doc FROM card_pan_fingerprints p
     JOIN cards c ON c.issuer_card_ref_id = p.issuer_card_ref_id WHERE p.pan_fingerprint = $1";
pub const CARD_COUNT: &str = "SELECT count(*) FROM cards";
pub const ENROLLMENT: &str = "SELECT doc FROM enrollments WHERE correlation_id = $1";
pub const DECISION: &str = "SELECT doc FROM decisions WHERE decision_id = $1";
pub const TOKEN: &str = "SELECT doc FROM tokens WHERE virtual_card_id = $1";
pub const TSH_OPERATION: &str = "SELECT doc FROM tsh_operations WHERE correlation_id = $1";

pub const EVENT: &str = "SELECT doc FROM outbox_events WHERE event_seq = $1";
pub const IDS_BY_OWN_REFERENCE: &str = "SELECT virtual_card_id FROM tokens
     WHERE token_reference_id = $1 ORDER BY virtual_card_id COLLATE \"C\"";
pub const IDS_BY_OWN_FINGERPRINT: &str = "SELECT virtual_card_id FROM tokens
     WHERE token_number_fingerprint = $1 ORDER BY virtual_card_id COLLATE \"C\"";
pub const IDS_BY_PARENT: &str = "SELECT virtual_card_id FROM tokens
     WHERE original_virtual_card_id = $1 ORDER BY virtual_card_id COLLATE \"C\"";
pub const ORPHANS: &str = "SELECT virtual_card_id, doc FROM tokens
     WHERE orphaned AND $1::text IS NULL AND virtual_card_id COLLATE \"C\" > $2
     ORDER BY virtual_card_id COLLATE \"C\" LIMIT $3";
pub const EVENTS_DESC: &str = "SELECT event_seq, doc FROM outbox_events WHERE event_seq < $1
     ORDER BY event_seq DESC LIMIT $2";
pub const EVENTS_ASC: &str = "SELECT event_seq, doc FROM outbox_events WHERE event_seq > $1
     ORDER BY event_seq LIMIT $2";
pub const PENDING_EVENTS_DESC: &str = "SELECT event_seq, doc FROM outbox_events
     WHERE pending AND event_seq < $1 ORDER BY event_seq DESC LIMIT $2";
pub const PENDING_EVENTS_ASC: &str = "SELECT event_seq, doc FROM outbox_events
     WHERE pending AND event_seq > $1 ORDER BY event_seq LIMIT $2";

pub const COUNTER_ADD: &str = "INSERT INTO counter_cells (series, level, bucket, shard, n)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (series, level, bucket, shard) DO UPDATE SET n = counter_cells.n + excluded.n";
pub const COUNTER_SUM: &str = "SELECT CAST(COALESCE(SUM(n), 0) AS bigint) FROM counter_cells
     WHERE series = $1 AND level = $2 AND bucket >= $3 AND bucket < $4";
pub const LAST_SEEN: &str =
    "SELECT last_seen FROM series_members WHERE series = $1 AND member = $2";
pub const LAST_SEEN_SET: &str = "INSERT INTO series_members (series, member, last_seen)
     VALUES ($1, $2, $3)
     ON CONFLICT (series, member) DO UPDATE SET last_seen = excluded.last_seen";
pub const PRUNE_CELLS: &str = "DELETE FROM counter_cells WHERE level = $1 AND bucket < $2";
pub const PRUNE_MEMBERS: &str = "DELETE FROM series_members WHERE last_seen < $1";

pub const DECISIONS_DESC: &str = "SELECT decision_id, doc FROM decisions WHERE decision_id < $1
     ORDER BY decision_id DESC LIMIT $2";
pub const DECISIONS_ASC: &str = "SELECT decision_id, doc FROM decisions WHERE decision_id > $1
     ORDER BY decision_id LIMIT $2";
pub const AUDIT_DESC: &str = "SELECT audit_id, doc FROM audit_entries WHERE audit_id < $1
     ORDER BY audit_id DESC LIMIT $2";
pub const AUDIT_ASC: &str = "SELECT audit_id, doc FROM audit_entries WHERE audit_id > $1
     ORDER BY audit_id LIMIT $2";
pub const TRANSITIONS: &str = "SELECT seq, doc FROM transitions
     WHERE virtual_card_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";
pub const TOKENS_ALL: &str = "SELECT virtual_card_id, doc FROM tokens
     WHERE $1::text IS NULL AND virtual_card_id COLLATE \"C\" > $2
     ORDER BY virtual_card_id COLLATE \"C\" LIMIT $3";
pub const TOKENS_BY_CARD: &str = "SELECT virtual_card_id, doc FROM tokens
     WHERE issuer_card_ref_id = $1 AND virtual_card_id COLLATE \"C\" > $2
     ORDER BY virtual_card_id COLLATE \"C\" LIMIT $3";
pub const TOKENS_BY_ORIGINAL_REF: &str = "SELECT virtual_card_id, doc FROM tokens
     WHERE original_token_reference_id = $1 AND virtual_card_id COLLATE \"C\" > $2
     ORDER BY virtual_card_id COLLATE \"C\" LIMIT $3";
pub const TOKENS_BY_ORIGINAL_FP: &str = "SELECT virtual_card_id, doc FROM tokens
     WHERE original_token_fingerprint = $1 AND virtual_card_id COLLATE \"C\" > $2
     ORDER BY virtual_card_id COLLATE \"C\" LIMIT $3";

pub const TOKENS_BY_LAST4: &str = "SELECT virtual_card_id, doc FROM tokens
     WHERE token_last4 = $1 AND virtual_card_id COLLATE \"C\" > $2
     ORDER BY virtual_card_id COLLATE \"C\" LIMIT $3";
pub const CARDS_BY_LAST4: &str = "SELECT issuer_card_ref_id, doc FROM cards
     WHERE last4 = $1 AND issuer_card_ref_id COLLATE \"C\" > $2
     ORDER BY issuer_card_ref_id COLLATE \"C\" LIMIT $3";
pub const TOKEN_SYNC: &str = "SELECT doc FROM token_syncs WHERE virtual_card_id = $1";
pub const TOKEN_CHECKS: &str = "SELECT virtual_card_id, doc FROM token_syncs
     WHERE has_check AND $1::text IS NULL AND virtual_card_id COLLATE \"C\" > $2
     ORDER BY virtual_card_id COLLATE \"C\" LIMIT $3";
pub const PENDING_TSH_OPERATIONS: &str = "SELECT correlation_id, doc FROM tsh_operations
     WHERE pending AND $1::text IS NULL AND correlation_id COLLATE \"C\" > $2
     ORDER BY correlation_id COLLATE \"C\" LIMIT $3";
pub const RECONCILIATION: &str = "SELECT doc FROM reconciliations WHERE reconciliation_seq = $1";
pub const RECONCILIATIONS_DESC: &str = "SELECT reconciliation_seq, doc FROM reconciliations
     WHERE reconciliation_seq < $1 ORDER BY reconciliation_seq DESC LIMIT $2";
pub const CARDS_ALL: &str = "SELECT issuer_card_ref_id, doc FROM cards
     WHERE $1::text IS NULL AND issuer_card_ref_id COLLATE \"C\" > $2
     ORDER BY issuer_card_ref_id COLLATE \"C\" LIMIT $3";
pub const SESSION_REVOKED: &str = "SELECT until FROM revoked_sessions WHERE session_id = $1";
pub const PRUNE_SESSIONS: &str = "DELETE FROM revoked_sessions WHERE until <= $1";

/// A span's level and bucket range as SQL parameters.
pub fn span_params(span: &Span) -> (i16, i64, i64) {
    (
        i16::from(span.level),
        i64::from(span.buckets.start),
        i64::from(span.buckets.end),
    )
}

fn decode<T: DeserializeOwned>(doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Codec(e.to_string()))
}

impl PgBackend {
    /// Runs `read` on a pooled connection; a connection found dead is replaced once (idle
    /// connections die when the database restarts).
    pub(super) fn with_conn<T>(
        &self,
        read: impl Fn(&PgConn) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let pooled = self.pool.get().map_err(unavailable)?;
            match read(pooled.conn()) {
                Ok(value) => return Ok(value),
                Err(e) if is_connection_loss(&e) => {
                    pooled.discard();
                    if tries == 2 {
                        return Err(StoreError::Unavailable(describe(&e)));
                    }
                }
                Err(e) => return Err(StoreError::Io(describe(&e))),
            }
        }
    }

    pub(super) fn doc<T: DeserializeOwned>(
        &self,
        sql: &'static str,
        key: &(dyn ToSql + Sync),
    ) -> Result<Option<T>, StoreError> {
        let doc: Option<String> =
            self.with_conn(|conn| Ok(conn.query_opt(sql, &[key])?.map(|row| row.get(0))))?;
        doc.map(|d| decode(&d)).transpose()
    }

    pub(super) fn ids(&self, sql: &'static str, key: &str) -> Result<Vec<String>, StoreError> {
        self.with_conn(|conn| Ok(conn.query(sql, &[&key])?.iter().map(|r| r.get(0)).collect()))
    }

    pub(super) fn sum_span(&self, span: &Span) -> Result<i64, StoreError> {
        if span.buckets.is_empty() {
            return Ok(0);
        }
        let (level, from, to) = span_params(span);
        let series = span.series.0.as_slice();
        self.with_conn(|conn| {
            Ok(conn
                .query_opt(COUNTER_SUM, &[&series, &level, &from, &to])?
                .map_or(0, |r| r.get(0)))
        })
    }

    pub(super) fn member_seen(
        &self,
        series: &SeriesId,
        member: &MemberId,
    ) -> Result<Option<u64>, StoreError> {
        let (series, member) = (series.0.as_slice(), member.0.as_slice());
        let at: Option<i64> = self.with_conn(|conn| {
            Ok(conn
                .query_opt(LAST_SEEN, &[&series, &member])?
                .map(|r| r.get(0)))
        })?;
        Ok(at.and_then(|t| u64::try_from(t).ok()))
    }

    /// Deletes, per level, the cells whose bucket ends at or before `before`, then the members
    /// last seen before it (autocommit statements: nothing removed is inside any window).
    pub(super) fn prune(&self, before: u64) -> Result<u64, StoreError> {
        let mut removed = 0;
        for (level, width) in LEVELS.iter().enumerate() {
            // (bucket + 1) × width ≤ before  ⇔  bucket < before / width
            let limit = i64::try_from(before / width).unwrap_or(i64::MAX);
            let level = i16::try_from(level).unwrap_or(i16::MAX);
            removed += self.with_conn(|conn| conn.execute(PRUNE_CELLS, &[&level, &limit]))?;
        }
        let before = i64::try_from(before).unwrap_or(i64::MAX);
        removed += self.with_conn(|conn| conn.execute(PRUNE_MEMBERS, &[&before]))?;
        Ok(removed)
    }

    pub(super) fn count(&self, sql: &'static str) -> Result<usize, StoreError> {
        let n: i64 =
            self.with_conn(|conn| Ok(conn.query_opt(sql, &[])?.map_or(0, |r| r.get(0))))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn page(&self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        self.with_conn(|conn| conn.query(sql, params))
    }

    /// Hands a page's documents to the visitor; `Ok(None)` when the scan is over.
    fn feed<T: DeserializeOwned, C>(
        rows: Vec<Row>,
        cursor: impl Fn(&Row) -> C,
        visit: Visit<'_, T>,
    ) -> Result<Option<C>, StoreError> {
        let full = rows.len() as i64 == PAGE;
        let mut last = None;
        for row in &rows {
            if visit(decode(row.get::<_, &str>(1))?)? == Flow::Stop {
                return Ok(None);
            }
            last = Some(cursor(row));
        }
        Ok(if full { last } else { None })
    }

    /// Scans a table keyed by a `bigint` id, in `order`.
    pub(super) fn scan_ids<T: DeserializeOwned>(
        &self,
        sql: &'static str,
        order: Order,
        visit: Visit<'_, T>,
    ) -> Result<(), StoreError> {
        let mut after = match order {
            Order::NewestFirst => i64::MAX,
            Order::OldestFirst => i64::MIN,
        };
        loop {
            let rows = self.page(sql, &[&after, &PAGE])?;
            match Self::feed(rows, |r| r.get::<_, i64>(0), visit)? {
                Some(next) => after = next,
                None => return Ok(()),
            }
        }
    }

    /// Scans rows of one key ordered by a `bigint` sequence (a token's transitions).
    pub(super) fn scan_keyed_ids<T: DeserializeOwned>(
        &self,
        sql: &'static str,
        key: &str,
        visit: Visit<'_, T>,
    ) -> Result<(), StoreError> {
        let mut after = i64::MIN;
        loop {
            let rows = self.page(sql, &[&key, &after, &PAGE])?;
            match Self::feed(rows, |r| r.get::<_, i64>(0), visit)? {
                Some(next) => after = next,
                None => return Ok(()),
            }
        }
    }

    /// Scans rows ordered by a text key in byte order, optionally filtered by `key`.
    pub(super) fn scan_text<T: DeserializeOwned>(
        &self,
        sql: &'static str,
        key: Option<&str>,
        visit: Visit<'_, T>,
    ) -> Result<(), StoreError> {
        let mut after = String::new();
        loop {
            let rows = self.page(sql, &[&key, &after, &PAGE])?;
            match Self::feed(rows, |r| r.get::<_, String>(0), visit)? {
                Some(next) => after = next,
                None => return Ok(()),
            }
        }
    }
}
