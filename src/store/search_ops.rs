//! Read queries behind staff search: cards and tokens by the last four digits of their number,
//! and console session revocations. Like every reader, it calls the backend's typed methods and
//! never touches sled itself.

use super::sled_backend::Index;
use super::{Page, Paged, StoreError, StoreReader};
use crate::domain::{CardRecord, TokenRecord};

impl StoreReader<'_> {
    /// Cards whose PAN ends with `last4`.
    pub fn cards_by_last4(&self, last4: &str, page: Page) -> Result<Paged<CardRecord>, StoreError> {
        Paged::from_iter(self.sled().cards_by_last4(last4), page)
    }

    /// Tokens whose own number ends with `last4`.
    pub fn tokens_by_last4(
        &self,
        last4: &str,
        page: Page,
    ) -> Result<Paged<TokenRecord>, StoreError> {
        Paged::from_iter(self.sled().tokens_by_index(Index::TokenLast4, last4), page)
    }

    /// True while a signed-out console session must stay refused.
    pub fn session_revoked(&self, session_id: &str, now: u64) -> Result<bool, StoreError> {
        Ok(self
            .sled()
            .session_revoked_until(session_id)?
            .is_some_and(|until| until > now))
    }
}
