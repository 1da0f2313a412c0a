//! The write-ahead log's file format and recovery rules, without sled.

use super::*;

fn set(tree: u8, key: &[u8], value: &[u8]) -> WriteSet {
    let mut w = WriteSet::default();
    w.insert(tree, key, value);
    w
}

#[test]
fn a_framed_record_reads_back_exactly() {
    let mut writes = set(3, b"key", b"value");
    writes.remove(7, b"gone");
    writes.note_id(41);
    writes.note_id(12);
    let mut bytes = Vec::new();
    frame(&mut bytes, 9, &writes);
    let (records, clean) = read_frames(&bytes).unwrap();
    assert!(clean);
    assert_eq!(
        records,
        vec![LoggedRecord {
            seq: 9,
            max_id: 41,
            ops: vec![
                Op::Insert {
                    tree: 3,
                    key: b"key",
                    value: b"value"
                },
                Op::Remove {
                    tree: 7,
                    key: b"gone"
                },
            ],
        }]
    );
}

#[test]
fn a_cut_short_or_corrupt_tail_ends_the_log_without_error() {
    let mut bytes = Vec::new();
    frame(&mut bytes, 1, &set(0, b"a", b"1"));
    let first_len = bytes.len();
    frame(&mut bytes, 2, &set(0, b"b", b"2"));
    for cut in first_len..bytes.len() {
        let (records, clean) = read_frames(&bytes[..cut]).unwrap();
        assert_eq!(records.len(), 1, "cut at {cut}");
        assert_eq!(clean, cut == first_len, "cut at {cut}");
    }
    let mut flipped = bytes.clone();
    *flipped.last_mut().unwrap() ^= 0x40;
    let (records, clean) = read_frames(&flipped).unwrap();
    assert_eq!((records.len(), clean), (1, false));
}

#[test]
fn a_checksummed_but_malformed_payload_is_damage() {
    let payload = [0u8; 5];
    let mut bytes = (payload.len() as u32).to_le_bytes().to_vec();
    bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    bytes.extend_from_slice(&payload);
    assert!(read_frames(&bytes).is_err());
}

/// A log started on an empty directory.
fn started(wal_dir: &Path, sync: EngineSync, apply: EngineApply) -> Arc<Wal> {
    let fresh = Wal::recover(wal_dir, |_| Ok(())).unwrap();
    Wal::start(wal_dir, &fresh, sync, apply).unwrap()
}

fn no_engine() -> EngineApply {
    Arc::new(|_| Ok(()))
}

fn counting_sync() -> (EngineSync, Arc<std::sync::atomic::AtomicUsize>) {
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    let sync: EngineSync = Arc::new(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    (sync, calls)
}

/// Every record in the log, in order, as (seq, first key).
fn replay_all(dir: &Path) -> Vec<(u64, Vec<u8>)> {
    let mut seen = Vec::new();
    Wal::recover(dir, |r| {
        let key = match &r.ops[0] {
            Op::Insert { key, .. } | Op::Remove { key, .. } => key.to_vec(),
        };
        seen.push((r.seq, key));
        Ok(())
    })
    .unwrap();
    seen
}

fn log_one(wal: &Wal, key: &[u8]) -> u64 {
    let mut segment = wal.begin().unwrap();
    let seq = segment.next_seq;
    segment.commit(&set(1, key, b"v"), [(1, key.to_vec(), Some(b"v".to_vec()))]);
    seq
}

#[test]
fn synced_records_survive_and_unsynced_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path().join("wal");
    let (sync, _) = counting_sync();
    let wal = started(&wal_dir, sync, no_engine());
    assert_eq!(log_one(&wal, b"a"), 1);
    assert_eq!(log_one(&wal, b"b"), 2);
    wal.sync().unwrap();
    log_one(&wal, b"never-synced");
    // A crash: the unsynced record is lost with the process (no final checkpoint).
    std::mem::forget(wal);
    assert_eq!(
        replay_all(&wal_dir),
        vec![(1, b"a".to_vec()), (2, b"b".to_vec())]
    );
}

#[test]
fn a_checkpoint_syncs_the_engine_and_empties_the_log_and_numbers_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path().join("wal");
    let (sync, calls) = counting_sync();
    let wal = started(&wal_dir, sync, no_engine());
    log_one(&wal, b"a");
    wal.checkpoint().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(
        replay_all(&wal_dir).is_empty(),
        "checkpointed records are gone"
    );
    assert_eq!(log_one(&wal, b"b"), 2, "sequence numbers continue");
    wal.sync().unwrap();
    std::mem::forget(wal);
    let recovered = Wal::recover(&wal_dir, |_| Ok(())).unwrap();
    assert_eq!((recovered.replayed, recovered.last_seq), (1, 2));
}

#[test]
fn a_clean_close_leaves_nothing_to_replay() {
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path().join("wal");
    let (sync, calls) = counting_sync();
    let wal = started(&wal_dir, sync, no_engine());
    log_one(&wal, b"a");
    drop(wal);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the close checkpointed");
    assert!(replay_all(&wal_dir).is_empty());
}

#[test]
fn damage_before_the_last_segment_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path();
    let mut bytes = Vec::new();
    frame(&mut bytes, 1, &set(0, b"a", b"1"));
    bytes.truncate(bytes.len() - 1);
    std::fs::write(segment_path(wal_dir, 1), &bytes).unwrap();
    std::fs::write(segment_path(wal_dir, 2), b"").unwrap();
    assert!(Wal::recover(wal_dir, |_| Ok(())).is_err());
    std::fs::remove_file(segment_path(wal_dir, 2)).unwrap();
    let tail_only = Wal::recover(wal_dir, |_| Ok(())).unwrap();
    assert_eq!(
        tail_only.replayed, 0,
        "a torn last record was never acknowledged"
    );
}

#[test]
fn staged_writes_are_visible_to_the_batch_and_reach_the_engine_only_after_the_sync() {
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path().join("wal");
    let (sync, _) = counting_sync();
    let applied = Arc::new(Mutex::new(Vec::new()));
    let seen = applied.clone();
    let apply: EngineApply = Arc::new(move |staged: &Staged| {
        let mut seen = seen.lock().unwrap();
        for (tree, writes) in staged.iter().enumerate() {
            for (key, value) in writes {
                seen.push((tree, key.clone(), value.clone()));
            }
        }
        Ok(())
    });
    let wal = started(&wal_dir, sync, apply);
    log_one(&wal, b"k");
    {
        let mut segment = wal.begin().unwrap();
        assert_eq!(segment.staged(1, b"k"), Some(Some(&b"v"[..])));
        assert_eq!(segment.staged(1, b"other"), None);
        let mut removal = WriteSet::default();
        removal.remove(2, b"r");
        segment.commit(&removal, [(2, b"r".to_vec(), None)]);
        assert_eq!(segment.staged(2, b"r"), Some(None));
    }
    assert!(
        applied.lock().unwrap().is_empty(),
        "nothing before the sync"
    );
    wal.sync().unwrap();
    let mut got = applied.lock().unwrap().clone();
    got.sort();
    assert_eq!(
        got,
        vec![
            (1, b"k".to_vec(), Some(b"v".to_vec())),
            (2, b"r".to_vec(), None)
        ]
    );
    assert_eq!(
        wal.begin().unwrap().staged(1, b"k"),
        None,
        "the stage is empty"
    );
}
