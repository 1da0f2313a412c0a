//! Store conformance: the same behaviour from every engine. Each test runs on a temporary sled
//! directory and on a fresh database of the throw-away PostgreSQL cluster (which says loudly when
//! it could not run, and fails in CI). PostgreSQL-only guarantees (two instances on one database,
//! schema versions) are at the end.

use std::sync::Arc;

use tsh_issuer::config::PostgresSettings;
use tsh_issuer::domain::audit::AuditOutcome;
use tsh_issuer::domain::{
    AuditEntry, Enrollment, OriginalToken, TokenRecord, TokenState, Transition,
};
use tsh_issuer::store::counters::{Cell, MemberId, Series, Span};
use tsh_issuer::store::{Page, Store, StoreError, TxError};

use crate::pg_cluster;

/// One engine under test: a name for messages and a way to open (and re-open) the same store.
struct Engine {
    name: &'static str,
    open: Box<dyn Fn() -> Store>,
    _dir: Option<tempfile::TempDir>,
}

pub fn pg_settings(url: &str) -> PostgresSettings {
    PostgresSettings {
        url: url.to_owned(),
        pool_size: 4,
        statement_timeout_ms: 10_000,
        connect_timeout_ms: 3_000,
    }
}

/// sled always; PostgreSQL when installed (else a loud "not run", or a failure in CI).
fn engines(test: &str) -> Vec<Engine> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let mut all = vec![Engine {
        name: "sled",
        open: Box::new(move || Store::open_sled(&path).expect("sled opens")),
        _dir: Some(dir),
    }];
    if let Some(cluster) =
        pg_cluster::shared_or_skip(&format!("store conformance on PostgreSQL: {test}"))
    {
        let url = cluster.url(&pg_cluster::fresh_database(cluster, "conf"));
        all.push(Engine {
            name: "postgres",
            open: Box::new(move || {
                Store::open_postgres(&pg_settings(&url)).expect("postgres opens")
            }),
            _dir: None,
        });
    }
    all
}

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
        correlation_id: None,
        decision: None,
        original_token: original_ref.map(|r| OriginalToken {
            token_reference_id: Some(r.to_owned()),
            ..Default::default()
        }),
        last_error: None,
        token_reference_id: None,
        original_virtual_card_id: None,
        original_death: None,
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
    for engine in engines("aborted transaction") {
        let store = (engine.open)();
        let result: Result<(), StoreError> = store.transact_blocking(|tx| {
            tx.put_token(&token("VC1", "CARD1", None))?;
            tx.put_enrollment(&Enrollment::new("c1", "2026-01-01T00:00:00Z"))?;
            Err(TxError::abort("changed my mind"))
        });
        assert!(
            matches!(result, Err(StoreError::Aborted(ref r)) if r == "changed my mind"),
            "{}: {result:?}",
            engine.name
        );
        let reader = store.reader();
        assert!(reader.token("VC1").unwrap().is_none(), "{}", engine.name);
        assert!(
            reader.enrollment("c1").unwrap().is_none(),
            "{}",
            engine.name
        );
        assert_eq!(
            reader.tokens_of_card("CARD1", all_page()).unwrap().count,
            0,
            "{}",
            engine.name
        );
    }
}

#[test]
fn indexes_follow_the_token_when_it_moves() {
    for engine in engines("indexes follow the token") {
        let store = (engine.open)();
        store
            .transact_blocking(|tx| tx.put_token(&token("VC1", "CARD1", Some("REF1"))))
            .unwrap();
        store
            .transact_blocking(|tx| tx.put_token(&token("VC1", "CARD2", Some("REF2"))))
            .unwrap();
        let reader = store.reader();
        let name = engine.name;
        assert_eq!(
            reader.tokens_of_card("CARD1", all_page()).unwrap().count,
            0,
            "{name}"
        );
        assert_eq!(
            reader.tokens_of_card("CARD2", all_page()).unwrap().count,
            1,
            "{name}"
        );
        let by_ref = |r: &str| reader.tokens_by_original_reference(r, all_page()).unwrap();
        assert_eq!(by_ref("REF1").count, 0, "{name}");
        assert_eq!(by_ref("REF2").data[0].virtual_card_id, "VC1", "{name}");
    }
}

