//! Read queries behind staff search: cards and tokens by the last four digits of their number,
//! and console session revocations. Like every reader, it goes through the engine's typed scans
//! and never touches a database itself.

use super::engine::TokenScan;
use super::{Page, Paged, StoreError, StoreReader};
use crate::domain::{CardRecord, TokenRecord};

impl StoreReader<'_> {
    /// Cards whose PAN ends with `last4`.
    pub fn cards_by_last4(&self, last4: &str, page: Page) -> Result<Paged<CardRecord>, StoreError> {
        Paged::from_scan(page, |visit| {
            self.engine().scan_cards_by_last4(last4, visit)
        })
    }

    /// Tokens whose own number ends with `last4`.
    pub fn tokens_by_last4(
        &self,
        last4: &str,
        page: Page,
    ) -> Result<Paged<TokenRecord>, StoreError> {
        Paged::from_scan(page, |visit| {
            self.engine().scan_tokens(TokenScan::Last4(last4), visit)
        })
    }

    /// True while a signed-out console session must stay refused.
    pub fn session_revoked(&self, session_id: &str, now: u64) -> Result<bool, StoreError> {
        Ok(self
            .engine()
            .session_revoked_until(session_id)?
            .is_some_and(|until| until > now))
    }
}
