//! The decision rules engine: raw rules file → compiled [`RuleSet`] → [`RuleSet::evaluate`] →
//! [`Evaluation`] (outcome, reason, step-up filter and a trace of every rule).
//!
//! Pipeline ("parse, then build"):
//! 1. [`RawRuleFile::from_toml_str`] / [`load_file`] read the TOML file into raw serde types that
//!    refuse unknown keys (it is our own format, not wire data);
//! 2. [`RuleSet::compile`] validates it against the fact catalogue ([`facts::CATALOGUE`]) and
//!    reports every problem with the rule id and the offending key or value;
//! 3. [`RuleSet::evaluate`] applies the compiled rules to a [`Facts`] bag.
//!
//! This module is pure: it never does I/O except [`load_file`], never logs, and never panics on
//! any input. It knows nothing about HTTP, TSH wire types or the store: the caller derives the
//! facts from a request, hashes the file content into the rules version, and stores the
//! [`Evaluation`] with the facts. The file format is documented for issuer staff in
//! `docs/rules.md`; the shipped rules live in `config/rules.toml`.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo
    )
)]

mod compile;
mod error;
mod evaluate;
pub mod facts;
mod outcome;
mod raw;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use compile::{Rule, RuleSet, VelocityWindows};
pub use error::{RuleProblem, RulesError};
pub use evaluate::{Evaluation, TraceEntry, DEFAULT_TRACE_ID};
pub use facts::{FactSpec, FactType, FactValue, Facts};
pub use outcome::{Outcome, Stage, STEPUP_METHOD_TYPES};
pub use raw::{RawCondition, RawDefaults, RawRule, RawRuleFile, RawValue, RawVelocity};

/// Reads and parses a rules file (syntax and structure only; [`RuleSet::compile`] validates).
///
/// The only I/O in this module. A caller that also needs the rules version should read the
/// file once itself, hash that text and use [`RuleSet::from_toml_str`], so that the version
/// always matches the content that was compiled.
pub fn load_file(path: impl AsRef<Path>) -> Result<RawRuleFile, RulesError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| RulesError::Io {
        path: path.display().to_string(),
        source,
    })?;
    RawRuleFile::from_toml_str(&text)
}
