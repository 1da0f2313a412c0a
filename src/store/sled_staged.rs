//! sled's side of the write-ahead log (`sled_wal.rs`): transactions over staged views, the
//! application of durable staged writes, and the replay of logged records at open. A transaction
//! reads its own writes first, then those staged by earlier transactions of the batch, then sled;
//! it writes only into its own stage and its log record, so an abort leaves nothing behind.

use std::cell::RefCell;
use std::collections::HashMap;

use sled::{Db, IVec, Tree};

use super::wal::{LoggedRecord, Op, Segment, Staged, WriteSet};
use super::{io, TreeView, TREES};
use crate::store::{StoreError, TxError};

const _: () = assert!(TREES.len() <= u8::MAX as usize);

fn read_error(e: sled::Error) -> TxError {
    TxError::from(sled::transaction::UnabortableTransactionError::Storage(e))
}

/// One tree inside a staged transaction.
pub(super) struct StagedTree<'a> {
    tree: &'a Tree,
    db: &'a Db,
    index: u8,
    /// The batch so far (earlier transactions' writes, logged, not yet in sled).
    batch: &'a Segment,
    /// This transaction's writes to this tree (`None`: removed).
    own: RefCell<HashMap<Vec<u8>, Option<IVec>>>,
    writes: &'a RefCell<WriteSet>,
}

impl TreeView for StagedTree<'_> {
    fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, TxError> {
        let key = key.as_ref();
        if let Some(value) = self.own.borrow().get(key) {
            return Ok(value.clone());
        }
        if let Some(value) = self.batch.staged(self.index, key) {
            return Ok(value.map(IVec::from));
        }
        self.tree.get(key).map_err(read_error)
    }

    fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Option<IVec>, TxError> {
        let (key, value) = (key.as_ref(), value.as_ref());
        let previous = self.get(key)?;
        self.writes.borrow_mut().insert(self.index, key, value);
        self.own
            .borrow_mut()
            .insert(key.to_vec(), Some(IVec::from(value)));
        Ok(previous)
    }

    fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, TxError> {
        let key = key.as_ref();
        let previous = self.get(key)?;
        self.writes.borrow_mut().remove(self.index, key);
        self.own.borrow_mut().insert(key.to_vec(), None);
        Ok(previous)
    }

    fn generate_id(&self) -> Result<u64, TxError> {
        let id = self.db.generate_id().map_err(read_error)?;
        self.writes.borrow_mut().note_id(id);
        Ok(id)
    }
}

/// The views of one transaction, one per tree, over the batch staged in `batch`.
pub(super) fn staged_views<'a>(
    db: &'a Db,
    trees: &'a [Tree],
    batch: &'a Segment,
    writes: &'a RefCell<WriteSet>,
) -> Vec<StagedTree<'a>> {
    trees
        .iter()
        .enumerate()
        .map(|(index, tree)| StagedTree {
            tree,
            db,
            // TREES has fewer than 256 entries (checked at compile time above).
            index: index as u8,
            batch,
            own: RefCell::default(),
            writes,
        })
        .collect()
}

/// A finished transaction's writes, per tree, for [`Segment::commit`].
pub(super) fn into_staged(views: Vec<StagedTree<'_>>) -> Vec<(u8, Vec<u8>, Option<Vec<u8>>)> {
    views
        .into_iter()
        .flat_map(|view| {
            let index = view.index;
            view.own
                .into_inner()
                .into_iter()
                .map(move |(key, value)| (index, key, value.map(|v| v.to_vec())))
        })
        .collect()
}

/// Applies durable staged writes to sled (plain writes: atomicity and durability are the log's).
pub(super) fn apply(trees: &[Tree], staged: &Staged) -> Result<(), StoreError> {
    for (tree, writes) in trees.iter().zip(staged) {
        for (key, value) in writes {
            match value {
                Some(value) => tree.insert(key.as_slice(), value.as_slice()).map_err(io)?,
                None => tree.remove(key.as_slice()).map_err(io)?,
            };
        }
    }
    Ok(())
}

/// Applies one logged record to sled; used only by recovery, before the backend exists.
pub(super) fn replay(db: &Db, trees: &[Tree], record: &LoggedRecord<'_>) -> Result<(), StoreError> {
    for op in &record.ops {
        let (Op::Insert { tree, .. } | Op::Remove { tree, .. }) = op;
        if usize::from(*tree) >= trees.len() {
            return Err(StoreError::Io(
                "write-ahead log damaged: unknown tree".to_owned(),
            ));
        }
    }
    for op in &record.ops {
        match op {
            Op::Insert { tree, key, value } => {
                trees[usize::from(*tree)].insert(*key, *value).map_err(io)?;
            }
            Op::Remove { tree, key } => {
                trees[usize::from(*tree)].remove(*key).map_err(io)?;
            }
        }
    }
    // sled's id generator cannot be set: draw ids until past the record's (cheap).
    while record.max_id > 0 && db.generate_id().map_err(io)? <= record.max_id {}
    Ok(())
}
