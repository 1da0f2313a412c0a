//! The `[store]` section: which engine (`sled`, the embedded default, or `postgres`, shared by any
//! number of instances), where its data lives, and the PostgreSQL pool's limits. Validated here;
//! connecting is the store's job. The connection URL may hold a password: it is only ever shown
//! through [`masked_url`].

use std::path::PathBuf;

use serde::Deserialize;

use super::settings::{ConfigError, DEFAULT_STORE_CACHE_MB};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    path: String,
    /// sled's page cache, MiB (absent: [`DEFAULT_STORE_CACHE_MB`]).
    #[serde(default)]
    cache_mb: Option<u64>,
    #[serde(default)]
    backend: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default = "default_pool_size")]
    pool_size: usize,
    #[serde(default = "default_statement_timeout_ms")]
    statement_timeout_ms: u64,
    #[serde(default = "default_connect_timeout_ms")]
    connect_timeout_ms: u64,
}

fn default_pool_size() -> usize {
    16
}

fn default_statement_timeout_ms() -> u64 {
    5000
}

fn default_connect_timeout_ms() -> u64 {
    3000
}

/// The storage engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreBackend {
    Sled,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub backend: StoreBackend,
    /// The sled directory (used when the backend is sled).
    pub path: PathBuf,
    /// sled's page cache (`store.cache_mb`), bytes.
    pub cache_bytes: u64,
    /// Set when the backend is postgres.
    pub postgres: Option<PostgresSettings>,
}

#[derive(Clone)]
pub struct PostgresSettings {
    /// `postgres://user:password@host:port/database` or libpq `key=value` form. Secret.
    pub url: String,
    /// Connections per instance.
    pub pool_size: usize,
    /// Server-side limit on any one statement.
    pub statement_timeout_ms: u64,
    pub connect_timeout_ms: u64,
}

impl std::fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("url", &masked_url(&self.url))
            .field("pool_size", &self.pool_size)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .finish()
    }
}

/// The URL with any password replaced by `***` (URL form `user:pw@` and `password=` keys).
pub fn masked_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        // The authority ends at the first '/', '?' or '#'; its userinfo at the last '@'.
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let authority = match authority.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***@{host}"),
                None => format!("{userinfo}@{host}"),
            },
            None => authority.to_owned(),
        };
        let tail = mask_password_pairs(tail, '&');
        return format!("{scheme}://{authority}{tail}");
    }
    mask_password_pairs(url, ' ')
}

/// Masks `password=…` in `key=value` lists (libpq form, URL query strings).
fn mask_password_pairs(text: &str, separator: char) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("password=") {
        let preceded_ok = at == 0 || {
            let before = rest[..at].chars().last().unwrap_or(separator);
            before == separator || before == '?' || before == ' '
        };
        let value_start = at + "password=".len();
        out.push_str(&rest[..value_start]);
        let value_len = rest[value_start..]
            .find([separator, ' '])
            .unwrap_or(rest.len() - value_start);
        if preceded_ok {
            out.push_str("***");
        } else {
            out.push_str(&rest[value_start..value_start + value_len]);
        }
        rest = &rest[value_start + value_len..];
    }
    out.push_str(rest);
    out
}

impl RawStore {
    pub(super) fn validate(
        &self,
        resolve: impl Fn(&str) -> PathBuf,
    ) -> Result<StoreSettings, ConfigError> {
        let backend = match self
            .backend
            .as_deref()
            .map(|b| b.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("") | Some("sled") => StoreBackend::Sled,
            Some("postgres") | Some("postgresql") => StoreBackend::Postgres,
            Some(_) => {
                return Err(ConfigError::new(
                    "store.backend",
                    "must be \"sled\" or \"postgres\"",
                ))
            }
        };
        let path = self.path.trim();
        if backend == StoreBackend::Sled && path.is_empty() {
            return Err(ConfigError::new("store.path", "must not be empty"));
        }
        let cache_mb = self.cache_mb.unwrap_or(DEFAULT_STORE_CACHE_MB);
        if !(1..=65_536).contains(&cache_mb) {
            return Err(ConfigError::new(
                "store.cache_mb",
                "must be between 1 and 65536 (MiB)",
            ));
        }
        let postgres = match backend {
            StoreBackend::Sled => None,
            StoreBackend::Postgres => Some(self.postgres()?),
        };
        Ok(StoreSettings {
            backend,
            path: resolve(if path.is_empty() { "." } else { path }),
            cache_bytes: cache_mb * 1024 * 1024,
            postgres,
        })
    }

    fn postgres(&self) -> Result<PostgresSettings, ConfigError> {
        let url = self.url.as_deref().map(str::trim).unwrap_or("");
        if url.is_empty() {
            return Err(ConfigError::new(
                "store.url",
                "is required when store.backend is \"postgres\" (e.g. postgres://user@127.0.0.1:5432/tsh)",
            ));
        }
        let url_form = url.starts_with("postgres://") || url.starts_with("postgresql://");
        if !url_form && !url.contains('=') {
            return Err(ConfigError::new(
                "store.url",
                format!(
                    "{}: expected postgres://… or key=value pairs",
                    masked_url(url)
                ),
            ));
        }
        if self.pool_size == 0 || self.pool_size > 1000 {
            return Err(ConfigError::new("store.pool_size", "must be 1..=1000"));
        }
        if self.statement_timeout_ms == 0 {
            return Err(ConfigError::new(
                "store.statement_timeout_ms",
                "must be above 0",
            ));
        }
        if self.connect_timeout_ms == 0 {
            return Err(ConfigError::new(
                "store.connect_timeout_ms",
                "must be above 0",
            ));
        }
        Ok(PostgresSettings {
            url: url.to_owned(),
            pool_size: self.pool_size,
            statement_timeout_ms: self.statement_timeout_ms,
            connect_timeout_ms: self.connect_timeout_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::masked_url;

    #[test]
    fn passwords_never_show_in_a_masked_url() {
        let cases = [
            (
                "postgres://tsh:s3cret@127.0.0.1:5432/tsh",
                "postgres://tsh:***@127.0.0.1:5432/tsh",
            ),
            (
                "postgresql://tsh@db/tsh?password=s3cret&sslmode=disable",
                "postgresql://tsh@db/tsh?password=***&sslmode=disable",
            ),
            (
                "host=db user=tsh password=s3cret dbname=tsh",
                "host=db user=tsh password=*** dbname=tsh",
            ),
            ("postgres://db/tsh", "postgres://db/tsh"),
            ("postgres://a:b:c@h/d", "postgres://a:***@h/d"),
        ];
        for (url, expected) in cases {
            let shown = masked_url(url);
            assert_eq!(shown, expected, "case {url}");
            assert!(!shown.contains("s3cret"), "case {url}");
        }
    }
}
