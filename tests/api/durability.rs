//! Acknowledged means durable, proven at the system-call level: the binary runs under `strace`, and
//! every state-changing callback's `200` must come after an `fdatasync` of the store's
//! write-ahead log (`<store>/wal/*.log`) that completed after the request was read. (A
//! `sync_file_range`, all sled's own flush does, does not count: it neither flushes the disk cache
//! nor the file size. Nor does the `fsync` sled's own background thread runs every half second: it
//! could only pass this test by luck, and it is not of the log.)

use serde_json::json;

use crate::helpers::*;

/// One event of interest in the trace, in the order strace observed it.
#[derive(Debug, PartialEq)]
enum Event {
    /// A callback request was read from a socket (its operation name).
    Request(String),
    /// An `fdatasync` of a write-ahead log segment completed.
    StoreSync,
    /// A `200` response started to be written.
    Ok200,
}

/// Reads strace's `-f -y` output: pending (unfinished) syncs are tracked per thread id, since the
/// "resumed" line does not repeat the file descriptor.
fn events(trace: &str, store_log: &str) -> Vec<Event> {
    let mut pending_sync = std::collections::HashSet::new();
    let mut out = Vec::new();
    for line in trace.lines() {
        let pid = line.split_whitespace().next().unwrap_or("").to_owned();
        if line.contains("fdatasync(") && line.contains(store_log) {
            if line.contains("<unfinished") {
                pending_sync.insert(pid);
            } else if line.ends_with("= 0") {
                out.push(Event::StoreSync);
            }
        } else if line.contains("<... fdatasync resumed>") && pending_sync.remove(&pid) {
            if line.ends_with("= 0") {
                out.push(Event::StoreSync);
            }
        } else if let Some(at) = line.find("\"POST /issuer/igwapi/v2.0/") {
            let rest = &line[at + "\"POST /issuer/igwapi/v2.0/".len()..];
            let operation: String = rest.chars().take_while(|c| c.is_alphanumeric()).collect();
            out.push(Event::Request(operation));
        } else if line.contains("\"HTTP/1.1 200") {
            out.push(Event::Ok200);
        }
    }
    out
}

/// The direct children of a process (the service under its strace).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[actix_web::test]
async fn every_state_changing_200_follows_an_fdatasync_of_the_store_log() {
    if postgres_backend() {
        // On PostgreSQL the COMMIT is the durability point; this test is about sled's files.
        return;
    }
    if !tool_available("strace", "system-call proof of durable acknowledgements") {
        return;
    }
    let gateway = MockGateway::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let trace_file = dir.path().join("trace.txt");
    let trace_arg = trace_file.to_str().unwrap();
    let wrapper = [
        "strace",
        "-f",
        "-y",
        "-s",
        "64",
        "-o",
        trace_arg,
        "-e",
        "trace=read,recvfrom,recvmsg,write,writev,sendto,sendmsg,fsync,fdatasync,sync_file_range",
    ];
    let mut service = ServiceProcess::start_wrapped(&wrapper, &store, &gateway.url, &[]);
    let client = ProcessClient::new(&service.address);

    // Arrange/act: one request at a time, so each 200 pairs with the request before it.
    let (card, _) = client.enrol("strace-enrolment", "BANK_APP").await;
    for (i, action) in ["ACTIVATE", "SUSPEND", "RESUME"].iter().enumerate() {
        let reply = client
            .call(
                "notifyVirtualCardChange",
                &format!("strace-notify-{i}"),
                &json!({"issuerCardRefId": card, "virtualCardId": "VC-strace", "walletProviderId": "APPLE_PAY", "action": action}),
            )
            .await;
        assert_eq!(reply.status, 200, "{action}: {:?}", reply.body);
    }
    for pid in children(service.child.id()) {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    service.kill_hard();
    let trace = std::fs::read_to_string(&trace_file).unwrap();

    // Assert: request → completed fdatasync of the log → 200, for each of the five callbacks.
    let store_log = format!("{}/", store.join("wal").display());
    let seen = events(&trace, &store_log);
    let mut requests = 0;
    let mut waiting: Option<(String, bool)> = None;
    for event in &seen {
        match event {
            Event::Request(op) => waiting = Some((op.clone(), false)),
            Event::StoreSync => {
                if let Some((_, synced)) = waiting.as_mut() {
                    *synced = true;
                }
            }
            Event::Ok200 => {
                let (op, synced) = waiting.take().expect("a 200 answers a request");
                assert!(
                    synced,
                    "{op} was answered 200 before an fdatasync of {store_log}; events: {seen:?}"
                );
                requests += 1;
            }
        }
    }
    assert_eq!(requests, 5, "five callbacks answered 200; events: {seen:?}");
}
