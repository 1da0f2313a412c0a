//! `store export` / `store import`: every entity of a store as engine-neutral JSON lines, so a sled
//! store moves to PostgreSQL and back. Entities: cards, the PAN-fingerprint index, enrolments,
//! decisions, tokens, transitions, seen-message marks, counter cells and distinct-count members,
//! TSH operations, audit entries, outbox events, console session revocations, token sync records,
//! reconciliation reports, and the id counter (in the header). Indexes are rebuilt on import, never
//! exported. The rows are the stored records themselves — fingerprints
//! and masked forms only, no card data in clear. Import refuses a non-empty store unless told to
//! merge. This module owns the file format and the driver; engines only list and write records.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::counters::{Cell, MemberId, SeriesId};
use super::engine::Flow;
use super::{Store, StoreError};
use crate::domain::reconciliation::reconciliation_sequence;
use crate::domain::{
    AuditEntry, CardRecord, DecisionRecord, Enrollment, OutboxEvent, ReconciliationReport,
    TokenRecord, TokenSync, Transition, TshOperation,
};

/// First line of every export.
pub const FORMAT: &str = "tsh-issuer-store-export";
pub const FORMAT_VERSION: u64 = 1;

/// The export's first line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u64,
    /// Ids allocated after an import are above this (decisions, transitions, audit, events).
    pub next_id: u64,
    /// `sled` or `postgres`.
    pub source: String,
    pub exported_time: String,
}

/// One line after the header: a table (named like the sled trees, `<key>_<value>`), the key, and
/// the stored value; `seq` orders a token's transitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub table: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    pub value: Value,
}

/// One stored entity, typed. Unboxed on purpose: records only live in import batches of
/// [`BATCH`], so the size spread costs nothing worth an allocation per row.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Card(CardRecord),
    PanIndex {
        pan_fingerprint: String,
        issuer_card_ref_id: String,
    },
    Enrollment(Enrollment),
    Decision(DecisionRecord),
    Token(TokenRecord),
    Transition {
        seq: u64,
        transition: Transition,
    },
    Seen {
        message_fingerprint: String,
        received_time: String,
    },
    CounterCell {
        cell: Cell,
        n: i64,
    },
    Member {
        series: SeriesId,
        member: MemberId,
        last_seen: u64,
    },
    TshOperation(TshOperation),
    Audit(AuditEntry),
    Event(OutboxEvent),
    /// A signed-out console session, refused until its own expiry (Unix seconds).
    RevokedSession {
        session_id: String,
        until: u64,
    },
    /// A token's synchronisation record with TSH (held notifications, pending check).
    TokenSync(TokenSync),
    Reconciliation(ReconciliationReport),
}

/// Export order (and the table names of the file).
pub const TABLES: [&str; 15] = [
    "issuercardrefid_card",
    "panfingerprint_issuercardrefid",
    "correlationid_enrollment",
    "decisionid_decision",
    "virtualcardid_token",
    "virtualcardid_transition",
    "messagefingerprint_receivedtime",
    "countercell_count",
    "seriesmember_lastseen",
    "correlationid_tshoperation",
    "auditid_auditentry",
    "eventseq_event",
    "sessionid_expiresat",
    "virtualcardid_tokensync",
    "reconciliationseq_report",
];

fn to_value<T: Serialize>(value: &T) -> Result<Value, String> {
    serde_json::to_value(value).map_err(|e| e.to_string())
}

fn from_value<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, String> {
    T::deserialize(value).map_err(|e| e.to_string())
}

fn hex16(bytes: &[u8; 16]) -> String {
    hex::encode(bytes)
}

fn unhex16(text: &str) -> Result<[u8; 16], String> {
    let bytes = hex::decode(text).map_err(|_| format!("{text:?} is not hex"))?;
    bytes
        .try_into()
        .map_err(|_| format!("{text:?} is not 16 bytes of hex"))
}

fn id_key(id: u64) -> String {
    format!("{id:016x}")
}

