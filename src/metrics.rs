//! Prometheus metrics: one process-wide registry (prefix `tsh_issuer`) and one small function per
//! event the service counts. Owns the metric names, labels and buckets; does no I/O and knows no
//! HTTP (`GET /metrics` is `http::metrics`).
//!
//! The registry lives in a `OnceLock`: counters are process-wide and only ever go up, so several
//! applications in one process (the integration tests) share them. Tests assert deltas, never
//! absolute values. Every label takes values from a fixed set (operation names, route patterns,
//! outcomes), never request data, so the number of series stays bounded.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::domain::decision::{DecidedBy, LevelOfTrust};

/// The `Content-Type` of [`render`]'s output (OpenMetrics text, which Prometheus negotiates).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallbackLabels {
    operation: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StaffLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    level_of_trust: &'static str,
    decided_by: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncLabels {
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NotificationLabels {
    action: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OrphanLabels {
    policy: &'static str,
    original_state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TshCallLabels {
    operation: String,
    outcome: String,
}

/// The operations of TSH's inbound API, pre-created in `tsh_client_calls`.
pub const TSH_OPERATIONS: [&str; 4] = [
    "updateCardState",
    "getCardInfo",
    "getTokenInfo",
    "updateCard",
];

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latency buckets from 1 ms to about 16 s (doubling): callbacks answer in milliseconds, a slow
/// OTP gateway or a disk under load can take seconds.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// How a `sendOTP` ended (one count per call that reached the delivery decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpOutcome {
    Delivered,
    Failed,
    RateLimited,
    NoMethod,
}

impl OtpOutcome {
    pub const ALL: [OtpOutcome; 4] = [
        OtpOutcome::Delivered,
        OtpOutcome::Failed,
        OtpOutcome::RateLimited,
        OtpOutcome::NoMethod,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            OtpOutcome::Delivered => "delivered",
            OtpOutcome::Failed => "failed",
            OtpOutcome::RateLimited => "rate_limited",
            OtpOutcome::NoMethod => "no_method",
        }
    }
}

fn decided_by_str(by: DecidedBy) -> &'static str {
    match by {
        DecidedBy::Issuer => "issuer",
        DecidedBy::Network => "network",
    }
}

struct Metrics {
    registry: Registry,
    callback_requests: Family<CallbackLabels, Counter>,
    callback_duration: HistogramFamily<OperationLabel>,
    staff_requests: Family<StaffLabels, Counter>,
    decisions: Family<DecisionLabels, Counter>,
    otp_deliveries: Family<OutcomeLabel, Counter>,
    notifications: Family<NotificationLabels, Counter>,
    store_flush: Histogram,
    store_writes: Counter,
    tsh_calls: Family<TshCallLabels, Counter>,
    event_deliveries: Family<OutcomeLabel, Counter>,
    orphans: Family<OrphanLabels, Counter>,
    token_sync: Family<SyncLabels, Counter>,
}

