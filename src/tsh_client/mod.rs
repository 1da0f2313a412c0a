//! The client for TSH's inbound API (contract §5): `updateCardState`, `getCardInfo`,
//! `getTokenInfo` and `updateCard`, over reqwest + rustls, with the issuer's client certificate
//! when `tsh.client_cert` / `tsh.client_key` are set and TSH's CA bundle from `tsh.ca_file`.
//!
//! Every call carries `x-issuer-id` and the `x-correlation-id` the caller chose for the operation
//! (see [`new_correlation_id`]): TSH echoes it on the `notifyVirtualCardChange` that answers, which
//! is how the service matches confirmations to requests. The whole call, retries included, is
//! bounded by `tsh.timeout_ms`. Only connection failures are retried (nothing reached TSH, so a
//! retry cannot apply an action twice); a timeout after the request was sent is never retried.
//!
//! Must not: log or keep card data (`fpanDetails` is sealed here, the clear JSON zeroized), touch
//! the store, or know about HTTP handlers.

pub mod wire;

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::config::TshSettings;
use crate::crypto::seal::{KeyTransport, Recipient};
pub use wire::{
    CardInfo, CardStateAction, TokenInfo, UpdateCard, UpdateCardStateRequest, VirtualCardInfo,
};
use wire::{FpanDetails, GetCardInfoRequest, GetTokenInfoRequest, TshErrorBody, UpdateCardRequest};

/// Connection failures retried per call (so at most 1 + this many attempts).
const MAX_CONNECT_RETRIES: u32 = 2;
/// Pause before retry n is n × this.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// Why a call to TSH did not succeed. Messages are fit for staff and logs: no card data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TshError {
    #[error("TSH is not configured (tsh.base_url is empty)")]
    NotConfigured,
    #[error("tsh.encryption_cert is not configured: card data cannot be sent to TSH")]
    NoEncryptionCert,
    #[error("TSH did not answer within {0} ms")]
    Timeout(u64),
    #[error("TSH is unreachable ({attempts} connection attempts): {reason}")]
    Unreachable { attempts: u32, reason: String },
    #[error("TSH refused the request: HTTP {status}{}", describe_refusal(.response_code, .message))]
    Refused {
        status: u16,
        response_code: Option<String>,
        message: Option<String>,
    },
    #[error("TSH answered with an unreadable body: {0}")]
    InvalidResponse(String),
    #[error("the request to TSH failed: {0}")]
    Transport(String),
    #[error("card data could not be encrypted for TSH: {0}")]
    Encrypt(String),
}

impl TshError {
    /// A fixed short word for metrics (`timeout`, `unreachable`, `refused`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            TshError::NotConfigured => "not_configured",
            TshError::NoEncryptionCert => "not_configured",
            TshError::Timeout(_) => "timeout",
            TshError::Unreachable { .. } => "unreachable",
            TshError::Refused { .. } => "refused",
            TshError::InvalidResponse(_) => "invalid_response",
            TshError::Transport(_) => "transport",
            TshError::Encrypt(_) => "encrypt",
        }
    }
}

fn describe_refusal(code: &Option<String>, message: &Option<String>) -> String {
    match (code, message) {
        (Some(c), Some(m)) => format!(", responseCode {c}: {m}"),
        (Some(c), None) => format!(", responseCode {c}"),
        (None, Some(m)) => format!(": {m}"),
        (None, None) => String::new(),
    }
}

/// Why the client could not be built from the settings; names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct TshClientBuildError {
    pub key: &'static str,
    pub message: String,
}

fn build_error(key: &'static str, message: impl ToString) -> TshClientBuildError {
    TshClientBuildError {
        key,
        message: message.to_string(),
    }
}

struct Configured {
    http: reqwest::Client,
    base_url: String,
}

/// The TSH client (cheap to share; one connection pool).
pub struct TshClient {
    configured: Option<Configured>,
    issuer_id: String,
    timeout_ms: u64,
    encryption: Option<Recipient>,
}

impl std::fmt::Debug for TshClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TshClient")
            .field(
                "base_url",
                &self.configured.as_ref().map(|c| c.base_url.as_str()),
            )
            .field("timeout_ms", &self.timeout_ms)
            .field("encryption_cert", &self.encryption.is_some())
            .finish()
    }
}

