//! Read queries for issuer-initiated TSH operations and the staff audit trail, kept out of
//! `mod.rs` so the storage boundary's core stays small. Like every reader, it calls the engine's
//! typed methods and never touches an engine's storage itself.

use super::engine::Order;
use super::{Page, Paged, StoreError, StoreReader};
use crate::domain::{AuditEntry, TshOperation};

impl StoreReader<'_> {
    /// One issuer-initiated operation by the `x-correlation-id` sent to TSH.
    pub fn tsh_operation(&self, correlation_id: &str) -> Result<Option<TshOperation>, StoreError> {
        self.engine().tsh_operation(correlation_id)
    }

    /// The staff audit trail, newest first.
    pub fn audit(&self, page: Page) -> Result<Paged<AuditEntry>, StoreError> {
        Paged::from_scan(page, |visit| {
            self.engine().scan_audit(Order::NewestFirst, visit)
        })
    }
}
