//! `tsh-issuer reconcile` run as a process, as an operator runs it (issue 11): the service enrols a
//! card and learns its tokens, stops (sled is one process's), then `reconcile --card REF` heals a
//! notification TSH never delivered (exit 0, a drift line, a SYSTEM transition from
//! reconciliation); with TSH down it exits 1, reports the failure and changes nothing; `--all`
//! behaves the same over every card; an unknown card is a usage error (exit 2). States are read
//! back through a restarted service's staff API.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;
use crate::lifecycle_sync::start_sim_tsh;
use crate::notifications::notification;

/// What one run of the CLI gave.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `tsh-issuer reconcile ARGS` on the store of `store`, with TSH at `tsh_url`.
async fn reconcile(store: &Path, tsh_url: &str, args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tsh-issuer"));
    command
        .arg("reconcile")
        .args(args)
        .current_dir(repo_root())
        .env_remove("TSH_ISSUER_ENV")
        .env("TSH_ISSUER__TSH__BASE_URL", tsh_url)
        .env("TSH_ISSUER__TSH__TIMEOUT_MS", "2000");
    for (key, value) in store_overrides(store) {
        let var = format!(
            "TSH_ISSUER__{}",
            key.replace('.', "__").to_ascii_uppercase()
        );
        command.env(var, value);
    }
    // Off the test's runtime: the simulated TSH answering the CLI runs beside it.
    let out = actix_web::rt::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("tsh-issuer runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// SIGTERM, then a bounded wait for the service to exit on its own (it flushes the store).
async fn stop(mut service: ServiceProcess) {
    let pid = service.child.id().to_string();
    let status = actix_web::rt::task::spawn_blocking(move || {
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = service.child.try_wait().expect("wait works") {
                return (status, service);
            }
            assert!(Instant::now() < deadline, "the service did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    let (status, mut service) = status;
    service.kill_hard(); // already gone: joins the log readers
    assert!(status.success(), "{status:?}\n{}", service.log_text());
}

/// Reads tokens and runs back through a freshly started service on the same store.
struct Reader {
    service: ServiceProcess,
    client: ProcessClient,
}

impl Reader {
    fn start(store: &Path, gateway: &str, tsh_url: &str) -> Reader {
        let service =
            ServiceProcess::start(store, gateway, &[("TSH_ISSUER__TSH__BASE_URL", tsh_url)]);
        let client = ProcessClient::new(&service.address);
        Reader { service, client }
    }

    async fn state_of(&self, vcid: &str) -> String {
        let reply = self
            .client
            .staff_get(&format!("/api/v1/tokens/{vcid}"))
            .await;
        assert_eq!(reply.status, 200, "{vcid}: {:?}", reply.body);
        reply.body["state"].as_str().unwrap_or_default().to_owned()
    }

    async fn last_transition(&self, vcid: &str) -> Value {
        let path = format!("/api/v1/tokens/{vcid}/transitions?count=100");
        let reply = self.client.staff_get(&path).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.body["data"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone()
    }

    async fn runs(&self) -> Vec<Value> {
        let reply = self.client.staff_get("/api/v1/reconciliations").await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.body["data"].as_array().unwrap().clone()
    }
}

/// A TSH base URL nobody listens on.
fn dead_tsh() -> String {
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/gtep/igwapi/v2.0", nowhere.local_addr().unwrap());
    drop(nowhere);
    url
}

fn assert_no_card_data(what: &str, text: &str) {
    for secret in [PAN_FULL, "4111 1111 1111 1111"] {
        assert!(!text.contains(secret), "{what} holds card data:\n{text}");
    }
}

#[actix_web::test]
async fn reconcile_as_a_process_heals_drift_and_reports_a_tsh_that_is_down() {
    // Arrange: the service enrols a card and learns two ACTIVE tokens, as TSH knows them.
    let (tsh_url, tsh) = start_sim_tsh();
    let gateway = MockGateway::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let service = ServiceProcess::start(
        &store,
        &gateway.url,
        &[("TSH_ISSUER__TSH__BASE_URL", &tsh_url)],
    );
    let client = ProcessClient::new(&service.address);
    let (card, decision) = client.enrol("rec-cli-enrol", "BANK_APP").await;
    assert_eq!(
        decision.body["levelOfTrust"], "green",
        "{:?}",
        decision.body
    );
    for vcid in ["VC-cli-1", "VC-cli-2"] {
        tsh.register(&card, vcid, "ACTIVE", None).unwrap();
        let note = notification(&card, vcid, "ACTIVATE");
        let reply = client
            .call("notifyVirtualCardChange", &cid("rec-cli-act"), &note)
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    // TSH suspends VC-cli-1; its notification never arrives.
    tsh.register(&card, "VC-cli-1", "SUSPENDED", None).unwrap();
    stop(service).await;

    // Act 1: reconcile the card.
    let healed = reconcile(&store, &tsh_url, &["--card", &card]).await;

    // Assert 1: exit 0, one drift line naming the token and both states.
    assert_eq!(healed.code, Some(0), "{}", healed.all_output());
    let drift_line =
        format!("drift VC-cli-1 (card {card}): ours ACTIVE, TSH SUSPENDED -> transitioned");
    assert!(
        healed.stdout.contains(&drift_line),
        "{}",
        healed.all_output()
    );
    assert!(
        !healed.stdout.contains("drift VC-cli-2"),
        "{}",
        healed.stdout
    );
    assert!(
        healed.stdout.contains("1 difference(s), 0 failure(s)"),
        "{}",
        healed.stdout
    );
    assert_no_card_data("reconcile's output", &healed.all_output());

    // Act 2: TSH is down (and would now say VC-cli-2 is suspended): by card, then --all.
    tsh.register(&card, "VC-cli-2", "SUSPENDED", None).unwrap();
    let down = dead_tsh();
    let by_card = reconcile(&store, &down, &["--card", &card]).await;
    let every = reconcile(&store, &down, &["--all"]).await;

    // Assert 2: exit 1 with the failure reported, for both scopes.
    for (name, run) in [("--card", &by_card), ("--all", &every)] {
        assert_eq!(run.code, Some(1), "{name}: {}", run.all_output());
        assert!(
            run.stdout.contains(&format!("failed card {card}: ")),
            "{name}: {}",
            run.stdout
        );
        assert!(
            run.stdout.contains("completed_with_failures"),
            "{name}: {}",
            run.stdout
        );
        // --all also compares the dev seed cards: each is a failure of its own.
        assert!(
            run.stderr.contains("TSH could not answer for "),
            "{name}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("their tokens are unchanged"),
            "{name}: {}",
            run.stderr
        );
        assert_no_card_data(name, &run.all_output());
    }
    // An unknown card is the operator's mistake: a usage error, nothing recorded.
    let unknown = reconcile(&store, &tsh_url, &["--card", "no-such-card"]).await;
    assert_eq!(unknown.code, Some(2), "{}", unknown.all_output());
    assert!(
        unknown.stderr.contains("card not found"),
        "{}",
        unknown.stderr
    );

    // The store as the service sees it: healed by the first run, untouched by the failed ones.
    let reader = Reader::start(&store, &gateway.url, &tsh_url);
    assert_eq!(reader.state_of("VC-cli-1").await, "SUSPENDED");
    let last = reader.last_transition("VC-cli-1").await;
    assert_eq!(
        (
            &last["channel"],
            &last["source"],
            &last["action"],
            &last["from_state"]
        ),
        (
            &json!("SYSTEM"),
            &json!("reconciliation"),
            &json!("RECONCILE"),
            &json!("ACTIVE")
        ),
        "{last:#}"
    );
    assert_eq!(
        reader.state_of("VC-cli-2").await,
        "ACTIVE",
        "TSH down changes nothing"
    );
    let runs = reader.runs().await;
    let statuses: Vec<(&Value, &Value, &Value)> = runs
        .iter()
        .map(|r| (&r["scope"], &r["status"], &r["requested_by"]))
        .collect();
    let scope = json!(format!("card:{card}"));
    let (cli, all) = (json!("cli"), json!("all"));
    let (done, failed) = (json!("completed"), json!("completed_with_failures"));
    assert_eq!(
        statuses,
        [
            (&all, &failed, &cli),
            (&scope, &failed, &cli),
            (&scope, &done, &cli)
        ],
        "newest first: the two failed runs, then the healing one"
    );
    assert_eq!(
        runs[2]["drift"][0]["virtual_card_id"], "VC-cli-1",
        "{:#}",
        runs[2]
    );
    stop(reader.service).await;

    // Act 3: TSH is back; --all compares every card.
    let healed_all = reconcile(&store, &tsh_url, &["--all"]).await;
    assert_eq!(healed_all.code, Some(0), "{}", healed_all.all_output());
    assert!(
        healed_all.stdout.contains(&format!(
            "drift VC-cli-2 (card {card}): ours ACTIVE, TSH SUSPENDED -> transitioned"
        )),
        "{}",
        healed_all.stdout
    );
    let reader = Reader::start(&store, &gateway.url, &tsh_url);
    assert_eq!(reader.state_of("VC-cli-2").await, "SUSPENDED");
    assert_eq!(reader.state_of("VC-cli-1").await, "SUSPENDED");
    let last = reader.last_transition("VC-cli-2").await;
    assert_eq!(
        (&last["channel"], &last["source"]),
        (&json!("SYSTEM"), &json!("reconciliation"))
    );
}