#[test]
fn a_card_prefix_does_not_match_a_longer_card_reference() {
    for engine in engines("card prefix") {
        let store = (engine.open)();
        store
            .transact_blocking(|tx| {
                tx.put_token(&token("VC1", "CARD1", None))?;
                tx.put_token(&token("VC2", "CARD10", None))
            })
            .unwrap();
        let page = store.reader().tokens_of_card("CARD1", all_page()).unwrap();
        assert_eq!(
            page.count, 1,
            "{}: CARD1 must not list CARD10's token",
            engine.name
        );
    }
}

#[test]
fn lists_come_in_byte_order_and_pages_report_their_bounds() {
    for engine in engines("ordering and pages") {
        let store = (engine.open)();
        // Mixed case and punctuation: a locale collation would order these differently.
        let ids = ["vc-b", "VC-a", "vc_a", "VC-B", "vc-A"];
        store
            .transact_blocking(|tx| {
                for id in ids {
                    tx.put_token(&token(id, "CARDX", None))?;
                }
                Ok(())
            })
            .unwrap();
        let mut expected: Vec<&str> = ids.to_vec();
        expected.sort();
        let reader = store.reader();
        let listed: Vec<String> = reader
            .tokens_of_card("CARDX", all_page())
            .unwrap()
            .data
            .into_iter()
            .map(|t| t.virtual_card_id)
            .collect();
        assert_eq!(listed, expected, "{}", engine.name);
        let page = reader.tokens(Page::new(1, 2)).unwrap();
        assert_eq!(
            (page.count, page.start_index, page.end_index, page.is_more),
            (2, 1, 2, true),
            "{}",
            engine.name
        );
        assert_eq!(page.data[0].virtual_card_id, expected[1], "{}", engine.name);
        let last = reader.tokens(Page::new(4, 2)).unwrap();
        assert_eq!((last.count, last.is_more), (1, false), "{}", engine.name);
    }
}

#[test]
fn mark_seen_reports_repeats() {
    for engine in engines("mark_seen") {
        let store = (engine.open)();
        let first = store
            .transact_blocking(|tx| tx.mark_seen("fp1", "t"))
            .unwrap();
        let second = store
            .transact_blocking(|tx| tx.mark_seen("fp1", "t"))
            .unwrap();
        assert!(!first && second, "{}", engine.name);
    }
}

#[test]
fn ids_grow_transitions_keep_order_and_audit_is_append_only() {
    for engine in engines("ids, transitions, audit") {
        let store = (engine.open)();
        let name = engine.name;
        let first = store.transact_blocking(|tx| tx.next_id()).unwrap();
        let second = store.transact_blocking(|tx| tx.next_id()).unwrap();
        assert!(second > first, "{name}: ids are monotonic");
        for (from, to) in [
            (TokenState::Requested, TokenState::Active),
            (TokenState::Active, TokenState::Suspended),
        ] {
            store
                .transact_blocking(|tx| {
                    tx.append_transition(&Transition {
                        virtual_card_id: "VC7".to_owned(),
                        from_state: Some(from),
                        state: to,
                        transition_type: "t".to_owned(),
                        action: "A".to_owned(),
                        channel: "SYSTEM".to_owned(),
                        source: None,
                        reason_code: None,
                        reason: None,
                        correlation_id: "c".to_owned(),
                        created_time: "2026-01-01T00:00:00Z".to_owned(),
                    })
                })
                .unwrap();
        }
        let transitions = store.reader().transitions("VC7", all_page()).unwrap();
        let states: Vec<TokenState> = transitions.data.iter().map(|t| t.state).collect();
        assert_eq!(
            states,
            [TokenState::Active, TokenState::Suspended],
            "{name}"
        );

        let entry = AuditEntry {
            audit_id: format!("{:016x}", 42),
            who: "alice".to_owned(),
            role: "operator".to_owned(),
            what: "card.block".to_owned(),
            target: "card:CARD1".to_owned(),
            outcome: AuditOutcome::Succeeded,
            http_status: 200,
            correlation_id: None,
            detail: None,
            created_time: "2026-01-01T00:00:00Z".to_owned(),
        };
        store
            .transact_blocking(|tx| tx.append_audit(&entry))
            .unwrap();
        let again = store.transact_blocking(|tx| tx.append_audit(&entry));
        assert!(
            matches!(again, Err(StoreError::Aborted(_))),
            "{name}: {again:?}"
        );
    }
}

