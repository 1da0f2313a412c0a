//! `tsh-issuer` binary: parse the command line, load settings, start telemetry, then run the
//! chosen command. Thin by design; everything lives in the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use tsh_issuer::cli::{CardsCommand, Cli, Command, ConfigCommand, RulesCommand};
use tsh_issuer::config::{self, LoadOptions, Settings};
use tsh_issuer::startup::{load_rules, Application, StartupError};

fn load_settings(cli: &Cli) -> Result<Settings, String> {
    config::load(LoadOptions::from_process_env(cli.config.clone())).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Rules {
            command: RulesCommand::Check { ref file },
        }) => match load_rules(file) {
            Ok(rules) => {
                println!("{}", rules.describe());
                println!("ok: {} rules, version {}", rules.len(), rules.version());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Some(Command::Config {
            command: ConfigCommand::Check,
        }) => match load_settings(&cli) {
            Ok(settings) => {
                println!("{settings:#?}");
                println!("ok: configuration is valid");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Some(Command::Cards {
            command: CardsCommand::Import { ref file },
        }) => {
            let settings = match load_settings(&cli) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            match import_cards(settings, file) {
                Ok(summary) => {
                    println!("{summary}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        None | Some(Command::Serve) => serve(&cli),
    }
}

fn import_cards(settings: Settings, file: &std::path::Path) -> Result<String, String> {
    let fingerprints = tsh_issuer::crypto::Fingerprinter::new(&settings.crypto.fingerprint_key)
        .map_err(|e| format!("crypto.fingerprint_key: {e}"))?;
    let store =
        tsh_issuer::store::Store::open_sled(&settings.store.path).map_err(|e| e.to_string())?;
    let report = tsh_issuer::service::cards::import_file(&store, &fingerprints, file)
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "imported {}: {} created, {} updated, {} unchanged",
        file.display(),
        report.created,
        report.updated,
        report.unchanged
    ))
}

fn serve(cli: &Cli) -> ExitCode {
    let settings = match load_settings(cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    tsh_issuer::telemetry::init(settings.log.format, &settings.log.level, std::io::stdout);
    let result = actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).map_err(|e| match e {
            // A configuration problem found while starting (keys, TLS files, rules) is reported
            // like any other bad configuration: exit code 2, the key named.
            StartupError::Config { .. } => (2u8, e.to_string()),
            other => (1u8, other.to_string()),
        })?;
        actix_web::rt::spawn(tsh_issuer::signals::reload_rules_on_sighup(
            app.services().into_inner(),
        ));
        app.run_until_stopped().await.map_err(|e| (1u8, e.to_string()))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, e)) => {
            tracing::error!(error = %e, "service stopped with an error");
            eprintln!("error: {e}");
            ExitCode::from(code)
        }
    }
}