/// A fresh correlation id for one issuer-initiated operation (`iss-` + 32 hex digits).
pub fn new_correlation_id() -> String {
    let mut bytes = [0u8; 16];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // The system RNG failing is not recoverable in any useful way; fall back to time + a
        // counter so ids stay unique within this process.
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        bytes[..8].copy_from_slice(&nanos.to_be_bytes());
        bytes[8..].copy_from_slice(&N.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    }
    format!("iss-{}", hex::encode(bytes))
}

impl TshClient {
    /// Builds the client; files named in the settings are read now, so a bad one stops startup.
    pub fn new(settings: &TshSettings, issuer_id: &str) -> Result<TshClient, TshClientBuildError> {
        let read = |key: &'static str, path: &std::path::Path| {
            std::fs::read(path).map_err(|e| build_error(key, format!("{}: {e}", path.display())))
        };
        let encryption = match &settings.encryption_cert {
            None => None,
            Some(path) => {
                let pem = read("tsh.encryption_cert", path)?;
                let pem = String::from_utf8(pem)
                    .map_err(|_| build_error("tsh.encryption_cert", "is not a PEM file"))?;
                Some(Recipient::from_pem(&pem).map_err(|e| build_error("tsh.encryption_cert", e))?)
            }
        };
        let configured = if settings.base_url.is_empty() {
            None
        } else {
            let timeout = Duration::from_millis(settings.timeout_ms);
            let mut builder = reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(2)))
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("tsh-issuer/", env!("CARGO_PKG_VERSION")));
            if let (Some(cert), Some(key)) = (&settings.client_cert, &settings.client_key) {
                let mut pem = Zeroizing::new(read("tsh.client_cert", cert)?);
                pem.push(b'\n');
                pem.extend_from_slice(&Zeroizing::new(read("tsh.client_key", key)?));
                let identity = reqwest::Identity::from_pem(&pem)
                    .map_err(|e| build_error("tsh.client_key", e))?;
                builder = builder.identity(identity);
            }
            if let Some(ca) = &settings.ca_file {
                let roots = reqwest::Certificate::from_pem_bundle(&read("tsh.ca_file", ca)?)
                    .map_err(|e| build_error("tsh.ca_file", e))?;
                if roots.is_empty() {
                    return Err(build_error("tsh.ca_file", "holds no certificate"));
                }
                builder = builder.tls_certs_only(roots);
            }
            let http = builder
                .build()
                .map_err(|e| build_error("tsh.base_url", e))?;
            Some(Configured {
                http,
                base_url: settings.base_url.clone(),
            })
        };
        Ok(TshClient {
            configured,
            issuer_id: issuer_id.to_owned(),
            timeout_ms: settings.timeout_ms,
            encryption,
        })
    }

    pub fn is_configured(&self) -> bool {
        self.configured.is_some()
    }

    pub fn can_encrypt(&self) -> bool {
        self.encryption.is_some()
    }

    pub fn timeout_ms(&self) -> u64 {
        self.timeout_ms
    }

    /// `updateCardState`: suspend / resume / delete one token or every token of a card.
    pub async fn update_card_state(
        &self,
        correlation_id: &str,
        request: &UpdateCardStateRequest,
    ) -> Result<(), TshError> {
        self.post::<_, serde_json::Value>("updateCardState", correlation_id, request)
            .await
            .map(drop)
    }

    /// `getCardInfo`: the tokens TSH knows for a card.
    pub async fn get_card_info(
        &self,
        correlation_id: &str,
        issuer_card_ref_id: &str,
    ) -> Result<CardInfo, TshError> {
        let request = GetCardInfoRequest {
            issuer_card_ref_id: issuer_card_ref_id.to_owned(),
        };
        self.post("getCardInfo", correlation_id, &request).await
    }

    /// `getTokenInfo`: one token's details as TSH has them.
    pub async fn get_token_info(
        &self,
        correlation_id: &str,
        issuer_card_ref_id: &str,
        virtual_card_id: &str,
    ) -> Result<TokenInfo, TshError> {
        let request = GetTokenInfoRequest {
            issuer_card_ref_id: issuer_card_ref_id.to_owned(),
            virtual_card_id: virtual_card_id.to_owned(),
        };
        self.post("getTokenInfo", correlation_id, &request).await
    }

    /// Seals `fpanDetails` for TSH's encryption certificate (RSA-OAEP-SHA256, AES-256-CBC).
    pub fn seal_fpan_details(&self, update: &UpdateCard<'_>) -> Result<String, TshError> {
        let recipient = self.encryption.as_ref().ok_or(TshError::NoEncryptionCert)?;
        let details = FpanDetails {
            old_fpan: None,
            old_exp_date: update.old_exp.clone(),
            new_fpan: update.new_pan,
            new_exp_date: update.new_exp.clone(),
        };
        let clear = Zeroizing::new(
            serde_json::to_vec(&details).map_err(|e| TshError::Encrypt(e.to_string()))?,
        );
        recipient
            .seal_base64(&clear, KeyTransport::OaepSha256)
            .map_err(|e| TshError::Encrypt(e.to_string()))
    }

    /// `updateCard`: new PAN and/or expiry for a card's tokens; `fpanDetails` sealed here.
    pub async fn update_card(
        &self,
        correlation_id: &str,
        update: &UpdateCard<'_>,
    ) -> Result<(), TshError> {
        if self.configured.is_none() {
            return Err(TshError::NotConfigured);
        }
        let request = UpdateCardRequest {
            issuer_card_ref_id: update.issuer_card_ref_id.clone(),
            new_issuer_card_ref_id: update.new_issuer_card_ref_id.clone(),
            fpan_details: self.seal_fpan_details(update)?,
        };
        self.post::<_, serde_json::Value>("updateCard", correlation_id, &request)
            .await
            .map(drop)
    }

    /// POSTs one operation, retrying connection failures only, all within `tsh.timeout_ms`.
    async fn post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        operation: &str,
        correlation_id: &str,
        body: &Req,
    ) -> Result<Resp, TshError> {
        let configured = self.configured.as_ref().ok_or(TshError::NotConfigured)?;
        let url = format!("{}/{operation}", configured.base_url);
        let attempts = async {
            let mut attempt = 0u32;
            loop {
                attempt += 1;
                let sent = configured
                    .http
                    .post(&url)
                    .header("x-correlation-id", correlation_id)
                    .header("x-issuer-id", &self.issuer_id)
                    .json(body)
                    .send()
                    .await;
                match sent {
                    Ok(response) => return read_answer(response).await,
                    Err(e) if e.is_connect() && attempt <= MAX_CONNECT_RETRIES => {
                        tracing::warn!(operation, attempt, error = %cause_chain(&e), "TSH connection failed; retrying");
                        tokio::time::sleep(RETRY_BACKOFF * attempt).await;
                    }
                    Err(e) if e.is_timeout() => return Err(TshError::Timeout(self.timeout_ms)),
                    Err(e) if e.is_connect() => {
                        return Err(TshError::Unreachable {
                            attempts: attempt,
                            reason: cause_chain(&e),
                        })
                    }
                    Err(e) => return Err(TshError::Transport(cause_chain(&e))),
                }
            }
        };
        let result = tokio::time::timeout(Duration::from_millis(self.timeout_ms), attempts)
            .await
            .unwrap_or(Err(TshError::Timeout(self.timeout_ms)));
        match &result {
            Ok(_) => tracing::info!(operation, correlation_id, "TSH call succeeded"),
            Err(e) => tracing::warn!(operation, correlation_id, error = %e, "TSH call failed"),
        }
        crate::metrics::tsh_call(
            operation,
            result.as_ref().map_or_else(TshError::kind, |_| "ok"),
        );
        result
    }
}

