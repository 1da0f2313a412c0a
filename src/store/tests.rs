//! Store behaviour: atomic multi-tree writes, indexes, schema version, durability across reopen.

use super::*;
use crate::domain::{OriginalToken, TokenState};

fn token(vcid: &str, card: &str, original_ref: Option<&str>) -> TokenRecord {
    TokenRecord {
        virtual_card_id: vcid.to_owned(),
        issuer_card_ref_id: card.to_owned(),
        state: TokenState::Active,
        wallet_provider_id: None,
        token_requestor: None,
        capture_method: None,
        token_storage_id: None,
        wallet_card_ref_id: None,
        wallet_virtual_card_id: None,
        is_primary: None,
        device_binding_reference: None,
        token_number: None,
        token_reference_id: None,
        correlation_id: None,
        decision: None,
        original_token: original_ref.map(|r| OriginalToken {
            token_reference_id: Some(r.to_owned()),
            ..Default::default()
        }),
        original_virtual_card_id: None,
        original_death: None,
        last_error: None,
        activated_time: None,
        created_time: "2026-01-01T00:00:00Z".to_owned(),
        last_modified_time: "2026-01-01T00:00:00Z".to_owned(),
    }
}

fn all_page() -> Page {
    Page::new(0, 100)
}

#[test]
fn an_aborted_transaction_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sled(dir.path()).unwrap();
    let result: Result<(), StoreError> = store.transact_blocking(|tx| {
        tx.put_token(&token("VC1", "CARD1", None))?;
        tx.put_enrollment(&Enrollment::new("c1", "2026-01-01T00:00:00Z"))?;
        Err(TxError::abort("changed my mind"))
    });
    assert!(matches!(result, Err(StoreError::Aborted(ref r)) if r == "changed my mind"));
    let reader = store.reader();
    assert!(reader.token("VC1").unwrap().is_none());
    assert!(reader.enrollment("c1").unwrap().is_none());
    assert_eq!(reader.tokens_of_card("CARD1", all_page()).unwrap().count, 0);
}

#[test]
fn indexes_follow_the_token_when_it_moves() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sled(dir.path()).unwrap();
    store
        .transact_blocking(|tx| tx.put_token(&token("VC1", "CARD1", Some("REF1"))))
        .unwrap();
    store
        .transact_blocking(|tx| tx.put_token(&token("VC1", "CARD2", Some("REF2"))))
        .unwrap();
    let reader = store.reader();
    assert_eq!(reader.tokens_of_card("CARD1", all_page()).unwrap().count, 0);
    assert_eq!(reader.tokens_of_card("CARD2", all_page()).unwrap().count, 1);
    assert_eq!(
        reader
            .tokens_by_original_reference("REF1", all_page())
            .unwrap()
            .count,
        0
    );
    assert_eq!(
        reader
            .tokens_by_original_reference("REF2", all_page())
            .unwrap()
            .data[0]
            .virtual_card_id,
        "VC1"
    );
}

#[test]
fn a_card_prefix_does_not_match_a_longer_card_reference() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sled(dir.path()).unwrap();
    store
        .transact_blocking(|tx| {
            tx.put_token(&token("VC1", "CARD1", None))?;
            tx.put_token(&token("VC2", "CARD10", None))
        })
        .unwrap();
    let page = store.reader().tokens_of_card("CARD1", all_page()).unwrap();
    assert_eq!(page.count, 1, "CARD1 must not list CARD10's token");
}

#[test]
fn mark_seen_reports_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sled(dir.path()).unwrap();
    let first = store
        .transact_blocking(|tx| tx.mark_seen("fp1", "t"))
        .unwrap();
    let second = store
        .transact_blocking(|tx| tx.mark_seen("fp1", "t"))
        .unwrap();
    assert!(!first);
    assert!(second);
}

/// sled itself, opened right after our store closed: its lock goes with sled's flusher thread, a
/// moment after the drop, so wait for it (the store's own open does the same).
fn raw_sled_open_after_release(path: &std::path::Path) -> sled::Db {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match sled::open(path) {
            Ok(db) => return db,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("sled did not release its lock: {e}"),
        }
    }
}

