//! The settings types: `RawSettings` as read from the layers, validated ("parse, then build") into
//! [`Settings`], which the rest of the service trusts without re-checking.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::store::{RawStore, StoreSettings};

/// A configuration refusal naming the offending key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The public test-only secrets shipped in `config/local.toml`. The `production` environment refuses
/// every one of them (a test pins that local.toml uses only these, so the list cannot drift).
pub const DEV_SECRETS: &[(&str, &str)] = &[
    (
        "crypto.fingerprint_key",
        "6465762d6f6e6c792d66696e6765727072696e742d6b65792d6e6f742d736563726574",
    ),
    ("crypto.cvk_a", "0123456789ABCDEF"),
    ("crypto.cvk_b", "FEDCBA9876543210"),
    ("staff.bootstrap_token", "dev-operator-token"),
    ("events.secret", super::events::DEV_EVENTS_SECRET),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSettings {
    server: RawServer,
    store: RawStore,
    issuer: RawIssuer,
    crypto: RawCrypto,
    #[serde(default)]
    cards: RawCards,
    #[serde(default)]
    staff: RawStaff,
    rules: RawRules,
    otp: RawOtp,
    #[serde(default)]
    tsh: RawTsh,
    #[serde(default)]
    events: super::events::RawEvents,
    #[serde(default)]
    token_for_token: super::token_for_token::RawTokenForToken,
    lifecycle: super::lifecycle::RawLifecycle,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    console: RawConsole,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    bind: String,
    #[serde(default = "default_prefix")]
    prefix: String,
    #[serde(default = "default_max_body")]
    max_body_bytes: usize,
    #[serde(default)]
    workers: Option<usize>,
    #[serde(default = "default_request_timeout")]
    request_timeout_ms: u64,
    #[serde(default)]
    tls: RawTls,
}

fn default_request_timeout() -> u64 {
    10_000
}

fn default_prefix() -> String {
    "/issuer/igwapi/v2.0".to_owned()
}

fn default_max_body() -> usize {
    64 * 1024
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    #[serde(default)]
    cert: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    client_ca: Option<String>,
    #[serde(default)]
    crl: Option<String>,
    #[serde(default = "default_tls_handshake_timeout")]
    handshake_timeout_ms: u64,
}

fn default_tls_handshake_timeout() -> u64 {
    3000
}

/// sled's default cache is 1 GiB; 32 MiB keeps a store of a million tokens under the 128 MiB
/// resident target (issue 15) while the hot records of a digitization stay cached.
pub const DEFAULT_STORE_CACHE_MB: u64 = 32;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCrypto {
    key_dir: String,
    #[serde(default)]
    fingerprint_key: String,
    #[serde(default)]
    cvk_a: String,
    #[serde(default)]
    cvk_b: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCards {
    #[serde(default)]
    seed_file: Option<String>,
    #[serde(default)]
    products: Vec<RawProduct>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProduct {
    prefix: String,
    product_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStaff {
    #[serde(default)]
    bootstrap_token: Option<String>,
    /// Named staff tokens, stored as SHA-256 hashes: a TOML array of tables, or (from an
    /// environment variable) the same list as a JSON string.
    #[serde(default)]
    tokens: Option<RawStaffTokens>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawStaffTokens {
    List(Vec<RawStaffToken>),
    Json(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStaffToken {
    #[serde(default)]
    name: String,
    #[serde(default)]
    sha256: String,
    #[serde(default)]
    role: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    file: String,
    /// Optional second rules file evaluated beside the live one, never answered to TSH.
    #[serde(default)]
    shadow_file: Option<String>,
    #[serde(default)]
    standin: RawStandin,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStandin {
    /// Suspend (through TSH's updateCardState) a token the network approved but our rules refuse.
    #[serde(default)]
    auto_suspend: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOtp {
    #[serde(default)]
    webhook_url: String,
    #[serde(default = "default_otp_timeout")]
    timeout_ms: u64,
    #[serde(default = "default_rate_count")]
    rate_limit_count: u32,
    #[serde(default = "default_rate_window")]
    rate_limit_window_secs: u64,
}

fn default_otp_timeout() -> u64 {
    3000
}
fn default_rate_count() -> u32 {
    5
}
fn default_rate_window() -> u64 {
    3600
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTsh {
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    timeout_ms: Option<u64>,
    /// The issuer's client certificate chain (PEM) and key presented to TSH (mutual TLS).
    #[serde(default)]
    client_cert: Option<String>,
    #[serde(default)]
    client_key: Option<String>,
    /// CA bundle (PEM) TSH's server certificate must chain to; unset = the platform's roots.
    #[serde(default)]
    ca_file: Option<String>,
    /// TSH's encryption certificate (PEM): `fpanDetails` of `updateCard` are sealed for it.
    #[serde(default)]
    encryption_cert: Option<String>,
}

/// `[console]`: the staff console's sessions and sign-in limits (every key optional).
#[derive(Debug, Default, Deserialize)]
struct RawConsole {
    #[serde(default)]
    session_ttl_secs: Option<u64>,
    #[serde(default)]
    login_max_failures: Option<u32>,
    #[serde(default)]
    login_window_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    level: Option<String>,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: String,
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub issuer: IssuerSettings,
    pub crypto: CryptoSettings,
    pub cards: CardsSettings,
    pub staff: StaffSettings,
    pub rules: RulesSettings,
    pub otp: OtpSettings,
    pub tsh: TshSettings,
    pub events: super::events::EventsSettings,
    pub token_for_token: super::token_for_token::TokenForTokenSettings,
    pub lifecycle: super::lifecycle::LifecycleSettings,
    pub log: LogSettings,
    pub console: ConsoleSettings,
}

/// The staff console (`/console/`): how long a sign-in lasts and how many failed sign-ins one
/// client address may make within a window before it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleSettings {
    pub session_ttl_secs: u64,
    pub login_max_failures: u32,
    pub login_window_secs: u64,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// As configured (`host:port`); resolved when binding.
    pub bind: String,
    pub bind_addr: SocketAddr,
    /// Normalised: leading `/`, no trailing `/`.
    pub prefix: String,
    pub max_body_bytes: usize,
    pub workers: Option<usize>,
    /// How long a client may take to send a request's head, and then its whole body.
    pub request_timeout: std::time::Duration,
    pub tls: Option<TlsSettings>,
}

#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: PathBuf,
    /// Optional PEM file of CRLs; a client certificate revoked there is refused.
    pub crl: Option<PathBuf>,
    /// How long a client may take to finish the TLS handshake.
    pub handshake_timeout_ms: u64,
}

#[derive(Debug, Clone)]
pub struct IssuerSettings {
    pub id: String,
}

#[derive(Clone)]
pub struct CryptoSettings {
    pub key_dir: PathBuf,
    pub fingerprint_key: Vec<u8>,
    pub cvk_a: String,
    pub cvk_b: String,
}

impl std::fmt::Debug for CryptoSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CryptoSettings")
            .field("key_dir", &self.key_dir)
            .field("fingerprint_key", &"***")
            .field("cvk_a", &"***")
            .field("cvk_b", &"***")
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct CardsSettings {
    pub seed_file: Option<PathBuf>,
    /// BIN-prefix → product, longest prefix first.
    pub products: Vec<BinProduct>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinProduct {
    pub prefix: String,
    pub product_id: String,
}

impl CardsSettings {
    /// The product for a PAN's leading digits: longest matching prefix wins.
    pub fn product_for_bin(&self, leading_digits: &str) -> Option<&str> {
        self.products
            .iter()
            .find(|p| leading_digits.starts_with(&p.prefix))
            .map(|p| p.product_id.as_str())
    }
}

#[derive(Clone)]
pub struct StaffSettings {
    pub bootstrap_token: Option<String>,
    /// Named tokens (`staff.tokens`), each known only by the SHA-256 of its value.
    pub tokens: Vec<StaffToken>,
}

impl std::fmt::Debug for StaffSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffSettings")
            .field(
                "bootstrap_token",
                &self.bootstrap_token.as_ref().map(|_| "***"),
            )
            .field("tokens", &self.tokens)
            .finish()
    }
}

/// A staff role: `Viewer` reads, `Operator` also writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StaffRole {
    Viewer,
    Operator,
}

impl StaffRole {
    pub fn as_str(&self) -> &'static str {
        match self {
            StaffRole::Viewer => "viewer",
            StaffRole::Operator => "operator",
        }
    }
}

/// One configured staff token: who it is (for the audit trail), the SHA-256 of its value, its role.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffToken {
    pub name: String,
    pub sha256: [u8; 32],
    pub role: StaffRole,
}

impl std::fmt::Debug for StaffToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffToken")
            .field("name", &self.name)
            .field("sha256", &"***")
            .field("role", &self.role)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct RulesSettings {
    pub file: PathBuf,
    pub shadow_file: Option<PathBuf>,
    /// `rules.standin.auto_suspend`: act on a stand-in mismatch, not only flag it.
    pub standin_auto_suspend: bool,
}

#[derive(Debug, Clone)]
pub struct OtpSettings {
    pub webhook_url: String,
    pub timeout_ms: u64,
    pub rate_limit_count: u32,
    pub rate_limit_window_secs: u64,
}

#[derive(Debug, Clone)]
pub struct TshSettings {
    /// Empty = no TSH configured: staff actions that need TSH answer 503.
    pub base_url: String,
    /// Whole-operation deadline of one call to TSH (connect retries included).
    pub timeout_ms: u64,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub encryption_cert: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

/// `[console]`: defaults 8 hours, 5 failures per 15 minutes; bounds keep a typo from disabling them.
fn validate_console(raw: &RawConsole) -> Result<ConsoleSettings, ConfigError> {
    let ttl = raw.session_ttl_secs.unwrap_or(8 * 3600);
    if !(60..=7 * 24 * 3600).contains(&ttl) {
        return Err(ConfigError::new(
            "console.session_ttl_secs",
            "must be between 60 and 604800 (one week)",
        ));
    }
    let failures = raw.login_max_failures.unwrap_or(5);
    if !(1..=1000).contains(&failures) {
        return Err(ConfigError::new(
            "console.login_max_failures",
            "must be between 1 and 1000",
        ));
    }
    let window = raw.login_window_secs.unwrap_or(900);
    if !(1..=86_400).contains(&window) {
        return Err(ConfigError::new(
            "console.login_window_secs",
            "must be between 1 and 86400",
        ));
    }
    Ok(ConsoleSettings {
        session_ttl_secs: ttl,
        login_max_failures: failures,
        login_window_secs: window,
    })
}

fn resolve(base: &Path, raw: &str) -> PathBuf {
    let path = PathBuf::from(raw);
    if path.is_absolute() {
        path
    } else {
        base.join(path)
    }
}

fn non_empty(raw: &Option<String>) -> Option<&str> {
    raw.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

pub(super) fn check_url(key: &str, url: &str) -> Result<(), ConfigError> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() > "http://".len()
        && !url.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(key, "must be an http:// or https:// URL"))
    }
}

pub(super) fn check_hex_key(
    key: &str,
    value: &str,
    exact_len: Option<usize>,
) -> Result<Vec<u8>, ConfigError> {
    let bytes = hex::decode(value.trim())
        .map_err(|_| ConfigError::new(key, "must be hexadecimal (0-9, a-f)"))?;
    match exact_len {
        Some(len) if bytes.len() != len => Err(ConfigError::new(
            key,
            format!("must be exactly {} hex digits", len * 2),
        )),
        None if bytes.len() < 32 => Err(ConfigError::new(
            key,
            "must be at least 32 bytes (64 hex digits)",
        )),
        _ => Ok(bytes),
    }
}

/// `staff.tokens`: unique non-empty names, 64-hex-digit SHA-256 hashes, role viewer or operator.
fn validate_staff_tokens(raw: Option<RawStaffTokens>) -> Result<Vec<StaffToken>, ConfigError> {
    let list = match raw {
        None => Vec::new(),
        Some(RawStaffTokens::List(list)) => list,
        Some(RawStaffTokens::Json(text)) if text.trim().is_empty() => Vec::new(),
        Some(RawStaffTokens::Json(text)) => serde_json::from_str(&text).map_err(|e| {
            ConfigError::new(
                "staff.tokens",
                format!("must be a list of {{name, sha256, role}} (as TOML, or JSON text): {e}"),
            )
        })?,
    };
    let mut tokens: Vec<StaffToken> = Vec::with_capacity(list.len());
    for (i, t) in list.into_iter().enumerate() {
        let name = t.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(ConfigError::new(
                format!("staff.tokens[{i}].name"),
                "must be 1 to 64 printable characters",
            ));
        }
        if name == "bootstrap" || tokens.iter().any(|o| o.name == name) {
            return Err(ConfigError::new(
                format!("staff.tokens[{i}].name"),
                format!("{name:?} is used twice (\"bootstrap\" names staff.bootstrap_token)"),
            ));
        }
        let sha256: [u8; 32] = hex::decode(t.sha256.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                ConfigError::new(
                    format!("staff.tokens[{i}].sha256"),
                    "must be the SHA-256 of the token as 64 hex digits (e.g. printf %s TOKEN | sha256sum)",
                )
            })?;
        let role = match t.role.trim().to_ascii_lowercase().as_str() {
            "viewer" => StaffRole::Viewer,
            "operator" => StaffRole::Operator,
            _ => {
                return Err(ConfigError::new(
                    format!("staff.tokens[{i}].role"),
                    "must be viewer or operator",
                ))
            }
        };
        tokens.push(StaffToken { name, sha256, role });
    }
    Ok(tokens)
}

impl RawSettings {
    /// Validates section by section, in a fixed order (the first refusal is the one reported).
    pub(super) fn validate(self, environment: &str, base: &Path) -> Result<Settings, ConfigError> {
        let production = environment == "production";
        let settings = Settings {
            environment: environment.to_owned(),
            server: self.server.validate(base, production)?,
            store: self.store.validate(|path| resolve(base, path))?,
            issuer: self.issuer.validate()?,
            crypto: self.crypto.validate(base)?,
            cards: self.cards.validate(base)?,
            staff: self.staff.validate()?,
            rules: self.rules.validate(base)?,
            otp: self.otp.validate()?,
            tsh: self.tsh.validate(base)?,
            log: self.log.validate()?,
            console: validate_console(&self.console)?,
            events: self.events.validate(production)?,
            token_for_token: self.token_for_token.validate()?,
            lifecycle: self.lifecycle.validate()?,
        };
        if production {
            settings.refuse_dev_secrets(
                &self.crypto.fingerprint_key,
                &self.crypto.cvk_a,
                &self.crypto.cvk_b,
            )?;
        }
        Ok(settings)
    }
}

impl RawServer {
    /// `[server]`: the listening address, the callback prefix, body and time bounds, TLS.
    fn validate(&self, base: &Path, production: bool) -> Result<ServerSettings, ConfigError> {
        let bind_addr = self
            .bind
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| {
                ConfigError::new("server.bind", "must be host:port, e.g. 127.0.0.1:8080")
            })?;
        let prefix = self.validate_prefix()?;
        if !(1024..=1024 * 1024).contains(&self.max_body_bytes) {
            return Err(ConfigError::new(
                "server.max_body_bytes",
                "must be between 1024 and 1048576",
            ));
        }
        if !(100..=120_000).contains(&self.request_timeout_ms) {
            return Err(ConfigError::new(
                "server.request_timeout_ms",
                "must be between 100 and 120000",
            ));
        }
        if self.workers == Some(0) {
            return Err(ConfigError::new("server.workers", "must be at least 1"));
        }
        let tls = self.tls.validate(base)?;
        if production && tls.is_none() {
            return Err(ConfigError::new(
                "server.tls.cert",
                "production requires mutual TLS; plain HTTP is for local development only",
            ));
        }
        Ok(ServerSettings {
            bind: self.bind.clone(),
            bind_addr,
            prefix,
            max_body_bytes: self.max_body_bytes,
            workers: self.workers,
            request_timeout: std::time::Duration::from_millis(self.request_timeout_ms),
            tls,
        })
    }

    /// `server.prefix`: a plain path, one leading slash, no trailing slash.
    fn validate_prefix(&self) -> Result<String, ConfigError> {
        let mut prefix = self.prefix.trim().trim_end_matches('/').to_owned();
        if !prefix.is_empty() && !prefix.starts_with('/') {
            prefix.insert(0, '/');
        }
        if prefix.contains(char::is_whitespace) || prefix.contains(['{', '}']) {
            return Err(ConfigError::new(
                "server.prefix",
                "must be a plain URL path",
            ));
        }
        Ok(prefix)
    }
}

