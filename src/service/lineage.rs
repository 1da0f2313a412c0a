//! Token-for-token provenance and lineage (issue 10) over the store: finds the token a request's
//! original-token attributes name (by its own reference id or the fingerprint of its own number),
//! links a new token to its original when it is created, and walks a token's whole lineage.
//!
//! The lookups work the same inside a write transaction (`dyn Tx`) and in a read
//! (`StoreReader`), through the small [`TokenLookup`] trait. Must not: decide anything (the rules
//! do, from the facts `service::facts` builds out of a [`Provenance`]).

use crate::domain::lineage::{resolve, Provenance};
use crate::domain::{OriginalToken, TokenRecord};
use crate::store::{StoreError, StoreReader, Tx, TxError};

/// At most this many of our tokens are read per attribute: more would be corrupt data, and the
/// answer (inconsistent) is the same with two.
const MAX_MATCHES: usize = 8;

/// The token queries lineage needs, inside or outside a transaction.
pub(crate) trait TokenLookup {
    type Error;
    fn token(&self, virtual_card_id: &str) -> Result<Option<TokenRecord>, Self::Error>;
    fn ids_by_reference(&self, reference_id: &str) -> Result<Vec<String>, Self::Error>;
    fn ids_by_fingerprint(&self, fingerprint: &str) -> Result<Vec<String>, Self::Error>;
}

impl TokenLookup for dyn Tx + '_ {
    type Error = TxError;
    fn token(&self, virtual_card_id: &str) -> Result<Option<TokenRecord>, TxError> {
        Tx::token(self, virtual_card_id)
    }
    fn ids_by_reference(&self, reference_id: &str) -> Result<Vec<String>, TxError> {
        self.token_ids_by_reference(reference_id)
    }
    fn ids_by_fingerprint(&self, fingerprint: &str) -> Result<Vec<String>, TxError> {
        self.token_ids_by_number_fingerprint(fingerprint)
    }
}

impl TokenLookup for StoreReader<'_> {
    type Error = StoreError;
    fn token(&self, virtual_card_id: &str) -> Result<Option<TokenRecord>, StoreError> {
        StoreReader::token(self, virtual_card_id)
    }
    fn ids_by_reference(&self, reference_id: &str) -> Result<Vec<String>, StoreError> {
        self.token_ids_by_reference(reference_id)
    }
    fn ids_by_fingerprint(&self, fingerprint: &str) -> Result<Vec<String>, StoreError> {
        self.token_ids_by_number_fingerprint(fingerprint)
    }
}

fn load<L: TokenLookup + ?Sized>(
    store: &L,
    ids: Vec<String>,
) -> Result<Vec<TokenRecord>, L::Error> {
    let mut tokens = Vec::new();
    for id in ids.into_iter().take(MAX_MATCHES) {
        if let Some(token) = store.token(&id)? {
            tokens.push(token);
        }
    }
    Ok(tokens)
}

/// Which of our tokens the attributes name (see `domain::lineage::resolve`).
pub(crate) fn resolve_original<L: TokenLookup + ?Sized>(
    store: &L,
    given: &OriginalToken,
) -> Result<Provenance, L::Error> {
    let by_reference = match &given.token_reference_id {
        Some(reference) => load(store, store.ids_by_reference(reference)?)?,
        None => Vec::new(),
    };
    let by_number = match &given.token_fingerprint {
        Some(fingerprint) => load(store, store.ids_by_fingerprint(fingerprint)?)?,
        None => Vec::new(),
    };
    Ok(resolve(given, &by_reference, &by_number))
}

/// The provenance of a request's original token, read from the store (None without attributes).
pub async fn provenance(
    store: &crate::store::Store,
    original: Option<&OriginalToken>,
) -> Result<Option<Provenance>, StoreError> {
    let Some(given) = original.filter(|o| !o.is_empty()).cloned() else {
        return Ok(None);
    };
    store
        .read(move |r| resolve_original(r, &given).map(Some))
        .await
}

/// Links a token being created to its original: the one token its original-token attributes name
/// consistently, which must already exist (it is looked up before `token` is written). Called
/// only in the transaction that creates `token`; the link is never changed afterwards, so every
/// link points to an older token and a lineage can have no cycle.
pub(crate) fn link_at_creation(tx: &dyn Tx, token: &mut TokenRecord) -> Result<(), TxError> {
    let Some(given) = token.original_token.as_ref().filter(|o| !o.is_empty()) else {
        return Ok(());
    };
    let provenance = resolve_original(tx, given)?;
    token.original_virtual_card_id = provenance
        .original
        .map(|o| o.virtual_card_id)
        .filter(|id| *id != token.virtual_card_id);
    Ok(())
}