/// Regression (issue 13, defect 8): this failed about 1 run in 5 with "the store … is in use by
/// another process", because sled releases its lock asynchronously after the drop.
#[test]
fn data_survives_reopening_and_the_schema_version_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open_sled(dir.path()).unwrap();
        store
            .transact_blocking(|tx| tx.put_token(&token("VC1", "CARD1", None)))
            .unwrap();
        store.flush_blocking().unwrap();
    }
    let store = Store::open_sled(dir.path()).unwrap();
    assert_eq!(
        store
            .reader()
            .token("VC1")
            .unwrap()
            .unwrap()
            .issuer_card_ref_id,
        "CARD1"
    );
    drop(store);

    // A store written by a future schema is refused, not misread.
    {
        let db = raw_sled_open_after_release(dir.path());
        let meta = db.open_tree("meta").unwrap();
        meta.insert(b"schema_version", b"99".to_vec()).unwrap();
        db.flush().unwrap();
    }
    match Store::open_sled(dir.path()) {
        Err(StoreError::Schema {
            found: 99,
            expected,
        }) => assert_eq!(expected, SCHEMA_VERSION),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("a future schema must be refused"),
    }
}

#[test]
fn a_second_open_of_the_same_directory_is_refused_while_locked() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open_sled(dir.path()).unwrap();
    assert!(Store::open_sled(dir.path()).is_err());
}

#[test]
fn pages_report_their_bounds() {
    let items = (0..5).map(Ok::<_, StoreError>);
    let page = Paged::from_iter(items, Page::new(1, 2)).unwrap();
    assert_eq!(page.data, vec![1, 2]);
    assert_eq!(
        (page.count, page.start_index, page.end_index, page.is_more),
        (2, 1, 2, true)
    );
    let last = Paged::from_iter((0..5).map(Ok::<_, StoreError>), Page::new(4, 2)).unwrap();
    assert_eq!((last.count, last.end_index, last.is_more), (1, 4, false));
    let empty = Paged::from_iter((0..5).map(Ok::<_, StoreError>), Page::new(9, 2)).unwrap();
    assert_eq!((empty.count, empty.is_more), (0, false));
}

#[tokio::test]
async fn write_returns_after_the_data_is_flushed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sled(dir.path()).unwrap();
    let id = store
        .write(|tx| {
            tx.put_token(&token("VC9", "CARD9", None))?;
            tx.next_id()
        })
        .await
        .unwrap();
    let next = store.write(|tx| tx.next_id()).await.unwrap();
    assert!(next > id, "ids are monotonic");
    assert!(store.is_healthy());
}

fn transition(vcid: &str, state: TokenState) -> Transition {
    Transition {
        virtual_card_id: vcid.to_owned(),
        from_state: None,
        state,
        transition_type: "state.activated".to_owned(),
        action: "ACTIVATE".to_owned(),
        channel: "TOKEN_SERVICE_PROVIDER".to_owned(),
        source: None,
        reason_code: None,
        reason: None,
        correlation_id: "c".to_owned(),
        created_time: "2026-01-01T00:00:00Z".to_owned(),
    }
}

#[test]
fn with_the_feed_on_each_transition_adds_an_outbox_event_in_the_same_transaction() {
    use crate::domain::EventStatus;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sled(dir.path()).unwrap().with_event_feed();
    // Rolled back: neither the transition nor its event exists.
    let aborted: Result<(), StoreError> = store.transact_blocking(|tx| {
        tx.append_transition(&transition("VC1", TokenState::Active))?;
        Err(TxError::abort("no"))
    });
    assert!(aborted.is_err());
    assert_eq!(store.reader().events(all_page(), None).unwrap().count, 0);

    store
        .transact_blocking(|tx| {
            tx.append_transition(&transition("VC1", TokenState::Active))?;
            tx.append_transition(&transition("VC1", TokenState::Suspended))
        })
        .unwrap();
    let pending = store.reader().pending_events(10).unwrap();
    assert_eq!(pending.len(), 2);
    assert!(pending[0].id < pending[1].id, "oldest first");
    assert_eq!(pending[1].data["state"], "SUSPENDED");

    // Delivery bookkeeping moves an event out of the pending index.
    let mut delivered = pending[0].clone();
    delivered.status = EventStatus::Delivered;
    store
        .transact_blocking(|tx| tx.put_event(&delivered))
        .unwrap();
    let reader = store.reader();
    assert_eq!(reader.pending_events(10).unwrap().len(), 1);
    let by_status = reader
        .events(all_page(), Some(EventStatus::Delivered))
        .unwrap();
    assert_eq!(by_status.count, 1);
    assert_eq!(
        reader.event(&delivered.id).unwrap().unwrap().status,
        EventStatus::Delivered
    );
    assert!(reader.event("evt-nonsense").unwrap().is_none());

    // Without the feed, nothing is added.
    let plain = tempfile::tempdir().unwrap();
    let store = Store::open_sled(plain.path()).unwrap();
    store
        .transact_blocking(|tx| tx.append_transition(&transition("VC2", TokenState::Active)))
        .unwrap();
    assert_eq!(store.reader().events(all_page(), None).unwrap().count, 0);
}

