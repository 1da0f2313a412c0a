//! Event counters against a naive model: random event streams (clocks that jump back and forth),
//! random windows and read times, through the sled backend (range scans outside a transaction,
//! cell-by-cell inside one), before and after pruning.

use proptest::prelude::*;

use super::*;
use crate::store::Store;

const DAY: u64 = 86_400;
/// Somewhere in 2023; each case shifts it so bucket boundaries fall everywhere.
const BASE: u64 = 1_700_000_000;

/// The documented window, written independently of `window()`/`spans()`.
fn naive_interval(now: u64, window_secs: u64) -> (u64, u64) {
    let start = (now + 1).saturating_sub(window_secs);
    (start / 60 * 60, (now / DAY + 2) * DAY)
}

fn naive_count(times: &[u64], now: u64, window_secs: u64) -> u64 {
    let (start, end) = naive_interval(now, window_secs);
    times.iter().filter(|t| (start..end).contains(*t)).count() as u64
}

fn naive_distinct(events: &[(u64, u8)], now: u64, window_secs: u64) -> u64 {
    let (start, end) = naive_interval(now, window_secs);
    let mut latest = std::collections::BTreeMap::new();
    for (t, member) in events {
        let slot = latest.entry(*member).or_insert(*t);
        *slot = (*slot).max(*t);
    }
    latest
        .values()
        .filter(|t| (start..end).contains(*t))
        .count() as u64
}

fn member(m: u8) -> MemberId {
    MemberId::of(&format!("card-{m}"))
}

fn record_all(store: &Store, events: &[(u64, u8)], plain: &Series, distinct: &Series) {
    for (t, m) in events {
        store
            .transact_blocking(|tx| {
                record(tx, plain, u64::from(*m), *t)?;
                record_distinct(tx, distinct, &member(*m), *t)
            })
            .unwrap();
    }
}

/// Counts through the reader and through a transaction; both must agree.
fn counts(store: &Store, series: &Series, now: u64, window_secs: u64) -> u64 {
    let reader = store.reader();
    let scanned = count(|s| reader.counter_sum(s), series, now, window_secs).unwrap();
    let in_tx = store
        .transact_blocking(|tx| count(|s| tx.counter_sum(s), series, now, window_secs))
        .unwrap();
    assert_eq!(scanned, in_tx, "range scan and cell-by-cell sums differ");
    scanned
}

fn event_stream() -> impl Strategy<Value = Vec<(u64, u8)>> {
    // Offsets within 40 days, in any order; 6 members so distinct counts repeat.
    prop::collection::vec((0..40 * DAY, 0u8..6), 0..120)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn counts_match_a_naive_model_before_and_after_pruning(
        shift in 0..DAY,
        first in event_stream(),
        later in event_stream(),
        now_offset in 0..42 * DAY,
        window_secs in 60..=30 * DAY,
        shared in any::<bool>(),
    ) {
        let base = BASE + shift;
        let shift_all = |events: Vec<(u64, u8)>| -> Vec<(u64, u8)> {
            events.into_iter().map(|(t, m)| (base + t, m)).collect()
        };
        let (first, later) = (shift_all(first), shift_all(later));
        let now = base + now_offset;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sled(dir.path()).unwrap();
        let plain = if shared { Series::shared("p", "x") } else { Series::single("p", "x") };
        let distinct = Series::single("d", "x");

        record_all(&store, &first, &plain, &distinct);
        let times: Vec<u64> = first.iter().map(|e| e.0).collect();
        prop_assert_eq!(counts(&store, &plain, now, window_secs), naive_count(&times, now, window_secs));
        prop_assert_eq!(counts(&store, &distinct, now, window_secs), naive_distinct(&first, now, window_secs));

        // Pruning for a window at least as long keeps every count; later events (some before the
        // prune point, re-sighting pruned members) still count exactly.
        store.prune_counters_blocking(prune_before(now, window_secs)).unwrap();
        prop_assert_eq!(counts(&store, &plain, now, window_secs), naive_count(&times, now, window_secs));
        prop_assert_eq!(counts(&store, &distinct, now, window_secs), naive_distinct(&first, now, window_secs));
        record_all(&store, &later, &plain, &distinct);
        let all: Vec<(u64, u8)> = first.iter().chain(&later).copied().collect();
        let times: Vec<u64> = all.iter().map(|e| e.0).collect();
        prop_assert_eq!(counts(&store, &plain, now, window_secs), naive_count(&times, now, window_secs));
        prop_assert_eq!(counts(&store, &distinct, now, window_secs), naive_distinct(&all, now, window_secs));
    }

    #[test]
    fn spans_partition_the_window_exactly(now in 0..4_000_000_000u64, window_secs in 60..=30 * DAY) {
        let series = Series::single("p", "x");
        let interval = window(now, window_secs);
        let mut cursor = interval.start;
        for span in spans(&series, interval.clone()) {
            let width = LEVELS[usize::from(span.level)];
            prop_assert_eq!(u64::from(span.buckets.start) * width, cursor);
            cursor = u64::from(span.buckets.end) * width;
        }
        prop_assert_eq!(cursor, interval.end);
        prop_assert!(interval.start <= now + 1 - window_secs.min(now + 1));
        prop_assert!(interval.start + window_secs + 59 > now);
    }
}

#[test]
fn a_shared_series_spreads_its_cells_over_shards() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sled(dir.path()).unwrap();
    let requestor = Series::shared("requestor", "40010030273");
    for card in 0..64 {
        store
            .transact_blocking(|tx| record(tx, &requestor, spread(&format!("ICR{card}")), BASE))
            .unwrap();
    }
    let minute = Span {
        series: requestor.id,
        shards: 1,
        level: 0,
        buckets: bucket(0, BASE)..bucket(0, BASE) + 1,
    };
    let shard0 = store
        .transact_blocking(|tx| tx.counter_sum(&minute))
        .unwrap();
    assert!(shard0 < 64, "one shard holds {shard0} of 64 events");
    assert_eq!(counts(&store, &requestor, BASE, 60), 64);
}

#[test]
fn an_older_sighting_does_not_move_a_member_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sled(dir.path()).unwrap();
    let device = Series::single("device-cards", "d");
    record_all(
        &store,
        &[(BASE + DAY, 1), (BASE, 1)],
        &Series::single("p", "x"),
        &device,
    );
    assert_eq!(counts(&store, &device, BASE + DAY, 3600), 1);
    assert_eq!(
        counts(&store, &device, BASE + DAY, 30 * DAY),
        1,
        "counted once"
    );
}

#[test]
fn counts_go_past_the_old_two_thousand_event_cap() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sled(dir.path()).unwrap();
    let requestor = Series::shared("requestor", "40010030273");
    store
        .transact_blocking(|tx| {
            for i in 0..5000u64 {
                record(tx, &requestor, spread(&format!("ICR{i}")), BASE + i % 3600)?;
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(counts(&store, &requestor, BASE + 3600, DAY), 5000);
    // The minute-aligned start of a one-minute window at BASE + 3720 is past every event.
    assert_eq!(counts(&store, &requestor, BASE + 3720, 60), 0);
}
