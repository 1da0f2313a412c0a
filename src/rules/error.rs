//! Errors of the rules layer: the file cannot be read, is not TOML, or has problems (each naming
//! the rule and the offending key or value).
//!
//! Owns only the error types and their wording; the wording is what issuer staff see from
//! `tsh-issuer rules check` and from a refused reload, so it must say where and what, never
//! just "invalid".

use std::fmt;

/// Why a rules file was refused. A refused file never yields a partial rule set.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The file could not be read.
    #[error("cannot read rules file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("rules file is not valid TOML (line {line}, column {column}): {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// The file is TOML but has one or more problems (unknown keys, wrong types, unknown facts,
    /// operators that do not fit the fact, duplicate rule ids, …).
    #[error("{}", ProblemList(.0))]
    Invalid(Vec<RuleProblem>),
}

impl RulesError {
    /// The problems of an [`RulesError::Invalid`] file (empty for the other variants).
    pub fn problems(&self) -> &[RuleProblem] {
        match self {
            RulesError::Invalid(problems) => problems,
            RulesError::Io { .. } | RulesError::Syntax { .. } => &[],
        }
    }
}

/// One problem in a rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    /// The rule's id, when the problem is inside a rule that has one.
    pub rule: Option<String>,
    /// The rule's position in the file (1-based), when the problem is inside a rule.
    pub index: Option<usize>,
    /// Where in the rule (or file): `stage`, `when.all[0].lt`, `defaults.outcome`; empty when
    /// the message itself names the key.
    pub key: String,
    /// What is wrong, naming the offending value.
    pub message: String,
    /// Line in the file, when known.
    pub line: Option<usize>,
}

impl RuleProblem {
    pub(crate) fn in_file(key: impl Into<String>, message: impl Into<String>) -> RuleProblem {
        RuleProblem {
            rule: None,
            index: None,
            key: key.into(),
            message: message.into(),
            line: None,
        }
    }

    pub(crate) fn in_rule(
        rule: Option<&str>,
        index: usize,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> RuleProblem {
        RuleProblem {
            rule: rule.map(str::to_owned),
            index: Some(index),
            key: key.into(),
            message: message.into(),
            line: None,
        }
    }
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.rule, self.index) {
            (Some(rule), Some(index)) => write!(f, "rule {rule:?} (#{index})")?,
            (Some(rule), None) => write!(f, "rule {rule:?}")?,
            (None, Some(index)) => write!(f, "rule #{index} (no id)")?,
            (None, None) => f.write_str("file")?,
        }
        if !self.key.is_empty() {
            write!(f, ", `{}`", self.key)?;
        }
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        write!(f, ": {}", self.message)
    }
}

struct ProblemList<'a>(&'a [RuleProblem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [] => f.write_str("invalid rules file"),
            [only] => write!(f, "invalid rules file: {only}"),
            many => {
                write!(f, "invalid rules file ({} problems):", many.len())?;
                for problem in many {
                    write!(f, "\n  - {problem}")?;
                }
                Ok(())
            }
        }
    }
}