#[test]
fn tokens_are_found_by_their_own_reference_number_and_lineage_parent_inside_and_outside_a_transaction(
) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sled(dir.path()).unwrap();
    let mut device = token("DEV", "CARD1", None);
    device.token_reference_id = Some("OWN-REF".to_owned());
    device.token_number = Some(crate::domain::token::TokenNumberInfo {
        token_fingerprint: "FP-DEV".to_owned(),
        token_masked: "489537******0001".to_owned(),
        token_last4: "0001".to_owned(),
    });
    let mut cof = token("COF", "CARD1", Some("OWN-REF"));
    cof.original_virtual_card_id = Some("DEV".to_owned());
    store
        .transact_blocking(|tx| {
            tx.put_token(&device)?;
            tx.put_token(&cof)
        })
        .unwrap();
    let inside = store
        .transact_blocking(|tx| {
            Ok((
                tx.token_ids_by_reference("OWN-REF")?,
                tx.token_ids_by_number_fingerprint("FP-DEV")?,
                tx.token_ids_made_from("DEV")?,
            ))
        })
        .unwrap();
    assert_eq!(
        inside,
        (
            vec!["DEV".to_owned()],
            vec!["DEV".to_owned()],
            vec!["COF".to_owned()]
        )
    );
    let reader = store.reader();
    assert_eq!(reader.token_ids_by_reference("OWN-REF").unwrap(), ["DEV"]);
    assert_eq!(
        reader.token_ids_by_number_fingerprint("FP-DEV").unwrap(),
        ["DEV"]
    );
    assert_eq!(reader.token_ids_made_from("DEV").unwrap(), ["COF"]);
    assert!(reader.token_ids_by_reference("OWN").unwrap().is_empty());

    // A changed reference id moves the index entry; a flag lists the token as an orphan.
    device.token_reference_id = Some("NEW-REF".to_owned());
    cof.original_death = Some(crate::domain::lineage::OriginalDeath {
        original_virtual_card_id: "DEV".to_owned(),
        original_state: TokenState::Deleted,
        policy: crate::domain::lineage::OnOriginalDeath::Flag,
        reason: "test".to_owned(),
        correlation_id: "c".to_owned(),
        created_time: "2026-01-01T00:00:00Z".to_owned(),
    });
    store
        .transact_blocking(|tx| {
            tx.put_token(&device)?;
            tx.put_token(&cof)
        })
        .unwrap();
    assert!(reader.token_ids_by_reference("OWN-REF").unwrap().is_empty());
    assert_eq!(reader.token_ids_by_reference("NEW-REF").unwrap(), ["DEV"]);
    let orphans = reader.orphans(all_page()).unwrap();
    assert_eq!(orphans.data[0].virtual_card_id, "COF");
    // Listed while it is not deleted itself (`domain::lineage::is_listed_orphan`); the flag stays
    // on the record as history.
    let mut deleted = cof.clone();
    deleted.state = TokenState::Deleted;
    store
        .transact_blocking(|tx| tx.put_token(&deleted))
        .unwrap();
    assert_eq!(reader.orphans(all_page()).unwrap().count, 0);
    assert!(reader
        .token("COF")
        .unwrap()
        .unwrap()
        .original_death
        .is_some());
    store.transact_blocking(|tx| tx.put_token(&cof)).unwrap();
    assert_eq!(reader.orphans(all_page()).unwrap().count, 1);
    cof.original_death = None;
    store.transact_blocking(|tx| tx.put_token(&cof)).unwrap();
    assert_eq!(reader.orphans(all_page()).unwrap().count, 0);
}

#[test]
fn a_schema_1_store_is_migrated_and_its_tokens_indexed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open_sled(dir.path()).unwrap();
        let mut device = token("DEV", "CARD1", None);
        device.token_number = Some(crate::domain::token::TokenNumberInfo {
            token_fingerprint: "FP-OLD".to_owned(),
            token_masked: "489537******0001".to_owned(),
            token_last4: "0001".to_owned(),
        });
        store.transact_blocking(|tx| tx.put_token(&device)).unwrap();
        store.flush_blocking().unwrap();
    }
    {
        // As written by schema 1: no lineage index, version 1.
        let db = sled::open(dir.path()).unwrap();
        db.drop_tree("tokenfingerprint_virtualcardids").unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert(b"schema_version", b"1".to_vec()).unwrap();
        db.flush().unwrap();
    }
    let store = Store::open_sled(dir.path()).unwrap();
    assert_eq!(
        store
            .reader()
            .token_ids_by_number_fingerprint("FP-OLD")
            .unwrap(),
        ["DEV"]
    );
    drop(store);
    let store = Store::open_sled(dir.path()).unwrap();
    assert!(store.is_healthy());
}