#[test]
fn acknowledged_writes_are_there_after_reopening() {
    for engine in engines("reopen") {
        {
            let store = (engine.open)();
            store
                .transact_blocking(|tx| tx.put_token(&token("VC1", "CARD1", None)))
                .unwrap();
            store.flush_blocking().unwrap();
        }
        let store = (engine.open)();
        let token = store.reader().token("VC1").unwrap();
        assert_eq!(
            token.map(|t| t.issuer_card_ref_id).as_deref(),
            Some("CARD1"),
            "{}",
            engine.name
        );
        assert!(store.is_healthy(), "{}", engine.name);
    }
}

// ---- PostgreSQL only: several instances on one database ----

/// Two independent stores (as two service instances would have) on one fresh database.
fn two_instances(test: &str) -> Option<(Store, Store, String)> {
    let cluster = pg_cluster::shared_or_skip(test)?;
    let url = cluster.url(&pg_cluster::fresh_database(cluster, "two"));
    let a = Store::open_postgres(&pg_settings(&url)).unwrap();
    let b = Store::open_postgres(&pg_settings(&url)).unwrap();
    Some((a, b, url))
}

#[test]
fn a_message_raced_on_two_instances_is_seen_once() {
    let Some((a, b, _)) = two_instances("duplicate raced on two instances") else {
        return;
    };
    let (a, b) = (Arc::new(a), Arc::new(b));
    for round in 0..20 {
        let fingerprint = format!("race-{round}");
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let handles: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .map(|store| {
                let (fp, barrier) = (fingerprint.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    store
                        .transact_blocking(|tx| tx.mark_seen(&fp, "t"))
                        .unwrap()
                })
            })
            .collect();
        let repeats: Vec<bool> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(
            repeats.iter().filter(|seen| !**seen).count(),
            1,
            "round {round}: exactly one instance records the message first: {repeats:?}"
        );
    }
}

#[test]
fn a_limit_checked_and_counted_in_one_transaction_is_exact_across_instances() {
    let Some((a, b, _)) = two_instances("exact counters across instances") else {
        return;
    };
    let (a, b) = (Arc::new(a), Arc::new(b));
    // The OTP rate limit's shape: read the count, add one only below the limit. Lost updates or
    // write skew between instances would let more than LIMIT through.
    const LIMIT: i64 = 25;
    let series = Series::single("conformance", "card-race");
    let cell = Cell {
        series: series.id,
        level: 0,
        bucket: 7,
        shard: 0,
    };
    let span = Span {
        series: series.id,
        shards: 1,
        level: 0,
        buckets: 7..8,
    };
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let span = span.clone();
            std::thread::spawn(move || {
                let mut admitted = 0;
                for _ in 0..15 {
                    let ok = store
                        .transact_blocking(|tx| {
                            if tx.counter_sum(&span)? >= LIMIT {
                                return Ok(false);
                            }
                            tx.counter_add(&cell, 1)?;
                            Ok(true)
                        })
                        .unwrap();
                    admitted += i64::from(ok);
                }
                admitted
            })
        })
        .collect();
    let admitted: i64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let counted = b.reader().counter_sum(&span).unwrap();
    assert_eq!((admitted, counted), (LIMIT, LIMIT));
}

