//! `tsh-sim` binary: parse the command line and hand over to `tsh_issuer::sim::cli`. Thin by
//! design; everything lives in the library so the tests drive the same code.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use tsh_issuer::sim::cli::{run, SimCli};

fn main() -> ExitCode {
    run(SimCli::parse())
}
