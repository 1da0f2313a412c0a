//! The sled side of `store export` / `store import` (`store::transfer`): lists every record tree
//! as typed records and writes records back in one transaction, rebuilding the indexes
//! through the same `Tx` methods the service uses. Index trees and `meta` are never exported.

use super::counters::{cell_key, member_key, read_i64, read_u64};
use super::{
    decode, io, pair_key, SledBackend, SledTx, TreeView, AUDIT, CARDS, COUNTER_CELLS, DECISIONS,
    ENROLLMENTS, EVENTS, LAST_SEEN, PAN_INDEX, RECONCILIATIONS, REVOKED_SESSIONS, SEEN, TOKENS,
    TOKEN_SYNC, TRANSITIONS, TSH_OPERATIONS,
};
use crate::store::counters::{Cell, MemberId, SeriesId};
use crate::store::engine::{Flow, Visit};
use crate::store::transfer::Record;
use crate::store::{StoreError, Tx, TxError};

/// The record trees, in export order.
const RECORD_TREES: [usize; 15] = [
    CARDS,
    PAN_INDEX,
    ENROLLMENTS,
    DECISIONS,
    TOKENS,
    TRANSITIONS,
    SEEN,
    COUNTER_CELLS,
    LAST_SEEN,
    TSH_OPERATIONS,
    AUDIT,
    EVENTS,
    REVOKED_SESSIONS,
    TOKEN_SYNC,
    RECONCILIATIONS,
];

fn text(bytes: &[u8]) -> Result<String, StoreError> {
    String::from_utf8(bytes.to_vec()).map_err(|e| StoreError::Codec(e.to_string()))
}

fn bad_key(tree: usize) -> StoreError {
    StoreError::Codec(format!("malformed key in tree {tree}"))
}

/// One tree entry as a record.
fn record(tree: usize, key: &[u8], value: &[u8]) -> Result<Record, StoreError> {
    Ok(match tree {
        CARDS => Record::Card(decode(value)?),
        PAN_INDEX => Record::PanIndex {
            pan_fingerprint: text(key)?,
            issuer_card_ref_id: text(value)?,
        },
        ENROLLMENTS => Record::Enrollment(decode(value)?),
        DECISIONS => Record::Decision(decode(value)?),
        TOKENS => Record::Token(decode(value)?),
        TRANSITIONS => {
            let split = key.len().checked_sub(8).ok_or_else(|| bad_key(tree))?;
            let seq = key[split..].try_into().map(u64::from_be_bytes);
            Record::Transition {
                seq: seq.map_err(|_| bad_key(tree))?,
                transition: decode(value)?,
            }
        }
        SEEN => Record::Seen {
            message_fingerprint: text(key)?,
            received_time: text(value)?,
        },
        COUNTER_CELLS => {
            let k: [u8; 22] = key.try_into().map_err(|_| bad_key(tree))?;
            let mut series = [0u8; 16];
            series.copy_from_slice(&k[..16]);
            Record::CounterCell {
                cell: Cell {
                    series: SeriesId(series),
                    level: k[16],
                    bucket: u32::from_be_bytes([k[17], k[18], k[19], k[20]]),
                    shard: k[21],
                },
                n: read_i64(value),
            }
        }
        LAST_SEEN => {
            let k: [u8; 32] = key.try_into().map_err(|_| bad_key(tree))?;
            let (mut series, mut member) = ([0u8; 16], [0u8; 16]);
            series.copy_from_slice(&k[..16]);
            member.copy_from_slice(&k[16..]);
            Record::Member {
                series: SeriesId(series),
                member: MemberId(member),
                last_seen: read_u64(value).ok_or_else(|| bad_key(tree))?,
            }
        }
        TSH_OPERATIONS => Record::TshOperation(decode(value)?),
        AUDIT => Record::Audit(decode(value)?),
        REVOKED_SESSIONS => Record::RevokedSession {
            session_id: text(key)?,
            until: decode(value)?,
        },
        TOKEN_SYNC => Record::TokenSync(decode(value)?),
        RECONCILIATIONS => Record::Reconciliation(decode(value)?),
        _ => Record::Event(decode(value)?),
    })
}

impl SledBackend {
    pub(super) fn count_records(&self) -> u64 {
        RECORD_TREES
            .iter()
            .map(|t| self.trees[*t].len() as u64)
            .sum()
    }

    pub(super) fn export_all(&self, visit: Visit<'_, Record>) -> Result<(), StoreError> {
        for tree in RECORD_TREES {
            for entry in self.trees[tree].iter() {
                let (key, value) = entry.map_err(io)?;
                if visit(record(tree, &key, &value)?)? == Flow::Stop {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    pub(super) fn import_all(&self, records: &[Record]) -> Result<(), StoreError> {
        self.run_sled_transaction(|tx| {
            for record in records {
                import_one(tx, record)?;
            }
            Ok(())
        })?;
        // Durable and in sled before the importer reads or counts what it wrote.
        self.wal.sync()
    }

    /// sled's id generator cannot be set: draw ids until past `past` (cheap: an atomic add each,
    /// persisted in batches).
    pub(super) fn skip_ids_past(&self, past: u64) -> Result<(), StoreError> {
        while self.db.generate_id().map_err(io)? <= past {}
        Ok(())
    }
}

fn import_one(tx: &SledTx<'_>, record: &Record) -> Result<(), TxError> {
    let raw = |tree: usize, key: &[u8], value: &[u8]| -> Result<(), TxError> {
        tx.trees[tree].insert(key, value)?;
        Ok(())
    };
    match record {
        Record::Card(card) => tx.put_card(card),
        Record::PanIndex {
            pan_fingerprint,
            issuer_card_ref_id,
        } => raw(
            PAN_INDEX,
            pan_fingerprint.as_bytes(),
            issuer_card_ref_id.as_bytes(),
        ),
        Record::Enrollment(e) => tx.put_enrollment(e),
        Record::Decision(d) => tx.put_decision(d),
        Record::Token(t) => tx.put_token(t),
        Record::Transition { seq, transition } => tx.put(
            TRANSITIONS,
            &pair_key(&transition.virtual_card_id, &seq.to_be_bytes()),
            transition,
        ),
        Record::Seen {
            message_fingerprint,
            received_time,
        } => raw(
            SEEN,
            message_fingerprint.as_bytes(),
            received_time.as_bytes(),
        ),
        Record::CounterCell { cell, n } => raw(
            COUNTER_CELLS,
            &cell_key(&cell.series, cell.level, cell.bucket, cell.shard),
            &n.to_be_bytes(),
        ),
        Record::Member {
            series,
            member,
            last_seen,
        } => raw(
            LAST_SEEN,
            &member_key(series, member),
            &last_seen.to_be_bytes(),
        ),
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
