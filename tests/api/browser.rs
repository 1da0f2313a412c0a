//! The staff console in a real browser, as part of `cargo test`: runs `node --test` in
//! tests/browser (Debian's chromium driven by npm's playwright-core) against the binaries this
//! test crate was built with. Needs node, chromium and `npm ci` in tests/browser; in CI a missing
//! piece fails the test, elsewhere the test says loudly that it did not run.

use std::path::Path;
use std::process::Command;

use crate::helpers::tool_available;

/// True when `npm ci` has installed playwright-core next to the browser test.
fn playwright_installed(dir: &Path) -> bool {
    let found = dir
        .join("node_modules/playwright-core/package.json")
        .exists();
    if !found {
        let why = "run `npm ci` in tests/browser for the console browser test";
        if std::env::var_os("CI").is_some() {
            panic!("playwright-core is required in CI ({why}); .ci/run installs it");
        }
        eprintln!("\n*** NOT RUN: playwright-core is not installed ({why}) ***\n");
    }
    found
}

#[test]
fn console_works_in_a_real_browser() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if !tool_available("node", "the console browser test")
        || !tool_available("chromium", "the console browser test")
        || !playwright_installed(&dir)
    {
        return;
    }
    let output = Command::new("node")
        .args(["--test", "--test-concurrency=1", "console.test.mjs"])
        .current_dir(&dir)
        .env("TSH_ISSUER_BIN", env!("CARGO_BIN_EXE_tsh-issuer"))
        .env("TSH_SIM_BIN", env!("CARGO_BIN_EXE_tsh-sim"))
        .output()
        .expect("node runs");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "browser test failed:\n{report}");
    assert!(
        report.contains("# fail 0"),
        "node's report shows failures:\n{report}"
    );
}
