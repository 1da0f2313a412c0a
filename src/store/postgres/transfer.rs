//! The PostgreSQL side of `store export` / `store import` (`store::transfer`): every record table
//! read in one REPEATABLE READ snapshot, each table streamed row by row (no table is held in
//! memory), and records written back in one transaction through the same statements the service
//! uses, so every index column is rebuilt from the record itself.

use std::cell::RefCell;

use futures_util::StreamExt;
use tokio_postgres::Row;

use super::pool::{block_on, describe, PgConn};
use super::tx::{to_doc, PgTx};
use super::{unavailable, PgBackend};
use crate::store::counters::{Cell, MemberId, SeriesId};
use crate::store::engine::{Flow, Visit};
use crate::store::transfer::Record;
use crate::store::{StoreError, Tx, TxError};

/// One record table: what to select (key order, bytewise for text) and how a row becomes a record.
struct Table {
    select: &'static str,
    read: fn(&Row) -> Result<Record, StoreError>,
}

fn doc<T: serde::de::DeserializeOwned>(row: &Row, column: usize) -> Result<T, StoreError> {
    serde_json::from_str(row.get::<_, &str>(column)).map_err(|e| StoreError::Codec(e.to_string()))
}

fn id16(row: &Row, column: usize) -> Result<[u8; 16], StoreError> {
    row.get::<_, &[u8]>(column)
        .try_into()
        .map_err(|_| StoreError::Codec("a counter series or member is not 16 bytes".to_owned()))
}

fn narrow<T: TryFrom<i64>>(value: i64) -> Result<T, StoreError> {
    T::try_from(value).map_err(|_| StoreError::Codec(format!("{value} is out of range")))
}

/// In `transfer::TABLES` order.
const TABLES: [Table; 15] = [
    Table {
        select: "SELECT doc FROM cards ORDER BY issuer_card_ref_id COLLATE \"C\"",
        read: |r| Ok(Record::Card(doc(r, 0)?)),
    },
    Table {
        select: "SELECT pan_fingerprint, issuer_card_ref_id FROM card_pan_fingerprints
                 ORDER BY pan_fingerprint COLLATE \"C\"",
        read: |r| {
            Ok(Record::PanIndex {
                pan_fingerprint: r.get(0),
                issuer_card_ref_id: r.get(1),
            })
        },
    },
    Table {
        select: "SELECT doc FROM enrollments ORDER BY correlation_id COLLATE \"C\"",
        read: |r| Ok(Record::Enrollment(doc(r, 0)?)),
    },
    Table {
        select: "SELECT doc FROM decisions ORDER BY decision_id",
        read: |r| Ok(Record::Decision(doc(r, 0)?)),
    },
    Table {
        select: "SELECT doc FROM tokens ORDER BY virtual_card_id COLLATE \"C\"",
        read: |r| Ok(Record::Token(doc(r, 0)?)),
    },
    Table {
        select: "SELECT seq, doc FROM transitions ORDER BY virtual_card_id COLLATE \"C\", seq",
        read: |r| {
            Ok(Record::Transition {
                seq: narrow(r.get::<_, i64>(0))?,
                transition: doc(r, 1)?,
            })
        },
    },
    Table {
        select: "SELECT message_fingerprint, received_time FROM seen_messages
                 ORDER BY message_fingerprint COLLATE \"C\"",
        read: |r| {
            Ok(Record::Seen {
                message_fingerprint: r.get(0),
                received_time: r.get(1),
            })
        },
    },
    Table {
        select: "SELECT series, level, bucket, shard, n FROM counter_cells
                 ORDER BY series, level, bucket, shard",
        read: |r| {
            Ok(Record::CounterCell {
                cell: Cell {
                    series: SeriesId(id16(r, 0)?),
                    level: narrow(i64::from(r.get::<_, i16>(1)))?,
                    bucket: narrow(r.get::<_, i64>(2))?,
                    shard: narrow(i64::from(r.get::<_, i16>(3)))?,
                },
                n: r.get(4),
            })
        },
    },
    Table {
        select: "SELECT series, member, last_seen FROM series_members ORDER BY series, member",
        read: |r| {
            Ok(Record::Member {
                series: SeriesId(id16(r, 0)?),
                member: MemberId(id16(r, 1)?),
                last_seen: narrow(r.get::<_, i64>(2))?,
            })
        },
    },
    Table {
        select: "SELECT doc FROM tsh_operations ORDER BY correlation_id COLLATE \"C\"",
        read: |r| Ok(Record::TshOperation(doc(r, 0)?)),
    },
    Table {
        select: "SELECT doc FROM audit_entries ORDER BY audit_id",
        read: |r| Ok(Record::Audit(doc(r, 0)?)),
    },
    Table {
        select: "SELECT doc FROM outbox_events ORDER BY event_seq",
        read: |r| Ok(Record::Event(doc(r, 0)?)),
    },
    Table {
        select: "SELECT session_id, until FROM revoked_sessions ORDER BY session_id COLLATE \"C\"",
        read: |r| {
            Ok(Record::RevokedSession {
                session_id: r.get(0),
                until: narrow(r.get::<_, i64>(1))?,
            })
        },
    },
    Table {
        select: "SELECT doc FROM token_syncs ORDER BY virtual_card_id COLLATE \"C\"",
        read: |r| Ok(Record::TokenSync(doc(r, 0)?)),
    },
    Table {
        select: "SELECT doc FROM reconciliations ORDER BY reconciliation_seq",
        read: |r| Ok(Record::Reconciliation(doc(r, 0)?)),
    },
];

