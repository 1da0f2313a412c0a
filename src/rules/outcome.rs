//! Outcomes (green < yellow < red), rule stages (decide, adjust) and the step-up method types a
//! yellow rule may allow.
//!
//! Owns only these small vocabulary types and their names; it must not know how an outcome is
//! turned into a TSH response (the caller maps [`Outcome`] to `levelOfTrust`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The decision on a digitization, ordered by strictness: `Green < Yellow < Red`.
///
/// Serialized in lower case (`"green"`, `"yellow"`, `"red"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Approve.
    Green,
    /// Approve after a step-up (ID&V) of the cardholder.
    Yellow,
    /// Decline.
    Red,
}

impl Outcome {
    /// Every outcome, from the most lenient to the strictest.
    pub const ALL: [Outcome; 3] = [Outcome::Green, Outcome::Yellow, Outcome::Red];

    /// The lower-case name used in rules files, traces and the TSH response.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Green => "green",
            Outcome::Yellow => "yellow",
            Outcome::Red => "red",
        }
    }

    /// The stricter of the two outcomes (`red` beats `yellow` beats `green`).
    pub fn stricter(self, other: Outcome) -> Outcome {
        self.max(other)
    }

    /// Reads an outcome name, ignoring ASCII case and surrounding spaces.
    pub fn from_name(name: &str) -> Option<Outcome> {
        let name = name.trim();
        Outcome::ALL
            .into_iter()
            .find(|outcome| outcome.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a rule runs.
///
/// `decide` rules run first, in file order, and the first one that matches sets the outcome;
/// `adjust` rules run afterwards, in file order, and every one that matches may only make the
/// outcome stricter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Decide,
    Adjust,
}

impl Stage {
    /// Both stages, in evaluation order.
    pub const ALL: [Stage; 2] = [Stage::Decide, Stage::Adjust];

    /// The lower-case name used in rules files and traces.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Decide => "decide",
            Stage::Adjust => "adjust",
        }
    }

    /// Reads a stage name, ignoring ASCII case and surrounding spaces.
    pub fn from_name(name: &str) -> Option<Stage> {
        let name = name.trim();
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The step-up (ID&V) method types a yellow rule's `stepup_methods` filter may name: the
/// wallet-side names of the contract's `idvMethodList` types.
pub const STEPUP_METHOD_TYPES: [&str; 5] = [
    "cell_phone",
    "email",
    "app_to_app",
    "customer_service",
    "website",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_ordered_green_yellow_red() {
        assert!(Outcome::Green < Outcome::Yellow);
        assert!(Outcome::Yellow < Outcome::Red);
        let cases = [
            (Outcome::Green, Outcome::Green, Outcome::Green),
            (Outcome::Green, Outcome::Yellow, Outcome::Yellow),
            (Outcome::Yellow, Outcome::Green, Outcome::Yellow),
            (Outcome::Red, Outcome::Green, Outcome::Red),
            (Outcome::Yellow, Outcome::Red, Outcome::Red),
            (Outcome::Red, Outcome::Yellow, Outcome::Red),
        ];
        for (a, b, expected) in cases {
            assert_eq!(a.stricter(b), expected, "case {a}.stricter({b})");
        }
    }

    #[test]
    fn outcome_and_stage_names_round_trip() {
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::from_name(outcome.as_str()), Some(outcome));
            let json = serde_json::to_string(&outcome).unwrap_or_default();
            assert_eq!(json, format!("\"{outcome}\""));
        }
        assert_eq!(Outcome::from_name(" RED "), Some(Outcome::Red));
        assert_eq!(Outcome::from_name("amber"), None);
        for stage in Stage::ALL {
            assert_eq!(Stage::from_name(stage.as_str()), Some(stage));
        }
        assert_eq!(Stage::from_name("Adjust"), Some(Stage::Adjust));
        assert_eq!(Stage::from_name("decided"), None);
    }
}
