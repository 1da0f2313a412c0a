//! Loading the repository's own config files, overrides, and refusals that name the key.

use std::path::PathBuf;

use super::*;

fn options(environment: &str, overrides: &[(&str, &str)]) -> LoadOptions {
    LoadOptions {
        config_dir: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")),
        environment: Some(environment.to_owned()),
        extra_file: None,
        use_env_vars: false,
        overrides: overrides
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn refusal(environment: &str, overrides: &[(&str, &str)]) -> ConfigError {
    load(options(environment, overrides)).expect_err("configuration should be refused")
}

#[test]
fn local_environment_loads_with_working_defaults() {
    let settings = load(options("local", &[])).unwrap();
    assert_eq!(settings.issuer.id, "ISSUERDEV1");
    assert_eq!(settings.server.prefix, "/issuer/igwapi/v2.0");
    assert!(settings.crypto.key_dir.ends_with("fixtures/dev-keys"));
    assert!(settings.crypto.key_dir.is_absolute() || settings.crypto.key_dir.exists());
    assert_eq!(
        settings.cards.product_for_bin("411111"),
        Some("VISA-CLASSIC-DEV")
    );
    assert_eq!(
        settings.cards.product_for_bin("400005"),
        Some("VISA-DEFAULT-DEV")
    );
    assert_eq!(settings.cards.product_for_bin("601111"), None);
    assert!(settings.tsh.base_url.starts_with("http://"));
}

#[test]
fn local_toml_uses_only_the_listed_dev_secrets() {
    let settings = load(options("local", &[])).unwrap();
    let listed = |key: &str, value: &str| {
        DEV_SECRETS
            .iter()
            .any(|(k, v)| *k == key && v.eq_ignore_ascii_case(value))
    };
    assert!(listed(
        "crypto.fingerprint_key",
        &hex::encode(&settings.crypto.fingerprint_key)
    ));
    assert!(listed("crypto.cvk_a", &settings.crypto.cvk_a));
    assert!(listed("crypto.cvk_b", &settings.crypto.cvk_b));
    assert!(listed(
        "staff.bootstrap_token",
        settings.staff.bootstrap_token.as_deref().unwrap()
    ));
    assert!(listed(
        "events.secret",
        &hex::encode(&settings.events.secret)
    ));
    assert!(
        !settings.events.enabled(),
        "the feed is off until events.webhook_url is set"
    );
    assert_eq!(
        settings.lifecycle.reconcile_interval_secs, 0,
        "no periodic reconciliation in local runs"
    );
}

#[test]
fn production_refuses_plain_http_and_every_dev_secret() {
    let err = refusal("production", &[]);
    assert_eq!(err.key, "server.tls.cert", "{err}");

    let tls = [
        ("server.tls.cert", "/etc/tsh/server.crt"),
        ("server.tls.key", "/etc/tsh/server.key"),
        ("server.tls.client_ca", "/etc/tsh/tsh-ca.pem"),
    ];
    let real_secrets = [
        (
            "crypto.fingerprint_key",
            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        ),
        ("crypto.cvk_a", "1111222233334444"),
        ("crypto.cvk_b", "5555666677778888"),
        (
            "staff.bootstrap_token",
            "a-real-long-random-bootstrap-token",
        ),
    ];
    let mut accepted: Vec<(&str, &str)> = tls.to_vec();
    accepted.extend(real_secrets);
    load(options("production", &accepted)).expect("production with real secrets loads");

    for (key, dev_value) in DEV_SECRETS {
        let mut with_dev = accepted.clone();
        with_dev.retain(|(k, _)| k != key);
        with_dev.push((key, dev_value));
        let err = refusal("production", &with_dev);
        assert_eq!(err.key, *key, "{err}");
        assert!(err.message.contains("dev"), "{err}");
    }
    let mut dev_dir = accepted.clone();
    dev_dir.push(("crypto.key_dir", "fixtures/dev-keys"));
    assert_eq!(refusal("production", &dev_dir).key, "crypto.key_dir");
    let mut dev_cards = accepted.clone();
    dev_cards.push(("cards.seed_file", "fixtures/dev-cards.json"));
    assert_eq!(refusal("production", &dev_cards).key, "cards.seed_file");
    let mut dev_tsh = accepted.clone();
    dev_tsh.push(("tsh.encryption_cert", "fixtures/tsh-dev/tsh-dev.crt"));
    assert_eq!(refusal("production", &dev_tsh).key, "tsh.encryption_cert");
}

#[test]
fn bad_values_are_refused_naming_the_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("issuer id of 9 characters", "issuer.id", "ISSUERDEV"),
        ("bind without a port", "server.bind", "localhost"),
        ("fingerprint key not hex", "crypto.fingerprint_key", "zz"),
        (
            "fingerprint key too short",
            "crypto.fingerprint_key",
            "00112233",
        ),
        ("cvk of 15 digits", "crypto.cvk_a", "0123456789ABCDE"),
        ("webhook not a URL", "otp.webhook_url", "smtp://mail"),
        ("zero rate limit", "otp.rate_limit_count", "0"),
        ("tiny body limit", "server.max_body_bytes", "10"),
        ("log format", "log.format", "xml"),
        ("short bootstrap token", "staff.bootstrap_token", "short"),
        ("event secret not hex", "events.secret", "not-hex"),
        ("event secret too short", "events.secret", "00112233"),
        (
            "event webhook not a URL",
            "events.webhook_url",
            "ftp://bank",
        ),
        ("event timeout of 0", "events.timeout_ms", "0"),
        ("event concurrency of 0", "events.concurrency", "0"),
        (
            "reconciliation every 5 s",
            "lifecycle.reconcile_interval_secs",
            "5",
        ),
        ("no check attempt", "lifecycle.check_max_attempts", "0"),
        ("poll of 0 ms", "lifecycle.poll_interval_ms", "0"),
    ];
    for (name, key, value) in cases {
        let err = refusal("local", &[(key, value)]);
        assert_eq!(err.key, *key, "case {name}: {err}");
        assert!(
            err.to_string().starts_with("invalid configuration: "),
            "case {name}: {err}"
        );
    }
    assert_eq!(
        refusal("local", &[("crypto.cvk_b", "0123456789ABCDEF")]).key,
        "crypto.cvk_b"
    );
    // A feed without a key is refused naming the key; with the local dev key it loads.
    let no_key = refusal(
        "local",
        &[
            ("events.webhook_url", "http://127.0.0.1:9/events"),
            ("events.secret", ""),
        ],
    );
    assert_eq!(no_key.key, "events.secret", "{no_key}");
    let on = load(options(
        "local",
        &[("events.webhook_url", "http://127.0.0.1:9/events")],
    ))
    .unwrap();
    assert!(on.events.enabled());
    assert!(!format!("{:?}", on.events).contains(DEV_EVENTS_SECRET));
}

