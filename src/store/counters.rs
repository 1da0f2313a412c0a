//! Time-bucketed event counters with constant cost per event (velocity facts, OTP rate limit).
//! Backend-neutral: this module turns "count an event" and "how many in the last W seconds" into
//! the few primitive operations every backend implements ([`Tx::counter_add`],
//! [`Tx::counter_sum`], [`Tx::last_seen_swap`]); it never touches a storage engine itself.
//!
//! An event adds 1 to one cell per bucket level (minute, quarter hour, three hours, day), so a
//! request writes a fixed number of small keys whatever the volume. A window is read as an exact
//! partition of `[start, end)` into whole buckets: minutes up to the next quarter hour, quarters
//! up to the next three hours, three-hour buckets up to the next day, then days (at most 14 + 11 +
//! 7 + 32 cells per shard). The window (docs/rules.md, "Velocity windows") is:
//!
//! * `start` = `now + 1 − W` rounded down to the minute (0 if negative): the exact sliding window
//!   `now − t < W`, extended back to the start of its first minute (at most 59 s longer);
//! * `end` = the end of the UTC day after `now`'s: events stamped in the future (an instance whose
//!   clock runs ahead) still count, up to the end of tomorrow.
//!
//! Distinct values (cards per device) keep one "last seen" time per member and one cell per
//! level holding how many members were last seen in that bucket; a new sighting moves the
//! member's 1 from its old cells to its new ones. So the distinct count is exact: the members
//! whose latest event lies in `[start, end)`.
//!
//! Shared series (a token requestor, a BIN) spread their cells over [`SHARED_SHARDS`] shards
//! chosen from the card, so no single key takes every digitization; sums add all shards.

use std::ops::Range;

use super::TxError;
use crate::store::Tx;

/// Bucket widths in seconds, finest first; each divides the next.
pub const LEVELS: [u64; 4] = [60, 900, 10_800, 86_400];

/// Shards of a series shared by most traffic (token requestor, BIN).
pub const SHARED_SHARDS: u8 = 8;

/// A counted series: a digest of its kind and name (names are card references, keyed
/// fingerprints, requestor ids or BINs; never card data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesId(pub [u8; 16]);

/// A member of a distinct-count series (e.g. a card reference on a device), as a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberId(pub [u8; 16]);

fn digest16(parts: &[&[u8]]) -> [u8; 16] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in parts {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&ctx.finish().as_ref()[..16]);
    out
}

impl MemberId {
    pub fn of(name: &str) -> MemberId {
        MemberId(digest16(&[b"member", name.as_bytes()]))
    }
}

/// A series and how many shards its cells are spread over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Series {
    pub id: SeriesId,
    pub shards: u8,
}

impl Series {
    /// A series touched by one card or device: one shard.
    pub fn single(kind: &str, name: &str) -> Series {
        Series {
            id: SeriesId(digest16(&[kind.as_bytes(), name.as_bytes()])),
            shards: 1,
        }
    }

    /// A series most traffic touches: cells spread over [`SHARED_SHARDS`] shards.
    pub fn shared(kind: &str, name: &str) -> Series {
        Series {
            shards: SHARED_SHARDS,
            ..Series::single(kind, name)
        }
    }
}

/// One counter cell: a series' count for one bucket of one level, in one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub series: SeriesId,
    pub level: u8,
    pub bucket: u32,
    pub shard: u8,
}

/// A run of buckets `[buckets.start, buckets.end)` of one level; backends sum every shard of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub series: SeriesId,
    pub shards: u8,
    pub level: u8,
    pub buckets: Range<u32>,
}

/// The bucket of `t` at `level` (saturating far beyond year 2106, which no clock reaches).
pub fn bucket(level: usize, t: u64) -> u32 {
    u32::try_from(t / LEVELS[level]).unwrap_or(u32::MAX)
}

/// The counted interval `[start, end)` of a `window_secs` window read at `now` (module doc).
pub fn window(now: u64, window_secs: u64) -> Range<u64> {
    let start = (now + 1).saturating_sub(window_secs);
    let day = LEVELS[LEVELS.len() - 1];
    (start - start % LEVELS[0])..(now / day + 2) * day
}

