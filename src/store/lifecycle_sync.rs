//! Read queries for keeping tokens in step with TSH (issue 11): per-token sync records, the tokens
//! with a pending check, the issuer operations still pending, reconciliation reports, and every
//! card (a registry-wide reconciliation). Like every reader, it calls the engine's typed methods
//! and never touches an engine's storage itself.

use super::engine::{Flow, Visit};
use super::{Page, Paged, StoreError, StoreReader};
use crate::domain::{CardRecord, ReconciliationReport, TokenSync, TshOperation};

/// Collects at most `limit` items of a scan, stopping it there.
fn first<T>(
    limit: usize,
    scan: impl FnOnce(Visit<'_, T>) -> Result<(), StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut items = Vec::new();
    if limit == 0 {
        return Ok(items);
    }
    scan(&mut |item| {
        items.push(item);
        Ok(if items.len() < limit {
            Flow::Continue
        } else {
            Flow::Stop
        })
    })?;
    Ok(items)
}

impl StoreReader<'_> {
    pub fn token_sync(&self, virtual_card_id: &str) -> Result<Option<TokenSync>, StoreError> {
        self.engine().token_sync(virtual_card_id)
    }

    /// Up to `limit` sync records with a pending check.
    pub fn tokens_with_checks(&self, limit: usize) -> Result<Vec<TokenSync>, StoreError> {
        first(limit, |visit| self.engine().scan_token_checks(visit))
    }

    /// Up to `limit` issuer operations still pending.
    pub fn pending_tsh_operations(&self, limit: usize) -> Result<Vec<TshOperation>, StoreError> {
        first(limit, |visit| {
            self.engine().scan_pending_tsh_operations(visit)
        })
    }

    pub fn reconciliation(&self, id: &str) -> Result<Option<ReconciliationReport>, StoreError> {
        self.engine().reconciliation(id)
    }

    /// Reconciliation reports, newest first.
    pub fn reconciliations(&self, page: Page) -> Result<Paged<ReconciliationReport>, StoreError> {
        Paged::from_scan(page, |visit| self.engine().scan_reconciliations(visit))
    }

    /// Cards in reference order (a page of the whole registry).
    pub fn cards(&self, page: Page) -> Result<Paged<CardRecord>, StoreError> {
        Paged::from_scan(page, |visit| self.engine().scan_cards(visit))
    }
}
