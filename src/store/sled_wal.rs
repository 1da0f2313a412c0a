//! The sled store's write-ahead log: the durability point and the atomicity of every write.
//! A transaction stages its writes (after-images: key → new value or removal) instead of writing
//! sled; its write set becomes one checksummed record here. Once per batch the group-commit
//! thread writes the batch's records, `fdatasync`s this file, and only then applies the staged
//! writes to sled (plain inserts) and answers the batch. sled's own files are made durable only
//! at checkpoints (a background thread, every `CHECKPOINT_BYTES` of log), after which the older
//! segments are deleted. Why: a sled 0.34 transaction seals and writes its log buffer twice on
//! commit, each through sled's I/O pool, which wakes every idle pool thread; that switching was
//! most of a notification's CPU (docs/decisions.md, "Durability through a write-ahead log").
//!
//! sled never holds a write whose record is not durable here, so recovery (`Wal::recover`) only
//! has to replay every record since the last checkpoint, in order: sled then holds exactly the
//! acknowledged writes (and any it already held are rewritten with the same values). This file
//! knows files and bytes, not sled.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread;

use super::StoreError;

/// Log bytes after which a segment is closed and sled is checkpointed in the background. Bounds
/// the log on disk (about twice this) and the replay work after a crash (a few hundred ms).
const CHECKPOINT_BYTES: u64 = 32 * 1024 * 1024;
/// A frame's header: payload length, then the payload's CRC-32, both little-endian u32.
const HEADER: usize = 8;
/// A record larger than this is refused when read (a damaged length field, not a real record).
const MAX_RECORD: usize = 1 << 30;
const INSERT: u8 = 1;
const REMOVE: u8 = 2;

/// Makes the engine's own files durable (sled: `SledSync::sync`); run at checkpoints.
pub type EngineSync = Arc<dyn Fn() -> Result<(), StoreError> + Send + Sync>;
/// Writes that are logged but not yet in the engine, per tree: key → value (`None`: removed).
pub type Staged = Vec<HashMap<Vec<u8>, Option<Vec<u8>>>>;
/// Applies durable staged writes to the engine (sled: plain inserts and removals).
pub type EngineApply = Arc<dyn Fn(&Staged) -> Result<(), StoreError> + Send + Sync>;

fn io_error(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("write-ahead log: {what} {}: {e}", path.display()))
}

fn damaged(what: &str) -> StoreError {
    StoreError::Io(format!("write-ahead log damaged: {what}"))
}

/// What one transaction wrote, encoded as it is written (no second pass at commit).
#[derive(Default)]
pub struct WriteSet {
    ops: Vec<u8>,
    count: u32,
    max_id: u64,
}

impl WriteSet {
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn insert(&mut self, tree: u8, key: &[u8], value: &[u8]) {
        self.op(INSERT, tree, key);
        put_bytes(&mut self.ops, value);
    }

    pub fn remove(&mut self, tree: u8, key: &[u8]) {
        self.op(REMOVE, tree, key);
    }

    /// An id drawn from the engine's generator: replay advances the generator past it.
    pub fn note_id(&mut self, id: u64) {
        self.max_id = self.max_id.max(id);
    }

    fn op(&mut self, kind: u8, tree: u8, key: &[u8]) {
        self.ops.push(kind);
        self.ops.push(tree);
        put_bytes(&mut self.ops, key);
        self.count += 1;
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Keys and values are far below 4 GiB (the engine refuses larger ones long before).
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// One write of a replayed record.
#[derive(Debug, PartialEq, Eq)]
pub enum Op<'a> {
    Insert {
        tree: u8,
        key: &'a [u8],
        value: &'a [u8],
    },
    Remove {
        tree: u8,
        key: &'a [u8],
    },
}

/// A record read back from the log.
#[derive(Debug, PartialEq, Eq)]
pub struct LoggedRecord<'a> {
    pub seq: u64,
    /// The largest generated id the transaction used (0: none).
    pub max_id: u64,
    pub ops: Vec<Op<'a>>,
}

/// Appends one framed record (header, then `seq`, `max_id`, op count, ops) to `out`.
fn frame(out: &mut Vec<u8>, seq: u64, writes: &WriteSet) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&writes.max_id.to_le_bytes());
    out.extend_from_slice(&writes.count.to_le_bytes());
    out.extend_from_slice(&writes.ops);
    let payload = &out[start + HEADER..];
    let len = (payload.len() as u32).to_le_bytes();
    let crc = crc32fast::hash(payload).to_le_bytes();
    out[start..start + 4].copy_from_slice(&len);
    out[start + 4..start + HEADER].copy_from_slice(&crc);
}