impl Record {
    pub fn table(&self) -> &'static str {
        match self {
            Record::Card(_) => TABLES[0],
            Record::PanIndex { .. } => TABLES[1],
            Record::Enrollment(_) => TABLES[2],
            Record::Decision(_) => TABLES[3],
            Record::Token(_) => TABLES[4],
            Record::Transition { .. } => TABLES[5],
            Record::Seen { .. } => TABLES[6],
            Record::CounterCell { .. } => TABLES[7],
            Record::Member { .. } => TABLES[8],
            Record::TshOperation(_) => TABLES[9],
            Record::Audit(_) => TABLES[10],
            Record::Event(_) => TABLES[11],
            Record::RevokedSession { .. } => TABLES[12],
            Record::TokenSync(_) => TABLES[13],
            Record::Reconciliation(_) => TABLES[14],
        }
    }

    /// The id this record carries (decision, audit entry, transition, event), if any.
    pub fn id(&self) -> Option<u64> {
        match self {
            Record::Decision(d) => super::id_number(&d.decision_id),
            Record::Audit(a) => super::id_number(&a.audit_id),
            Record::Transition { seq, .. } => Some(*seq),
            Record::Event(e) => crate::domain::event::event_sequence(&e.id),
            Record::Reconciliation(r) => reconciliation_sequence(&r.reconciliation_id),
            _ => None,
        }
    }

    pub fn to_row(&self) -> Result<Row, String> {
        let row = |key: String, seq: Option<u64>, value: Value| Row {
            table: self.table().to_owned(),
            key,
            seq,
            value,
        };
        Ok(match self {
            Record::Card(c) => row(c.issuer_card_ref_id.clone(), None, to_value(c)?),
            Record::PanIndex {
                pan_fingerprint,
                issuer_card_ref_id,
            } => row(
                pan_fingerprint.clone(),
                None,
                Value::String(issuer_card_ref_id.clone()),
            ),
            Record::Enrollment(e) => row(e.correlation_id.clone(), None, to_value(e)?),
            Record::Decision(d) => row(d.decision_id.clone(), None, to_value(d)?),
            Record::Token(t) => row(t.virtual_card_id.clone(), None, to_value(t)?),
            Record::Transition { seq, transition } => row(
                transition.virtual_card_id.clone(),
                Some(*seq),
                to_value(transition)?,
            ),
            Record::Seen {
                message_fingerprint,
                received_time,
            } => row(
                message_fingerprint.clone(),
                None,
                Value::String(received_time.clone()),
            ),
            Record::CounterCell { cell, n } => row(
                format!(
                    "{}/{}/{}/{}",
                    hex16(&cell.series.0),
                    cell.level,
                    cell.bucket,
                    cell.shard
                ),
                None,
                Value::from(*n),
            ),
            Record::Member {
                series,
                member,
                last_seen,
            } => row(
                format!("{}/{}", hex16(&series.0), hex16(&member.0)),
                None,
                Value::from(*last_seen),
            ),
            Record::TshOperation(o) => row(o.correlation_id.clone(), None, to_value(o)?),
            Record::Audit(a) => row(a.audit_id.clone(), None, to_value(a)?),
            Record::Event(e) => row(
                id_key(crate::domain::event::event_sequence(&e.id).unwrap_or(0)),
                None,
                to_value(e)?,
            ),
            Record::RevokedSession { session_id, until } => {
                row(session_id.clone(), None, Value::from(*until))
            }
            Record::TokenSync(t) => row(t.virtual_card_id.clone(), None, to_value(t)?),
            Record::Reconciliation(r) => row(r.reconciliation_id.clone(), None, to_value(r)?),
        })
    }

    /// Parses and checks one row (the key must agree with the record it holds).
    pub fn from_row(row: &Row) -> Result<Record, String> {
        if row.key.is_empty() || row.key.contains('\0') {
            return Err("a key must be non-empty text without NUL".to_owned());
        }
        let string = |v: &Value| v.as_str().map(str::to_owned).ok_or("expected a string");
        let record = match row.table.as_str() {
            "issuercardrefid_card" => Record::Card(from_value(&row.value)?),
            "panfingerprint_issuercardrefid" => Record::PanIndex {
                pan_fingerprint: row.key.clone(),
                issuer_card_ref_id: string(&row.value)?,
            },
            "correlationid_enrollment" => Record::Enrollment(from_value(&row.value)?),
            "decisionid_decision" => Record::Decision(from_value(&row.value)?),
            "virtualcardid_token" => Record::Token(from_value(&row.value)?),
            "virtualcardid_transition" => Record::Transition {
                seq: row.seq.ok_or("a transition needs its seq")?,
                transition: from_value(&row.value)?,
            },
            "messagefingerprint_receivedtime" => Record::Seen {
                message_fingerprint: row.key.clone(),
                received_time: string(&row.value)?,
            },
            "countercell_count" => parse_cell(&row.key, &row.value)?,
            "seriesmember_lastseen" => parse_member(&row.key, &row.value)?,
            "correlationid_tshoperation" => Record::TshOperation(from_value(&row.value)?),
            "auditid_auditentry" => Record::Audit(from_value(&row.value)?),
            "eventseq_event" => Record::Event(from_value(&row.value)?),
            "sessionid_expiresat" => Record::RevokedSession {
                session_id: row.key.clone(),
                until: row.value.as_u64().ok_or("a revocation holds a Unix time")?,
            },
            "virtualcardid_tokensync" => Record::TokenSync(from_value(&row.value)?),
            "reconciliationseq_report" => Record::Reconciliation(from_value(&row.value)?),
            other => return Err(format!("unknown table {other:?}")),
        };
        let expected = record.to_row()?.key;
        if expected != row.key {
            return Err(format!(
                "the key {:?} does not match the record ({expected:?})",
                row.key
            ));
        }
        if row.seq.is_some() && !matches!(record, Record::Transition { .. }) {
            return Err("seq is only for transitions".to_owned());
        }
        Ok(record)
    }
}

