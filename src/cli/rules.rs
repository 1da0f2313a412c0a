//! `tsh-issuer rules check FILE`: compile a rules file and print what it compiled to.

use std::path::Path;

use super::CliError;
use crate::startup::load_rules;

/// Prints the compiled rules and a one-line summary; a rules file that does not compile is a
/// usage error carrying the compiler's message.
pub fn check(file: &Path) -> Result<(), CliError> {
    let rules = load_rules(file).map_err(CliError::usage)?;
    println!("{}", rules.describe());
    println!("ok: {} rules, version {}", rules.len(), rules.version());
    Ok(())
}
