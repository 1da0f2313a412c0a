//! Reads the configuration layers with the `config` crate into raw settings.
//!
//! Relative paths in the result are resolved against the directory that holds `config/` (the
//! project root in a checkout), so the service finds its dev keys wherever it is started from.

use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};

use super::settings::{ConfigError, RawSettings, Settings};

/// Where to look and which overlay to apply.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Directory holding `default.toml` and the overlays. None: `TSH_ISSUER_CONFIG_DIR`, else
    /// `./config`, else the `config/` of the source checkout this binary was built from.
    pub config_dir: Option<PathBuf>,
    /// Overlay name; None: `TSH_ISSUER_ENV`, else `local`.
    pub environment: Option<String>,
    /// An extra file applied after the overlay (`--config FILE`).
    pub extra_file: Option<PathBuf>,
    /// Apply `TSH_ISSUER__*` environment variables (tests turn this off to stay hermetic).
    pub use_env_vars: bool,
    /// Key/value overrides applied last (tests use them instead of environment variables).
    pub overrides: Vec<(String, String)>,
}

impl LoadOptions {
    pub fn from_process_env(extra_file: Option<PathBuf>) -> LoadOptions {
        LoadOptions {
            config_dir: std::env::var_os("TSH_ISSUER_CONFIG_DIR").map(PathBuf::from),
            environment: std::env::var("TSH_ISSUER_ENV")
                .ok()
                .filter(|e| !e.is_empty()),
            extra_file,
            use_env_vars: true,
            overrides: Vec::new(),
        }
    }
}

fn find_config_dir(explicit: Option<PathBuf>) -> Result<PathBuf, ConfigError> {
    if let Some(dir) = explicit {
        return if dir.join("default.toml").is_file() {
            Ok(dir)
        } else {
            Err(ConfigError::new(
                "config_dir",
                format!("{} has no default.toml", dir.display()),
            ))
        };
    }
    let local = PathBuf::from("config");
    if local.join("default.toml").is_file() {
        return Ok(local);
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    if built_from.join("default.toml").is_file() {
        return Ok(built_from);
    }
    Err(ConfigError::new(
        "config_dir",
        "no config/default.toml in the current directory; set TSH_ISSUER_CONFIG_DIR",
    ))
}

/// Loads and validates the settings.
pub fn load(options: LoadOptions) -> Result<Settings, ConfigError> {
    let config_dir = find_config_dir(options.config_dir)?;
    let environment = options.environment.unwrap_or_else(|| "local".to_owned());
    if !environment
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ConfigError::new(
            "TSH_ISSUER_ENV",
            "must be a plain name such as local or production",
        ));
    }
    let overlay = config_dir.join(format!("{environment}.toml"));
    if !overlay.is_file() {
        return Err(ConfigError::new(
            "TSH_ISSUER_ENV",
            format!(
                "no overlay file {} for environment {environment:?}",
                overlay.display()
            ),
        ));
    }
    let mut builder = Config::builder()
        .add_source(File::from(config_dir.join("default.toml")).format(FileFormat::Toml))
        .add_source(File::from(overlay).format(FileFormat::Toml));
    if let Some(extra) = &options.extra_file {
        if !extra.is_file() {
            return Err(ConfigError::new(
                "--config",
                format!("{} does not exist", extra.display()),
            ));
        }
        builder = builder.add_source(File::from(extra.clone()).format(FileFormat::Toml));
    }
    if options.use_env_vars {
        builder = builder.add_source(
            Environment::with_prefix("TSH_ISSUER")
                .prefix_separator("__")
                .separator("__"),
        );
    }
    for (key, value) in &options.overrides {
        builder = builder
            .set_override(key.as_str(), value.as_str())
            .map_err(|e| ConfigError::new(key, e.to_string()))?;
    }
    let merged = builder
        .build()
        .map_err(|e| ConfigError::new("config", e.to_string()))?;
    let raw: RawSettings = merged.try_deserialize().map_err(|e| {
        let message = e.to_string();
        match explain_unknown_key(&message) {
            Some((key, text)) => ConfigError::new(&key, text),
            None => ConfigError::new("config", message),
        }
    })?;
    let base_dir = config_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let base_dir = if base_dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base_dir
    };
    raw.validate(&environment, &base_dir)
}

/// Turns serde's "unknown field `bimd`, expected one of `bind`, `prefix`" (from a raw struct with
/// `deny_unknown_fields`) into a message naming the key and the closest known one. Other errors
/// pass through unchanged.
fn explain_unknown_key(message: &str) -> Option<(String, String)> {
    let rest = message.split("unknown field `").nth(1)?;
    let (field, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest
        .split("for key")
        .next()
        .unwrap_or(rest)
        .split('`')
        .skip(1)
        .step_by(2)
        .collect();
    let section = message
        .split("for key `")
        .nth(1)
        .and_then(|s| s.split('`').next())
        .filter(|s| !s.is_empty());
    let key = match section {
        Some(section) => format!("{section}.{field}"),
        None => field.to_owned(),
    };
    let suggestion = expected
        .iter()
        .map(|candidate| (edit_distance(field, candidate), *candidate))
        .filter(|(distance, _)| *distance <= 3)
        .min();
    let text = match suggestion {
        Some((_, candidate)) => {
            let known = match section {
                Some(section) => format!("{section}.{candidate}"),
                None => candidate.to_owned(),
            };
            format!("unknown configuration key (did you mean {known}?)")
        }
        None if expected.is_empty() => "unknown configuration key".to_owned(),
        None => format!(
            "unknown configuration key (known here: {})",
            expected.join(", ")
        ),
    };
    Some((key, text))
}

/// Levenshtein distance over characters (keys are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}