/// The spans, one per level, that partition `[start, end)` exactly (start minute-aligned, end
/// day-aligned).
pub fn spans(series: &Series, interval: Range<u64>) -> Vec<Span> {
    let mut cursor = interval.start;
    let mut out = Vec::with_capacity(LEVELS.len());
    for level in 0..LEVELS.len() {
        let upto = match LEVELS.get(level + 1) {
            Some(next) => cursor
                .div_ceil(*next)
                .saturating_mul(*next)
                .min(interval.end),
            None => interval.end,
        };
        if upto > cursor {
            out.push(Span {
                series: series.id,
                shards: series.shards,
                level: level as u8,
                buckets: bucket(level, cursor)..bucket(level, upto),
            });
        }
        // `upto` is aligned to the next level (or is the end), so no event is counted twice.
        cursor = upto.max(cursor);
    }
    out
}

/// A shard-picking value from a name (FNV-1a: cheap, stable across builds and instances).
pub fn spread(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Counts one event at `at` (inside the caller's transaction). `spread` picks the shard of a
/// shared series (e.g. [`spread`] of the card reference).
pub fn record(tx: &dyn Tx, series: &Series, spread: u64, at: u64) -> Result<(), TxError> {
    let shard = (spread % u64::from(series.shards.max(1))) as u8;
    for level in 0..LEVELS.len() {
        let cell = Cell {
            series: series.id,
            level: level as u8,
            bucket: bucket(level, at),
            shard,
        };
        tx.counter_add(&cell, 1)?;
    }
    Ok(())
}

/// Records that `member` was seen in a distinct-count series at `at`: the member's 1 moves to
/// the buckets of its latest sighting. An older sighting than the one stored changes nothing.
pub fn record_distinct(
    tx: &dyn Tx,
    series: &Series,
    member: &MemberId,
    at: u64,
) -> Result<(), TxError> {
    let previous = tx.last_seen_swap(&series.id, member, at)?;
    if previous.is_some_and(|p| p >= at) {
        return Ok(());
    }
    for level in 0..LEVELS.len() {
        let new = bucket(level, at);
        let cell = |bucket| Cell {
            series: series.id,
            level: level as u8,
            bucket,
            shard: 0,
        };
        match previous.map(|p| bucket(level, p)) {
            Some(old) if old == new => {}
            Some(old) => {
                tx.counter_add(&cell(old), -1)?;
                tx.counter_add(&cell(new), 1)?;
            }
            None => tx.counter_add(&cell(new), 1)?,
        }
    }
    Ok(())
}

/// Events of `series` within `window_secs` at `now`, through any span summer (a transaction or a
/// reader). Negative sums (impossible unless a pruned cell was decremented) read as zero.
pub fn count<E>(
    sum: impl Fn(&Span) -> Result<i64, E>,
    series: &Series,
    now: u64,
    window_secs: u64,
) -> Result<u64, E> {
    let mut total = 0i64;
    for span in spans(series, window(now, window_secs)) {
        total = total.saturating_add(sum(&span)?);
    }
    Ok(u64::try_from(total).unwrap_or(0))
}

/// True when a member last seen at `last_seen` is counted in the window (same interval as
/// [`count`]).
pub fn seen_within(last_seen: Option<u64>, now: u64, window_secs: u64) -> bool {
    last_seen.is_some_and(|t| window(now, window_secs).contains(&t))
}

/// The cell time before which nothing is needed any more, given the longest window in use: one
/// extra day covers minute alignment and clocks that disagree by up to a day.
pub fn prune_before(now: u64, longest_window_secs: u64) -> u64 {
    now.saturating_sub(longest_window_secs)
        .saturating_sub(LEVELS[LEVELS.len() - 1])
}

/// True when a cell lies entirely before `before` (safe to delete).
pub fn cell_expired(level: u8, bucket: u32, before: u64) -> bool {
    let width = LEVELS.get(usize::from(level)).copied().unwrap_or(1);
    (u64::from(bucket) + 1).saturating_mul(width) <= before
}

#[cfg(test)]
#[path = "counter_tests.rs"]
mod tests;
