//! The delivery worker: one background task that reads pending outbox events from the store,
//! POSTs them signed to `events.webhook_url` (at most `events.concurrency` at once, each bounded by
//! `events.timeout_ms`), and records every attempt. It never runs on a request path: a slow or dead
//! receiver delays only events, never a callback.
//!
//! At least once: an event is marked delivered only after a 2xx, and the mark is written after the
//! answer, so a crash in between sends it again (receivers drop duplicates by `id`). In order per
//! token: only the oldest pending event of an ordering key is ever in flight (`schedule::due_now`).
//! Survives restarts: the outbox is in the store; the worker starts from it at boot.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use tokio::sync::Notify;

use super::schedule::{self, AttemptOutcome};
use super::signature;
use crate::config::EventsSettings;
use crate::domain::time::now_rfc3339;
use crate::domain::OutboxEvent;
use crate::store::{Store, StoreError, TxError};

/// Pending events read per round (the oldest first).
const BATCH: usize = 1000;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    // Jitter only: a failing RNG means no jitter, not an error.
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    u32::from_be_bytes(bytes)
}

/// The configured feed: receiver, key and an HTTP client of its own.
pub struct EventFeed {
    settings: EventsSettings,
    http: reqwest::Client,
}

impl std::fmt::Debug for EventFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventFeed")
            .field("webhook_url", &self.settings.webhook_url)
            .finish()
    }
}

impl EventFeed {
    /// None when the feed is off (`events.webhook_url` empty).
    pub fn new(settings: &EventsSettings) -> Result<Option<EventFeed>, String> {
        if !settings.enabled() {
            return Ok(None);
        }
        let timeout = Duration::from_millis(settings.timeout_ms);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tsh-issuer/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Some(EventFeed {
            settings: settings.clone(),
            http,
        }))
    }

    /// Delivers until shutdown begins (`background`), finishing the round in flight so every
    /// attempt made is also recorded. `signal` wakes it when a write added events.
    pub async fn run(
        self: Arc<Self>,
        store: Store,
        signal: Arc<Notify>,
        background: crate::background::Background,
    ) {
        tracing::info!(webhook_url = %self.settings.webhook_url, "event feed delivery started");
        let poll = Duration::from_millis(self.settings.poll_interval_ms);
        while !background.is_stopping() {
            let wait = match self.round(&store).await {
                Ok(Round::Attempted) => Duration::ZERO,
                Ok(Round::Idle { next_due_ms }) => next_due_ms
                    .map(|at| Duration::from_millis(at.saturating_sub(now_ms())))
                    .map_or(poll, |until| until.min(poll)),
                Err(e) => {
                    tracing::error!(error = %e, "event feed: cannot read the outbox");
                    poll
                }
            };
            if wait.is_zero() {
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                () = signal.notified() => {}
                () = tokio::time::sleep(wait) => {}
                () = background.stopping() => {}
            }
        }
        tracing::info!("event feed delivery stopped");
    }

    /// One pass: send every due event (bounded concurrency) and record the outcomes.
    async fn round(&self, store: &Store) -> Result<Round, StoreError> {
        let pending = store.read(|r| r.pending_events(BATCH)).await?;
        let (due, next_due_ms) = schedule::due_now(pending, now_ms());
        if due.is_empty() {
            return Ok(Round::Idle { next_due_ms });
        }
        let results: Vec<Result<(), StoreError>> = futures_util::stream::iter(due)
            .map(|event| self.deliver(store, event))
            .buffer_unordered(self.settings.concurrency)
            .collect()
            .await;
        results.into_iter().collect::<Result<(), _>>()?;
        Ok(Round::Attempted)
    }

    async fn deliver(&self, store: &Store, event: OutboxEvent) -> Result<(), StoreError> {
        let outcome = self.post(&event).await;
        match &outcome {
            AttemptOutcome::Delivered { .. } => crate::metrics::event_delivery("delivered"),
            AttemptOutcome::Failed { status, error } => {
                crate::metrics::event_delivery("failed_attempt");
                tracing::warn!(event_id = %event.id, status = ?status, %error, "event not delivered; will retry");
            }
        }
        let settings = self.settings.clone();
        let (id, resends) = (event.id, event.resends);
        store
            .write(move |tx| {
                let Some(mut current) = tx.event(&id)? else {
                    return Err(TxError::abort("the event vanished from the outbox"));
                };
                // Re-queued by staff while this attempt was in flight: that resend still stands
                // (the event goes out again), so this attempt is not recorded over it.
                if current.status == crate::domain::EventStatus::Pending
                    && current.resends == resends
                {
                    let (ms, now) = (now_ms(), now_rfc3339());
                    schedule::record_attempt(
                        &mut current,
                        &outcome,
                        &settings,
                        ms,
                        &now,
                        random_u32(),
                    );
                    tx.put_event(&current)?;
                }
                Ok(())
            })
            .await
    }

    /// One signed POST; the signature's `t` is the time of this attempt.
    async fn post(&self, event: &OutboxEvent) -> AttemptOutcome {
        let body = event.body();
        let t = now_ms() / 1000;
        let header = signature::sign(&self.settings.secret, t, &body);
        let sent = self
            .http
            .post(&self.settings.webhook_url)
            .header("content-type", "application/json")
            .header(signature::HEADER, header)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => AttemptOutcome::Delivered {
                status: response.status().as_u16(),
            },
            Ok(response) => AttemptOutcome::Failed {
                status: Some(response.status().as_u16()),
                error: format!("the receiver answered HTTP {}", response.status().as_u16()),
            },
            Err(e) if e.is_timeout() => AttemptOutcome::Failed {
                status: None,
                error: format!(
                    "no answer within events.timeout_ms ({} ms)",
                    self.settings.timeout_ms
                ),
            },
            Err(e) => AttemptOutcome::Failed {
                status: None,
                error: format!("the receiver could not be reached: {e}"),
            },
        }
    }
}

enum Round {
    /// Something was sent: look again at once (the next event of a token may now be due).
    Attempted,
    /// Nothing due; the earliest backoff ends at this time, if any.
    Idle { next_due_ms: Option<u64> },
}
