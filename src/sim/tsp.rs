//! The simulated TSP core behind the requestor front doors (`frontdoors/`): given a card (PAN,
//! expiry, optional CVV) and a requestor profile, it runs the issuer's real callbacks against a
//! tsh-issuer — `checkCardEligibility`, then `requestCardDigitization` with capture method
//! `ON_FILE`, then on green / yellow a `notifyVirtualCardChange` `ACTIVATE` — under one
//! `x-correlation-id` per session, with the card data sealed for the issuer certificate exactly as
//! TSH does ([`crate::crypto::seal`]).
//!
//! Owns: the session, token allocation (a Luhn-valid token number from a simulator token BIN, a
//! `virtualCardId`, a `tokenReferenceId`, a PAR derived from the card), and the tokens it made,
//! kept in memory (at most [`MAX_TOKENS`]). Tokens are found again by a keyed fingerprint of the
//! PAN (random key per process), never by the PAN itself.
//!
//! Must not: keep, log or answer a clear PAN or CVV (only BIN, last four digits and masked forms
//! leave this module), or talk to anything but the configured issuer URL.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::template::luhn_check_digit;
use crate::crypto::seal::{KeyTransport, Recipient};
use crate::domain::pan::Pan;

/// Tokens kept in memory; the oldest are forgotten first.
pub const MAX_TOKENS: usize = 10_000;
/// Token BIN of the simulator's Visa tokens (the seed 003 sample's token range).
pub const VISA_TOKEN_BIN: &str = "489537";
/// Token BIN of the simulator's Mastercard tokens.
pub const MASTERCARD_TOKEN_BIN: &str = "520473";
/// Token BIN for any other network.
pub const OTHER_TOKEN_BIN: &str = "699999";

/// Where the issuer is and how to reach it.
#[derive(Debug, Clone)]
pub struct TspOptions {
    /// tsh-issuer base URL, e.g. `http://127.0.0.1:8080`.
    pub issuer_url: String,
    /// Callback prefix (`server.prefix`).
    pub prefix: String,
    /// Sent as `x-issuer-id`.
    pub issuer_id: String,
    /// The issuer certificate (PEM) card data is sealed for.
    pub issuer_cert_pem: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

impl TspOptions {
    /// The local defaults: the service on 8080, issuer `ISSUERDEV1`.
    pub fn local(issuer_url: &str, issuer_cert_pem: String) -> TspOptions {
        TspOptions {
            issuer_url: issuer_url.trim_end_matches('/').to_owned(),
            prefix: "/issuer/igwapi/v2.0".to_owned(),
            issuer_id: "ISSUERDEV1".to_owned(),
            issuer_cert_pem,
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// The card network, from the PAN's leading digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    Visa,
    Mastercard,
    Other,
}

impl Network {
    pub fn of(pan: &Pan) -> Network {
        let digits = pan.expose();
        let two: u32 = digits[..2].parse().unwrap_or(0);
        let four: u32 = digits[..4].parse().unwrap_or(0);
        if digits.starts_with('4') {
            Network::Visa
        } else if (51..=55).contains(&two) || (2221..=2720).contains(&four) {
            Network::Mastercard
        } else {
            Network::Other
        }
    }

    /// Lowercase name, as Cybersource's `type` (`visa`, `mastercard`).
    pub fn name(self) -> &'static str {
        match self {
            Network::Visa => "visa",
            Network::Mastercard => "mastercard",
            Network::Other => "other",
        }
    }

    fn token_bin(self) -> &'static str {
        match self {
            Network::Visa => VISA_TOKEN_BIN,
            Network::Mastercard => MASTERCARD_TOKEN_BIN,
            Network::Other => OTHER_TOKEN_BIN,
        }
    }

    fn par_prefix(self) -> &'static str {
        match self {
            Network::Visa => "V001",
            Network::Mastercard => "5001",
            Network::Other => "S001",
        }
    }
}

/// Card data as a requestor hands it over. `Debug` never shows the PAN or CVV.
pub struct CardInput {
    pub pan: Pan,
    /// Expiry as `MMYY`.
    pub exp: String,
    pub cvv: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for CardInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardInput")
            .field("pan", &self.pan.masked())
            .field("exp", &self.exp)
            .field("cvv", &self.cvv.as_ref().map(|_| "***"))
            .finish()
    }
}