/// Reads framed records from `bytes` until its end or the first frame that is cut short or fails
/// its checksum (a write that was never acknowledged); returns them and whether the end was clean.
fn read_frames(bytes: &[u8]) -> Result<(Vec<LoggedRecord<'_>>, bool), StoreError> {
    let mut records = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let Some(header) = bytes.get(at..at + HEADER) else {
            return Ok((records, false));
        };
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let Some(payload) = bytes.get(at + HEADER..at + HEADER + len) else {
            return Ok((records, false));
        };
        if len > MAX_RECORD || crc32fast::hash(payload) != crc {
            return Ok((records, false));
        }
        // A payload that passed its checksum but does not parse is damage, not a torn write.
        records.push(parse_payload(payload)?);
        at += HEADER + len;
    }
    Ok((records, true))
}

/// A cursor over a checksummed payload.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.bytes.len() < n {
            return Err(damaged("a record ends early"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, StoreError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, StoreError> {
        let mut b = [0; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    fn bytes(&mut self) -> Result<&'a [u8], StoreError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

fn parse_payload(payload: &[u8]) -> Result<LoggedRecord<'_>, StoreError> {
    let mut r = Reader { bytes: payload };
    let seq = r.u64()?;
    let max_id = r.u64()?;
    let count = r.u32()?;
    let mut ops = Vec::with_capacity(count.min(4096) as usize);
    for _ in 0..count {
        let kind = r.u8()?;
        let tree = r.u8()?;
        let key = r.bytes()?;
        ops.push(match kind {
            INSERT => Op::Insert {
                tree,
                key,
                value: r.bytes()?,
            },
            REMOVE => Op::Remove { tree, key },
            _ => return Err(damaged("unknown operation")),
        });
    }
    if !r.bytes.is_empty() {
        return Err(damaged("trailing bytes in a record"));
    }
    Ok(LoggedRecord { seq, max_id, ops })
}

/// Segment files are `<number, 20 digits>.log`, so name order is log order.
fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:020}.log"))
}

/// The segment numbers present in `dir`, ascending (other files are ignored).
fn segments(dir: &Path) -> Result<Vec<u64>, StoreError> {
    let mut numbers = Vec::new();
    let listing = match fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(numbers),
        Err(e) => return Err(io_error("cannot list", dir, e)),
    };
    for entry in listing.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(number) = name.strip_suffix(".log").and_then(|n| n.parse().ok()) {
            numbers.push(number);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("cannot sync", dir, e))
}

/// Deletes the segments numbered below `keep_from` (their records are all in the engine's
/// durable files), then makes the deletions durable.
fn delete_segments_before(dir: &Path, keep_from: u64) -> Result<(), StoreError> {
    let mut deleted = false;
    for number in segments(dir)? {
        if number >= keep_from {
            break;
        }
        let path = segment_path(dir, number);
        match fs::remove_file(&path) {
            Ok(()) => deleted = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("cannot delete", &path, e)),
        }
    }
    if deleted {
        sync_dir(dir)?;
    }
    Ok(())
}

/// What recovery found.
pub struct Recovered {
    /// Records replayed.
    pub replayed: u64,
    /// The highest sequence number in the log (0: none).
    pub last_seq: u64,
    /// The number the next segment gets.
    pub next_segment: u64,
}

/// The segment being written, the records waiting for the next sync, and their writes.
pub struct Segment {
    file: File,
    number: u64,
    written: u64,
    pending: Vec<u8>,
    staged: Staged,
    next_seq: u64,
}

impl Segment {
    /// A write staged by an earlier transaction of this batch: `Some(None)` is a removal, `None`
    /// means the engine's own value stands.
    pub fn staged(&self, tree: u8, key: &[u8]) -> Option<Option<&[u8]>> {
        let value = self.staged.get(usize::from(tree))?.get(key)?;
        Some(value.as_deref())
    }

    /// Logs a transaction: its record joins the next sync, its writes are staged until then.
    pub fn commit(
        &mut self,
        writes: &WriteSet,
        staged: impl IntoIterator<Item = (u8, Vec<u8>, Option<Vec<u8>>)>,
    ) {
        frame(&mut self.pending, self.next_seq, writes);
        self.next_seq += 1;
        for (tree, key, value) in staged {
            let tree = usize::from(tree);
            if self.staged.len() <= tree {
                self.staged.resize_with(tree + 1, HashMap::new);
            }
            self.staged[tree].insert(key, value);
        }
    }
}