const COUNT: &str =
    "SELECT (SELECT count(*) FROM cards) + (SELECT count(*) FROM card_pan_fingerprints)
     + (SELECT count(*) FROM enrollments) + (SELECT count(*) FROM decisions)
     + (SELECT count(*) FROM tokens) + (SELECT count(*) FROM transitions)
     + (SELECT count(*) FROM seen_messages) + (SELECT count(*) FROM counter_cells)
     + (SELECT count(*) FROM series_members) + (SELECT count(*) FROM tsh_operations)
     + (SELECT count(*) FROM audit_entries) + (SELECT count(*) FROM outbox_events)
     + (SELECT count(*) FROM revoked_sessions) + (SELECT count(*) FROM token_syncs)
     + (SELECT count(*) FROM reconciliations)";

fn sql_error(e: &tokio_postgres::Error) -> StoreError {
    StoreError::Io(describe(e))
}

/// Streams one table's rows to the visitor; `Ok(Flow::Stop)` when the visitor stopped.
fn stream_table(
    conn: &PgConn,
    table: &Table,
    visit: Visit<'_, Record>,
) -> Result<Flow, StoreError> {
    let no_params: [&(dyn tokio_postgres::types::ToSql + Sync); 0] = [];
    let rows =
        block_on(conn.client.query_raw(table.select, no_params)).map_err(|e| sql_error(&e))?;
    let mut rows = Box::pin(rows);
    while let Some(row) = block_on(rows.next()) {
        let row = row.map_err(|e| sql_error(&e))?;
        if visit((table.read)(&row)?)? == Flow::Stop {
            return Ok(Flow::Stop);
        }
    }
    Ok(Flow::Continue)
}