impl CardInput {
    /// Parses a PAN (digits, Luhn) and an `MMYY` expiry; the error names the bad field.
    pub fn new(pan: &str, exp_mmyy: &str, cvv: Option<&str>) -> Result<CardInput, String> {
        let pan = Pan::parse(pan).map_err(|e| format!("card number: {e}"))?;
        let month: u32 = exp_mmyy.get(..2).and_then(|m| m.parse().ok()).unwrap_or(0);
        if exp_mmyy.len() != 4
            || !exp_mmyy.chars().all(|c| c.is_ascii_digit())
            || !(1..=12).contains(&month)
        {
            return Err("expiry: expected a month 01-12 and a year".into());
        }
        let cvv = match cvv {
            Some(c) if c.len() == 3 || c.len() == 4 => {
                if !c.chars().all(|ch| ch.is_ascii_digit()) {
                    return Err("security code: expected 3 or 4 digits".into());
                }
                Some(Zeroizing::new(c.to_owned()))
            }
            Some(_) => return Err("security code: expected 3 or 4 digits".into()),
            None => None,
        };
        Ok(CardInput {
            pan,
            exp: exp_mmyy.to_owned(),
            cvv,
        })
    }

    pub fn network(&self) -> Network {
        Network::of(&self.pan)
    }
}

/// Who asks for the token: one per front door.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Front door name (`cybersource`, `thales_merchant`, `firstoken`), kept on the token.
    pub requestor: &'static str,
    /// Sent as `walletProviderId`.
    pub wallet_provider_id: &'static str,
    /// `tokenRequestor.id` (an 11-digit token requestor id).
    pub token_requestor_id: &'static str,
    pub token_requestor_name: &'static str,
    pub merchant_id: Option<String>,
    /// The merchant's account id for the cardholder (Thales `accountId`).
    pub account_id: Option<String>,
    /// `captureMethod` / `cardCaptureInformation.captureMethod` (`ON_FILE` for card-on-file).
    pub capture_method: &'static str,
}

/// A token the simulated TSP made. Holds no clear PAN.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// The requestor-facing token id (32 upper-case hex: Cybersource `id`, Thales `tokenId`).
    pub id: String,
    /// Stable per card for this process (Cybersource `enrollmentId`).
    pub enrollment_id: String,
    pub requestor: &'static str,
    pub merchant_id: Option<String>,
    pub account_id: Option<String>,
    pan_key: String,
    pub network: Network,
    /// The token number: the simulator's own, not a card number.
    pub token_number: String,
    pub token_exp: String,
    pub virtual_card_id: String,
    pub token_reference_id: String,
    pub par: String,
    pub issuer_card_ref_id: String,
    pub product_id: Option<String>,
    pub level_of_trust: String,
    pub correlation_id: String,
    pub card_bin: String,
    pub card_last4: String,
    pub card_exp: String,
    pub state: &'static str,
    pub created: String,
}

impl TokenRecord {
    pub fn token_last4(&self) -> &str {
        &self.token_number[self.token_number.len() - 4..]
    }

    /// Token BIN + `XXXXXX` + last four, as Cybersource masks `number`.
    pub fn masked_token(&self) -> String {
        format!(
            "{}{}{}",
            &self.token_number[..6],
            "X".repeat(self.token_number.len() - 10),
            self.token_last4()
        )
    }
}

/// Where a refusal happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Eligibility,
    Digitization,
}

/// What the issuer decided for one session.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Green or yellow: the token was made and activated at the issuer.
    Provisioned(Box<TokenRecord>),
    /// The issuer said no: a 400 refusal (`responseCode`) or a red digitization decision.
    Refused {
        stage: Stage,
        /// The issuer's `responseCode` (eligibility refusals: 116, 159, 160, 115, 166…).
        response_code: Option<i64>,
        /// `red` when the digitization decision declined.
        level_of_trust: Option<String>,
        message: String,
        correlation_id: String,
    },
}

