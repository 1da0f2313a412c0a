//! `tsh-issuer config check`: load and validate the layered configuration and print a readable,
//! TOML-like summary of the effective settings. Secrets are never printed, only whether they are
//! set. Output into a closed pipe (`config check | head`) ends quietly instead of panicking.

use std::io::Write;

use super::{load_settings, Cli, CliError};
use crate::config::Settings;

/// Prints the effective settings when they are valid.
pub fn check(cli: &Cli) -> Result<(), CliError> {
    let settings = load_settings(cli)?;
    let mut text = summary(&settings);
    text.push_str("\nok: configuration is valid\n");
    let mut out = std::io::stdout().lock();
    // A reader that went away (`| head`) is not an error of ours: the check itself succeeded.
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => {
            eprintln!("cannot write the summary: {e}");
            Ok(())
        }
    }
}

fn quoted(value: &str) -> String {
    format!("{value:?}")
}

fn path(value: &std::path::Path) -> String {
    quoted(&value.display().to_string())
}

fn optional_path(value: Option<&std::path::Path>) -> String {
    value.map_or_else(|| "# not set".to_owned(), path)
}

fn secret(set: bool) -> String {
    if set {
        "\"<set, hidden>\""
    } else {
        "# not set"
    }
    .to_owned()
}

/// The effective settings as TOML-like `key = value` lines under `[section]` headers.
pub fn summary(s: &Settings) -> String {
    let sections: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("", vec![("environment", quoted(&s.environment))]),
        (
            "server",
            vec![
                ("bind", quoted(&s.server.bind)),
                ("prefix", quoted(&s.server.prefix)),
                ("max_body_bytes", s.server.max_body_bytes.to_string()),
                (
                    "request_timeout_ms",
                    s.server.request_timeout.as_millis().to_string(),
                ),
                (
                    "workers",
                    s.server
                        .workers
                        .map_or_else(|| "# one per CPU core".to_owned(), |w| w.to_string()),
                ),
                ("tls", s.server.tls.is_some().to_string()),
            ],
        ),
        ("store", vec![("path", path(&s.store.path))]),
        ("issuer", vec![("id", quoted(&s.issuer.id))]),
        (
            "crypto",
            vec![
                ("key_dir", path(&s.crypto.key_dir)),
                (
                    "fingerprint_key",
                    secret(!s.crypto.fingerprint_key.is_empty()),
                ),
                ("cvk_a", secret(!s.crypto.cvk_a.is_empty())),
                ("cvk_b", secret(!s.crypto.cvk_b.is_empty())),
            ],
        ),
        (
            "cards",
            vec![
                ("seed_file", optional_path(s.cards.seed_file.as_deref())),
                (
                    "products",
                    format!("# {} BIN ranges", s.cards.products.len()),
                ),
            ],
        ),
        (
            "staff",
            vec![
                ("bootstrap_token", secret(s.staff.bootstrap_token.is_some())),
                ("tokens", format!("# {} named tokens", s.staff.tokens.len())),
            ],
        ),
        (
            "rules",
            vec![
                ("file", path(&s.rules.file)),
                ("shadow_file", optional_path(s.rules.shadow_file.as_deref())),
                (
                    "standin.auto_suspend",
                    s.rules.standin_auto_suspend.to_string(),
                ),
            ],
        ),
        (
            "otp",
            vec![
                ("webhook_url", quoted(&s.otp.webhook_url)),
                ("timeout_ms", s.otp.timeout_ms.to_string()),
                ("rate_limit_count", s.otp.rate_limit_count.to_string()),
                (
                    "rate_limit_window_secs",
                    s.otp.rate_limit_window_secs.to_string(),
                ),
            ],
        ),
        (
            "tsh",
            vec![
                ("base_url", quoted(&s.tsh.base_url)),
                ("timeout_ms", s.tsh.timeout_ms.to_string()),
                ("client_cert", optional_path(s.tsh.client_cert.as_deref())),
                (
                    "encryption_cert",
                    optional_path(s.tsh.encryption_cert.as_deref()),
                ),
            ],
        ),
        (
            "events",
            vec![
                ("webhook_url", quoted(&s.events.webhook_url)),
                ("secret", secret(!s.events.secret.is_empty())),
                ("timeout_ms", s.events.timeout_ms.to_string()),
            ],
        ),
        ("log", vec![("level", quoted(&s.log.level))]),
    ];
    let mut out = String::new();
    for (name, keys) in sections {
        if !name.is_empty() {
            out.push_str(&format!("\n[{name}]\n"));
        }
        for (key, value) in keys {
            // Values that are notes, not settings, stay comments so the text remains valid TOML.
            match value.strip_prefix("# ") {
                Some(note) => out.push_str(&format!("# {key}: {note}\n")),
                None => out.push_str(&format!("{key} = {value}\n")),
            }
        }
    }
    out
}
