//! Offline bulk loading for sled (benchmark fills, large imports into a stopped store): the same
//! `Tx` code as the service (`SledTx`, so the same records and index entries), over buffered
//! views that read through to the trees and keep their writes in memory; each tree's writes are
//! then applied as one `sled::Batch`. Much cheaper than one transaction over every tree, and
//! **not atomic across trees**: only for a store no service is using, with a flush after.

use std::cell::RefCell;
use std::collections::BTreeMap;

use sled::{Batch, Db, IVec, Tree};

use super::{io, SledBackend, SledTx, TreeView};
use crate::store::{StoreError, Tx, TxError, TxErrorKind};

/// A tree with pending writes (`None`: removed) that shadow what it holds.
struct BufferedTree<'a> {
    tree: &'a Tree,
    db: &'a Db,
    pending: RefCell<BTreeMap<Vec<u8>, Option<IVec>>>,
}

fn read_error(e: sled::Error) -> TxError {
    TxError::from(sled::transaction::UnabortableTransactionError::Storage(e))
}

impl TreeView for BufferedTree<'_> {
    fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, TxError> {
        if let Some(value) = self.pending.borrow().get(key.as_ref()) {
            return Ok(value.clone());
        }
        self.tree.get(key).map_err(read_error)
    }

    fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Option<IVec>, TxError> {
        let previous = self.get(key.as_ref())?;
        self.pending
            .borrow_mut()
            .insert(key.as_ref().to_vec(), Some(IVec::from(value.as_ref())));
        Ok(previous)
    }

    fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, TxError> {
        let previous = self.get(key.as_ref())?;
        self.pending
            .borrow_mut()
            .insert(key.as_ref().to_vec(), None);
        Ok(previous)
    }

    fn generate_id(&self) -> Result<u64, TxError> {
        self.db.generate_id().map_err(read_error)
    }
}

impl SledBackend {
    /// Runs `body` once over buffered views of every tree, then applies each tree's writes as one
    /// batch (not atomic across trees; no flush).
    pub(super) fn bulk_load(
        &self,
        body: &dyn Fn(&dyn Tx) -> Result<(), TxError>,
    ) -> Result<(), StoreError> {
        let views: Vec<BufferedTree<'_>> = self
            .trees
            .iter()
            .map(|tree| BufferedTree {
                tree,
                db: &self.db,
                pending: RefCell::default(),
            })
            .collect();
        let outcome = body(&SledTx {
            trees: views.as_slice(),
        });
        if let Err(TxError(kind)) = outcome {
            // Nothing was applied: the writes were only buffered.
            return Err(match kind {
                TxErrorKind::Abort(reason) => StoreError::Aborted(reason),
                TxErrorKind::Codec(reason) => StoreError::Codec(reason),
                other => StoreError::Io(format!("{other:?}")),
            });
        }
        for view in views {
            let mut batch = Batch::default();
            for (key, value) in view.pending.into_inner() {
                match value {
                    Some(value) => batch.insert(key, value),
                    None => batch.remove(key),
                }
            }
            view.tree.apply_batch(batch).map_err(io)?;
        }
        Ok(())
    }
}