/// The session could not run to a decision (issuer unreachable, unexpected answer).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TspError(pub String);

/// The simulated TSP: issuer client, sealing certificate, tokens.
pub struct Tsp {
    options: TspOptions,
    recipient: Recipient,
    client: reqwest::Client,
    fingerprint_key: aws_lc_rs::hmac::Key,
    sessions: AtomicU64,
    tokens: Mutex<VecDeque<TokenRecord>>,
}

impl std::fmt::Debug for Tsp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tsp")
            .field("issuer_url", &self.options.issuer_url)
            .finish_non_exhaustive()
    }
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    // aws-lc's RNG does not fail in practice; zeros would still make distinct counters below.
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    hex::encode(bytes)
}

fn random_digits(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    bytes.iter().map(|b| char::from(b'0' + b % 10)).collect()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Tsp {
    pub fn new(options: TspOptions) -> Result<Tsp, String> {
        let recipient = Recipient::from_pem(&options.issuer_cert_pem)
            .map_err(|e| format!("issuer certificate: {e}"))?;
        let parsed = reqwest::Url::parse(&options.issuer_url)
            .map_err(|e| format!("issuer URL `{}`: {e}", options.issuer_url))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "issuer URL `{}`: expected an http:// or https:// URL",
                options.issuer_url
            ));
        }
        if options.issuer_id.is_empty() {
            return Err("issuer id: must not be empty".into());
        }
        let client = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let mut key = [0u8; 32];
        aws_lc_rs::rand::fill(&mut key).map_err(|_| "random key".to_owned())?;
        let mut options = options;
        options.issuer_url = options.issuer_url.trim_end_matches('/').to_owned();
        options.prefix = format!("/{}", options.prefix.trim_matches('/'));
        Ok(Tsp {
            options,
            recipient,
            client,
            fingerprint_key: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key),
            sessions: AtomicU64::new(0),
            tokens: Mutex::new(VecDeque::new()),
        })
    }

    pub fn issuer_url(&self) -> &str {
        &self.options.issuer_url
    }

    /// The HTTP client (front doors reuse it for their own callbacks).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<TokenRecord>> {
        // Only pushes and field updates happen under the lock: a poisoned lock is still consistent.
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keyed fingerprint of a PAN (per process): how tokens of the same card are found again.
    pub fn pan_key(&self, pan: &Pan) -> String {
        hex::encode(aws_lc_rs::hmac::sign(&self.fingerprint_key, pan.expose().as_bytes()).as_ref())
    }

    /// A fresh session correlation id: `tsp-<requestor>-<n>-<random>` (at most 48 characters).
    pub fn new_correlation_id(&self, requestor: &str) -> String {
        let n = self.sessions.fetch_add(1, Ordering::Relaxed) + 1;
        let tag: String = requestor.chars().take(12).collect();
        format!("tsp-{tag}-{n}-{}", random_hex(8))
    }

    /// Every token made so far, oldest first.
    pub fn tokens(&self) -> Vec<TokenRecord> {
        self.lock().iter().cloned().collect()
    }

    /// A token by its requestor-facing id, for one requestor.
    pub fn token_by_id(&self, requestor: &str, id: &str) -> Option<TokenRecord> {
        self.lock()
            .iter()
            .find(|t| t.requestor == requestor && t.id == id)
            .cloned()
    }

    /// The newest ACTIVE token of `requestor` for this card that `matches`.
    pub fn find_active(
        &self,
        requestor: &str,
        pan: &Pan,
        matches: impl Fn(&TokenRecord) -> bool,
    ) -> Option<TokenRecord> {
        let key = self.pan_key(pan);
        self.lock()
            .iter()
            .rev()
            .find(|t| {
                t.requestor == requestor && t.pan_key == key && t.state == "ACTIVE" && matches(t)
            })
            .cloned()
    }

    /// Runs one session against the issuer: eligibility, digitization, activation.
    /// `correlation_id`: the requestor's own id for the session, or None for a fresh one.
    pub async fn provision(
        &self,
        card: &CardInput,
        profile: &Profile,
        correlation_id: Option<String>,
    ) -> Result<Outcome, TspError> {
        let cid = correlation_id.unwrap_or_else(|| self.new_correlation_id(profile.requestor));
        let mut token_requestor = json!({
            "id": profile.token_requestor_id,
            "name": profile.token_requestor_name,
        });
        if let Some(m) = &profile.merchant_id {
            token_requestor["merchantId"] = json!(m);
        }

        // 1. checkCardEligibility
        let ciphered = self.seal(&json!({"fpan": card.pan.expose(), "exp": card.exp}))?;
        let (status, answer) = self
            .call(
                "checkCardEligibility",
                &cid,
                &json!({
                    "cipheredCardInfo": ciphered,
                    "walletProviderId": profile.wallet_provider_id,
                    "tokenRequestor": token_requestor,
                    "captureMethod": profile.capture_method,
                }),
            )
            .await?;
        if status == 400 {
            return Ok(refused(Stage::Eligibility, &answer, None, cid));
        }
        if status != 200 {
            return Err(unexpected("checkCardEligibility", status, &answer));
        }
        let Some(card_ref) = answer["issuerCardRefId"].as_str().map(str::to_owned) else {
            return Err(TspError(
                "checkCardEligibility answered 200 without issuerCardRefId".into(),
            ));
        };
        let product_id = answer["productId"].as_str().map(str::to_owned);

        // 2. requestCardDigitization, card data (and CVV when given) sealed again
        let mut card_info = json!({"fpan": card.pan.expose(), "exp": card.exp});
        if let Some(cvv) = &card.cvv {
            card_info["cvv"] = json!(cvv.as_str());
        }
        let ciphered = self.seal(&card_info)?;
        drop(card_info);
        let (status, answer) = self
            .call(
                "requestCardDigitization",
                &cid,
                &json!({
                    "cipheredCardInfo": ciphered,
                    "issuerCardRefId": card_ref,
                    "walletProviderId": profile.wallet_provider_id,
                    "tokenRequestor": token_requestor,
                    "tncStatus": true,
                    "cardCaptureInformation": {"captureMethod": profile.capture_method},
                }),
            )
            .await?;
        if status == 400 {
            return Ok(refused(Stage::Digitization, &answer, None, cid));
        }
        if status != 200 {
            return Err(unexpected("requestCardDigitization", status, &answer));
        }
        let level = answer["levelOfTrust"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match level.as_str() {
            "green" | "yellow" => {}
            "red" => {
                return Ok(refused(Stage::Digitization, &answer, Some(level), cid));
            }
            other => {
                return Err(TspError(format!(
                    "requestCardDigitization answered an unknown levelOfTrust `{other}`"
                )))
            }
        }

        // 3. allocate the token and tell the issuer it is active
        let network = card.network();
        let token_number = {
            let bin = network.token_bin();
            let mut number = format!("{bin}{}", random_digits(15 - bin.len()));
            number.push(luhn_check_digit(&number));
            number
        };
        let pan_key = self.pan_key(&card.pan);
        let record = TokenRecord {
            id: random_hex(16).to_ascii_uppercase(),
            enrollment_id: pan_key[..32].to_owned(),
            requestor: profile.requestor,
            merchant_id: profile.merchant_id.clone(),
            account_id: profile.account_id.clone(),
            pan_key,
            network,
            token_exp: token_expiry(),
            virtual_card_id: format!("SIMVC{}", random_hex(12).to_ascii_uppercase()),
            token_reference_id: random_hex(16),
            par: self.par(&card.pan, network),
            issuer_card_ref_id: card_ref.clone(),
            product_id,
            level_of_trust: level,
            correlation_id: cid.clone(),
            card_bin: card.pan.bin().to_owned(),
            card_last4: card.pan.last4().to_owned(),
            card_exp: card.exp.clone(),
            state: "ACTIVE",
            created: now_rfc3339(),
            token_number,
        };
        let (status, answer) = self
            .call(
                "notifyVirtualCardChange",
                &cid,
                &json!({
                    "issuerCardRefId": card_ref,
                    "virtualCardId": record.virtual_card_id,
                    "walletProviderId": profile.wallet_provider_id,
                    "tokenRequestor": token_requestor,
                    "action": "ACTIVATE",
                    "source": "TSP",
                }),
            )
            .await?;
        if status != 200 {
            return Err(unexpected("notifyVirtualCardChange", status, &answer));
        }
        let mut tokens = self.lock();
        if tokens.len() >= MAX_TOKENS {
            tokens.pop_front();
        }
        tokens.push_back(record.clone());
        Ok(Outcome::Provisioned(Box::new(record)))
    }

    /// PAR: stable per card (and network) for this process, 29 characters.
    fn par(&self, pan: &Pan, network: Network) -> String {
        let key = self.pan_key(pan).to_ascii_uppercase();
        format!("{}{}", network.par_prefix(), &key[..25])
    }

    fn seal(&self, card_info: &Value) -> Result<String, TspError> {
        let plain = Zeroizing::new(card_info.to_string());
        self.recipient
            .seal_base64(plain.as_bytes(), KeyTransport::OaepSha256)
            .map_err(|e| TspError(format!("sealing card data: {e}")))
    }

    async fn call(
        &self,
        operation: &str,
        correlation_id: &str,
        body: &Value,
    ) -> Result<(u16, Value), TspError> {
        let url = format!(
            "{}{}/{operation}",
            self.options.issuer_url, self.options.prefix
        );
        let response = self
            .client
            .post(&url)
            .header("x-correlation-id", correlation_id)
            .header("x-issuer-id", &self.options.issuer_id)
            .json(body)
            .send()
            .await
            .map_err(|e| {
                TspError(format!(
                    "cannot reach tsh-issuer at {} ({operation}): {}",
                    self.options.issuer_url,
                    if e.is_timeout() {
                        "timed out".to_owned()
                    } else if e.is_connect() {
                        "connection refused or unreachable".to_owned()
                    } else {
                        e.to_string()
                    }
                ))
            })?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok((status, json))
    }
}