impl RawTls {
    /// `[server.tls]`: off unless `cert` is set; then the key and the client CA are required.
    fn validate(&self, base: &Path) -> Result<Option<TlsSettings>, ConfigError> {
        let Some(cert) = non_empty(&self.cert) else {
            return Ok(None);
        };
        let key = non_empty(&self.key).ok_or_else(|| {
            ConfigError::new("server.tls.key", "required when server.tls.cert is set")
        })?;
        let client_ca = non_empty(&self.client_ca).ok_or_else(|| {
            ConfigError::new(
                "server.tls.client_ca",
                "required when server.tls.cert is set (TSH must present a client certificate)",
            )
        })?;
        if !(100..=60_000).contains(&self.handshake_timeout_ms) {
            return Err(ConfigError::new(
                "server.tls.handshake_timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        Ok(Some(TlsSettings {
            cert: resolve(base, cert),
            key: resolve(base, key),
            client_ca: resolve(base, client_ca),
            crl: non_empty(&self.crl).map(|f| resolve(base, f)),
            handshake_timeout_ms: self.handshake_timeout_ms,
        }))
    }
}

impl RawIssuer {
    /// `issuer.id`: the 10 characters every callback's `x-issuer-id` must carry.
    fn validate(&self) -> Result<IssuerSettings, ConfigError> {
        let id = self.id.trim().to_owned();
        if id.chars().count() != 10 || !id.chars().all(|c| c.is_ascii_graphic()) {
            return Err(ConfigError::new(
                "issuer.id",
                "must be exactly 10 printable ASCII characters (it is compared with x-issuer-id)",
            ));
        }
        Ok(IssuerSettings { id })
    }
}