/// The log of one sled store directory.
pub struct Wal {
    dir: PathBuf,
    segment: Mutex<Segment>,
    /// Set by a failed write or `fdatasync`: after one, what reached the disk is unknown, so
    /// every later write is refused until a restart replays the log (the PostgreSQL rule).
    failed: AtomicBool,
    engine_sync: EngineSync,
    engine_apply: EngineApply,
    checkpointer: Mutex<Option<Checkpointer>>,
}

struct Checkpointer {
    due: mpsc::Sender<u64>,
    thread: thread::JoinHandle<()>,
}

impl Wal {
    /// Replays the log in `dir` into the engine: `apply` gets every record, in order. A cut-short
    /// or corrupt record ends the last segment (it was never acknowledged, so the engine never
    /// got its writes); one anywhere else is damage and stops the open.
    pub fn recover(
        dir: &Path,
        mut apply: impl FnMut(&LoggedRecord<'_>) -> Result<(), StoreError>,
    ) -> Result<Recovered, StoreError> {
        let numbers = segments(dir)?;
        let mut recovered = Recovered {
            replayed: 0,
            last_seq: 0,
            next_segment: numbers.last().map_or(1, |n| n + 1),
        };
        for (i, number) in numbers.iter().enumerate() {
            let path = segment_path(dir, *number);
            let mut bytes = Vec::new();
            File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(|e| io_error("cannot read", &path, e))?;
            let (records, clean) = read_frames(&bytes)?;
            if !clean && i + 1 < numbers.len() {
                return Err(damaged(&format!("{} is cut short", path.display())));
            }
            for record in &records {
                apply(record)?;
                recovered.replayed += 1;
            }
            if let Some(last) = records.last() {
                recovered.last_seq = recovered.last_seq.max(last.seq);
            }
        }
        Ok(recovered)
    }

    /// Starts logging in a fresh segment after recovery. The engine must already hold every
    /// record replayed (synced): the old segments are deleted here.
    pub fn start(
        dir: &Path,
        recovered: &Recovered,
        engine_sync: EngineSync,
        engine_apply: EngineApply,
    ) -> Result<Arc<Wal>, StoreError> {
        fs::create_dir_all(dir).map_err(|e| io_error("cannot create", dir, e))?;
        let segment = Segment {
            file: create_segment(dir, recovered.next_segment)?,
            number: recovered.next_segment,
            written: 0,
            pending: Vec::new(),
            staged: Staged::new(),
            next_seq: recovered.last_seq + 1,
        };
        delete_segments_before(dir, recovered.next_segment)?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
        let wal = Arc::new(Wal {
            dir: dir.to_path_buf(),
            segment: Mutex::new(segment),
            failed: AtomicBool::new(false),
            engine_sync,
            engine_apply,
            checkpointer: Mutex::new(None),
        });
        wal.start_checkpointer();
        Ok(wal)
    }

    fn start_checkpointer(self: &Arc<Self>) {
        let (due, requests) = mpsc::channel::<u64>();
        let dir = self.dir.clone();
        let engine_sync = self.engine_sync.clone();
        let spawned = thread::Builder::new()
            .name("store-checkpoint".to_owned())
            .spawn(move || run_checkpoints(&dir, &requests, &engine_sync));
        match spawned {
            Ok(thread) => {
                if let Ok(mut slot) = self.checkpointer.lock() {
                    *slot = Some(Checkpointer { due, thread });
                }
            }
            // Without it the log only grows until the next explicit flush or restart; writes
            // stay durable, so this is logged, not fatal.
            Err(e) => tracing::error!(error = %e, "could not start the checkpoint thread"),
        }
    }

    /// The log's order lock: a logged transaction runs while holding it, so the log's record
    /// order is the engine's commit order.
    pub fn begin(&self) -> Result<MutexGuard<'_, Segment>, StoreError> {
        if self.failed.load(Ordering::Acquire) {
            return Err(StoreError::Io(
                "write-ahead log failed earlier; restart the service to recover".to_owned(),
            ));
        }
        self.segment
            .lock()
            .map_err(|_| StoreError::Io("write-ahead log state poisoned".to_owned()))
    }

