//! Token-for-token (Visa, seed 000): the attributes of the original device token a COF token was
//! requested with. The original token number itself is only kept as a keyed fingerprint and a masked
//! form; identifiers are strings even when TSH sends numbers.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginalToken {
    /// HMAC-SHA-256 of the original token number (domain `token`), for lineage lookups.
    #[serde(default)]
    pub token_fingerprint: Option<String>,
    #[serde(default)]
    pub token_masked: Option<String>,
    #[serde(default)]
    pub token_last4: Option<String>,
    #[serde(default)]
    pub token_requestor_id: Option<String>,
    #[serde(default)]
    pub token_reference_id: Option<String>,
    #[serde(default)]
    pub assurance_level: Option<String>,
}

impl OriginalToken {
    pub fn is_empty(&self) -> bool {
        self.token_fingerprint.is_none()
            && self.token_requestor_id.is_none()
            && self.token_reference_id.is_none()
            && self.assurance_level.is_none()
    }

    /// Fills the fields this one lacks from `other` (a later call may carry what an earlier lacked).
    pub fn merged_with(mut self, other: &OriginalToken) -> OriginalToken {
        fn fill(slot: &mut Option<String>, from: &Option<String>) {
            if slot.is_none() {
                slot.clone_from(from);
            }
        }
        fill(&mut self.token_fingerprint, &other.token_fingerprint);
        fill(&mut self.token_masked, &other.token_masked);
        fill(&mut self.token_last4, &other.token_last4);
        fill(&mut self.token_requestor_id, &other.token_requestor_id);
        fill(&mut self.token_reference_id, &other.token_reference_id);
        fill(&mut self.assurance_level, &other.assurance_level);
        self
    }
}

impl OriginalToken {
    /// Merges `other` into a record's slot: a later call may carry attributes an earlier lacked.
    pub fn merge_into(slot: &mut Option<OriginalToken>, other: Option<&OriginalToken>) {
        if let Some(other) = other {
            *slot = Some(match slot.take() {
                Some(existing) => existing.merged_with(other),
                None => other.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_existing_values_and_fills_gaps() {
        let first = OriginalToken {
            token_reference_id: Some("REF1".into()),
            ..Default::default()
        };
        let later = OriginalToken {
            token_reference_id: Some("REF2".into()),
            assurance_level: Some("25".into()),
            ..Default::default()
        };
        let merged = first.merged_with(&later);
        assert_eq!(merged.token_reference_id.as_deref(), Some("REF1"));
        assert_eq!(merged.assurance_level.as_deref(), Some("25"));
        assert!(!merged.is_empty());
        assert!(OriginalToken::default().is_empty());
    }
}