impl RawCrypto {
    /// `[crypto]`: the key directory, the fingerprint key, and two distinct CVV keys.
    fn validate(&self, base: &Path) -> Result<CryptoSettings, ConfigError> {
        if self.key_dir.trim().is_empty() {
            return Err(ConfigError::new("crypto.key_dir", "must not be empty"));
        }
        if self.fingerprint_key.trim().is_empty() {
            return Err(ConfigError::new(
                "crypto.fingerprint_key",
                "is required (hex, at least 32 bytes); set TSH_ISSUER__CRYPTO__FINGERPRINT_KEY",
            ));
        }
        let fingerprint_key = check_hex_key("crypto.fingerprint_key", &self.fingerprint_key, None)?;
        check_hex_key("crypto.cvk_a", &self.cvk_a, Some(8))?;
        check_hex_key("crypto.cvk_b", &self.cvk_b, Some(8))?;
        if self.cvk_a.eq_ignore_ascii_case(&self.cvk_b) {
            return Err(ConfigError::new(
                "crypto.cvk_b",
                "must differ from crypto.cvk_a",
            ));
        }
        Ok(CryptoSettings {
            key_dir: resolve(base, self.key_dir.trim()),
            fingerprint_key,
            cvk_a: self.cvk_a.trim().to_owned(),
            cvk_b: self.cvk_b.trim().to_owned(),
        })
    }
}

