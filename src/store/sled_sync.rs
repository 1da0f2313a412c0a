//! Real durability for sled. sled 0.34's `flush()` ends in `sync_file_range`, which pushes the
//! written range to the device but flushes neither its write cache nor the file's metadata (size):
//! after a power cut an acknowledged write can be gone. [`SledSync::sync`] is what the group-commit
//! thread runs once per batch: new blob files (and their directory) are `fsync`ed first, then sled
//! flushes its log, then the log file gets an `fdatasync`. Only then are the batch's waiters
//! answered. It must not be called inside a transaction; it owns no data, only file handles.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::StoreError;

/// The file handles needed to sync one sled directory.
pub struct SledSync {
    /// sled's single log/data file (`<dir>/db`), opened read-only: `fdatasync` works on any fd.
    db_file: File,
    blobs_dir: PathBuf,
    /// Blob files already synced, so each new one is synced exactly once.
    synced_blobs: Mutex<HashSet<OsString>>,
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{what} {}: {e}", path.display()))
}

/// `fsync` of a directory makes the names of files created in it durable.
fn sync_dir(path: &Path) -> Result<(), StoreError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("cannot sync directory", path, e))
}

fn sync_file(path: &Path) -> Result<(), StoreError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error("cannot sync", path, e))
}

impl SledSync {
    /// Called right after sled opened `dir`: sled may just have created its files, so every file
    /// in the directory (and `blobs/`) is synced once, then the directories themselves.
    pub fn open(dir: &Path) -> Result<SledSync, StoreError> {
        let db_path = dir.join("db");
        let db_file = File::open(&db_path).map_err(|e| io_error("cannot open", &db_path, e))?;
        let blobs_dir = dir.join("blobs");
        let listing = std::fs::read_dir(dir).map_err(|e| io_error("cannot list", dir, e))?;
        for entry in listing.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                sync_file(&entry.path())?;
            }
        }
        let sync = SledSync {
            db_file,
            blobs_dir,
            synced_blobs: Mutex::default(),
        };
        sync.sync_new_blobs()?;
        sync_dir(&sync.blobs_dir)?;
        sync_dir(dir)?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            // The store directory itself may be new: its name lives in the parent.
            sync_dir(parent)?;
        }
        Ok(sync)
    }

    /// One durable commit point: new blobs, then sled's log write-out, then `fdatasync` of the log.
    pub fn sync(&self, db: &sled::Db) -> Result<(), StoreError> {
        // Blobs are written (unsynced) during the transaction, before the log record that points
        // at them; syncing them first means a durable record never points at a lost blob.
        self.sync_new_blobs()?;
        db.flush().map_err(|e| StoreError::Io(e.to_string()))?;
        self.db_file
            .sync_data()
            .map_err(|e| StoreError::Io(format!("fdatasync of the sled log failed: {e}")))
    }

    /// Syncs blob files not synced before (and the blob directory when there were any). Large
    /// values are rare, so this is usually one `getdents` on an empty directory.
    fn sync_new_blobs(&self) -> Result<(), StoreError> {
        let listing = match std::fs::read_dir(&self.blobs_dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_error("cannot list", &self.blobs_dir, e)),
        };
        let mut synced = self
            .synced_blobs
            .lock()
            .map_err(|_| StoreError::Io("blob sync state poisoned".to_owned()))?;
        let mut present = HashSet::new();
        let mut created = false;
        for entry in listing.flatten() {
            let name = entry.file_name();
            if !synced.contains(&name) {
                // A blob removed by sled's GC between listing and open is simply gone.
                match File::open(entry.path()) {
                    Ok(f) => f
                        .sync_all()
                        .map_err(|e| io_error("cannot sync", &entry.path(), e))?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io_error("cannot open", &entry.path(), e)),
                }
                created = true;
            }
            present.insert(name);
        }
        if created {
            sync_dir(&self.blobs_dir)?;
        }
        *synced = present;
        Ok(())
    }
}
