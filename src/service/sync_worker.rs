//! The background worker that keeps tokens in step with TSH (issue 11), beside the HTTP server and
//! never on a request path: each round it settles due checks of held notifications
//! (`state_checks`), then sleeps `lifecycle.poll_interval_ms`. Every piece of work it does is
//! recorded in the store first, so a restart resumes it. Each round also settles issuer
//! operations that outlived `lifecycle.pending_timeout_secs` (`pending_ops`).

use std::sync::Arc;
use std::time::Duration;

use crate::service::staff_actions::AnswerStatus;
use crate::service::{pending_ops, state_checks, Services};

/// Runs until shutdown begins; a round in progress finishes first (its TSH calls are bounded by
/// the client's timeout, and every state change it makes is one transaction).
pub async fn run(svc: Arc<Services>, answer: AnswerStatus) {
    let poll = Duration::from_millis(svc.settings.lifecycle.poll_interval_ms);
    while !svc.background.is_stopping() {
        if let Err(e) = state_checks::run_due(&svc, answer).await {
            tracing::error!(error = %e, "token sync: checks of held notifications failed");
        }
        if let Err(e) = pending_ops::settle_expired(&svc, answer).await {
            tracing::error!(error = %e, "token sync: settling expired issuer operations failed");
        }
        tokio::select! {
            () = tokio::time::sleep(poll) => {}
            () = svc.background.stopping() => return,
        }
    }
}
