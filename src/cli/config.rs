//! `tsh-issuer config check`: load and validate the layered configuration and print it.

use super::{load_settings, Cli, CliError};

/// Prints the effective settings (secrets are redacted by their `Debug`) when they are valid.
pub fn check(cli: &Cli) -> Result<(), CliError> {
    let settings = load_settings(cli)?;
    println!("{settings:#?}");
    println!("ok: configuration is valid");
    Ok(())
}