#[test]
fn counters_add_and_sum_the_same_on_every_engine() {
    for engine in engines("counters") {
        let store = (engine.open)();
        let series = Series::shared("conformance", "requestor");
        for (bucket, shard, delta) in [(10u32, 0u8, 2i64), (10, 3, 5), (11, 7, 1), (12, 0, 4)] {
            let cell = Cell {
                series: series.id,
                level: 1,
                bucket,
                shard,
            };
            store
                .transact_blocking(|tx| tx.counter_add(&cell, delta))
                .unwrap();
        }
        let span = |buckets: std::ops::Range<u32>| Span {
            series: series.id,
            shards: series.shards,
            level: 1,
            buckets,
        };
        let reader = store.reader();
        assert_eq!(
            reader.counter_sum(&span(10..12)).unwrap(),
            8,
            "{}",
            engine.name
        );
        assert_eq!(
            reader.counter_sum(&span(10..13)).unwrap(),
            12,
            "{}",
            engine.name
        );
        let in_tx = store
            .transact_blocking(|tx| tx.counter_sum(&span(11..13)))
            .unwrap();
        assert_eq!(in_tx, 5, "{}", engine.name);
        let member = MemberId::of("card-1");
        let first = store
            .transact_blocking(|tx| tx.last_seen_swap(&series.id, &member, 100))
            .unwrap();
        let older = store
            .transact_blocking(|tx| tx.last_seen_swap(&series.id, &member, 50))
            .unwrap();
        assert_eq!((first, older), (None, Some(100)), "{}", engine.name);
        assert_eq!(
            reader.last_seen(&series.id, &member).unwrap(),
            Some(100),
            "{}",
            engine.name
        );
        // Level 1 is 900 s: buckets 10 and 11 end by 10 800, bucket 12 does not.
        assert!(
            store.prune_counters_blocking(10_800).unwrap() >= 3,
            "{}",
            engine.name
        );
        assert_eq!(
            reader.counter_sum(&span(10..13)).unwrap(),
            4,
            "{}",
            engine.name
        );
    }
}

#[test]
fn a_write_on_one_instance_is_read_on_the_other() {
    let Some((a, b, _)) = two_instances("visibility across instances") else {
        return;
    };
    a.transact_blocking(|tx| tx.put_token(&token("VC-X", "CARD-X", None)))
        .unwrap();
    assert!(b.reader().token("VC-X").unwrap().is_some());
}