fn parse_cell(key: &str, value: &Value) -> Result<Record, String> {
    let parts: Vec<&str> = key.split('/').collect();
    let [series, level, bucket, shard] = parts.as_slice() else {
        return Err("a counter cell key is series/level/bucket/shard".to_owned());
    };
    let number = |s: &str| {
        s.parse::<u64>()
            .map_err(|_| format!("{s:?} is not a number"))
    };
    Ok(Record::CounterCell {
        cell: Cell {
            series: SeriesId(unhex16(series)?),
            level: u8::try_from(number(level)?).map_err(|e| e.to_string())?,
            bucket: u32::try_from(number(bucket)?).map_err(|e| e.to_string())?,
            shard: u8::try_from(number(shard)?).map_err(|e| e.to_string())?,
        },
        n: value.as_i64().ok_or("a counter cell holds an integer")?,
    })
}

fn parse_member(key: &str, value: &Value) -> Result<Record, String> {
    let (series, member) = key.split_once('/').ok_or("a member key is series/member")?;
    Ok(Record::Member {
        series: SeriesId(unhex16(series)?),
        member: MemberId(unhex16(member)?),
        last_seen: value.as_u64().ok_or("a member holds a Unix time")?,
    })
}

/// What moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub rows: u64,
    pub per_table: Vec<(&'static str, u64)>,
}

impl Report {
    fn count(&mut self, table: &'static str) {
        self.rows += 1;
        match self.per_table.iter_mut().find(|(t, _)| *t == table) {
            Some((_, n)) => *n += 1,
            None => self.per_table.push((table, 1)),
        }
    }

    /// `42 rows (issuercardrefid_card 3, …)`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .per_table
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        format!("{} rows ({})", self.rows, parts.join(", "))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the export: {0}")]
    Write(std::io::Error),
    #[error("cannot read the export: {0}")]
    Read(std::io::Error),
    #[error("line {line}: {message}")]
    Format { line: usize, message: String },
    #[error(
        "the target store is not empty ({0} rows); import into an empty store, or pass \
         --into-non-empty to merge (a row with the same key replaces the stored one)"
    )]
    NotEmpty(u64),
}

