//! `tsh-issuer` binary: parse the command line, load settings, start telemetry, then run the
//! chosen command. Thin by design; everything lives in the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use std::path::Path;

use tsh_issuer::cli::{CardsCommand, Cli, Command, ConfigCommand, RulesCommand, StoreCommand};
use tsh_issuer::config::{self, LoadOptions, Settings};
use tsh_issuer::domain::DecisionRecord;
use tsh_issuer::replay;
use tsh_issuer::startup::{load_rules, Application, StartupError};
use tsh_issuer::store::Store;

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
        Some(Command::Replay {
            ref rules,
            ref store,
            ref input,
            ref since,
            json,
        }) => match replay(
            rules,
            store.as_deref(),
            input.as_deref(),
            since.as_deref(),
            json,
        ) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Some(Command::Store {
            command: StoreCommand::Export { ref store, ref out },
        }) => match export(store, out.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
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

fn read_decisions(
    store: Option<&Path>,
    input: Option<&Path>,
) -> Result<Vec<DecisionRecord>, String> {
    match (store, input) {
        (Some(dir), _) => {
            if !dir.is_dir() {
                return Err(format!("{} is not a store directory", dir.display()));
            }
            let store = Store::open_sled(dir).map_err(|e| e.to_string())?;
            let all = store.reader().all_decisions_oldest_first();
            all.map_err(|e| e.to_string())
        }
        (None, Some(file)) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            replay::read_export(&text).map_err(|e| format!("{}: {e}", file.display()))
        }
        (None, None) => Err("give --store DIR or --input FILE".to_owned()),
    }
}

fn replay(
    rules: &Path,
    store: Option<&Path>,
    input: Option<&Path>,
    since: Option<&str>,
    json: bool,
) -> Result<String, String> {
    let candidate = load_rules(rules)?;
    let since = since.map(|s| {
        if s.len() == 10 {
            format!("{s}T00:00:00Z")
        } else {
            s.to_owned()
        }
    });
    if let Some(s) = &since {
        if tsh_issuer::domain::time::parse_rfc3339(s).is_none() {
            return Err(format!("--since {s}: expected RFC 3339 or YYYY-MM-DD"));
        }
    }
    let decisions = read_decisions(store, input)?;
    let total = decisions.len();
    let on_terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let report = replay::replay(&candidate, &decisions, since.as_deref(), |n| {
        if on_terminal && (n.is_multiple_of(100) || n == total) {
            let width = 30;
            let done = (n * width).checked_div(total).unwrap_or(width).min(width);
            eprint!(
                "\r[{}{}] {n}/{total}",
                "#".repeat(done),
                " ".repeat(width - done)
            );
            if n == total {
                eprintln!();
            }
        }
    });
    if json {
        serde_json::to_string_pretty(&report).map_err(|e| e.to_string())
    } else {
        Ok(replay::render(&report))
    }
}

fn export(store: &Path, out: Option<&Path>) -> Result<(), String> {
    let decisions = read_decisions(Some(store), None)?;
    let text = replay::write_export(&decisions)?;
    match out {
        Some(file) => {
            std::fs::write(file, text).map_err(|e| format!("cannot write {}: {e}", file.display()))
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
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
        let hangups = tsh_issuer::signals::listen_for_hangups();
        let app = Application::build(settings).map_err(|e| match e {
            // A configuration problem found while starting (keys, TLS files, rules) is reported
            // like any other bad configuration: exit code 2, the key named.
            StartupError::Config { .. } => (2u8, e.to_string()),
            other => (1u8, other.to_string()),
        })?;
        actix_web::rt::spawn(tsh_issuer::signals::reload_rules_on_sighup(
            app.services().into_inner(),
            hangups,
        ));
        app.run_until_stopped()
            .await
            .map_err(|e| (1u8, e.to_string()))
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