#[test]
fn an_unknown_environment_is_refused() {
    let err = refusal("prod", &[]);
    assert_eq!(err.key, "TSH_ISSUER_ENV");
    assert!(err.message.contains("prod.toml"), "{err}");
}

#[test]
fn tls_needs_key_and_client_ca() {
    let err = refusal("local", &[("server.tls.cert", "server.crt")]);
    assert_eq!(err.key, "server.tls.key");
    let err = refusal(
        "local",
        &[
            ("server.tls.cert", "server.crt"),
            ("server.tls.key", "server.key"),
        ],
    );
    assert_eq!(err.key, "server.tls.client_ca");
}

#[test]
fn crypto_settings_debug_hides_secrets() {
    let settings = load(options("local", &[])).unwrap();
    let shown = format!("{settings:?}");
    assert!(!shown.contains("0123456789ABCDEF"), "{shown}");
    assert!(!shown.contains("dev-operator-token"), "{shown}");
    assert!(!shown.contains("6465762d"), "{shown}");
}

#[test]
fn staff_tokens_load_from_toml_tables_or_json_text() {
    let hash = "a".repeat(64);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("staff.toml");
    std::fs::write(
        &file,
        format!(
            "[[staff.tokens]]\nname = \"vera\"\nsha256 = \"{hash}\"\nrole = \"viewer\"\n\n\
             [[staff.tokens]]\nname = \"oscar\"\nsha256 = \"{}\"\nrole = \"Operator\"\n",
            "b".repeat(64)
        ),
    )
    .unwrap();
    let mut from_file = options("local", &[]);
    from_file.extra_file = Some(file);
    let settings = load(from_file).unwrap();
    let names: Vec<(&str, StaffRole)> = settings
        .staff
        .tokens
        .iter()
        .map(|t| (t.name.as_str(), t.role))
        .collect();
    assert_eq!(
        names,
        vec![("vera", StaffRole::Viewer), ("oscar", StaffRole::Operator)]
    );
    assert!(!format!("{:?}", settings.staff).contains(&hash));

    let json = format!(r#"[{{"name":"ops","sha256":"{hash}","role":"operator"}}]"#);
    let settings = load(options("local", &[("staff.tokens", &json)])).unwrap();
    assert_eq!(settings.staff.tokens[0].name, "ops");
}

#[test]
fn bad_staff_tokens_and_tsh_keys_are_refused_by_name() {
    let hash = "c".repeat(64);
    let cases: Vec<(String, &str)> = vec![
        (
            format!(r#"[{{"name":"x","sha256":"{hash}","role":"admin"}}]"#),
            "staff.tokens[0].role",
        ),
        (
            r#"[{"name":"x","sha256":"abc","role":"viewer"}]"#.to_owned(),
            "staff.tokens[0].sha256",
        ),
        (
            format!(r#"[{{"name":"","sha256":"{hash}","role":"viewer"}}]"#),
            "staff.tokens[0].name",
        ),
        (
            format!(
                r#"[{{"name":"a","sha256":"{hash}","role":"viewer"}},{{"name":"a","sha256":"{hash}","role":"viewer"}}]"#
            ),
            "staff.tokens[1].name",
        ),
        ("not json".to_owned(), "staff.tokens"),
    ];
    for (tokens, key) in &cases {
        assert_eq!(
            refusal("local", &[("staff.tokens", tokens)]).key,
            *key,
            "case {tokens}"
        );
    }
    assert_eq!(
        refusal("local", &[("tsh.client_cert", "cert.pem")]).key,
        "tsh.client_key"
    );
    assert_eq!(
        refusal("local", &[("tsh.timeout_ms", "5")]).key,
        "tsh.timeout_ms"
    );
}

/// Regression (issue 13, defect 9): a misspelt key passed silently ("configuration is valid").
#[test]
fn unknown_keys_are_refused_naming_them_with_a_suggestion() {
    let err = refusal("local", &[("server.bimd", "127.0.0.1:9")]);
    assert_eq!(err.key, "server.bimd", "{err}");
    assert!(err.message.contains("did you mean server.bind"), "{err}");
    let err = refusal("local", &[("sevrer.bind", "127.0.0.1:9")]);
    assert_eq!(err.key, "sevrer", "{err}");
    assert!(err.message.contains("did you mean server"), "{err}");
    let err = refusal("local", &[("server.tls.cret", "x.pem")]);
    assert!(err.key.ends_with("cret"), "{err}");
    assert!(err.message.contains("cert"), "{err}");
}
