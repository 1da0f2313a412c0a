//! The `tsh-issuer` subcommands: one module per command family, each a function that does the
//! work and returns `Result<(), CliError>`. `main.rs` only parses the arguments and dispatches;
//! printing the error and choosing the exit code happen once, in [`finish`].

mod args;
pub mod cards;
pub mod config;
pub mod reconcile;
pub mod replay;
pub mod rules;
pub mod serve;
pub mod store;

use std::process::ExitCode;

pub use args::{CardsCommand, Cli, Command, ConfigCommand, RulesCommand, StoreCommand};

use crate::config::{LoadOptions, Settings};

/// Why a subcommand failed: the message for standard error and the process exit code
/// (2 = bad input or configuration, 1 = a runtime failure).
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    /// Bad input or configuration: exit code 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }

    /// A failure while doing the work: exit code 1.
    pub fn runtime(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
}

/// Turns a subcommand's result into the process exit code, printing the error once.
pub fn finish(result: Result<(), CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

/// The layered settings (files, then environment, then `--config FILE`); a bad configuration
/// is a usage error naming the key.
pub fn load_settings(cli: &Cli) -> Result<Settings, CliError> {
    crate::config::load(LoadOptions::from_process_env(cli.config.clone()))
        .map_err(|e| CliError::usage(e.to_string()))
}