    /// Makes every committed transaction durable (one `write`, one `fdatasync`), then applies
    /// their staged writes to the engine. Closes the segment and asks for a checkpoint once it is
    /// large.
    pub fn sync(&self) -> Result<(), StoreError> {
        let mut segment = self.begin()?;
        self.write_out(&mut segment)?;
        self.apply_staged(&mut segment)?;
        if segment.written >= CHECKPOINT_BYTES {
            let closed_before = self.rotate(&mut segment)?;
            drop(segment);
            self.request_checkpoint(closed_before);
        }
        Ok(())
    }

    /// A full checkpoint now (explicit flushes: CLI tools, imports, shutdown): everything logged
    /// and everything written to the engine directly becomes durable in the engine's files, and
    /// the log is emptied. Afterwards no replay can put an older value over a direct write.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let mut segment = self.begin()?;
        self.write_out(&mut segment)?;
        self.apply_staged(&mut segment)?;
        let keep_from = self.rotate(&mut segment)?;
        drop(segment);
        (self.engine_sync)()?;
        delete_segments_before(&self.dir, keep_from)
    }

    pub fn is_healthy(&self) -> bool {
        !self.failed.load(Ordering::Acquire)
    }

    fn write_out(&self, segment: &mut Segment) -> Result<(), StoreError> {
        if segment.pending.is_empty() {
            return Ok(());
        }
        let path = segment_path(&self.dir, segment.number);
        let result = segment
            .file
            .write_all(&segment.pending)
            .and_then(|()| segment.file.sync_data());
        if let Err(e) = result {
            self.failed.store(true, Ordering::Release);
            return Err(io_error("cannot write and sync", &path, e));
        }
        segment.written += segment.pending.len() as u64;
        segment.pending.clear();
        Ok(())
    }

    fn apply_staged(&self, segment: &mut Segment) -> Result<(), StoreError> {
        if segment.staged.iter().all(HashMap::is_empty) {
            return Ok(());
        }
        if let Err(e) = (self.engine_apply)(&segment.staged) {
            // The writes are durable in the log; the restart's replay applies them.
            self.failed.store(true, Ordering::Release);
            return Err(e);
        }
        segment.staged.iter_mut().for_each(HashMap::clear);
        Ok(())
    }

    /// Continues in a new segment; returns its number (every older segment is complete).
    fn rotate(&self, segment: &mut Segment) -> Result<u64, StoreError> {
        let number = segment.number + 1;
        segment.file = create_segment(&self.dir, number)?;
        segment.number = number;
        segment.written = 0;
        Ok(number)
    }

    fn request_checkpoint(&self, keep_from: u64) {
        if let Ok(slot) = self.checkpointer.lock() {
            if let Some(checkpointer) = slot.as_ref() {
                let _ = checkpointer.due.send(keep_from);
            }
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        let checkpointer = self.checkpointer.get_mut().ok().and_then(Option::take);
        if let Some(Checkpointer { due, thread }) = checkpointer {
            drop(due);
            let _ = thread.join();
        }
        // A clean close leaves an empty log, so the next open replays nothing.
        if self.is_healthy() {
            if let Err(e) = self.checkpoint() {
                tracing::warn!(error = %e, "final checkpoint failed; the log is replayed at the next open");
            }
        }
    }
}

/// The checkpoint thread: on each request, sync the engine, then delete the segments it covers.
/// Requests that queued meanwhile are covered by the same sync.
fn run_checkpoints(dir: &Path, requests: &mpsc::Receiver<u64>, engine_sync: &EngineSync) {
    while let Ok(mut keep_from) = requests.recv() {
        while let Ok(later) = requests.try_recv() {
            keep_from = keep_from.max(later);
        }
        let result = engine_sync().and_then(|()| delete_segments_before(dir, keep_from));
        if let Err(e) = result {
            // The segments stay; the next checkpoint (or the next open's replay) covers them.
            tracing::error!(error = %e, "store checkpoint failed");
        }
    }
}

fn create_segment(dir: &Path, number: u64) -> Result<File, StoreError> {
    let path = segment_path(dir, number);
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .map_err(|e| io_error("cannot create", &path, e))?;
    // The new name must survive a crash before the first record in it is acknowledged.
    sync_dir(dir)?;
    Ok(file)
}

#[cfg(test)]
#[path = "sled_wal_tests.rs"]
mod tests;