/// The writes of `bulk_writes_the_same_entries_as_a_transaction`: two tokens in one lineage, one
/// of them moved to another card within the same body (its first index entry must go).
fn lineage_writes(tx: &dyn Tx) -> Result<(), TxError> {
    let mut device = token("DEV", "CARD1", None);
    device.token_reference_id = Some("OWN-REF".to_owned());
    let mut cof = token("COF", "CARD1", Some("OWN-REF"));
    cof.original_virtual_card_id = Some("DEV".to_owned());
    tx.put_token(&device)?;
    tx.put_token(&cof)?;
    cof.issuer_card_ref_id = "CARD2".to_owned();
    tx.put_token(&cof)?;
    tx.append_transition(&transition("COF", TokenState::Active))
}

#[test]
fn bulk_writes_the_same_entries_as_a_transaction() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let transacted = Store::open_sled(a.path()).unwrap();
    transacted.transact_blocking(lineage_writes).unwrap();
    let bulk = Store::open_sled(b.path()).unwrap();
    bulk.bulk_load_blocking(lineage_writes).unwrap();
    bulk.flush_blocking().unwrap();
    let trees = |s: &Store| s.space_report_blocking().unwrap().trees;
    assert_eq!(
        trees(&bulk),
        trees(&transacted),
        "same entries, key and value sizes"
    );
    let reader = bulk.reader();
    assert_eq!(
        reader.token("COF").unwrap().unwrap().issuer_card_ref_id,
        "CARD2"
    );
    assert_eq!(reader.tokens_of_card("CARD1", all_page()).unwrap().count, 1);
    assert_eq!(reader.tokens_of_card("CARD2", all_page()).unwrap().count, 1);
    assert_eq!(reader.transitions("COF", all_page()).unwrap().count, 1);
    let children = bulk
        .transact_blocking(|tx| tx.token_ids_made_from("DEV"))
        .unwrap();
    assert_eq!(children, vec!["COF".to_owned()]);
}

#[test]
fn a_failed_bulk_body_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sled(dir.path()).unwrap();
    let result = store.bulk_load_blocking(|tx| {
        tx.put_token(&token("VC1", "CARD1", None))?;
        Err(TxError::abort("stop"))
    });
    assert!(matches!(result, Err(StoreError::Aborted(ref r)) if r == "stop"));
    assert!(store.reader().token("VC1").unwrap().is_none());
    assert_eq!(
        store
            .reader()
            .tokens_of_card("CARD1", all_page())
            .unwrap()
            .count,
        0
    );
}

fn copy_files(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// The write-ahead log is the durability point: sled's own files are only synced at checkpoints.
/// A store whose sled files hold nothing since the last checkpoint (here: a fresh store beside a
/// copy of the live store's log, as a crash right after the acknowledgements would leave it)
/// gets every acknowledged write back, atomically per transaction, and a second open replays
/// nothing twice.
#[tokio::test]
async fn acknowledged_writes_come_back_from_the_log_when_sled_lost_them() {
    let (live_dir, crashed_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let live = Store::open_sled(live_dir.path()).unwrap();
    live.write(|tx| tx.put_token(&token("VC1", "CARD1", None)))
        .await
        .unwrap();
    live.write(|tx| {
        tx.put_token(&token("VC2", "CARD1", Some("REF2")))?;
        tx.append_transition(&transition("VC2", TokenState::Active))
    })
    .await
    .unwrap();
    copy_files(
        &live_dir.path().join("wal"),
        &crashed_dir.path().join("wal"),
    );
    drop(live);

    for open in 0..2 {
        let recovered = Store::open_sled(crashed_dir.path()).unwrap();
        let reader = recovered.reader();
        assert!(reader.token("VC1").unwrap().is_some(), "open {open}");
        let vc2 = reader.token("VC2").unwrap().unwrap();
        assert_eq!(vc2.issuer_card_ref_id, "CARD1", "open {open}");
        assert_eq!(reader.tokens_of_card("CARD1", all_page()).unwrap().count, 2);
        assert_eq!(
            reader.transitions("VC2", all_page()).unwrap().count,
            1,
            "open {open}"
        );
        // New writes continue after the replayed ones, and are kept like them.
        if open == 0 {
            recovered
                .write(|tx| tx.put_token(&token("VC3", "CARD3", None)))
                .await
                .unwrap();
        } else {
            assert!(reader.token("VC3").unwrap().is_some());
        }
    }
}