impl PgBackend {
    pub(super) fn count_records(&self) -> Result<u64, StoreError> {
        let n: i64 =
            self.with_conn(|conn| Ok(conn.query_opt(COUNT, &[])?.map_or(0, |r| r.get(0))))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Every table in one snapshot, so an export taken while instances serve is consistent.
    pub(super) fn export_all(&self, visit: Visit<'_, Record>) -> Result<(), StoreError> {
        let pooled = self.pool.get().map_err(unavailable)?;
        let conn = pooled.conn();
        conn.batch(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL statement_timeout = 0",
        )
        .map_err(|e| sql_error(&e))?;
        let mut outcome = Ok(());
        for table in &TABLES {
            match stream_table(conn, table, visit) {
                Ok(Flow::Continue) => {}
                Ok(Flow::Stop) => break,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        if conn.batch("ROLLBACK").is_err() {
            pooled.discard();
        }
        outcome
    }

    /// One transaction for the whole batch; an import runs against a store no service is using,
    /// so a failure is reported rather than retried.
    pub(super) fn import_all(&self, records: &[Record]) -> Result<(), StoreError> {
        let pooled = self.pool.get().map_err(unavailable)?;
        let conn = pooled.conn();
        conn.batch("BEGIN").map_err(|e| sql_error(&e))?;
        let tx = PgTx {
            conn,
            failure: RefCell::new(None),
        };
        let written = records.iter().try_for_each(|r| import_one(&tx, r));
        let failure = tx.failure.take();
        if written.is_err() || failure.is_some() {
            if conn.batch("ROLLBACK").is_err() {
                pooled.discard();
            }
            return Err(match (failure, written) {
                (Some(e), _) => sql_error(&e),
                (None, Err(e)) => StoreError::Codec(format!("{e:?}")),
                (None, Ok(())) => StoreError::Io("import failed".to_owned()),
            });
        }
        conn.batch("COMMIT").map_err(|e| sql_error(&e))
    }

    /// Moves the id sequence past `past` (never backwards).
    pub(super) fn skip_ids_past(&self, past: u64) -> Result<(), StoreError> {
        let past = i64::try_from(past).map_err(|_| StoreError::Codec("id out of range".into()))?;
        self.with_conn(|conn| {
            conn.query_opt(
                "SELECT setval('record_ids', GREATEST($1, (SELECT last_value FROM record_ids)))",
                &[&past],
            )
            .map(|_| ())
        })
    }
}

fn import_one(tx: &PgTx<'_>, record: &Record) -> Result<(), TxError> {
    let conn = tx.conn;
    let raw = |sql: &'static str, params: super::pool::Params<'_>| -> Result<(), TxError> {
        conn.execute(sql, params).map(|_| ()).map_err(|e| {
            let error = TxError::sql(&e);
            tx.failure.borrow_mut().get_or_insert(e);
            error
        })
    };
    match record {
        Record::Card(card) => tx.put_card(card),
        Record::PanIndex {
            pan_fingerprint,
            issuer_card_ref_id,
        } => raw(
            "INSERT INTO card_pan_fingerprints (pan_fingerprint, issuer_card_ref_id) VALUES ($1, $2)
             ON CONFLICT (pan_fingerprint) DO UPDATE SET issuer_card_ref_id = excluded.issuer_card_ref_id",
            &[pan_fingerprint, issuer_card_ref_id],
        ),
        Record::Enrollment(e) => tx.put_enrollment(e),
        Record::Decision(d) => tx.put_decision(d),
        Record::Token(t) => tx.put_token(t),
        Record::Transition { seq, transition } => {
            let seq = i64::try_from(*seq).map_err(|_| TxError::abort("seq out of range"))?;
            raw(
                "INSERT INTO transitions (virtual_card_id, seq, doc) VALUES ($1, $2, $3)
                 ON CONFLICT (virtual_card_id, seq) DO UPDATE SET doc = excluded.doc",
                &[&transition.virtual_card_id, &seq, &to_doc(transition)?],
            )
        }
        Record::Seen {
            message_fingerprint,
            received_time,
        } => raw(
            "INSERT INTO seen_messages (message_fingerprint, received_time) VALUES ($1, $2)
             ON CONFLICT (message_fingerprint) DO UPDATE SET received_time = excluded.received_time",
            &[message_fingerprint, received_time],
        ),
        Record::CounterCell { cell, n } => raw(
            "INSERT INTO counter_cells (series, level, bucket, shard, n) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (series, level, bucket, shard) DO UPDATE SET n = excluded.n",
            &[
                &cell.series.0.as_slice(),
                &i16::from(cell.level),
                &i64::from(cell.bucket),
                &i16::from(cell.shard),
                n,
            ],
        ),
        Record::Member {
            series,
            member,
            last_seen,
        } => {
            let at = i64::try_from(*last_seen).map_err(|_| TxError::abort("time out of range"))?;
            raw(
                super::reads::LAST_SEEN_SET,
                &[&series.0.as_slice(), &member.0.as_slice(), &at],
            )
        }
        Record::TshOperation(o) => tx.put_tsh_operation(o),
        Record::Audit(entry) => match tx.append_audit(entry) {
            // The same entry imported twice (a merge) is already there: audit is append-only.
            Err(e) if e.is_abort() => Ok(()),
            other => other,
        },
        Record::Event(e) => tx.put_event(e),
        Record::RevokedSession { session_id, until } => tx.revoke_session(session_id, *until),
        Record::TokenSync(sync) => tx.put_token_sync(sync),
        Record::Reconciliation(report) => tx.put_reconciliation(report),
    }
}
