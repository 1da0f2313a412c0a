//! The delivery worker's decisions, pure and tested without I/O: which pending events may be sent
//! now (the oldest of each ordering key, once its backoff has passed), how long to back off after
//! a failure (exponential, capped, with jitter), and what one attempt does to an event's record.

use std::collections::HashSet;

use crate::config::EventsSettings;
use crate::domain::{EventStatus, OutboxEvent};

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver answered 2xx.
    Delivered { status: u16 },
    /// Another status, or no answer (`status` None) within the timeout.
    Failed { status: Option<u16>, error: String },
}

/// From pending events in creation order: those to send now — the first pending event of each
/// ordering key whose backoff has passed (a later event of the same key waits for it: in order per
/// token) — and the earliest time a waiting first event becomes due.
pub fn due_now(pending: Vec<OutboxEvent>, now_ms: u64) -> (Vec<OutboxEvent>, Option<u64>) {
    let mut seen_keys = HashSet::new();
    let mut due = Vec::new();
    let mut next_due: Option<u64> = None;
    for event in pending {
        if !seen_keys.insert(event.ordering_key.clone()) {
            continue;
        }
        if event.next_attempt_at_ms <= now_ms {
            due.push(event);
        } else {
            next_due = Some(next_due.map_or(event.next_attempt_at_ms, |n| {
                n.min(event.next_attempt_at_ms)
            }));
        }
    }
    (due, next_due)
}

/// The pause after the `attempts`-th failure: `backoff_initial_ms × 2^(attempts-1)`, capped at
/// `backoff_max_secs`, then "equal jitter" — half fixed, half random (`random` in 0..=u32::MAX) —
/// so a receiver coming back is not hit by every retry at once.
pub fn backoff_ms(settings: &EventsSettings, attempts: u32, random: u32) -> u64 {
    let cap = settings.backoff_max_secs.saturating_mul(1000);
    let exponent = attempts.saturating_sub(1).min(40);
    let full = settings
        .backoff_initial_ms
        .saturating_mul(1u64 << exponent)
        .min(cap);
    let half = full / 2;
    half + (u128::from(half) * u128::from(random) / u128::from(u32::MAX)) as u64
}

/// Records one attempt on the event (the caller re-read it inside the transaction).
pub fn record_attempt(
    event: &mut OutboxEvent,
    outcome: &AttemptOutcome,
    settings: &EventsSettings,
    now_ms: u64,
    now: &str,
    random: u32,
) {
    event.attempts = event.attempts.saturating_add(1);
    event.last_attempt_time = Some(now.to_owned());
    match outcome {
        AttemptOutcome::Delivered { status } => {
            event.status = EventStatus::Delivered;
            event.last_status = Some(*status);
            event.last_error = None;
            event.delivered_time = Some(now.to_owned());
        }
        AttemptOutcome::Failed { status, error } => {
            event.last_status = *status;
            event.last_error = Some(error.clone());
            if settings.max_attempts > 0 && event.attempts >= settings.max_attempts {
                event.status = EventStatus::Failed;
            } else {
                event.next_attempt_at_ms = now_ms + backoff_ms(settings, event.attempts, random);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> EventsSettings {
        EventsSettings {
            webhook_url: "http://127.0.0.1:9/events".into(),
            secret: vec![7; 32],
            timeout_ms: 1000,
            concurrency: 4,
            backoff_initial_ms: 1000,
            backoff_max_secs: 60,
            max_attempts: 0,
            poll_interval_ms: 1000,
        }
    }

    fn event(seq: u64, key: &str, next_at: u64) -> OutboxEvent {
        OutboxEvent {
            id: crate::domain::event::event_id(seq),
            event_type: "token.state_changed".into(),
            ordering_key: key.into(),
            created_time: "t".into(),
            data: json!({}),
            status: EventStatus::Pending,
            attempts: 0,
            next_attempt_at_ms: next_at,
            last_attempt_time: None,
            last_status: None,
            last_error: None,
            delivered_time: None,
            resends: 0,
        }
    }

    #[test]
    fn only_the_oldest_event_of_each_token_is_due_and_only_after_its_backoff() {
        let pending = vec![
            event(1, "token:A", 0),
            event(2, "token:A", 0),
            event(3, "token:B", 5_000),
            event(4, "token:B", 0),
            event(5, "token:C", 100),
        ];
        let (due, next) = due_now(pending, 1_000);
        let ids: Vec<&str> = due.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "evt-0000000000000001",
                "evt-0000000000000005"
            ],
            "A's second event waits for its first; B's first is backing off, so B's second waits too"
        );
        assert_eq!(next, Some(5_000));
    }

    #[test]
    fn backoff_doubles_is_capped_and_jittered_within_half_to_full() {
        let s = settings();
        assert_eq!(backoff_ms(&s, 1, 0), 500);
        assert_eq!(backoff_ms(&s, 1, u32::MAX), 1000);
        assert_eq!(backoff_ms(&s, 3, u32::MAX), 4000);
        assert_eq!(backoff_ms(&s, 30, u32::MAX), 60_000, "capped");
        assert_eq!(backoff_ms(&s, u32::MAX, 0), 30_000, "no overflow");
        let mid = backoff_ms(&s, 2, u32::MAX / 2);
        assert!((1000..=2000).contains(&mid), "{mid}");
    }

    #[test]
    fn an_attempt_delivers_or_schedules_the_next_one_or_gives_up_after_max_attempts() {
        let mut s = settings();
        let mut e = event(1, "token:A", 0);
        let failed = AttemptOutcome::Failed {
            status: Some(503),
            error: "HTTP 503".into(),
        };
        record_attempt(&mut e, &failed, &s, 10_000, "now", 0);
        assert_eq!(
            (e.status, e.attempts, e.next_attempt_at_ms),
            (EventStatus::Pending, 1, 10_500)
        );
        record_attempt(
            &mut e,
            &AttemptOutcome::Delivered { status: 204 },
            &s,
            20_000,
            "later",
            0,
        );
        assert_eq!(e.status, EventStatus::Delivered);
        assert_eq!(e.delivered_time.as_deref(), Some("later"));
        assert_eq!(e.last_error, None);

        s.max_attempts = 2;
        let mut e = event(2, "token:A", 0);
        record_attempt(&mut e, &failed, &s, 0, "t1", 0);
        assert_eq!(e.status, EventStatus::Pending);
        record_attempt(&mut e, &failed, &s, 0, "t2", 0);
        assert_eq!(e.status, EventStatus::Failed);
    }
}
