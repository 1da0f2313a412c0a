//! `tsh-issuer` binary: parse the command line and dispatch to the subcommand in
//! `tsh_issuer::cli`. Thin by design; everything lives in the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

use tsh_issuer::cli::{
    self, CardsCommand, Cli, Command, ConfigCommand, RulesCommand, StoreCommand,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        None | Some(Command::Serve) => cli::serve::run(&cli),
        Some(Command::Rules {
            command: RulesCommand::Check { file },
        }) => cli::rules::check(file),
        Some(Command::Config {
            command: ConfigCommand::Check,
        }) => cli::config::check(&cli),
        Some(Command::Cards {
            command: CardsCommand::Import { file },
        }) => cli::cards::import(&cli, file),
        Some(Command::Replay {
            rules,
            store,
            input,
            since,
            json,
        }) => cli::replay::run(cli::replay::ReplayArgs {
            rules,
            store: store.as_deref(),
            input: input.as_deref(),
            since: since.as_deref(),
            json: *json,
        }),
        Some(Command::Reconcile { card, all: _, json }) => {
            cli::reconcile::run(&cli, card.as_deref(), *json)
        }
        Some(Command::Store {
            command: StoreCommand::Export { store, out },
        }) => cli::store::export(&cli, store.as_deref(), out.as_deref()),
        Some(Command::Store {
            command:
                StoreCommand::Import {
                    file,
                    store,
                    into_non_empty,
                },
        }) => cli::store::import(&cli, file, store.as_deref(), *into_non_empty),
        Some(Command::Store {
            command: StoreCommand::Stats { store },
        }) => cli::store::stats(&cli, store.as_deref()),
    };
    cli::finish(result)
}
