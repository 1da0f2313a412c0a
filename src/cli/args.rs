//! Command-line arguments (clap): `serve` (the default), `cards import FILE`, `rules check FILE`,
//! `config check`, `replay`, `reconcile`, `store export` / `store import`. Only the shapes; the
//! bodies live in the sibling modules.

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
    /// Backtest: re-evaluate recorded decisions under a candidate rules file and show the diff.
    Replay {
        /// The candidate rules file.
        #[arg(long, value_name = "FILE")]
        rules: PathBuf,
        /// A store directory (a copy, or the store of a stopped service: sled locks it).
        #[arg(long, value_name = "DIR", conflicts_with = "input")]
        store: Option<PathBuf>,
        /// An NDJSON export (`tsh-issuer store export` or `GET /api/v1/decisions/export`).
        #[arg(long, value_name = "FILE")]
        input: Option<PathBuf>,
        /// Only decisions created at or after this time (RFC 3339, or a date YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compare tokens with TSH (getCardInfo, getTokenInfo) and take TSH's state where they
    /// differ; prints the drift. Opens the store directly: run it while the service is stopped
    /// (against a running service use `POST /api/v1/reconciliations`).
    Reconcile {
        /// One card, by its issuerCardRefId.
        #[arg(
            long,
            value_name = "REF",
            conflicts_with = "all",
            required_unless_present = "all"
        )]
        card: Option<String>,
        /// Every card of the registry.
        #[arg(long)]
        all: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Store maintenance.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Write every entity of the configured store (cards, tokens, transitions, enrolments,
    /// decisions, audit, counters, …) as JSON lines: fingerprints and masked forms only, no card
    /// data in clear. On sled the service must be stopped (sled locks its directory); on
    /// PostgreSQL the export is one consistent snapshot, taken while instances serve.
    Export {
        /// A sled store directory instead of the configured store.
        #[arg(long, value_name = "DIR")]
        store: Option<PathBuf>,
        /// Output file (default: standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Read a `store export` file into the configured store (no service may be using it).
    /// Refuses a store that already holds records unless --into-non-empty is given.
    Import {
        file: PathBuf,
        /// A sled store directory instead of the configured store.
        #[arg(long, value_name = "DIR")]
        store: Option<PathBuf>,
        /// Merge into a store that is not empty (a record with the same key replaces the stored
        /// one; audit entries already present are kept).
        #[arg(long)]
        into_non_empty: bool,
    },
    /// Print where a sled store's bytes go: per tree, entries and bytes of keys and values (per
    /// token too), then the size of the store's files on disk and its ratio to those logical
    /// bytes (sled's space amplification). Sizes only, never record content. The service must be
    /// stopped (sled locks its directory).
    Stats {
        /// A sled store directory instead of the configured store.
        #[arg(long, value_name = "DIR")]
        store: Option<PathBuf>,
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
