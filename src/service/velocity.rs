//! Velocity and BIN-attack facts, computed from events kept in the store (so they survive a
//! restart): digitization attempts per card, device and token requestor, distinct cards per device,
//! and eligibility refusals per BIN. Keys and distinct values are keyed fingerprints or card
//! references, never card data. Windows come from the rules file's `[velocity]` table.

use crate::contract::digitization::RequestDigitizationRequest;
use crate::contract::tolerant::{get_ci, value_as_string};
use crate::crypto::Fingerprinter;
use crate::rules::{Facts, VelocityWindows};
use crate::store::{StoreError, StoreReader, Tx, TxError, VelocityEvent};

/// Most events kept per key: a burst beyond this is already far past any sane threshold.
const MAX_EVENTS: usize = 2000;

/// The velocity keys one digitization request touches.
#[derive(Debug, Clone)]
pub struct AttemptKeys {
    pub card: String,
    pub device: Option<String>,
    pub requestor: Option<String>,
    /// The card reference, the distinct value counted per device.
    pub card_ref: String,
}

pub fn bin_refusals_key(bin: &str) -> String {
    format!("bin-refusals:{bin}")
}

/// A device identity from `deviceInformation`: deviceId, else serialNumber, else IMEI.
fn device_id(request: &RequestDigitizationRequest) -> Option<String> {
    let device = request.device_information.as_ref()?;
    ["deviceId", "serialNumber", "imei"]
        .iter()
        .find_map(|k| get_ci(device, k).and_then(value_as_string))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

pub fn attempt_keys(
    fingerprints: &Fingerprinter,
    request: &RequestDigitizationRequest,
    card_ref: &str,
) -> AttemptKeys {
    AttemptKeys {
        card: format!("card:{card_ref}"),
        device: device_id(request).map(|d| {
            format!(
                "device:{}",
                &fingerprints.fingerprint("device", d.as_bytes())[..32]
            )
        }),
        requestor: request
            .token_requestor
            .as_ref()
            .and_then(|r| r.id.as_ref())
            .map(|id| format!("requestor:{}", id.trim())),
        card_ref: card_ref.to_owned(),
    }
}

fn within(events: &[VelocityEvent], now: u64, window: u64) -> impl Iterator<Item = &VelocityEvent> {
    events
        .iter()
        .filter(move |e| now.saturating_sub(e.t) < window)
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
    let count = |key: &str| -> Result<f64, StoreError> {
        let events = reader.velocity_events(key)?;
        Ok((within(&events, now, windows.attempts_secs).count() + 1) as f64)
    };
    facts.set_num("velocity.card_attempts", count(&keys.card)?);
    if let Some(device) = &keys.device {
        facts.set_num("velocity.device_attempts", count(device)?);
        let events = reader.velocity_events(device)?;
        let mut cards: std::collections::BTreeSet<&str> =
            within(&events, now, windows.distinct_cards_secs)
                .filter_map(|e| e.v.as_deref())
                .collect();
        cards.insert(&keys.card_ref);
        facts.set_num("velocity.device_distinct_cards", cards.len() as f64);
    }
    if let Some(requestor) = &keys.requestor {
        facts.set_num("velocity.token_requestor_attempts", count(requestor)?);
    }
    let refusals = reader.velocity_events(&bin_refusals_key(bin))?;
    facts.set_num(
        "velocity.bin_eligibility_refusals",
        within(&refusals, now, windows.bin_refusals_secs).count() as f64,
    );
    Ok(())
}

/// Appends one event to a key, dropping events older than `keep_secs` and bounding the list.
pub fn push_event(
    tx: &dyn Tx,
    key: &str,
    event: VelocityEvent,
    keep_secs: u64,
) -> Result<(), TxError> {
    let now = event.t;
    let mut events = tx.velocity_events(key)?;
    events.retain(|e| now.saturating_sub(e.t) < keep_secs);
    events.push(event);
    if events.len() > MAX_EVENTS {
        let excess = events.len() - MAX_EVENTS;
        events.drain(..excess);
    }
    tx.put_velocity_events(key, &events)
}

/// Records one digitization attempt under every key it touches (inside the decision's transaction).
pub fn record_attempt(
    tx: &dyn Tx,
    keys: &AttemptKeys,
    now: u64,
    keep_secs: u64,
) -> Result<(), TxError> {
    push_event(tx, &keys.card, VelocityEvent { t: now, v: None }, keep_secs)?;
    if let Some(device) = &keys.device {
        push_event(
            tx,
            device,
            VelocityEvent {
                t: now,
                v: Some(keys.card_ref.clone()),
            },
            keep_secs,
        )?;
    }
    if let Some(requestor) = &keys.requestor {
        push_event(tx, requestor, VelocityEvent { t: now, v: None }, keep_secs)?;
    }
    Ok(())
}

/// Now as Unix seconds.
pub fn unix_now() -> u64 {
    u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0)
}
