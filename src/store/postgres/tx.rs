//! [`Tx`] on PostgreSQL: every method is one statement inside the caller's SERIALIZABLE
//! transaction. Upserts are `INSERT … ON CONFLICT … DO UPDATE`; "seen before" and append-only
//! rules are primary keys, so two instances racing on the same message or id are decided by the
//! database. The first SQL error poisons the transaction: it is never committed, even if a body
//! swallowed the error.

use std::cell::RefCell;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::pool::{Params, PgConn};
use crate::domain::event::event_sequence;
use crate::domain::reconciliation::reconciliation_sequence;
use crate::domain::{
    AuditEntry, CardRecord, DecisionRecord, Enrollment, EventStatus, OperationStatus, OutboxEvent,
    ReconciliationReport, TokenRecord, TokenSync, Transition, TshOperation,
};
use crate::store::counters::{Cell, MemberId, SeriesId, Span};
use crate::store::{Tx, TxError};

/// A transaction in progress on one connection.
pub struct PgTx<'a> {
    pub conn: &'a PgConn,
    /// The first database error seen; the transaction is rolled back and maybe retried.
    pub failure: RefCell<Option<tokio_postgres::Error>>,
}

/// A 16-hex-digit id (decision, audit) as the `bigint` key it is stored under.
pub fn id_key(id: &str) -> Option<i64> {
    crate::store::id_number(id).and_then(|n| i64::try_from(n).ok())
}

pub fn to_doc<T: Serialize>(value: &T) -> Result<String, TxError> {
    serde_json::to_string(value).map_err(|e| TxError::codec(e.to_string()))
}

fn from_doc<T: DeserializeOwned>(doc: &str) -> Result<T, TxError> {
    serde_json::from_str(doc).map_err(|e| TxError::codec(e.to_string()))
}

