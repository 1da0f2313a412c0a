//! Staff use cases over the event outbox: list and read events with their delivery status, and
//! re-queue one (`resend`, audited). Delivery itself is `crate::events`.

use crate::domain::time::now_rfc3339;
use crate::domain::{AuditOutcome, EventStatus, OutboxEvent};
use crate::service::audit::{self, Actor, AuditDraft};
use crate::service::Services;
use crate::store::{Page, Paged, StoreError, TxError};

/// Why a resend did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ResendError {
    #[error("event not found")]
    NotFound,
    #[error("the event feed is off (events.webhook_url is empty): nothing would deliver it")]
    FeedOff,
    #[error("unexpected server error")]
    Store(#[from] StoreError),
}

pub async fn list(
    svc: &Services,
    page: Page,
    status: Option<EventStatus>,
) -> Result<Paged<OutboxEvent>, StoreError> {
    svc.store.read(move |r| r.events(page, status)).await
}

pub async fn get(svc: &Services, id: &str) -> Result<Option<OutboxEvent>, StoreError> {
    let id = id.to_owned();
    svc.store.read(move |r| r.event(&id)).await
}

/// Re-queues an event for delivery now (same id), audited in the same transaction.
pub async fn resend(svc: &Services, actor: &Actor, id: &str) -> Result<OutboxEvent, ResendError> {
    let target = format!("event:{}", id.chars().take(64).collect::<String>());
    let refused = |status: u16, why: &ResendError| {
        AuditDraft::new(
            actor,
            "event.resend",
            target.clone(),
            AuditOutcome::Refused,
            status,
        )
        .detail(format!("refused: {why}"))
    };
    if !svc.settings.events.enabled() {
        let error = ResendError::FeedOff;
        audit::record_or_log(&svc.store, refused(409, &error)).await;
        return Err(error);
    }
    let draft = AuditDraft::new(
        actor,
        "event.resend",
        target.clone(),
        AuditOutcome::Succeeded,
        202,
    );
    let key = id.to_owned();
    let requeued = svc
        .store
        .write(move |tx| {
            let Some(mut event) = tx.event(&key)? else {
                return Ok(None);
            };
            let previous = event.status;
            event.requeue();
            tx.put_event(&event)?;
            let detail = format!("was {}, {} resend(s)", previous.as_str(), event.resends);
            audit::append_in_tx(tx, &draft.clone().detail(detail), &now_rfc3339())?;
            Ok::<_, TxError>(Some(event))
        })
        .await?;
    match requeued {
        Some(event) => Ok(event),
        None => {
            let error = ResendError::NotFound;
            audit::record_or_log(&svc.store, refused(404, &error)).await;
            Err(error)
        }
    }
}
