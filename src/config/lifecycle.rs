//! `[lifecycle]`: keeping tokens in step with TSH (issue 11) — when a notification is suspect,
//! how long TSH is asked about it, when an issuer operation expires, and how often the whole
//! registry is reconciled.

use serde::Deserialize;

use super::settings::ConfigError;

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawLifecycle {
    #[serde(default)]
    resume_suspend_window_secs: Option<u64>,
    #[serde(default)]
    check_max_attempts: Option<u32>,
    #[serde(default)]
    check_backoff_initial_ms: Option<u64>,
    #[serde(default)]
    pending_timeout_secs: Option<u64>,
    #[serde(default)]
    reconcile_interval_secs: Option<u64>,
    #[serde(default)]
    poll_interval_ms: Option<u64>,
}

/// Validated `[lifecycle]`.
#[derive(Debug, Clone)]
pub struct LifecycleSettings {
    /// A SUSPEND received within this many seconds of a RESUME is checked with TSH first.
    pub resume_suspend_window_secs: u64,
    /// Failed `getTokenInfo` attempts before a held notification is decided by the ordering rule.
    pub check_max_attempts: u32,
    /// Pause after the first failed check; doubled after each further failure (at most 60 s).
    pub check_backoff_initial_ms: u64,
    /// A pending `updateCardState` / `updateCard` older than this is settled by asking TSH.
    pub pending_timeout_secs: u64,
    /// Reconcile every card with TSH this often; 0 = never (the CLI and staff API still can).
    pub reconcile_interval_secs: u64,
    /// How often the background worker looks for due checks and expired operations.
    pub poll_interval_ms: u64,
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

impl RawLifecycle {
    pub(super) fn validate(self) -> Result<LifecycleSettings, ConfigError> {
        let reconcile = self.reconcile_interval_secs.unwrap_or(0);
        if reconcile != 0 && reconcile < 60 {
            return Err(ConfigError::new(
                "lifecycle.reconcile_interval_secs",
                "must be 0 (off) or at least 60",
            ));
        }
        let attempts = self.check_max_attempts.unwrap_or(5);
        if !(1..=100).contains(&attempts) {
            return Err(ConfigError::new(
                "lifecycle.check_max_attempts",
                "must be between 1 and 100",
            ));
        }
        Ok(LifecycleSettings {
            resume_suspend_window_secs: within(
                "lifecycle.resume_suspend_window_secs",
                self.resume_suspend_window_secs.unwrap_or(60),
                0,
                86_400,
            )?,
            check_max_attempts: attempts,
            check_backoff_initial_ms: within(
                "lifecycle.check_backoff_initial_ms",
                self.check_backoff_initial_ms.unwrap_or(1000),
                10,
                60_000,
            )?,
            pending_timeout_secs: within(
                "lifecycle.pending_timeout_secs",
                self.pending_timeout_secs.unwrap_or(300),
                1,
                7 * 86_400,
            )?,
            reconcile_interval_secs: reconcile,
            poll_interval_ms: within(
                "lifecycle.poll_interval_ms",
                self.poll_interval_ms.unwrap_or(1000),
                10,
                60_000,
            )?,
        })
    }
}
