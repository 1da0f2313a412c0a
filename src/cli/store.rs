//! `tsh-issuer store export`: write every recorded decision as NDJSON from a store directory
//! the service is not using.

use std::path::Path;

use super::replay::read_decisions;
use super::CliError;
use crate::replay;

/// Writes the export to `out`, or to standard output when no file is given.
pub fn export(store: &Path, out: Option<&Path>) -> Result<(), CliError> {
    let decisions = read_decisions(Some(store), None).map_err(CliError::runtime)?;
    let text = replay::write_export(&decisions).map_err(CliError::runtime)?;
    match out {
        Some(file) => std::fs::write(file, text)
            .map_err(|e| CliError::runtime(format!("cannot write {}: {e}", file.display()))),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
