//! Fuzz target: the decision rules file — TOML, then compilation (fact names, operators,
//! nesting) — as `rules check` and a reload read it. Invalid files are refused; none may panic
//! or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = tsh_issuer::rules::RuleSet::from_toml_str(text, "fuzz");
    }
});
