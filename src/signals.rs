//! Process signals beyond actix's own shutdown handling: `SIGHUP` reloads the decision rules
//! (live and shadow) without a restart; an invalid file keeps the rules in force and is logged.
//!
//! The handler is installed *before* the service announces that it listens, so a `SIGHUP` sent as
//! soon as the service is up can never hit the default action (which would end the process).

use std::sync::Arc;

use crate::service::Services;

/// A registered `SIGHUP` listener (None where signals are not available).
pub struct Hangups {
    #[cfg(unix)]
    stream: Option<tokio::signal::unix::Signal>,
}

/// Registers for `SIGHUP`; call inside the runtime, before binding the listener.
pub fn listen_for_hangups() -> Hangups {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::hangup()) {
            Ok(stream) => Hangups {
                stream: Some(stream),
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; use POST /api/v1/rules/reload");
                Hangups { stream: None }
            }
        }
    }
    #[cfg(not(unix))]
    {
        Hangups {}
    }
}

/// Reloads the rules on every `SIGHUP`, forever.
pub async fn reload_rules_on_sighup(services: Arc<Services>, hangups: Hangups) {
    #[cfg(unix)]
    {
        let Some(mut stream) = hangups.stream else {
            return;
        };
        while stream.recv().await.is_some() {
            let svc = services.clone();
            match tokio::task::spawn_blocking(move || svc.rules.reload()).await {
                Ok(Ok(status)) => tracing::info!(
                    version = %status.live_version,
                    shadow = ?status.shadow_version,
                    "rules reloaded on SIGHUP"
                ),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "rules reload on SIGHUP refused; previous rules stay in force")
                }
                Err(e) => tracing::error!(error = %e, "rules reload task failed"),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (services, hangups);
    }
}
