//! Velocity and BIN-attack facts, computed from events kept in the store (so they survive a
//! restart): digitization attempts per card, device and token requestor, distinct cards per device,
//! and eligibility refusals per BIN. Keys and distinct values are keyed fingerprints or card
//! references, never card data. Windows come from the rules file's `[velocity]` table.

use crate::crypto::Fingerprinter;
use crate::rules::{Facts, VelocityWindows};
use crate::store::counters::{self, MemberId, Series};
use crate::store::{StoreError, StoreReader, Tx, TxError};

/// The counter series one digitization request touches.
#[derive(Debug, Clone)]
pub struct AttemptKeys {
    pub card: Series,
    /// Attempts from the device, and the distinct cards seen on it.
    pub device: Option<(Series, Series)>,
    pub requestor: Option<Series>,
    /// The card reference: the shard of shared series, and the distinct member per device.
    pub card_ref: String,
    pub card_member: MemberId,
}

/// The BIN-attack series: eligibility refusals of one BIN (shared by every card of the BIN).
pub fn bin_refusals(bin: &str) -> Series {
    Series::shared("bin-refusals", bin)
}

/// The series of one attempt: the card, the device (a keyed fingerprint of its identity, never
/// the identity itself) and the token requestor.
pub fn attempt_keys(
    fingerprints: &Fingerprinter,
    device_id: Option<&str>,
    requestor_id: Option<&str>,
    card_ref: &str,
) -> AttemptKeys {
    let device = device_id.map(|d| {
        let fp = fingerprints.fingerprint("device", d.as_bytes());
        let fp = &fp[..32];
        (
            Series::single("device", fp),
            Series::single("device-cards", fp),
        )
    });
    AttemptKeys {
        card: Series::single("card", card_ref),
        device,
        requestor: requestor_id.map(|id| Series::shared("requestor", id.trim())),
        card_ref: card_ref.to_owned(),
        card_member: MemberId::of(card_ref),
    }
}

/// Reads the counts for one request (this attempt included) and sets the `velocity.*` facts.
pub fn add_facts(
    reader: &StoreReader<'_>,
    keys: &AttemptKeys,
    bin: &str,
    windows: VelocityWindows,
    now: u64,
    facts: &mut Facts,
) -> Result<(), StoreError> {
    let sum = |span: &counters::Span| reader.counter_sum(span);
    let count = |series: &Series, window: u64| -> Result<f64, StoreError> {
        Ok(counters::count(sum, series, now, window)? as f64)
    };
    let attempts = windows.attempts_secs;
    facts.set_num("velocity.card_attempts", count(&keys.card, attempts)? + 1.0);
    if let Some((device, device_cards)) = &keys.device {
        facts.set_num("velocity.device_attempts", count(device, attempts)? + 1.0);
        let window = windows.distinct_cards_secs;
        let seen = reader.last_seen(&device_cards.id, &keys.card_member)?;
        let this_card_new = !counters::seen_within(seen, now, window);
        facts.set_num(
            "velocity.device_distinct_cards",
            count(device_cards, window)? + f64::from(u8::from(this_card_new)),
        );
    }
    if let Some(requestor) = &keys.requestor {
        facts.set_num(
            "velocity.token_requestor_attempts",
            count(requestor, attempts)? + 1.0,
        );
    }
    facts.set_num(
        "velocity.bin_eligibility_refusals",
        count(&bin_refusals(bin), windows.bin_refusals_secs)?,
    );
    Ok(())
}

/// Records one digitization attempt under every series it touches (inside the decision's
/// transaction): a fixed number of small cells, whatever the volume.
pub fn record_attempt(tx: &dyn Tx, keys: &AttemptKeys, now: u64) -> Result<(), TxError> {
    let spread = counters::spread(&keys.card_ref);
    counters::record(tx, &keys.card, spread, now)?;
    if let Some((device, device_cards)) = &keys.device {
        counters::record(tx, device, spread, now)?;
        counters::record_distinct(tx, device_cards, &keys.card_member, now)?;
    }
    if let Some(requestor) = &keys.requestor {
        counters::record(tx, requestor, spread, now)?;
    }
    Ok(())
}

/// Counts one refused eligibility check against its BIN (inside the caller's transaction).
pub fn record_bin_refusal(tx: &dyn Tx, bin: &str, now: u64) -> Result<(), TxError> {
    // No card is known here; the clock's nanoseconds spread refusals over the shards.
    let spread = u64::from(time::OffsetDateTime::now_utc().nanosecond());
    counters::record(tx, &bin_refusals(bin), spread, now)
}

/// How often counter cells that no window can reach any more are deleted.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// Deletes, every [`PRUNE_EVERY`], the counter cells older than the longest window in use (the
/// live rules' velocity windows and the OTP rate-limit window) plus a day. Runs until shutdown begins; a prune in progress finishes.
pub async fn prune_periodically(svc: std::sync::Arc<super::Services>) {
    let mut ticks = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = svc.background.stopping() => return,
        }
        let longest = svc
            .rules()
            .velocity()
            .longest()
            .max(svc.settings.otp.rate_limit_window_secs);
        let before = counters::prune_before(unix_now(), longest);
        let store = svc.store.clone();
        match tokio::task::spawn_blocking(move || store.prune_counters_blocking(before)).await {
            Ok(Ok(removed)) => tracing::debug!(removed, "velocity counters pruned"),
            Ok(Err(e)) => tracing::warn!(error = %e, "velocity counter pruning failed"),
            Err(e) => tracing::warn!(error = %e, "velocity counter pruning stopped"),
        }
    }
}

/// Now as Unix seconds.
pub fn unix_now() -> u64 {
    u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0)
}
