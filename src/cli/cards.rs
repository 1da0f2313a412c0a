//! `tsh-issuer cards import FILE`: upsert a card file into a store the service is not using.

use std::path::Path;

use super::{load_settings, Cli, CliError};
use crate::crypto::Fingerprinter;
use crate::service::cards;
use crate::store::Store;

/// Imports every card of `file` and prints how many were created, updated or unchanged.
pub fn import(cli: &Cli, file: &Path) -> Result<(), CliError> {
    let settings = load_settings(cli)?;
    let fingerprints = Fingerprinter::new(&settings.crypto.fingerprint_key)
        .map_err(|e| CliError::runtime(format!("crypto.fingerprint_key: {e}")))?;
    let store = Store::open(&settings.store).map_err(runtime)?;
    let report = cards::import_file(&store, &fingerprints, file).map_err(runtime)?;
    println!(
        "imported {}: {} created, {} updated, {} unchanged",
        file.display(),
        report.created,
        report.updated,
        report.unchanged
    );
    Ok(())
}

fn runtime(e: impl std::fmt::Display) -> CliError {
    CliError::runtime(e.to_string())
}
