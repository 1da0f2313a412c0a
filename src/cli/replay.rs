//! `tsh-issuer replay`: backtest recorded decisions under a candidate rules file and print the
//! report. Also owns reading recorded decisions from a store directory or an NDJSON export,
//! shared with `store export`.

use std::path::Path;

use super::CliError;
use crate::domain::DecisionRecord;
use crate::replay;
use crate::startup::load_rules;
use crate::store::Store;

/// What `tsh-issuer replay` was asked to do.
pub struct ReplayArgs<'a> {
    pub rules: &'a Path,
    pub store: Option<&'a Path>,
    pub input: Option<&'a Path>,
    pub since: Option<&'a str>,
    pub json: bool,
}

/// Runs the backtest and prints the report (text or JSON). Every failure is a usage error:
/// a bad rules file, a bad `--since`, or an unreadable input.
pub fn run(args: ReplayArgs<'_>) -> Result<(), CliError> {
    let text = report(args).map_err(CliError::usage)?;
    println!("{text}");
    Ok(())
}

fn report(args: ReplayArgs<'_>) -> Result<String, String> {
    let candidate = load_rules(args.rules)?;
    let since = args.since.map(normalise_since).transpose()?;
    let decisions = read_decisions(args.store, args.input)?;
    let total = decisions.len();
    let on_terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let report = replay::replay(&candidate, &decisions, since.as_deref(), |n| {
        if on_terminal && (n.is_multiple_of(100) || n == total) {
            draw_progress(n, total);
        }
    });
    if args.json {
        serde_json::to_string_pretty(&report).map_err(|e| e.to_string())
    } else {
        Ok(replay::render(&report))
    }
}

/// `--since` takes RFC 3339 or a bare date (read as midnight UTC).
fn normalise_since(s: &str) -> Result<String, String> {
    let since = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_owned()
    };
    match crate::domain::time::parse_rfc3339(&since) {
        Some(_) => Ok(since),
        None => Err(format!("--since {since}: expected RFC 3339 or YYYY-MM-DD")),
    }
}

/// A progress bar on standard error, redrawn in place.
fn draw_progress(n: usize, total: usize) {
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

/// Recorded decisions, oldest first, from a store directory (a copy, or the store of a stopped
/// service) or from an NDJSON export.
pub fn read_decisions(
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