impl RawCards {
    /// `[cards]`: the seed file and the BIN-range product table, longest prefix first.
    fn validate(&self, base: &Path) -> Result<CardsSettings, ConfigError> {
        let mut products = Vec::with_capacity(self.products.len());
        for (i, p) in self.products.iter().enumerate() {
            products.push(p.validate(i)?);
        }
        products.sort_by_key(|p| std::cmp::Reverse(p.prefix.len()));
        Ok(CardsSettings {
            seed_file: non_empty(&self.seed_file).map(|f| resolve(base, f)),
            products,
        })
    }
}

impl RawProduct {
    /// `cards.products[i]`: 1 to 11 leading digits and a product id.
    fn validate(&self, i: usize) -> Result<BinProduct, ConfigError> {
        let prefix = self.prefix.trim();
        if prefix.is_empty() || prefix.len() > 11 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::new(
                format!("cards.products[{i}].prefix"),
                "must be 1 to 11 digits",
            ));
        }
        if self.product_id.trim().is_empty() {
            return Err(ConfigError::new(
                format!("cards.products[{i}].product_id"),
                "must not be empty",
            ));
        }
        Ok(BinProduct {
            prefix: prefix.to_owned(),
            product_id: self.product_id.trim().to_owned(),
        })
    }
}

impl RawStaff {
    /// `[staff]`: the optional bootstrap token (16 characters at least) and the named tokens.
    fn validate(self) -> Result<StaffSettings, ConfigError> {
        let bootstrap_token = non_empty(&self.bootstrap_token).map(str::to_owned);
        if bootstrap_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(ConfigError::new(
                "staff.bootstrap_token",
                "must be at least 16 characters",
            ));
        }
        Ok(StaffSettings {
            bootstrap_token,
            tokens: validate_staff_tokens(self.tokens)?,
        })
    }
}

