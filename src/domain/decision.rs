//! A digitization decision as recorded: who decided (issuer rules or the network's stand-in), the
//! outcome, the rule trace and the facts it was made from (never card data).

use serde::{Deserialize, Serialize};

use crate::domain::{IdvMethod, OriginalToken};
use crate::rules::{Facts, TraceEntry};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    Issuer,
    Network,
}

/// `green` / `yellow` / `red`, or `unknown` for a network decision value we could not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LevelOfTrust {
    Green,
    Yellow,
    Red,
    Unknown,
}

impl LevelOfTrust {
    pub fn as_str(&self) -> &'static str {
        match self {
            LevelOfTrust::Green => "green",
            LevelOfTrust::Yellow => "yellow",
            LevelOfTrust::Red => "red",
            LevelOfTrust::Unknown => "unknown",
        }
    }

    pub fn is_approval(&self) -> bool {
        matches!(self, LevelOfTrust::Green | LevelOfTrust::Yellow)
    }

    /// Reads a network (stand-in) decision value tolerantly: colours, words and ISO 8583-style
    /// response codes (`00` approved, `85` no reason to decline, `05` do not honour).
    pub fn from_network_value(raw: &str) -> LevelOfTrust {
        match raw.trim().to_ascii_lowercase().as_str() {
            "green" | "approved" | "approve" | "approval" | "accepted" | "00" | "85" | "y" => {
                LevelOfTrust::Green
            }
            "yellow" | "approved_with_stepup" | "stepup" | "step_up" | "challenge" => {
                LevelOfTrust::Yellow
            }
            "red" | "declined" | "decline" | "denied" | "rejected" | "05" | "n" => {
                LevelOfTrust::Red
            }
            _ => LevelOfTrust::Unknown,
        }
    }
}

impl From<crate::rules::Outcome> for LevelOfTrust {
    fn from(outcome: crate::rules::Outcome) -> Self {
        match outcome {
            crate::rules::Outcome::Green => LevelOfTrust::Green,
            crate::rules::Outcome::Yellow => LevelOfTrust::Yellow,
            crate::rules::Outcome::Red => LevelOfTrust::Red,
        }
    }
}

/// One decision (tree `decisionid_decision`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub decision_id: String,
    pub correlation_id: String,
    #[serde(default)]
    pub issuer_card_ref_id: Option<String>,
    #[serde(default)]
    pub virtual_card_id: Option<String>,
    pub level_of_trust: LevelOfTrust,
    pub decided_by: DecidedBy,
    pub reason: String,
    #[serde(default)]
    pub decided_by_rule: Option<String>,
    #[serde(default)]
    pub rules: Vec<TraceEntry>,
    #[serde(default)]
    pub rules_version: Option<String>,
    #[serde(default)]
    pub facts: Facts,
    #[serde(default)]
    pub idv_methods: Vec<IdvMethod>,
    #[serde(default)]
    pub capture_method: Option<String>,
    #[serde(default)]
    pub token_for_token: bool,
    #[serde(default)]
    pub original_token: Option<OriginalToken>,
    /// The raw decision value a network stand-in notification carried.
    #[serde(default)]
    pub network_decision: Option<String>,
    /// The shadow rules' verdict on the same facts (never answered to TSH).
    #[serde(default)]
    pub shadow: Option<ShadowOutcome>,
    /// For a network (stand-in) decision: what our rules would have said.
    #[serde(default)]
    pub review: Option<StandInReview>,
    pub created_time: String,
}

/// The shadow rule set's outcome beside a live decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShadowOutcome {
    pub level_of_trust: LevelOfTrust,
    pub reason: String,
    #[serde(default)]
    pub decided_by_rule: Option<String>,
    pub rules_version: String,
    /// True when the shadow outcome equals the live one.
    pub agrees: bool,
    #[serde(default)]
    pub rules: Vec<TraceEntry>,
}

