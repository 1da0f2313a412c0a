//! The sled side of the event counters (`store::counters`): one small key per cell, `series(16) ‖
//! level(1) ‖ bucket(4, big-endian) ‖ shard(1)` → count (i64, big-endian), and one per
//! distinct-count member, `series(16) ‖ member(16)` → last seen (u64, big-endian Unix seconds).
//! Big-endian buckets keep one series' cells of one level contiguous and in time order, so a
//! reader sums a span with one range scan; inside a transaction (no scans in sled) it reads the
//! span cell by cell.

use sled::IVec;

use super::{io, SledBackend, SledTx, TreeView, COUNTER_CELLS, LAST_SEEN};
use crate::store::counters::{cell_expired, Cell, MemberId, SeriesId, Span};
use crate::store::{StoreError, TxError};

/// Trees of the event lists the counters replaced (velocity lists, OTP send times).
const OBSOLETE_TREES: [&str; 2] = ["velocitykey_events", "issuercardrefid_otpsendtimes"];

const CELL_KEY_LEN: usize = 16 + 1 + 4 + 1;

pub(super) fn cell_key(series: &SeriesId, level: u8, bucket: u32, shard: u8) -> [u8; CELL_KEY_LEN] {
    let mut key = [0u8; CELL_KEY_LEN];
    key[..16].copy_from_slice(&series.0);
    key[16] = level;
    key[17..21].copy_from_slice(&bucket.to_be_bytes());
    key[21] = shard;
    key
}

pub(super) fn member_key(series: &SeriesId, member: &MemberId) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(&series.0);
    key[16..].copy_from_slice(&member.0);
    key
}

pub(super) fn read_i64(bytes: &[u8]) -> i64 {
    bytes.try_into().map(i64::from_be_bytes).unwrap_or(0)
}

pub(super) fn read_u64(bytes: &[u8]) -> Option<u64> {
    bytes.try_into().ok().map(u64::from_be_bytes)
}

impl<V: TreeView> SledTx<'_, V> {
    pub(super) fn add_to_cell(&self, cell: &Cell, delta: i64) -> Result<(), TxError> {
        let key = cell_key(&cell.series, cell.level, cell.bucket, cell.shard);
        let tree = &self.trees[COUNTER_CELLS];
        let current = tree.get(key)?.map_or(0, |v| read_i64(&v));
        tree.insert(key, current.saturating_add(delta).to_be_bytes())?;
        Ok(())
    }

    pub(super) fn sum_span(&self, span: &Span) -> Result<i64, TxError> {
        let tree = &self.trees[COUNTER_CELLS];
        let mut total = 0i64;
        for bucket in span.buckets.clone() {
            for shard in 0..span.shards.max(1) {
                if let Some(v) = tree.get(cell_key(&span.series, span.level, bucket, shard))? {
                    total = total.saturating_add(read_i64(&v));
                }
            }
        }
        Ok(total)
    }

    pub(super) fn swap_last_seen(
        &self,
        series: &SeriesId,
        member: &MemberId,
        at: u64,
    ) -> Result<Option<u64>, TxError> {
        let key = member_key(series, member);
        let tree = &self.trees[LAST_SEEN];
        let previous = tree.get(key)?.and_then(|v| read_u64(&v));
        if previous.is_none_or(|p| p < at) {
            tree.insert(key, at.to_be_bytes())?;
        }
        Ok(previous)
    }
}

impl SledBackend {
    pub fn counter_sum(&self, span: &Span) -> Result<i64, StoreError> {
        if span.buckets.is_empty() {
            return Ok(0);
        }
        let from = cell_key(&span.series, span.level, span.buckets.start, 0);
        let to = cell_key(&span.series, span.level, span.buckets.end, 0);
        let mut total = 0i64;
        for entry in self.trees[COUNTER_CELLS].range(from..to) {
            let (_, v) = entry.map_err(io)?;
            total = total.saturating_add(read_i64(&v));
        }
        Ok(total)
    }

    pub fn last_seen(
        &self,
        series: &SeriesId,
        member: &MemberId,
    ) -> Result<Option<u64>, StoreError> {
        let value = self.trees[LAST_SEEN]
            .get(member_key(series, member))
            .map_err(io)?;
        Ok(value.and_then(|v| read_u64(&v)))
    }

    /// Deletes counter cells lying entirely before `before` and members last seen before it.
    /// Not transactional: what it removes is outside every window (see `counters::prune_before`).
    pub fn prune_counters(&self, before: u64) -> Result<u64, StoreError> {
        let expired_cell = |k: &IVec| {
            k.len() == CELL_KEY_LEN && {
                let bucket = u32::from_be_bytes([k[17], k[18], k[19], k[20]]);
                cell_expired(k[16], bucket, before)
            }
        };
        let expired_member = |v: &IVec| read_u64(v).is_none_or(|t| t < before);
        let mut removed = 0u64;
        for entry in self.trees[COUNTER_CELLS].iter() {
            let (k, _) = entry.map_err(io)?;
            if expired_cell(&k) {
                self.trees[COUNTER_CELLS].remove(&k).map_err(io)?;
                removed += 1;
            }
        }
        for entry in self.trees[LAST_SEEN].iter() {
            let (k, v) = entry.map_err(io)?;
            if expired_member(&v) {
                self.trees[LAST_SEEN].remove(&k).map_err(io)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Stores written before the counters kept event lists; they are dropped on open (velocity
    /// history restarts once, see docs/decisions.md).
    pub(super) fn drop_obsolete_trees(&self) -> Result<(), StoreError> {
        for name in OBSOLETE_TREES {
            self.db.drop_tree(name).map_err(io)?;
        }
        Ok(())
    }
}