#[test]
fn a_database_from_a_newer_build_is_refused_naming_store_url() {
    let Some(cluster) = pg_cluster::shared_or_skip("newer schema refused") else {
        return;
    };
    let database = pg_cluster::fresh_database(cluster, "newer");
    let url = cluster.url(&database);
    drop(Store::open_postgres(&pg_settings(&url)).unwrap());
    cluster.psql(
        &database,
        "INSERT INTO schema_migrations (version, name, applied_time) VALUES (999, 'future', 'x')",
    );
    let error = match Store::open_postgres(&pg_settings(&url)) {
        Ok(_) => panic!("a newer schema must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(
        error.contains("store.url") && error.contains("999") && error.contains("newer"),
        "{error}"
    );
}

#[test]
fn an_unreachable_database_is_refused_with_the_password_masked() {
    // A port nothing listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://tsh:s3cret@127.0.0.1:{port}/tsh");
    let error = match Store::open_postgres(&pg_settings(&url)) {
        Ok(_) => panic!("nothing listens there"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("store.url"), "{error}");
    assert!(error.contains("tsh:***@127.0.0.1"), "{error}");
    assert!(!error.contains("s3cret"), "{error}");
}

#[test]
fn staff_search_by_last_four_and_session_revocations_work_on_every_engine() {
    use tsh_issuer::domain::token::TokenNumberInfo;
    for engine in engines("last-four search and session revocations") {
        let store = (engine.open)();
        let name = engine.name;
        let numbered = |vcid: &str, last4: &str| {
            let mut t = token(vcid, "CARD1", None);
            t.token_number = Some(TokenNumberInfo {
                token_fingerprint: format!("fp-{vcid}"),
                token_masked: format!("************{last4}"),
                token_last4: last4.to_owned(),
            });
            t
        };
        store
            .transact_blocking(|tx| {
                tx.put_token(&numbered("VC1", "1234"))?;
                tx.put_token(&numbered("VC2", "9999"))?;
                tx.revoke_session("session-a", 200)
            })
            .unwrap();
        // A token whose number changes leaves its old last four.
        store
            .transact_blocking(|tx| tx.put_token(&numbered("VC2", "1234")))
            .unwrap();
        let reader = store.reader();
        let found = reader.tokens_by_last4("1234", all_page()).unwrap();
        let ids: Vec<&str> = found
            .data
            .iter()
            .map(|t| t.virtual_card_id.as_str())
            .collect();
        assert_eq!(ids, ["VC1", "VC2"], "{name}");
        assert_eq!(
            reader.tokens_by_last4("9999", all_page()).unwrap().count,
            0,
            "{name}"
        );
        assert_eq!(
            reader.cards_by_last4("0000", all_page()).unwrap().count,
            0,
            "{name}"
        );
        assert!(reader.session_revoked("session-a", 100).unwrap(), "{name}");
        assert!(!reader.session_revoked("session-a", 200).unwrap(), "{name}");
        assert!(!reader.session_revoked("session-b", 100).unwrap(), "{name}");
    }
}

/// A token sync record, with or without a pending check.
fn sync(vcid: &str, check: bool) -> tsh_issuer::domain::TokenSync {
    let check = check.then(|| {
        serde_json::json!({"issuer_card_ref_id": "CARD1", "held": [],
                           "created_time": "2030-01-01T00:00:00Z"})
    });
    serde_json::from_value(serde_json::json!({"virtual_card_id": vcid, "check": check})).unwrap()
}

fn operation(cid: &str, status: &str) -> tsh_issuer::domain::TshOperation {
    serde_json::from_value(serde_json::json!({
        "correlation_id": cid, "operation": "updateCardState", "action": "SUSPEND",
        "issuer_card_ref_id": "CARD1", "requested_by": "ops", "status": status,
        "created_time": "2030-01-01T00:00:00Z", "last_modified_time": "2030-01-01T00:00:00Z"
    }))
    .unwrap()
}

fn report(seq: u64, status: &str) -> tsh_issuer::domain::ReconciliationReport {
    serde_json::from_value(serde_json::json!({
        "reconciliation_id": format!("rec-{seq:016x}"), "scope": "all", "requested_by": "cli",
        "status": status, "started_time": "2030-01-01T00:00:00Z"
    }))
    .unwrap()
}

fn card(reference: &str) -> tsh_issuer::domain::CardRecord {
    serde_json::from_value(serde_json::json!({
        "issuer_card_ref_id": reference, "pan_fingerprint": format!("fp-{reference}"),
        "pan_masked": "476134******0019", "bin": "476134", "last4": "0019", "exp": "1230",
        "status": "ACTIVE", "created_time": "2030-01-01T00:00:00Z",
        "last_modified_time": "2030-01-01T00:00:00Z"
    }))
    .unwrap()
}

/// The lists of issue 11's store operations, as ids.
fn sync_lists(store: &Store) -> (Vec<String>, Vec<String>, Vec<String>, Vec<String>) {
    let reader = store.reader();
    let checks = reader.tokens_with_checks(10).unwrap();
    let pending = reader.pending_tsh_operations(10).unwrap();
    let reports = reader.reconciliations(all_page()).unwrap().data;
    let cards = reader.cards(all_page()).unwrap().data;
    (
        checks.into_iter().map(|s| s.virtual_card_id).collect(),
        pending.into_iter().map(|o| o.correlation_id).collect(),
        reports.into_iter().map(|r| r.reconciliation_id).collect(),
        cards.into_iter().map(|c| c.issuer_card_ref_id).collect(),
    )
}

#[test]
fn token_syncs_pending_operations_and_reconciliations_work_on_every_engine() {
    use tsh_issuer::store::transfer;
    for engine in engines("token syncs, pending operations, reconciliations") {
        let store = (engine.open)();
        let name = engine.name;
        store
            .transact_blocking(|tx| {
                tx.put_card(&card("CARD2"))?;
                tx.put_card(&card("CARD1"))?;
                tx.put_token_sync(&sync("VC2", true))?;
                tx.put_token_sync(&sync("VC1", true))?;
                tx.put_token_sync(&sync("VC3", false))?;
                tx.put_tsh_operation(&operation("op-b", "PENDING"))?;
                tx.put_tsh_operation(&operation("op-a", "PENDING"))?;
                tx.put_tsh_operation(&operation("op-c", "CONFIRMED"))?;
                tx.put_reconciliation(&report(1, "running"))?;
                tx.put_reconciliation(&report(2, "completed"))
            })
            .unwrap();
        let (checks, pending, reports, cards) = sync_lists(&store);
        assert_eq!(checks, ["VC1", "VC2"], "{name}");
        assert_eq!(pending, ["op-a", "op-b"], "{name}");
        let (rec1, rec2) = ("rec-0000000000000001", "rec-0000000000000002");
        assert_eq!(reports, [rec2, rec1], "{name}: newest first");
        assert_eq!(cards, ["CARD1", "CARD2"], "{name}");
        let reader = store.reader();
        assert_eq!(reader.tokens_with_checks(1).unwrap().len(), 1, "{name}");
        assert!(reader.token_sync("VC3").unwrap().unwrap().check.is_none());
        assert!(reader.token_sync("VC\0").unwrap().is_none(), "{name}");
        assert!(reader.reconciliation("rec-1").unwrap().is_none(), "{name}");

        // Settling leaves the lists; the records stay readable, in and out of a transaction.
        store
            .transact_blocking(|tx| {
                tx.put_token_sync(&sync("VC1", false))?;
                tx.put_tsh_operation(&operation("op-a", "FAILED"))?;
                tx.put_reconciliation(&report(1, "completed"))?;
                let kept = tx
                    .token_sync("VC1")?
                    .ok_or_else(|| TxError::abort("gone"))?;
                assert!(kept.check.is_none());
                Ok(())
            })
            .unwrap();
        let (checks, pending, _, _) = sync_lists(&store);
        assert_eq!(
            (checks, pending),
            (vec!["VC2".to_owned()], vec!["op-b".to_owned()])
        );
        let settled = store.reader().reconciliation(rec1).unwrap().unwrap();
        assert_eq!(settled.status.as_str(), "completed", "{name}");
        let bad = store.transact_blocking(|tx| {
            let mut bad = report(3, "running");
            bad.reconciliation_id = "rec-x".to_owned();
            tx.put_reconciliation(&bad)
        });
        assert!(
            matches!(bad, Err(StoreError::Aborted(_))),
            "{name}: {bad:?}"
        );

        // Export and import into a fresh store of every engine move the records and rebuild
        // their lists.
        let mut file = Vec::new();
        transfer::export(&store, &mut file, &mut |_, _| {}).unwrap();
        for target in engines("token syncs moved by export/import") {
            let copy = (target.open)();
            transfer::import(&copy, &mut file.as_slice(), false, 0, &mut |_, _| {}).unwrap();
            let to = target.name;
            assert_eq!(sync_lists(&copy), sync_lists(&store), "{name} → {to}");
            assert!(
                copy.reader().token_sync("VC3").unwrap().is_some(),
                "{name} → {to}"
            );
        }
    }
}