impl Metrics {
    fn new() -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("tsh_issuer"),
            callback_requests: Family::default(),
            callback_duration: Family::new_with_constructor(latency_histogram),
            staff_requests: Family::default(),
            decisions: Family::default(),
            otp_deliveries: Family::default(),
            notifications: Family::default(),
            store_flush: latency_histogram(),
            store_writes: Counter::default(),
            tsh_calls: Family::default(),
            orphans: Family::default(),
            event_deliveries: Family::default(),
            token_sync: Family::default(),
        };
        metrics.register_families();
        metrics.create_closed_series();
        metrics
    }

    /// Every family under its exposition name and help text.
    fn register_families(&mut self) {
        let registry = &mut self.registry;
        registry.register(
            "callback_requests",
            "TSH callbacks answered, by operation and HTTP status",
            self.callback_requests.clone(),
        );
        registry.register(
            "callback_duration_seconds",
            "Time to answer a TSH callback, by operation",
            self.callback_duration.clone(),
        );
        registry.register(
            "staff_requests",
            "Staff API requests answered, by method, route pattern and HTTP status",
            self.staff_requests.clone(),
        );
        registry.register(
            "decisions",
            "Digitization decisions recorded, by level of trust and who decided",
            self.decisions.clone(),
        );
        registry.register(
            "otp_deliveries",
            "sendOTP outcomes: delivered, failed, rate_limited, no_method",
            self.otp_deliveries.clone(),
        );
        registry.register(
            "notifications",
            "notifyVirtualCardChange messages, by action and outcome",
            self.notifications.clone(),
        );
        registry.register(
            "store_flush_duration_seconds",
            "Duration of one durability point: a group-commit flush (sled: fdatasync) or a COMMIT (PostgreSQL)",
            self.store_flush.clone(),
        );
        registry.register(
            "store_writes",
            "Store transactions that waited for a group-commit flush (writes / flushes = batch size)",
            self.store_writes.clone(),
        );
        registry.register(
            "tsh_client_calls",
            "Calls to the TSH inbound API, by operation and outcome",
            self.tsh_calls.clone(),
        );
        registry.register(
            "token_for_token_orphans",
            "Card-on-file tokens flagged because a token they were made from was suspended or deleted, by policy (flag, suspend) and that token's new state",
            self.orphans.clone(),
        );
        registry.register(
            "event_deliveries",
            "Outbound event feed delivery attempts: delivered, failed_attempt",
            self.event_deliveries.clone(),
        );
        registry.register(
            "token_sync",
            "Keeping tokens in step with TSH: held-notification checks, reconciliation runs and drift, expired issuer operations, by kind and outcome",
            self.token_sync.clone(),
        );
    }

    /// Series from closed label sets exist from the start (at 0), so rates work from the first
    /// scrape.
    fn create_closed_series(&self) {
        for (kind, outcomes) in TOKEN_SYNC_OUTCOMES {
            for outcome in outcomes {
                drop(self.token_sync.get_or_create(&SyncLabels { kind, outcome }));
            }
        }
        for outcome in EVENT_DELIVERY_OUTCOMES {
            drop(
                self.event_deliveries
                    .get_or_create(&OutcomeLabel { outcome }),
            );
        }
        for outcome in OtpOutcome::ALL {
            drop(self.otp_deliveries.get_or_create(&OutcomeLabel {
                outcome: outcome.as_str(),
            }));
        }
        for by in [DecidedBy::Issuer, DecidedBy::Network] {
            for level in [LevelOfTrust::Green, LevelOfTrust::Yellow, LevelOfTrust::Red] {
                drop(self.decisions.get_or_create(&DecisionLabels {
                    level_of_trust: level.as_str(),
                    decided_by: decided_by_str(by),
                }));
            }
        }
        for policy in ["flag", "suspend"] {
            for original_state in ["SUSPENDED", "DELETED"] {
                drop(self.orphans.get_or_create(&OrphanLabels {
                    policy,
                    original_state,
                }));
            }
        }
        // The TSH inbound API's operations (contract §5); other outcomes appear when they happen.
        for operation in TSH_OPERATIONS {
            drop(self.tsh_calls.get_or_create(&TshCallLabels {
                operation: operation.to_owned(),
                outcome: "ok".to_owned(),
            }));
        }
    }
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

fn metrics() -> &'static Metrics {
    METRICS.get_or_init(Metrics::new)
}

/// A TSH callback was answered (`operation` is the contract's name, or `unknown`).
pub fn callback_answered(operation: &'static str, status: u16, elapsed: Duration) {
    let m = metrics();
    m.callback_requests
        .get_or_create(&CallbackLabels { operation, status })
        .inc();
    m.callback_duration
        .get_or_create(&OperationLabel { operation })
        .observe(elapsed.as_secs_f64());
}

/// A staff API request was answered; `route` is the matched route pattern (never the raw path).
pub fn staff_answered(method: &str, route: &str, status: u16) {
    metrics()
        .staff_requests
        .get_or_create(&StaffLabels {
            method: method.to_owned(),
            route: route.to_owned(),
            status,
        })
        .inc();
}

/// A decision was recorded (issuer rules or a network stand-in).
pub fn decision(level: LevelOfTrust, decided_by: DecidedBy) {
    metrics()
        .decisions
        .get_or_create(&DecisionLabels {
            level_of_trust: level.as_str(),
            decided_by: decided_by_str(decided_by),
        })
        .inc();
}

/// A `sendOTP` ended with this outcome.
pub fn otp_delivery(outcome: OtpOutcome) {
    metrics()
        .otp_deliveries
        .get_or_create(&OutcomeLabel {
            outcome: outcome.as_str(),
        })
        .inc();
}