/// Rows are imported in transactions of this many.
const BATCH: usize = 500;

/// Writes the header and every record; `progress(done, total)` after each row.
pub fn export(
    store: &Store,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Report, TransferError> {
    let engine = store.engine.as_ref();
    let total = engine.record_count()?;
    let header = Header {
        format: FORMAT.to_owned(),
        version: FORMAT_VERSION,
        next_id: store.transact_blocking(|tx| tx.next_id())?,
        source: engine.name().to_owned(),
        exported_time: crate::domain::time::now_rfc3339(),
    };
    write_line(out, &header)?;
    let mut report = Report::default();
    let mut failure = None;
    engine.export_records(&mut |record| {
        let written = record
            .to_row()
            .map_err(|e| TransferError::Write(std::io::Error::other(e)))
            .and_then(|row| write_line(out, &row));
        if let Err(e) = written {
            failure = Some(e);
            return Ok(Flow::Stop);
        }
        report.count(record.table());
        progress(report.rows, total.max(report.rows));
        Ok(Flow::Continue)
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    out.flush().map_err(TransferError::Write)?;
    Ok(report)
}

fn write_line<T: Serialize>(out: &mut dyn Write, value: &T) -> Result<(), TransferError> {
    let mut line =
        serde_json::to_vec(value).map_err(|e| TransferError::Write(std::io::Error::other(e)))?;
    line.push(b'\n');
    out.write_all(&line).map_err(TransferError::Write)
}

/// Reads an export into `store` (refused when the store holds records, unless `into_non_empty`),
/// then moves the id counter past every imported id and makes it durable. `total` (the file's
/// row count, if known) feeds `progress(done, total)`.
pub fn import(
    store: &Store,
    input: &mut dyn BufRead,
    into_non_empty: bool,
    total: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Report, TransferError> {
    let engine = store.engine.as_ref();
    let existing = engine.record_count()?;
    if existing > 0 && !into_non_empty {
        return Err(TransferError::NotEmpty(existing));
    }
    let mut lines = input.lines().enumerate();
    let header = read_header(lines.next())?;
    let mut report = Report::default();
    let mut batch = Vec::with_capacity(BATCH);
    let mut highest_id = header.next_id;
    for (index, line) in lines {
        let line = line.map_err(TransferError::Read)?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| TransferError::Format {
            line: index + 1,
            message,
        };
        let row: Row = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        let record = Record::from_row(&row).map_err(|e| bad(format!("{}: {e}", row.table)))?;
        highest_id = highest_id.max(record.id().unwrap_or(0));
        report.count(record.table());
        batch.push(record);
        if batch.len() == BATCH {
            engine.import_records(&batch)?;
            batch.clear();
            progress(report.rows, total.max(report.rows));
        }
    }
    if !batch.is_empty() {
        engine.import_records(&batch)?;
        progress(report.rows, total.max(report.rows));
    }
    engine.advance_ids(highest_id)?;
    engine.flush()?;
    Ok(report)
}

fn read_header(first: Option<(usize, std::io::Result<String>)>) -> Result<Header, TransferError> {
    let bad = |message: String| TransferError::Format { line: 1, message };
    let Some((_, line)) = first else {
        return Err(bad("empty file: expected the export header".to_owned()));
    };
    let line = line.map_err(TransferError::Read)?;
    let header: Header =
        serde_json::from_str(&line).map_err(|e| bad(format!("not a {FORMAT} header: {e}")))?;
    if header.format != FORMAT || header.version > FORMAT_VERSION {
        return Err(bad(format!(
            "not a {FORMAT} version {FORMAT_VERSION} file (found {} version {})",
            header.format, header.version
        )));
    }
    Ok(header)
}

/// Counts a file's non-empty lines after the header (for the progress bar).
pub fn count_rows(input: &mut dyn BufRead) -> u64 {
    let lines = input.lines().skip(1).map_while(Result::ok);
    lines.filter(|l| !l.trim().is_empty()).count() as u64
}
