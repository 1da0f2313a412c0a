//! The `tsh-sim` command line: `serve` (the simulator's servers on loopback), `run` (scenarios
//! against a running tsh-issuer, readable report, non-zero exit on any mismatch) and `check`
//! (validate scenario files only).
//!
//! Owns argument parsing, resolving scenario names to files, and exit codes: 0 all passed,
//! 1 an expectation was not met, 2 the command could not run (bad arguments, malformed scenario,
//! unreachable service, port in use).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use super::gateway::{self, GatewayState};
use super::runner::{fresh_seed, run_scenario, Target, TargetOptions};
use super::scenario::{self, Action, Scenario};
use super::tsh::{self, TshState};

const DEFAULT_SCENARIOS_DIR: &str = "fixtures/scenarios";
const DEFAULT_ISSUER_CERT: &str = "fixtures/dev-keys/issuer-dev.crt";

#[derive(Debug, Parser)]
#[command(
    name = "tsh-sim",
    version,
    about = "TSP simulator: plays Thales TSH against a running tsh-issuer, and serves the mock OTP gateway and TSH inbound API"
)]
pub struct SimCli {
    #[command(subcommand)]
    pub command: SimCommand,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve the mock SMS / e-mail gateway (POST /otp, GET /otp/deliveries, GET /otp/last,
    /// POST /otp/mode) and TSH's inbound API (POST /gtep/igwapi/v2.0/updateCardState, ...,
    /// GET/POST /tsh/tokens, GET /tsh/requests) on a loopback address until Ctrl-C.
    Serve(ServeArgs),
    /// Run scenarios against a running tsh-issuer, playing TSH; exits 1 on any mismatch.
    Run(RunArgs),
    /// Validate scenario files without sending anything.
    Check(Selection),
    /// Run scenarios like `run` and write every callback request/response pair as a replay
    /// fixture (fixtures/README.md format) under --out.
    Record {
        #[command(flatten)]
        run: RunArgs,
        /// Where to write `<operation>/<NN-scenario-step>/request.json` + `expected.json`.
        #[arg(long, value_name = "DIR", default_value = "fixtures/recorded")]
        out: PathBuf,
    },
    /// Open-model load at a constant session rate (loopback only); prints throughput and
    /// latency percentiles per operation, measured from each request's intended start.
    Load(super::load::LoadArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Loopback address to listen on (the service's default otp.webhook_url is
    /// http://127.0.0.1:8090/otp, its tsh.base_url http://127.0.0.1:8090/gtep/igwapi/v2.0).
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub bind: SocketAddr,
    /// tsh-issuer base URL the simulated TSH sends notifyVirtualCardChange to.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub issuer_url: String,
    /// The issuer's callback path prefix (server.prefix).
    #[arg(long, default_value = "/issuer/igwapi/v2.0")]
    pub issuer_prefix: String,
    /// Expected as x-issuer-id on TSH requests and sent on notifications (issuer.id).
    #[arg(long, default_value = "ISSUERDEV1")]
    pub issuer_id: String,
    /// Key directory (NAME.crt + NAME.key pairs) of TSH's encryption key: updateCard's
    /// fpanDetails are then decrypted and listed with masked PANs. Without it they are accepted
    /// sealed.
    #[arg(long, value_name = "DIR")]
    pub tsh_key: Option<PathBuf>,
    /// Issuer certificate (PEM) the requestor front doors seal card data for.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_ISSUER_CERT)]
    pub issuer_cert: PathBuf,
    /// The event feed's HMAC key (hex, the service's events.secret) the receiver at POST /events
    /// verifies signatures with; default: the public dev key of config/local.toml.
    #[arg(long, value_name = "HEX", default_value = crate::config::DEV_EVENTS_SECRET)]
    pub events_secret: String,
}

#[derive(Debug, Args)]
pub struct Selection {
    /// Scenario files, or names looked up in --scenarios-dir (e.g. `green`).
    #[arg(value_name = "SCENARIO")]
    pub scenarios: Vec<String>,
    /// Every *.toml scenario in --scenarios-dir.
    #[arg(long)]
    pub all: bool,
    #[arg(long, value_name = "DIR", default_value = DEFAULT_SCENARIOS_DIR)]
    pub scenarios_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// tsh-issuer base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Callback path prefix (server.prefix).
    #[arg(long, default_value = "/issuer/igwapi/v2.0")]
    pub prefix: String,
    /// Sent as x-issuer-id (issuer.id).
    #[arg(long, default_value = "ISSUERDEV1")]
    pub issuer_id: String,
    /// Issuer certificate (PEM) the card data is encrypted for.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_ISSUER_CERT)]
    pub issuer_cert: PathBuf,
    /// Bearer token for the staff API steps.
    #[arg(long, default_value = "dev-operator-token")]
    pub staff_token: String,
    /// Base URL of a `tsh-sim serve` gateway for otp_check steps; `none` skips those steps.
    #[arg(long, default_value = "http://127.0.0.1:8090")]
    pub gateway: String,
    /// TCP connect timeout, milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub connect_timeout_ms: u64,
    /// Whole-request timeout, milliseconds.
    #[arg(long, default_value_t = 10000)]
    pub timeout_ms: u64,
    /// Run each scenario as this many concurrent sessions (fresh ids per session), 1 to 64.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// Runs a parsed command line; the exit code follows the module doc.
pub fn run(cli: SimCli) -> ExitCode {
    match cli.command {
        SimCommand::Serve(args) => serve(args),
        SimCommand::Check(selection) => match load_selection(&selection) {
            Ok(scenarios) => {
                for s in &scenarios {
                    println!(
                        "ok: {} ({} steps) {}",
                        s.name,
                        s.steps.len(),
                        s.source.display()
                    );
                }
                ExitCode::SUCCESS
            }
            Err(message) => usage_error(&message),
        },
        SimCommand::Run(args) => run_command(args, None),
        SimCommand::Record { run, out } => run_command(run, Some(out)),
        SimCommand::Load(args) => super::load::command(args),
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// A default relative path that does not exist here is looked up in the source tree, so
/// `cargo run --bin tsh-sim` works from any directory of the checkout.
fn with_source_fallback(path: &Path, default: &str) -> PathBuf {
    if path == Path::new(default) && !path.exists() {
        let in_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join(default);
        if in_tree.exists() {
            return in_tree;
        }
    }
    path.to_owned()
}

/// The scenario files a selection names, in order.
pub fn resolve(selection: &Selection) -> Result<Vec<PathBuf>, String> {
    let dir = with_source_fallback(&selection.scenarios_dir, DEFAULT_SCENARIOS_DIR);
    match (selection.all, selection.scenarios.is_empty()) {
        (true, false) => Err("give scenario names or --all, not both".into()),
        (false, true) => Err("name at least one scenario (e.g. `green`) or pass --all".into()),
        (true, true) => {
            let files = scenario::scenario_files(&dir)?;
            if files.is_empty() {
                return Err(format!("no *.toml scenario in {}", dir.display()));
            }
            Ok(files)
        }
        (false, false) => selection
            .scenarios
            .iter()
            .map(|name| {
                let direct = PathBuf::from(name);
                if direct.is_file() {
                    return Ok(direct);
                }
                let in_dir = dir.join(format!("{}.toml", name.trim_end_matches(".toml")));
                if in_dir.is_file() {
                    return Ok(in_dir);
                }
                Err(format!(
                    "no scenario `{name}` (looked for {} and {})",
                    direct.display(),
                    in_dir.display()
                ))
            })
            .collect(),
    }
}

/// Resolves and validates every selected scenario; all problems are reported together.
fn load_selection(selection: &Selection) -> Result<Vec<Scenario>, String> {
    let files = resolve(selection)?;
    let mut scenarios = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        match scenario::load_file(&file) {
            Ok(s) => scenarios.push(s),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if problems.is_empty() {
        Ok(scenarios)
    } else {
        Err(format!(
            "malformed scenario file(s), nothing was run:\n  {}",
            problems.join("\n  ")
        ))
    }
}

fn run_command(args: RunArgs, record_to: Option<PathBuf>) -> ExitCode {
    let concurrency = args.concurrency;
    if concurrency > 1 && record_to.is_some() {
        return usage_error("--concurrency cannot be combined with record");
    }
    let scenarios = match load_selection(&args.selection) {
        Ok(s) => s,
        Err(message) => return usage_error(&message),
    };
    let cert_path = with_source_fallback(&args.issuer_cert, DEFAULT_ISSUER_CERT);
    let pem = match std::fs::read_to_string(&cert_path) {
        Ok(p) => p,
        Err(e) => {
            return usage_error(&format!(
                "--issuer-cert {}: cannot read: {e}",
                cert_path.display()
            ))
        }
    };
    let gateway = match args.gateway.as_str() {
        "none" | "" => None,
        url => Some(url.to_owned()),
    };
    let target = match Target::new(TargetOptions {
        service_url: args.url.clone(),
        prefix: args.prefix.clone(),
        issuer_id: args.issuer_id.clone(),
        staff_token: args.staff_token.clone(),
        gateway_url: gateway,
        issuer_cert_pem: pem,
        connect_timeout: Duration::from_millis(args.connect_timeout_ms.max(1)),
        request_timeout: Duration::from_millis(args.timeout_ms.max(1)),
    }) {
        Ok(t) => t,
        Err(message) => return usage_error(&message),
    };

    let outcome = actix_web::rt::System::new().block_on(async move {
        target.check_service().await?;
        let wants_gateway = scenarios
            .iter()
            .flat_map(|s| &s.steps)
            .any(|step| matches!(step.action, Action::OtpCheck { .. }));
        if wants_gateway {
            if let Err(warning) = target.check_gateway().await {
                eprintln!("warning: {warning}");
            }
        }
        println!(
            "tsh-sim: {} scenario(s) against {}{}\n",
            scenarios.len(),
            target.service_url(),
            target
                .gateway_url()
                .map(|g| format!(", gateway {g}"))
                .unwrap_or_else(|| ", no gateway (otp checks skipped)".into())
        );
        let mut failed = Vec::new();
        for scenario in &scenarios {
            let sessions = usize::from(concurrency);
            if sessions > 1 {
                // Concurrent sessions of one scenario: each with its own seed (ids, cards).
                let runs = (0..sessions).map(|_| run_scenario(&target, scenario, fresh_seed()));
                let reports = futures_util::future::join_all(runs).await;
                let passed = reports.iter().filter(|r| r.passed()).count();
                for report in reports.iter().filter(|r| !r.passed()) {
                    println!("{report}");
                    failed.push((report.name.clone(), report.failures()));
                }
                println!(
                    "{}: {passed} of {sessions} concurrent session(s) passed\n",
                    scenario.name
                );
                continue;
            }
            let report = run_scenario(&target, scenario, fresh_seed()).await;
            println!("{report}");
            if let Some(out) = &record_to {
                match super::record::write_fixtures(&report, out) {
                    Ok(dirs) => println!(
                        "recorded {} fixture(s) under {}\n",
                        dirs.len(),
                        out.display()
                    ),
                    Err(e) => return Err(format!("recording fixtures: {e}")),
                }
            }
            if !report.passed() {
                failed.push((report.name.clone(), report.failures()));
            }
        }
        Ok::<_, String>((scenarios.len(), failed))
    });

    match outcome {
        Err(message) => usage_error(&message),
        Ok((total, failed)) if failed.is_empty() => {
            println!("all {total} scenario(s) passed");
            ExitCode::SUCCESS
        }
        Ok((total, failed)) => {
            println!("{} of {total} scenario(s) failed:", failed.len());
            for (name, problems) in failed {
                for problem in problems {
                    println!("  ✗ {name}: {problem}");
                }
            }
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let keys = match &args.tsh_key {
        None => None,
        Some(dir) => match crate::crypto::KeyRing::load_dir(dir) {
            Ok(keys) => Some(keys),
            Err(e) => return usage_error(&format!("--tsh-key {}: {e}", dir.display())),
        },
    };
    let target = tsh::IssuerTarget {
        url: args.issuer_url.clone(),
        prefix: args.issuer_prefix.clone(),
        issuer_id: args.issuer_id.clone(),
    };
    let bind = args.bind;
    let cert_path = with_source_fallback(&args.issuer_cert, DEFAULT_ISSUER_CERT);
    let doors = match std::fs::read_to_string(&cert_path)
        .map_err(|e| format!("--issuer-cert {}: cannot read: {e}", cert_path.display()))
        .and_then(|pem| {
            super::frontdoors::for_serve(
                &args.issuer_url,
                &args.issuer_prefix,
                &args.issuer_id,
                pem,
            )
        }) {
        Ok(doors) => doors,
        Err(message) => return usage_error(&message),
    };
    let events_secret = match hex::decode(args.events_secret.trim()) {
        Ok(key) if key.len() >= 32 => key,
        _ => return usage_error("--events-secret: must be hex, at least 32 bytes (events.secret)"),
    };
    let result = actix_web::rt::System::new().block_on(async move {
        let tsh_state = actix_web::web::Data::from(TshState::new(target, keys, true));
        let receiver = actix_web::web::Data::from(super::receiver::ReceiverState::new(
            events_secret,
            true,
        ));
        let running = gateway::start_with(bind, GatewayState::new(true), move |cfg| {
            tsh::configure(cfg, tsh_state.clone());
            super::receiver::configure(cfg, receiver.clone());
            super::frontdoors::configure(cfg, doors.clone());
        })
        .map_err(|e| e.to_string())?;
        let base = running.base_url();
        println!("tsh-sim serve: listening on {base} (loopback only; Ctrl-C to stop)");
        println!("  mock SMS / e-mail gateway: POST {base}/otp   (tsh-issuer's otp.webhook_url)");
        println!("  GET {base}/otp/deliveries · GET {base}/otp/last?issuer_card_ref_id=… · POST {base}/otp/mode {{\"mode\":\"accept\"|\"fail\"|\"slow\",\"delay_ms\":n}}");
        println!(
            "  TSH inbound API: POST {base}{}/{{updateCardState|getCardInfo|getTokenInfo|updateCard}}   (tsh-issuer's tsh.base_url)",
            tsh::TSH_PREFIX
        );
        println!(
            "  notifications to {}{} as {} · GET {base}/tsh/tokens · POST {base}/tsh/tokens {{\"issuer_card_ref_id\",\"virtual_card_id\",\"state\"}} · GET {base}/tsh/requests",
            args.issuer_url, args.issuer_prefix, args.issuer_id
        );
        println!("  event feed receiver: POST {base}/events   (tsh-issuer's events.webhook_url; signatures checked) · GET {base}/events/received · POST {base}/events/mode {{\"mode\":\"accept\"|\"fail\"}}");
        super::frontdoors::print_banner(&base, &args.issuer_url);
        running.server.await.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => usage_error(&message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(names: &[&str], all: bool) -> Selection {
        Selection {
            scenarios: names.iter().map(|s| (*s).to_owned()).collect(),
            all,
            scenarios_dir: PathBuf::from(DEFAULT_SCENARIOS_DIR),
        }
    }

    #[test]
    fn scenario_names_resolve_in_the_scenarios_directory() {
        let files = resolve(&selection(&["green", "red.toml"], false)).unwrap();
        assert!(
            files[0].ends_with("fixtures/scenarios/green.toml"),
            "{files:?}"
        );
        assert!(
            files[1].ends_with("fixtures/scenarios/red.toml"),
            "{files:?}"
        );
        let err = resolve(&selection(&["nope"], false)).unwrap_err();
        assert!(err.contains("no scenario `nope`"), "{err}");
    }

    #[test]
    fn a_selection_needs_names_or_all_but_not_both() {
        assert!(resolve(&selection(&[], false)).is_err());
        assert!(resolve(&selection(&["green"], true)).is_err());
        assert!(resolve(&selection(&[], true)).unwrap().len() >= 6);
    }

    #[test]
    fn the_command_line_parses() {
        let cli =
            SimCli::try_parse_from(["tsh-sim", "run", "--all", "--url", "http://127.0.0.1:9"])
                .unwrap();
        match cli.command {
            SimCommand::Run(args) => {
                assert!(args.selection.all);
                assert_eq!(args.url, "http://127.0.0.1:9");
                assert_eq!(args.issuer_id, "ISSUERDEV1");
                assert_eq!(args.gateway, "http://127.0.0.1:8090");
            }
            other => panic!("{other:?}"),
        }
        let serve = SimCli::try_parse_from(["tsh-sim", "serve"]).unwrap();
        assert!(
            matches!(&serve.command, SimCommand::Serve(a) if a.bind.port() == 8090
            && a.issuer_url == "http://127.0.0.1:8080" && a.issuer_id == "ISSUERDEV1" && a.tsh_key.is_none())
        );
    }
}
