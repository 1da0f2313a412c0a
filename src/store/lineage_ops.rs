//! Read queries for token-for-token provenance and lineage (issue 10): tokens by their own
//! reference id and number fingerprint, lineage children, and the tokens flagged by the
//! original-death policy. Like every reader, it calls the engine's typed methods only.

use super::engine::ListIndex;
use super::{Page, Paged, StoreError, StoreReader};
use crate::domain::TokenRecord;

impl StoreReader<'_> {
    /// Ids of the tokens whose own reference id is `reference_id`.
    pub fn token_ids_by_reference(&self, reference_id: &str) -> Result<Vec<String>, StoreError> {
        self.engine()
            .list_index(ListIndex::OwnReference, reference_id)
    }

    /// Ids of the tokens whose own number has this keyed fingerprint.
    pub fn token_ids_by_number_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<Vec<String>, StoreError> {
        self.engine()
            .list_index(ListIndex::OwnFingerprint, fingerprint)
    }

    /// Ids of the tokens made from this one (its lineage children).
    pub fn token_ids_made_from(&self, virtual_card_id: &str) -> Result<Vec<String>, StoreError> {
        self.engine().list_index(ListIndex::Parent, virtual_card_id)
    }

    /// Tokens flagged because an ancestor was suspended or deleted, by virtual card id.
    pub fn orphans(&self, page: Page) -> Result<Paged<TokenRecord>, StoreError> {
        Paged::from_scan(page, |visit| self.engine().scan_orphans(visit))
    }
}
