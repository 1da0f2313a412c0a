//! `[events]`: the outbound event feed (service-interface.md "Outbound event feed") — where events
//! are POSTed, the HMAC-SHA-256 key that signs them, and the delivery worker's bounds.
//!
//! Parse, then build: [`RawEvents`] as read, validated into [`EventsSettings`]; a bad secret stops
//! startup naming `events.secret`, even when the feed is off (a typo must not wait for the day the
//! feed is switched on).

use serde::Deserialize;

use super::settings::ConfigError;

/// The public test-only signing key of `config/local.toml` (production refuses it).
pub const DEV_EVENTS_SECRET: &str =
    "6465762d6f6e6c792d6576656e74732d7369676e696e672d6b65792d6e6f742d736563726574";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEvents {
    #[serde(default)]
    webhook_url: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    concurrency: Option<usize>,
    #[serde(default)]
    backoff_initial_ms: Option<u64>,
    #[serde(default)]
    backoff_max_secs: Option<u64>,
    #[serde(default)]
    max_attempts: Option<u32>,
    #[serde(default)]
    poll_interval_ms: Option<u64>,
}

/// Validated `[events]`.
#[derive(Clone)]
pub struct EventsSettings {
    /// Empty = no feed: no outbox is written and nothing is sent.
    pub webhook_url: String,
    /// HMAC-SHA-256 key (≥ 32 bytes); empty only when the feed is off.
    pub secret: Vec<u8>,
    /// Deadline of one delivery attempt.
    pub timeout_ms: u64,
    /// Deliveries in flight at once (to different tokens; one token's events go one at a time).
    pub concurrency: usize,
    /// Pause after the first failure; doubled on each further failure, with jitter.
    pub backoff_initial_ms: u64,
    /// Longest pause between two attempts.
    pub backoff_max_secs: u64,
    /// Attempts before an event is marked `failed`; 0 = retry until a 2xx.
    pub max_attempts: u32,
    /// How often the worker looks for due retries when nothing wakes it.
    pub poll_interval_ms: u64,
}

impl EventsSettings {
    pub fn enabled(&self) -> bool {
        !self.webhook_url.is_empty()
    }
}

impl std::fmt::Debug for EventsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventsSettings")
            .field("webhook_url", &self.webhook_url)
            .field("secret", &"***")
            .field("timeout_ms", &self.timeout_ms)
            .field("concurrency", &self.concurrency)
            .field("backoff_initial_ms", &self.backoff_initial_ms)
            .field("backoff_max_secs", &self.backoff_max_secs)
            .field("max_attempts", &self.max_attempts)
            .field("poll_interval_ms", &self.poll_interval_ms)
            .finish()
    }
}

fn within(key: &str, value: u64, low: u64, high: u64) -> Result<u64, ConfigError> {
    if (low..=high).contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::new(
            key,
            format!("must be between {low} and {high}"),
        ))
    }
}

impl RawEvents {
    pub(super) fn validate(self, production: bool) -> Result<EventsSettings, ConfigError> {
        let webhook_url = self.webhook_url.trim().to_owned();
        if !webhook_url.is_empty() {
            super::settings::check_url("events.webhook_url", &webhook_url)?;
        }
        let secret = match self.secret.trim() {
            "" if webhook_url.is_empty() => Vec::new(),
            "" => {
                return Err(ConfigError::new(
                    "events.secret",
                    "is required when events.webhook_url is set (hex, at least 32 bytes); set TSH_ISSUER__EVENTS__SECRET",
                ))
            }
            hex_text => super::settings::check_hex_key("events.secret", hex_text, None)?,
        };
        if production && self.secret.trim().eq_ignore_ascii_case(DEV_EVENTS_SECRET) {
            return Err(ConfigError::new(
                "events.secret",
                "is a public development value; production refuses dev keys",
            ));
        }
        let concurrency = self.concurrency.unwrap_or(4);
        if !(1..=64).contains(&concurrency) {
            return Err(ConfigError::new(
                "events.concurrency",
                "must be between 1 and 64",
            ));
        }
        Ok(EventsSettings {
            webhook_url,
            secret,
            timeout_ms: within(
                "events.timeout_ms",
                self.timeout_ms.unwrap_or(5000),
                100,
                60_000,
            )?,
            concurrency,
            backoff_initial_ms: within(
                "events.backoff_initial_ms",
                self.backoff_initial_ms.unwrap_or(1000),
                10,
                600_000,
            )?,
            backoff_max_secs: within(
                "events.backoff_max_secs",
                self.backoff_max_secs.unwrap_or(600),
                1,
                86_400,
            )?,
            max_attempts: self.max_attempts.unwrap_or(0),
            poll_interval_ms: within(
                "events.poll_interval_ms",
                self.poll_interval_ms.unwrap_or(1000),
                10,
                60_000,
            )?,
        })
    }
}