/// A lifecycle notification was handled: `action` from a fixed set (`OTHER` for anything else),
/// `outcome` the notification outcome or `refused`.
pub fn notification(action: &str, outcome: &str) {
    metrics()
        .notifications
        .get_or_create(&NotificationLabels {
            action: action.to_owned(),
            outcome: outcome.to_owned(),
        })
        .inc();
}

/// One store transaction will wait for a group-commit flush.
pub fn store_write() {
    metrics().store_writes.inc();
}

/// One group-commit flush took `elapsed`.
pub fn store_flush(elapsed: Duration) {
    metrics().store_flush.observe(elapsed.as_secs_f64());
}

/// A call to the TSH inbound API ended: `operation` is one of [`TSH_OPERATIONS`], `outcome` a
/// short fixed word: `ok`, or the error kind (`timeout`, `unreachable`, `refused`,
/// `invalid_response`, `transport`, `not_configured`, `encrypt`). Never pass request data.
pub fn tsh_call(operation: &str, outcome: &str) {
    metrics()
        .tsh_calls
        .get_or_create(&TshCallLabels {
            operation: operation.to_owned(),
            outcome: outcome.to_owned(),
        })
        .inc();
}

/// `token_sync_total` series: kind → its outcomes (a closed set, created at 0).
pub const TOKEN_SYNC_OUTCOMES: [(&str, &[&str]); 4] = [
    (
        "state_check",
        &["confirmed", "corrected", "gave_up", "failed_attempt"],
    ),
    (
        "reconciliation_run",
        &["completed", "completed_with_failures"],
    ),
    (
        "drift",
        &[
            "transitioned",
            "created",
            "kept_deleted",
            "unknown_to_tsh",
            "unreadable_status",
        ],
    ),
    (
        "expired_operation",
        &["confirmed", "failed", "tsh_unavailable"],
    ),
];

fn token_sync(kind: &'static str, outcome: &'static str) {
    metrics()
        .token_sync
        .get_or_create(&SyncLabels { kind, outcome })
        .inc();
}

/// A held notification's check with TSH ended (`confirmed`, `corrected`, `gave_up`,
/// `failed_attempt`).
pub fn state_check(outcome: &'static str) {
    token_sync("state_check", outcome);
}

/// A reconciliation run finished (`completed`, `completed_with_failures`).
pub fn reconciliation_run(status: &'static str) {
    token_sync("reconciliation_run", status);
}

/// One difference between our state and TSH's (the drift action).
pub fn drift(action: &'static str) {
    token_sync("drift", action);
}

/// An expired issuer operation was settled with TSH (`confirmed`, `failed`, `tsh_unavailable`).
pub fn expired_operation(outcome: &'static str) {
    token_sync("expired_operation", outcome);
}

/// Outcomes of one event delivery attempt.
pub const EVENT_DELIVERY_OUTCOMES: [&str; 2] = ["delivered", "failed_attempt"];

/// One attempt to deliver an outbox event ended (`outcome` from [`EVENT_DELIVERY_OUTCOMES`]).
pub fn event_delivery(outcome: &'static str) {
    metrics()
        .event_deliveries
        .get_or_create(&OutcomeLabel { outcome })
        .inc();
}

/// `count` COF tokens were flagged by the `token_for_token.on_original_death` policy (`flag` or
/// `suspend`) because an ancestor entered `original_state` (`SUSPENDED` or `DELETED`).
pub fn token_for_token_orphans(policy: &'static str, original_state: &'static str, count: u64) {
    metrics()
        .orphans
        .get_or_create(&OrphanLabels {
            policy,
            original_state,
        })
        .inc_by(count);
}

/// The whole registry in the OpenMetrics text format (ends with `# EOF`).
pub fn render() -> String {
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &metrics().registry) {
        // Writing to a String cannot fail; keep what was written rather than panic.
        tracing::error!(error = %e, "metrics encoding failed");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }

    #[test]
    fn counters_rise_and_render_in_openmetrics_text() {
        let series =
            r#"tsh_issuer_tsh_client_calls_total{operation="updateCardState",outcome="ok"}"#;
        let before = sample(&render(), series);
        tsh_call("updateCardState", "ok");
        let text = render();
        assert!(sample(&text, series) >= before + 1.0, "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(
            text.contains(r#"tsh_issuer_otp_deliveries_total{outcome="no_method"}"#),
            "closed label sets exist from the start: {text}"
        );
    }
}
