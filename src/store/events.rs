//! Read queries over the event outbox: one event, the staff list (newest first, optionally by
//! status) and the delivery worker's batch of pending events (oldest first). Like every reader, it
//! calls the engine's typed methods and never touches an engine's storage itself.

use super::engine::{Flow, Order};
use super::{Page, Paged, StoreError, StoreReader};
use crate::domain::{EventStatus, OutboxEvent};

impl StoreReader<'_> {
    pub fn event(&self, id: &str) -> Result<Option<OutboxEvent>, StoreError> {
        self.engine().event(id)
    }

    /// Events, newest first; only those with `status` when given.
    pub fn events(
        &self,
        page: Page,
        status: Option<EventStatus>,
    ) -> Result<Paged<OutboxEvent>, StoreError> {
        let engine = self.engine();
        Paged::from_scan(page, |visit| match status {
            // The pending index is small and ordered: no scan of delivered history.
            Some(EventStatus::Pending) => engine.scan_events(Order::NewestFirst, true, visit),
            Some(wanted) => engine.scan_events(Order::NewestFirst, false, &mut |e| {
                if e.status == wanted {
                    visit(e)
                } else {
                    Ok(Flow::Continue)
                }
            }),
            None => engine.scan_events(Order::NewestFirst, false, visit),
        })
    }

    /// Up to `limit` pending events, oldest first (the delivery worker's batch).
    pub fn pending_events(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        let mut batch = Vec::new();
        if limit == 0 {
            return Ok(batch);
        }
        self.engine()
            .scan_events(Order::OldestFirst, true, &mut |e| {
                batch.push(e);
                Ok(if batch.len() == limit {
                    Flow::Stop
                } else {
                    Flow::Continue
                })
            })?;
        Ok(batch)
    }
}
