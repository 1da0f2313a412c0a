//! The sled side of `store stats` (`store::space`): walks every tree once, summing the lengths of
//! keys and values, and sizes the store directory's files.

use super::{io, SledBackend, TOKENS, TREES};
use crate::store::space::{directory_bytes, SpaceReport, TreeSpace};
use crate::store::StoreError;

impl SledBackend {
    pub(super) fn measure_space(&self) -> Result<SpaceReport, StoreError> {
        let mut trees = Vec::with_capacity(TREES.len());
        for (name, tree) in TREES.iter().zip(&self.trees) {
            let mut space = TreeSpace {
                name,
                entries: 0,
                key_bytes: 0,
                value_bytes: 0,
            };
            for entry in tree.iter() {
                let (key, value) = entry.map_err(io)?;
                space.entries += 1;
                space.key_bytes += key.len() as u64;
                space.value_bytes += value.len() as u64;
            }
            trees.push(space);
        }
        let tokens = trees[TOKENS].entries;
        let (file_bytes, allocated_bytes) = directory_bytes(&self.path)
            .map_err(|e| StoreError::Io(format!("cannot size {}: {e}", self.path.display())))?;
        Ok(SpaceReport {
            trees,
            file_bytes,
            allocated_bytes,
            tokens,
        })
    }
}
