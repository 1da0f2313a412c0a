//! The `tsh-issuer` command line: refusing bad configuration, rules check, cards import.

use std::process::Command;

use crate::helpers::repo_root;

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tsh-issuer"));
    command
        .args(args)
        .current_dir(repo_root())
        .env_remove("TSH_ISSUER_ENV");
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().expect("binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_bad_configuration_is_refused_with_the_key_named() {
    let (code, _, stderr) = run(&["serve"], &[("TSH_ISSUER__ISSUER__ID", "SHORT")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("issuer.id"), "{stderr}");
    let (code, _, stderr) = run(&["serve"], &[("TSH_ISSUER_ENV", "production")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("server.tls.cert"), "{stderr}");
}

#[test]
fn rules_check_accepts_the_shipped_rules_and_names_errors() {
    let (code, stdout, stderr) = run(&["rules", "check", "config/rules.toml"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("ok:"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "version = 1\n[defaults]\noutcome = \"red\"\nreason = \"x\"\n[[rule]]\nid = \"r1\"\nstage = \"decide\"\noutcome = \"green\"\nreason = \"y\"\nwhen.all = [ { fact = \"no_such_fact\", eq = 1 } ]\n",
    )
    .unwrap();
    let (code, _, stderr) = run(&["rules", "check", bad.to_str().unwrap()], &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("r1") && stderr.contains("no_such_fact"),
        "{stderr}"
    );
}

#[test]
fn cards_import_is_idempotent_and_refuses_a_bad_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let env = [("TSH_ISSUER__STORE__PATH", store.to_str().unwrap())];
    let (code, stdout, stderr) = run(&["cards", "import", "fixtures/dev-cards.json"], &env);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("7 created"), "{stdout}");
    let (code, stdout, _) = run(&["cards", "import", "fixtures/dev-cards.json"], &env);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("0 created, 0 updated, 7 unchanged"),
        "{stdout}"
    );

    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"[{"pan":"4111111111111111","exp":"1230"},{"pan":"4111111111111112","exp":"1230"}]"#,
    )
    .unwrap();
    let (code, _, stderr) = run(&["cards", "import", bad.to_str().unwrap()], &env);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("card #1") && stderr.contains("pan"),
        "{stderr}"
    );
    assert!(!stderr.contains("4111111111111112"), "{stderr}");
}

/// Regression (issue 13, defect 9): typos in keys passed as "configuration is valid", and
/// `config check | head` panicked on the closed pipe while printing a Rust `Debug` struct.
#[test]
fn config_check_refuses_unknown_keys_and_prints_a_readable_summary() {
    let (code, _, stderr) = run(
        &["config", "check"],
        &[("TSH_ISSUER__SERVER__BIMD", "127.0.0.1:9")],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("server.bimd"), "{stderr}");
    assert!(stderr.contains("did you mean server.bind"), "{stderr}");

    let (code, stdout, stderr) = run(&["config", "check"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("[server]\nbind = "), "{stdout}");
    assert!(!stdout.contains("Settings {"), "{stdout}");
    assert!(!stdout.contains("dev-operator-token"), "{stdout}");
    toml::from_str::<toml::Value>(
        stdout
            .trim_end()
            .trim_end_matches("ok: configuration is valid"),
    )
    .expect("the summary is TOML");

    // A reader that stops early: no panic, no error exit.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tsh-issuer"))
        .args(["config", "check"])
        .current_dir(repo_root())
        .env_remove("TSH_ISSUER_ENV")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.status.success(), "{stderr}");
}