/// Our rules re-evaluated on a stand-in: did the network approve something we would refuse?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StandInReview {
    pub our_level_of_trust: LevelOfTrust,
    pub reason: String,
    #[serde(default)]
    pub decided_by_rule: Option<String>,
    pub rules_version: String,
    /// `enrollment` (facts recorded by our own decision) or `notification` (facts carried by it).
    pub facts_source: String,
    /// The network approved (green/yellow) and our rules say red.
    pub mismatch: bool,
    #[serde(default)]
    pub rules: Vec<TraceEntry>,
}

/// What a token record keeps of the decision behind it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DecisionSummary {
    pub decision_id: String,
    pub level_of_trust: LevelOfTrust,
    pub decided_by: DecidedBy,
    pub reason: String,
    /// The decision's rule trace. Not stored with the token (it is the bulk of a token record,
    /// and the decision record holds it once): empty as read from the store, filled in by the
    /// staff reads that show it (`service::staff_queries`). Records written before that keep
    /// their copy, which is used as is.
    /// (JSON leaves an empty trace out: see the `Serialize` impl.)
    #[serde(default)]
    pub rules: Vec<TraceEntry>,
    pub created_time: String,
}

impl Serialize for DecisionSummary {
    /// Every field in order, except that a self-describing format (JSON) leaves an empty trace
    /// out. A positional format (the sled store's compact records, `store::codec`) gets it too,
    /// since its reader expects every field (`skip_serializing_if` would break it).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let with_rules = !self.rules.is_empty() || !serializer.is_human_readable();
        let mut out =
            serializer.serialize_struct("DecisionSummary", 5 + usize::from(with_rules))?;
        out.serialize_field("decision_id", &self.decision_id)?;
        out.serialize_field("level_of_trust", &self.level_of_trust)?;
        out.serialize_field("decided_by", &self.decided_by)?;
        out.serialize_field("reason", &self.reason)?;
        if with_rules {
            out.serialize_field("rules", &self.rules)?;
        } else {
            out.skip_field("rules")?;
        }
        out.serialize_field("created_time", &self.created_time)?;
        out.end()
    }
}

impl DecisionSummary {
    /// The trace, taken from the decision record when the summary was stored without it.
    pub fn complete_from(&mut self, record: &DecisionRecord) {
        if self.rules.is_empty() && record.decision_id == self.decision_id {
            self.rules.clone_from(&record.rules);
        }
    }
}

impl From<&DecisionRecord> for DecisionSummary {
    /// The summary a token keeps: everything but the trace (see [`DecisionSummary::rules`]).
    fn from(record: &DecisionRecord) -> Self {
        DecisionSummary {
            decision_id: record.decision_id.clone(),
            level_of_trust: record.level_of_trust,
            decided_by: record.decided_by,
            reason: record.reason.clone(),
            rules: Vec::new(),
            created_time: record.created_time.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_stores_its_decision_summary_without_the_trace() {
        let summary = DecisionSummary {
            decision_id: "0000000000000007".into(),
            level_of_trust: LevelOfTrust::Green,
            decided_by: DecidedBy::Issuer,
            reason: "r".into(),
            rules: Vec::new(),
            created_time: "2026-12-01T00:00:00Z".into(),
        };
        let stored = serde_json::to_value(&summary).unwrap();
        assert!(stored.get("rules").is_none(), "{stored}");
        let read: DecisionSummary = serde_json::from_value(stored).unwrap();
        assert!(read.rules.is_empty());
    }

    #[test]
    fn network_values_are_read_tolerantly() {
        let cases = [
            ("GREEN", LevelOfTrust::Green),
            ("Approved", LevelOfTrust::Green),
            ("00", LevelOfTrust::Green),
            ("85", LevelOfTrust::Green),
            ("yellow", LevelOfTrust::Yellow),
            ("DECLINED", LevelOfTrust::Red),
            ("05", LevelOfTrust::Red),
            ("red", LevelOfTrust::Red),
            ("maybe", LevelOfTrust::Unknown),
            ("", LevelOfTrust::Unknown),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                LevelOfTrust::from_network_value(raw),
                expected,
                "case {raw:?}"
            );
        }
    }
}
