//! Staff reads about keeping tokens in step with TSH: a token's sync record with the issuer
//! operation it is waiting for. Read-only.

use crate::domain::{OperationStatus, TokenSync, TshOperation};
use crate::service::Services;
use crate::store::StoreError;

/// The token's sync record (empty when nothing happened yet) and its pending operation, if any;
/// None when the token is unknown.
pub async fn token_sync(
    svc: &Services,
    virtual_card_id: &str,
) -> Result<Option<(TokenSync, Option<TshOperation>)>, StoreError> {
    let vcid = virtual_card_id.to_owned();
    svc.store
        .read(move |r| {
            if r.token(&vcid)?.is_none() {
                return Ok(None);
            }
            let sync = r
                .token_sync(&vcid)?
                .unwrap_or_else(|| TokenSync::new(&vcid));
            let pending = match &sync.pending_operation {
                Some(cid) => r
                    .tsh_operation(cid)?
                    .filter(|op| op.status == OperationStatus::Pending),
                None => None,
            };
            Ok(Some((sync, pending)))
        })
        .await
}

/// Every pending issuer operation (at most one per token), oldest first.
pub async fn pending_operations(svc: &Services) -> Result<Vec<TshOperation>, StoreError> {
    let mut ops = svc
        .store
        .read(|r| r.pending_tsh_operations(crate::store::Page::MAX_COUNT))
        .await?;
    ops.sort_by(|a, b| a.created_time.cmp(&b.created_time));
    Ok(ops)
}