impl PgTx<'_> {
    fn failed(&self, e: tokio_postgres::Error) -> TxError {
        let error = TxError::sql(&e);
        self.failure.borrow_mut().get_or_insert(e);
        error
    }

    fn query_opt(&self, sql: &'static str, params: Params<'_>) -> Result<Option<Row>, TxError> {
        self.conn.query_opt(sql, params).map_err(|e| self.failed(e))
    }

    fn execute(&self, sql: &'static str, params: Params<'_>) -> Result<u64, TxError> {
        self.conn.execute(sql, params).map_err(|e| self.failed(e))
    }

    fn ids(&self, sql: &'static str, key: &str) -> Result<Vec<String>, TxError> {
        if key.contains('\0') {
            return Ok(Vec::new());
        }
        let rows = self.conn.query(sql, &[&key]).map_err(|e| self.failed(e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// A point read by text key; a key with NUL (which `text` cannot hold) finds nothing.
    fn doc_by<T: DeserializeOwned>(
        &self,
        sql: &'static str,
        key: &str,
    ) -> Result<Option<T>, TxError> {
        if key.contains('\0') {
            return Ok(None);
        }
        self.doc(sql, &key)
    }

    fn doc<T: DeserializeOwned>(
        &self,
        sql: &'static str,
        key: &(dyn ToSql + Sync),
    ) -> Result<Option<T>, TxError> {
        match self.query_opt(sql, &[key])? {
            Some(row) => Ok(Some(from_doc(row.get::<_, &str>(0))?)),
            None => Ok(None),
        }
    }

    fn upsert<T: Serialize>(
        &self,
        sql: &'static str,
        key: &(dyn ToSql + Sync),
        value: &T,
    ) -> Result<(), TxError> {
        let doc = to_doc(value)?;
        self.execute(sql, &[key, &doc]).map(|_| ())
    }
}

impl Tx for PgTx<'_> {
    fn card(&self, issuer_card_ref_id: &str) -> Result<Option<CardRecord>, TxError> {
        self.doc_by(
            "SELECT doc FROM cards WHERE issuer_card_ref_id = $1",
            issuer_card_ref_id,
        )
    }

    fn card_ref_by_pan_fingerprint(&self, fingerprint: &str) -> Result<Option<String>, TxError> {
        if fingerprint.contains('\0') {
            return Ok(None);
        }
        let row = self.query_opt(
            "SELECT issuer_card_ref_id FROM card_pan_fingerprints WHERE pan_fingerprint = $1",
            &[&fingerprint],
        )?;
        Ok(row.map(|r| r.get(0)))
    }

    fn put_card(&self, card: &CardRecord) -> Result<(), TxError> {
        let doc = to_doc(card)?;
        self.execute(
            "INSERT INTO cards (issuer_card_ref_id, last4, doc) VALUES ($1, $2, $3)
             ON CONFLICT (issuer_card_ref_id) DO UPDATE SET last4 = excluded.last4, doc = excluded.doc",
            &[&card.issuer_card_ref_id, &card.last4, &doc],
        )?;
        self.execute(
            "INSERT INTO card_pan_fingerprints (pan_fingerprint, issuer_card_ref_id) VALUES ($1, $2)
             ON CONFLICT (pan_fingerprint) DO UPDATE SET issuer_card_ref_id = excluded.issuer_card_ref_id",
            &[&card.pan_fingerprint, &card.issuer_card_ref_id],
        )
        .map(|_| ())
    }

    fn enrollment(&self, correlation_id: &str) -> Result<Option<Enrollment>, TxError> {
        self.doc_by(
            "SELECT doc FROM enrollments WHERE correlation_id = $1",
            correlation_id,
        )
    }

    fn put_enrollment(&self, enrollment: &Enrollment) -> Result<(), TxError> {
        self.upsert(
            "INSERT INTO enrollments (correlation_id, doc) VALUES ($1, $2)
             ON CONFLICT (correlation_id) DO UPDATE SET doc = excluded.doc",
            &enrollment.correlation_id,
            enrollment,
        )
    }

    fn next_id(&self) -> Result<u64, TxError> {
        let row = self.query_opt("SELECT nextval('record_ids')", &[])?;
        let id: i64 = row.map(|r| r.get(0)).unwrap_or(0);
        u64::try_from(id).map_err(|_| TxError::abort("the id sequence returned a negative id"))
    }

    fn put_decision(&self, decision: &DecisionRecord) -> Result<(), TxError> {
        let key = id_key(&decision.decision_id)
            .ok_or_else(|| TxError::abort("decision id must be 16 hex digits"))?;
        self.upsert(
            "INSERT INTO decisions (decision_id, doc) VALUES ($1, $2)
             ON CONFLICT (decision_id) DO UPDATE SET doc = excluded.doc",
            &key,
            decision,
        )
    }

    fn decision(&self, decision_id: &str) -> Result<Option<DecisionRecord>, TxError> {
        match id_key(decision_id) {
            Some(key) => self.doc("SELECT doc FROM decisions WHERE decision_id = $1", &key),
            None => Ok(None),
        }
    }

    fn token(&self, virtual_card_id: &str) -> Result<Option<TokenRecord>, TxError> {
        self.doc_by(
            "SELECT doc FROM tokens WHERE virtual_card_id = $1",
            virtual_card_id,
        )
    }

    fn put_token(&self, token: &TokenRecord) -> Result<(), TxError> {
        // Every index is a column of the row, so it always moves with the token.
        let doc = to_doc(token)?;
        let original = token.original_token.as_ref();
        let reference = original.and_then(|o| o.token_reference_id.as_deref());
        let fingerprint = original.and_then(|o| o.token_fingerprint.as_deref());
        let own_fingerprint = token
            .token_number
            .as_ref()
            .map(|n| n.token_fingerprint.as_str());
        let own_last4 = token.token_number.as_ref().map(|n| n.token_last4.as_str());
        // The orphan list follows the rule every engine shares (flagged and not deleted itself).
        let orphaned = crate::domain::lineage::is_listed_orphan(token);
        self.execute(
            "INSERT INTO tokens (virtual_card_id, issuer_card_ref_id, original_token_reference_id,
                                 original_token_fingerprint, token_reference_id,
                                 token_number_fingerprint, original_virtual_card_id, orphaned, doc,
                                 token_last4)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (virtual_card_id) DO UPDATE SET
                 issuer_card_ref_id = excluded.issuer_card_ref_id,
                 original_token_reference_id = excluded.original_token_reference_id,
                 original_token_fingerprint = excluded.original_token_fingerprint,
                 token_reference_id = excluded.token_reference_id,
                 token_number_fingerprint = excluded.token_number_fingerprint,
                 original_virtual_card_id = excluded.original_virtual_card_id,
                 orphaned = excluded.orphaned,
                 doc = excluded.doc,
                 token_last4 = excluded.token_last4",
            &[
                &token.virtual_card_id,
                &token.issuer_card_ref_id,
                &reference,
                &fingerprint,
                &token.token_reference_id,
                &own_fingerprint,
                &token.original_virtual_card_id,
                &orphaned,
                &doc,
                &own_last4,
            ],
        )
        .map(|_| ())
    }

    fn token_ids_by_reference(&self, reference_id: &str) -> Result<Vec<String>, TxError> {
        self.ids(super::reads::IDS_BY_OWN_REFERENCE, reference_id)
    }

    fn token_ids_by_number_fingerprint(&self, fingerprint: &str) -> Result<Vec<String>, TxError> {
        self.ids(super::reads::IDS_BY_OWN_FINGERPRINT, fingerprint)
    }

    fn token_ids_made_from(&self, virtual_card_id: &str) -> Result<Vec<String>, TxError> {
        self.ids(super::reads::IDS_BY_PARENT, virtual_card_id)
    }

    fn append_transition(&self, transition: &Transition) -> Result<(), TxError> {
        let seq = i64::try_from(self.next_id()?)
            .map_err(|_| TxError::abort("transition sequence out of range"))?;
        let doc = to_doc(transition)?;
        self.execute(
            "INSERT INTO transitions (virtual_card_id, seq, doc) VALUES ($1, $2, $3)",
            &[&transition.virtual_card_id, &seq, &doc],
        )
        .map(|_| ())
    }

    fn mark_seen(&self, fingerprint: &str, at: &str) -> Result<bool, TxError> {
        let inserted = self.execute(
            "INSERT INTO seen_messages (message_fingerprint, received_time) VALUES ($1, $2)
             ON CONFLICT (message_fingerprint) DO NOTHING",
            &[&fingerprint, &at],
        )?;
        Ok(inserted == 0)
    }

    fn counter_add(&self, cell: &Cell, delta: i64) -> Result<(), TxError> {
        // One row per cell; concurrent adds to one cell are serialised by the row, and shared
        // series spread over shards so no single row takes all the traffic.
        let (level, bucket, shard) = (
            i16::from(cell.level),
            i64::from(cell.bucket),
            i16::from(cell.shard),
        );
        self.execute(
            super::reads::COUNTER_ADD,
            &[&cell.series.0.as_slice(), &level, &bucket, &shard, &delta],
        )
        .map(|_| ())
    }

    fn counter_sum(&self, span: &Span) -> Result<i64, TxError> {
        if span.buckets.is_empty() {
            return Ok(0);
        }
        let (level, from, to) = super::reads::span_params(span);
        let row = self.query_opt(
            super::reads::COUNTER_SUM,
            &[&span.series.0.as_slice(), &level, &from, &to],
        )?;
        Ok(row.map_or(0, |r| r.get(0)))
    }

    fn last_seen_swap(
        &self,
        series: &SeriesId,
        member: &MemberId,
        at: u64,
    ) -> Result<Option<u64>, TxError> {
        let (series, member) = (series.0.as_slice(), member.0.as_slice());
        let previous: Option<i64> = self
            .query_opt(super::reads::LAST_SEEN, &[&series, &member])?
            .map(|r| r.get(0));
        let at = i64::try_from(at).map_err(|_| TxError::abort("time out of range"))?;
        if previous.is_none_or(|p| p < at) {
            self.execute(super::reads::LAST_SEEN_SET, &[&series, &member, &at])?;
        }
        Ok(previous.and_then(|p| u64::try_from(p).ok()))
    }

    fn tsh_operation(&self, correlation_id: &str) -> Result<Option<TshOperation>, TxError> {
        self.doc_by(
            "SELECT doc FROM tsh_operations WHERE correlation_id = $1",
            correlation_id,
        )
    }

    fn put_tsh_operation(&self, operation: &TshOperation) -> Result<(), TxError> {
        // The pending flag is a column of the row, so the pending list moves with the status.
        let doc = to_doc(operation)?;
        let pending = operation.status == OperationStatus::Pending;
        self.execute(
            "INSERT INTO tsh_operations (correlation_id, pending, doc) VALUES ($1, $2, $3)
             ON CONFLICT (correlation_id) DO UPDATE SET pending = excluded.pending, doc = excluded.doc",
            &[&operation.correlation_id, &pending, &doc],
        )
        .map(|_| ())
    }

    fn append_audit(&self, entry: &AuditEntry) -> Result<(), TxError> {
        let key = id_key(&entry.audit_id)
            .ok_or_else(|| TxError::abort("audit id must be 16 hex digits"))?;
        let doc = to_doc(entry)?;
        let inserted = self.execute(
            "INSERT INTO audit_entries (audit_id, doc) VALUES ($1, $2)
             ON CONFLICT (audit_id) DO NOTHING",
            &[&key, &doc],
        )?;
        if inserted == 0 {
            return Err(TxError::abort("audit entries are append-only"));
        }
        Ok(())
    }

    fn revoke_session(&self, session_id: &str, until: u64) -> Result<(), TxError> {
        let until = i64::try_from(until).map_err(|_| TxError::abort("time out of range"))?;
        self.execute(
            "INSERT INTO revoked_sessions (session_id, until) VALUES ($1, $2)
             ON CONFLICT (session_id) DO UPDATE SET until = excluded.until",
            &[&session_id, &until],
        )
        .map(|_| ())
    }

    fn put_event(&self, event: &OutboxEvent) -> Result<(), TxError> {
        let seq = event_key(&event.id)
            .ok_or_else(|| TxError::abort("event id must be evt- and 16 hex digits"))?;
        let doc = to_doc(event)?;
        let pending = event.status == EventStatus::Pending;
        self.execute(
            "INSERT INTO outbox_events (event_seq, pending, doc) VALUES ($1, $2, $3)
             ON CONFLICT (event_seq) DO UPDATE SET pending = excluded.pending, doc = excluded.doc",
            &[&seq, &pending, &doc],
        )
        .map(|_| ())
    }

    fn event(&self, id: &str) -> Result<Option<OutboxEvent>, TxError> {
        match event_key(id) {
            Some(seq) => self.doc(super::reads::EVENT, &seq),
            None => Ok(None),
        }
    }

    fn token_sync(&self, virtual_card_id: &str) -> Result<Option<TokenSync>, TxError> {
        self.doc_by(super::reads::TOKEN_SYNC, virtual_card_id)
    }

    fn put_token_sync(&self, sync: &TokenSync) -> Result<(), TxError> {
        let doc = to_doc(sync)?;
        let has_check = sync.check.is_some();
        self.execute(
            "INSERT INTO token_syncs (virtual_card_id, has_check, doc) VALUES ($1, $2, $3)
             ON CONFLICT (virtual_card_id) DO UPDATE SET has_check = excluded.has_check,
                 doc = excluded.doc",
            &[&sync.virtual_card_id, &has_check, &doc],
        )
        .map(|_| ())
    }

    fn put_reconciliation(&self, report: &ReconciliationReport) -> Result<(), TxError> {
        let seq = reconciliation_key(&report.reconciliation_id)
            .ok_or_else(|| TxError::abort("reconciliation id must be rec- and 16 hex digits"))?;
        self.upsert(
            "INSERT INTO reconciliations (reconciliation_seq, doc) VALUES ($1, $2)
             ON CONFLICT (reconciliation_seq) DO UPDATE SET doc = excluded.doc",
            &seq,
            report,
        )
    }
}

/// A reconciliation id (`rec-` + 16 hex digits) as its `bigint` key.
pub fn reconciliation_key(id: &str) -> Option<i64> {
    reconciliation_sequence(id).and_then(|n| i64::try_from(n).ok())
}

/// An event id (`evt-` + 16 hex digits) as its `bigint` key.
pub fn event_key(id: &str) -> Option<i64> {
    event_sequence(id).and_then(|n| i64::try_from(n).ok())
}
