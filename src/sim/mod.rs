//! `tsh-sim`, the TSP simulator: plays Thales TSH against a running tsh-issuer and stands in for
//! the other ends the service talks to. The binary (`src/bin/tsh-sim.rs`) is a thin shell over
//! this module, so the integration tests drive the same code without spawning a process.
//!
//! Owns:
//! - `cli.rs`: the command line (`serve`, `run`, `check`) and its exit codes;
//! - `gateway.rs`: the mock SMS / e-mail gateway behind the service's OTP webhook;
//! - `tsh.rs`: TSH's inbound API (`updateCardState`, ...) notifying the issuer back, as TSH does;
//! - `receiver.rs`: the bank system behind the service's outbound event feed (verifies signatures);
//! - `scenario.rs`: scenario files (`fixtures/scenarios/*.toml`), validated before anything runs;
//! - `template.rs`, `path.rs`: `{{placeholders}}` and response field paths used by scenarios;
//! - `faults.rs`: fault options of scenario steps (delay, duplicates, deadline → stand-in);
//! - `load.rs`: `tsh-sim load`, open-model constant arrival rate with HdrHistogram latencies;
//!   `service_usage.rs`: the service's CPU and store counters around its timed phase;
//! - `runner.rs`: executes a scenario over HTTP, playing TSH; `report.rs`: what it found.
//!
//! Must not: touch the service's store or internals (it talks HTTP only, like TSH), listen
//! beyond loopback, or loop without a bound.

pub mod cli;
pub mod faults;
pub mod frontdoors;
pub mod gateway;
pub mod load;
pub mod path;
pub mod receiver;
pub mod record;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod service_usage;
pub mod template;
pub mod tsh;
pub mod tsp;