async fn read_answer<Resp: DeserializeOwned>(
    response: reqwest::Response,
) -> Result<Resp, TshError> {
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| {
        if e.is_timeout() {
            TshError::InvalidResponse("the answer did not arrive in time".to_owned())
        } else {
            TshError::Transport(cause_chain(&e))
        }
    })?;
    if !status.is_success() {
        let body: TshErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
        return Err(TshError::Refused {
            status: status.as_u16(),
            response_code: body.response_code.map(|c| match c {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            }),
            message: body
                .error_message
                .map(|m| m.chars().filter(|c| !c.is_control()).take(200).collect()),
        });
    }
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &bytes
    };
    serde_json::from_slice(bytes).map_err(|e| TshError::InvalidResponse(e.to_string()))
}

/// The error and its sources on one line (reqwest's top-level message alone says little).
fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_ids_are_fresh_and_fit_the_header() {
        let a = new_correlation_id();
        let b = new_correlation_id();
        assert_ne!(a, b);
        assert!(a.len() <= 64 && a.starts_with("iss-"), "{a}");
    }

    #[test]
    fn refusals_name_tsh_response_code() {
        let e = TshError::Refused {
            status: 400,
            response_code: Some("119".into()),
            message: Some("unknown virtual card".into()),
        };
        assert_eq!(
            e.to_string(),
            "TSH refused the request: HTTP 400, responseCode 119: unknown virtual card"
        );
    }
}
