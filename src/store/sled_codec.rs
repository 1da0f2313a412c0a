//! How the sled backend encodes record values. Two forms live side by side, told apart by the
//! first byte: **JSON** (every value written before compact records existed, and every record
//! type not listed here) and **compact**: one tag byte naming the type and its layout version,
//! then the record in postcard (fields in declaration order, varint lengths, no field names).
//! A tag is ≥ 0x80 and JSON text always starts with an ASCII byte, so a tree can hold both and an
//! existing store keeps working without a migration: old records are read as JSON and become
//! compact when next written. Export / import and PostgreSQL keep JSON.
//!
//! Only the records kept per token are compact (token, card, transition, the id lists of the
//! lineage indexes): they are what a store holds millions of. Positional encoding has a price:
//! **changing the fields of a compact type changes its layout**, so the change needs a new tag
//! (and the old layout kept readable). `layouts_are_pinned` below fails first, by design.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::domain::{
    AuditEntry, CardRecord, DecisionRecord, Enrollment, OutboxEvent, ReconciliationReport,
    TokenRecord, TokenSync, Transition, TshOperation,
};

/// A type the sled backend stores as a value.
pub(super) trait Stored: Serialize + DeserializeOwned {
    /// The compact form's tag (type and layout version); `None` keeps JSON.
    const COMPACT_TAG: Option<u8> = None;
}

impl Stored for CardRecord {
    const COMPACT_TAG: Option<u8> = Some(0xC1);
}
impl Stored for TokenRecord {
    const COMPACT_TAG: Option<u8> = Some(0xC2);
}
impl Stored for Transition {
    const COMPACT_TAG: Option<u8> = Some(0xC3);
}
/// Virtual card ids under one key of a list-valued index.
impl Stored for Vec<String> {
    const COMPACT_TAG: Option<u8> = Some(0xC4);
}
impl Stored for Enrollment {}
impl Stored for DecisionRecord {}
impl Stored for TshOperation {}
impl Stored for AuditEntry {}
impl Stored for OutboxEvent {}
impl Stored for TokenSync {}
impl Stored for ReconciliationReport {}
impl Stored for u64 {}

/// The value bytes of `value`.
pub(super) fn encode<T: Stored>(value: &T) -> Result<Vec<u8>, String> {
    match T::COMPACT_TAG {
        Some(tag) => {
            let out = vec![tag];
            postcard::to_extend(value, out).map_err(|e| e.to_string())
        }
        None => serde_json::to_vec(value).map_err(|e| e.to_string()),
    }
}

/// Reads either form (see the module doc).
pub(super) fn decode<T: Stored>(bytes: &[u8]) -> Result<T, String> {
    match bytes.first() {
        Some(&tag) if Some(tag) == T::COMPACT_TAG => {
            let (value, rest) =
                postcard::take_from_bytes(&bytes[1..]).map_err(|e| e.to_string())?;
            if rest.is_empty() {
                Ok(value)
            } else {
                Err(format!("{} bytes after a compact record", rest.len()))
            }
        }
        Some(&tag) if tag >= 0x80 => Err(format!(
            "unknown record layout 0x{tag:02X} (written by a newer build?)"
        )),
        _ => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
