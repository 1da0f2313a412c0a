//! `tsh-issuer store export` / `store import`: move a whole store (sled or PostgreSQL) as JSON
//! lines (`store::transfer` owns the format). Progress is drawn on standard error when it is a
//! terminal; the summary goes to standard output (or standard error when the export itself is
//! written to standard output). `store stats`: where a sled store's bytes go (`store::space`).

use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::Path;

use super::{load_settings, Cli, CliError};
use crate::store::{transfer, Store};

/// The configured store, or the sled directory given with `--store`.
fn open(cli: &Cli, dir: Option<&Path>) -> Result<Store, CliError> {
    match dir {
        Some(dir) => Store::open_sled(dir),
        None => Store::open(&load_settings(cli)?.store),
    }
    .map_err(|e| CliError::runtime(e.to_string()))
}

/// Redraws `[#####     ] done/total` on standard error, at most every 1 % (terminal only).
fn progress_bar() -> impl FnMut(u64, u64) {
    let on_terminal = std::io::stderr().is_terminal();
    let mut shown = u64::MAX;
    move |done, total| {
        let percent = (done * 100).checked_div(total).unwrap_or(100);
        if !on_terminal || (percent == shown && done != total) {
            return;
        }
        shown = percent;
        let width = 30;
        let filled = (percent * width / 100).min(width) as usize;
        eprint!(
            "\r[{}{}] {done}/{total}",
            "#".repeat(filled),
            " ".repeat(width as usize - filled)
        );
        if done == total {
            eprintln!();
        }
    }
}

pub fn export(cli: &Cli, dir: Option<&Path>, out: Option<&Path>) -> Result<(), CliError> {
    let store = open(cli, dir)?;
    let mut progress = progress_bar();
    let report = match out {
        Some(file) => {
            let created = std::fs::File::create(file)
                .map_err(|e| CliError::runtime(format!("cannot write {}: {e}", file.display())))?;
            let mut writer = BufWriter::new(created);
            let report = transfer::export(&store, &mut writer, &mut progress);
            let report = report.map_err(|e| CliError::runtime(e.to_string()))?;
            let file_handle = writer
                .into_inner()
                .map_err(|e| CliError::runtime(format!("{}: {}", file.display(), e.error())))?;
            file_handle
                .sync_all()
                .map_err(|e| CliError::runtime(format!("{}: {e}", file.display())))?;
            println!("exported {} to {}", report.summary(), file.display());
            return Ok(());
        }
        None => {
            let stdout = std::io::stdout();
            let mut writer = BufWriter::new(stdout.lock());
            transfer::export(&store, &mut writer, &mut |_, _| {})
        }
    };
    let report = report.map_err(|e| CliError::runtime(e.to_string()))?;
    eprintln!("exported {}", report.summary());
    Ok(())
}

pub fn import(
    cli: &Cli,
    file: &Path,
    dir: Option<&Path>,
    into_non_empty: bool,
) -> Result<(), CliError> {
    let opened = |what: &str| {
        std::fs::File::open(file)
            .map(BufReader::new)
            .map_err(|e| CliError::runtime(format!("cannot {what} {}: {e}", file.display())))
    };
    let total = transfer::count_rows(&mut opened("read")? as &mut dyn BufRead);
    let store = open(cli, dir)?;
    let mut input = opened("read")?;
    let mut progress = progress_bar();
    let report = transfer::import(&store, &mut input, into_non_empty, total, &mut progress)
        .map_err(|e| match e {
            transfer::TransferError::NotEmpty(_) => CliError::usage(e.to_string()),
            other => CliError::runtime(format!("{}: {other}", file.display())),
        })?;
    println!("imported {} from {}", report.summary(), file.display());
    std::io::stdout().flush().ok();
    Ok(())
}

pub fn stats(cli: &Cli, dir: Option<&Path>) -> Result<(), CliError> {
    let store = open(cli, dir)?;
    let report = store
        .space_report_blocking()
        .map_err(|e| CliError::runtime(e.to_string()))?;
    print!("{}", report.render());
    Ok(())
}
