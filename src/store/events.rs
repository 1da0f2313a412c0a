//! Read queries over the event outbox: one event, the staff list (newest first, optionally by
//! status) and the delivery worker's batch of pending events (oldest first). Like every reader, it
//! calls the backend's typed methods and never touches sled itself.

use super::{Page, Paged, StoreError, StoreReader};
use crate::domain::{EventStatus, OutboxEvent};

impl StoreReader<'_> {
    pub fn event(&self, id: &str) -> Result<Option<OutboxEvent>, StoreError> {
        self.sled().event(id)
    }

    /// Events, newest first; only those with `status` when given.
    pub fn events(
        &self,
        page: Page,
        status: Option<EventStatus>,
    ) -> Result<Paged<OutboxEvent>, StoreError> {
        match status {
            // The pending index is small and ordered: no scan of delivered history.
            Some(EventStatus::Pending) => {
                Paged::from_iter(self.sled().pending_events(true).map(pending), page)
            }
            Some(wanted) => Paged::from_iter(
                self.sled()
                    .events_newest_first()
                    .filter(move |e| e.as_ref().map_or(true, |e| e.status == wanted)),
                page,
            ),
            None => Paged::from_iter(self.sled().events_newest_first(), page),
        }
    }

    /// Up to `limit` pending events, oldest first (the delivery worker's batch).
    pub fn pending_events(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        self.sled()
            .pending_events(false)
            .map(pending)
            .take(limit)
            .collect()
    }
}

/// A pending-index entry whose event vanished is reported as a codec error: the index and the
/// events are written in one transaction, so it would mean a damaged store.
fn pending(entry: Result<Option<OutboxEvent>, StoreError>) -> Result<OutboxEvent, StoreError> {
    entry?.ok_or_else(|| StoreError::Codec("pending index names a missing event".to_owned()))
}