fn refused(stage: Stage, answer: &Value, level: Option<String>, cid: String) -> Outcome {
    let response_code = answer["responseCode"].as_i64();
    let message = match (&level, response_code) {
        (Some(l), _) => format!("the issuer's digitization decision is {l}"),
        (None, Some(code)) => format!(
            "the issuer refused with responseCode {code}: {}",
            answer["errorMessage"].as_str().unwrap_or("")
        ),
        (None, None) => "the issuer refused".to_owned(),
    };
    Outcome::Refused {
        stage,
        response_code,
        level_of_trust: level,
        message,
        correlation_id: cid,
    }
}

fn unexpected(operation: &str, status: u16, answer: &Value) -> TspError {
    TspError(format!(
        "{operation}: tsh-issuer answered HTTP {status} {}",
        answer
    ))
}

/// Token expiry `MMYY`: three years from now.
fn token_expiry() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!("{:02}{:02}", u8::from(now.month()), (now.year() + 3) % 100)
}

/// `411111******1111` for a PAN given as text (anything shorter than 12 characters is fully hidden).
pub fn mask(pan_text: &str) -> String {
    match Pan::parse_token(pan_text) {
        Ok(p) => p.masked(),
        Err(_) => "****".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_follow_the_leading_digits() {
        let net = |p: &str| Network::of(&Pan::parse(p).unwrap());
        assert_eq!(net("4111111111111111"), Network::Visa);
        assert_eq!(net("5555555555554444"), Network::Mastercard);
        assert_eq!(net("2221000000000009"), Network::Mastercard);
        assert_eq!(net("6011111111111117"), Network::Other);
    }

    #[test]
    fn card_input_checks_fields_and_never_shows_the_pan() {
        let card = CardInput::new("4111111111111111", "1230", Some("123")).unwrap();
        let shown = format!("{card:?}");
        assert!(!shown.contains("4111111111111111") && !shown.contains("123\""));
        assert!(CardInput::new("4111111111111112", "1230", None).is_err());
        assert!(CardInput::new("4111111111111111", "1330", None).is_err());
        assert!(CardInput::new("4111111111111111", "1230", Some("12")).is_err());
        assert_eq!(mask("4111111111111111"), "411111******1111");
        assert_eq!(mask("X622"), "****");
    }
}
