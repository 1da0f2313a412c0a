//! Read queries for keeping tokens in step with TSH (issue 11): per-token sync records, the tokens
//! with a pending check, the issuer operations still pending, reconciliation reports, and every
//! card (a registry-wide reconciliation). Like every reader, it calls the backend's typed methods
//! and never touches sled itself.

use super::{Page, Paged, StoreError, StoreReader};
use crate::domain::{CardRecord, ReconciliationReport, TokenSync, TshOperation};

/// An index entry whose record vanished is skipped (the writer removes both in one transaction;
/// a reader between two calls may see one without the other).
fn present<T>(entry: Result<Option<T>, StoreError>) -> Option<Result<T, StoreError>> {
    entry.transpose()
}

impl StoreReader<'_> {
    pub fn token_sync(&self, virtual_card_id: &str) -> Result<Option<TokenSync>, StoreError> {
        self.sled().token_sync(virtual_card_id)
    }

    /// Up to `limit` sync records with a pending check.
    pub fn tokens_with_checks(&self, limit: usize) -> Result<Vec<TokenSync>, StoreError> {
        self.sled()
            .tokens_with_checks()
            .filter_map(present)
            .take(limit)
            .collect()
    }

    /// Up to `limit` issuer operations still pending.
    pub fn pending_tsh_operations(&self, limit: usize) -> Result<Vec<TshOperation>, StoreError> {
        self.sled()
            .pending_tsh_operations()
            .filter_map(present)
            .take(limit)
            .collect()
    }

    pub fn reconciliation(&self, id: &str) -> Result<Option<ReconciliationReport>, StoreError> {
        self.sled().reconciliation(id)
    }

    /// Reconciliation reports, newest first.
    pub fn reconciliations(&self, page: Page) -> Result<Paged<ReconciliationReport>, StoreError> {
        Paged::from_iter(self.sled().reconciliations_newest_first(), page)
    }

    /// Cards in reference order (a page of the whole registry).
    pub fn cards(&self, page: Page) -> Result<Paged<CardRecord>, StoreError> {
        Paged::from_iter(self.sled().all_cards(), page)
    }
}
