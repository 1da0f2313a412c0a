//! Process signals beyond actix's own shutdown handling: `SIGHUP` reloads the decision rules
//! (live and shadow) without a restart; an invalid file keeps the rules in force and is logged.

use std::sync::Arc;

use crate::service::Services;

/// Waits for `SIGHUP` forever, reloading the rules each time. Returns only if the signal handler
/// cannot be installed (logged).
pub async fn reload_rules_on_sighup(services: Arc<Services>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; use POST /api/v1/rules/reload");
                return;
            }
        };
        while hangups.recv().await.is_some() {
            let svc = services.clone();
            match tokio::task::spawn_blocking(move || svc.rules.reload()).await {
                Ok(Ok(status)) => {
                    tracing::info!(version = %status.live_version, shadow = ?status.shadow_version, "rules reloaded on SIGHUP")
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "rules reload on SIGHUP refused; previous rules stay in force")
                }
                Err(e) => tracing::error!(error = %e, "rules reload task failed"),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = services;
    }
}
