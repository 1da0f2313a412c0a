//! Command line: `serve` (the default), `cards import FILE`, `rules check FILE`, `config check`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tsh-issuer",
    version,
    about = "Issuer backend for Thales TSH classic tokenization"
)]
pub struct Cli {
    /// Extra configuration file applied after config/default.toml and the environment overlay.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default when no command is given).
    Serve,
    /// Card registry maintenance.
    Cards {
        #[command(subcommand)]
        command: CardsCommand,
    },
    /// Decision rules tools.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum CardsCommand {
    /// Upsert every card of a JSON card file into the store (the service must not be running:
    /// sled locks its directory; use POST /api/v1/cards against a running service).
    Import { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate a rules file and print the compiled rules.
    Check { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate the configuration, print the effective non-secret settings.
    Check,
}