impl RawRules {
    /// `[rules]`: the live rules file, the optional shadow file, the stand-in policy.
    fn validate(&self, base: &Path) -> Result<RulesSettings, ConfigError> {
        if self.file.trim().is_empty() {
            return Err(ConfigError::new("rules.file", "must not be empty"));
        }
        Ok(RulesSettings {
            file: resolve(base, self.file.trim()),
            shadow_file: non_empty(&self.shadow_file).map(|f| resolve(base, f)),
            standin_auto_suspend: self.standin.auto_suspend,
        })
    }
}

impl RawOtp {
    /// `[otp]`: the delivery webhook, its timeout, and the per-card rate limit.
    fn validate(&self) -> Result<OtpSettings, ConfigError> {
        let webhook_url = self.webhook_url.trim().to_owned();
        check_url("otp.webhook_url", &webhook_url)?;
        if !(100..=60_000).contains(&self.timeout_ms) {
            return Err(ConfigError::new(
                "otp.timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        if self.rate_limit_count == 0 {
            return Err(ConfigError::new(
                "otp.rate_limit_count",
                "must be at least 1",
            ));
        }
        if self.rate_limit_window_secs == 0 {
            return Err(ConfigError::new(
                "otp.rate_limit_window_secs",
                "must be at least 1",
            ));
        }
        Ok(OtpSettings {
            webhook_url,
            timeout_ms: self.timeout_ms,
            rate_limit_count: self.rate_limit_count,
            rate_limit_window_secs: self.rate_limit_window_secs,
        })
    }
}

impl RawTsh {
    /// `[tsh]`: TSH's inbound API (empty base URL = not configured), its timeout and our mTLS pair.
    fn validate(&self, base: &Path) -> Result<TshSettings, ConfigError> {
        let base_url = self.base_url.trim().trim_end_matches('/').to_owned();
        if !base_url.is_empty() {
            check_url("tsh.base_url", &base_url)?;
        }
        let timeout_ms = self.timeout_ms.unwrap_or(5000);
        if !(100..=120_000).contains(&timeout_ms) {
            return Err(ConfigError::new(
                "tsh.timeout_ms",
                "must be between 100 and 120000",
            ));
        }
        let client_cert = non_empty(&self.client_cert).map(|f| resolve(base, f));
        let client_key = non_empty(&self.client_key).map(|f| resolve(base, f));
        match (&client_cert, &client_key) {
            (Some(_), None) => Err(ConfigError::new(
                "tsh.client_key",
                "required when tsh.client_cert is set",
            )),
            (None, Some(_)) => Err(ConfigError::new(
                "tsh.client_cert",
                "required when tsh.client_key is set",
            )),
            _ => Ok(TshSettings {
                base_url,
                timeout_ms,
                client_cert,
                client_key,
                ca_file: non_empty(&self.ca_file).map(|f| resolve(base, f)),
                encryption_cert: non_empty(&self.encryption_cert).map(|f| resolve(base, f)),
            }),
        }
    }
}

impl RawLog {
    /// `[log]`: pretty (default) or JSON lines, and the level filter (default `info`).
    fn validate(self) -> Result<LogSettings, ConfigError> {
        let format = match self
            .format
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("pretty") | Some("text") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(_) => return Err(ConfigError::new("log.format", "must be pretty or json")),
        };
        Ok(LogSettings {
            format,
            level: self.level.unwrap_or_else(|| "info".to_owned()),
        })
    }
}

impl Settings {
    /// Production must not run on the public dev keys shipped under `fixtures/` and `config/local.toml`.
    fn refuse_dev_secrets(
        &self,
        fingerprint_hex: &str,
        cvk_a: &str,
        cvk_b: &str,
    ) -> Result<(), ConfigError> {
        let given = [
            ("crypto.fingerprint_key", fingerprint_hex),
            ("crypto.cvk_a", cvk_a),
            ("crypto.cvk_b", cvk_b),
            (
                "staff.bootstrap_token",
                self.staff.bootstrap_token.as_deref().unwrap_or(""),
            ),
        ];
        for (key, value) in given {
            if DEV_SECRETS
                .iter()
                .any(|(k, dev)| *k == key && dev.eq_ignore_ascii_case(value.trim()))
            {
                return Err(ConfigError::new(
                    key,
                    "is a public development value; production refuses dev keys",
                ));
            }
        }
        let dev_dir = self
            .crypto
            .key_dir
            .components()
            .collect::<Vec<_>>()
            .windows(2)
            .any(|w| w[0].as_os_str() == "fixtures" && w[1].as_os_str() == "dev-keys");
        if self
            .tsh
            .encryption_cert
            .as_ref()
            .is_some_and(|c| c.components().any(|part| part.as_os_str() == "fixtures"))
        {
            return Err(ConfigError::new(
                "tsh.encryption_cert",
                "points at the dev TSH certificate under fixtures/; production refuses dev keys",
            ));
        }
        if dev_dir {
            return Err(ConfigError::new(
                "crypto.key_dir",
                "points at fixtures/dev-keys; production refuses dev keys",
            ));
        }
        if let Some(seed) = &self.cards.seed_file {
            if seed.components().any(|c| c.as_os_str() == "fixtures") {
                return Err(ConfigError::new(
                    "cards.seed_file",
                    "points at the dev cards under fixtures/; production refuses dev data",
                ));
            }
        }
        Ok(())
    }
}
