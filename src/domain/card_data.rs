//! Decrypted card data (contract §2): what `cipheredCardInfo` and `authenticationValue` hold once
//! opened, read from their plaintext into values that zeroize themselves. Every failure names what
//! was wrong without echoing any byte of the input. Decryption itself is `crypto`'s.

use serde::Deserialize;
use serde_json::Value;

use super::{Expiry, Pan, Secret};
use crate::json::lenient::{get_ci, value_as_string};

/// Decrypted `cipheredCardInfo`.
#[derive(Debug)]
pub struct CardInfo {
    pub pan: Pan,
    /// `None` when absent; a present but malformed expiry is refused.
    pub exp: Option<Expiry>,
    pub cvv: Option<Secret>,
}

/// Why decrypted card data is unusable (the contract's 166).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CardDataError(pub &'static str);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCardInfo {
    #[serde(default)]
    fpan: Option<Secret>,
    #[serde(default)]
    exp: Option<Secret>,
    #[serde(default)]
    cvv: Option<Secret>,
}

/// 3 or 4 digits, trimmed.
fn cvv_digits(raw: &str, message: &'static str) -> Result<Secret, CardDataError> {
    let digits = raw.trim();
    if !(3..=4).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CardDataError(message));
    }
    Ok(Secret::new(digits.to_owned()))
}

impl CardInfo {
    /// Reads the plaintext of `cipheredCardInfo`: JSON with `fpan`, optional `exp` (MMYY) and
    /// optional `cvv`.
    pub fn from_plaintext(plain: &[u8]) -> Result<CardInfo, CardDataError> {
        let raw: RawCardInfo = serde_json::from_slice(plain)
            .map_err(|_| CardDataError("decrypted content is not the expected JSON"))?;
        let fpan = raw.fpan.ok_or(CardDataError("fpan is missing"))?;
        let pan = Pan::parse(fpan.expose())
            .map_err(|_| CardDataError("fpan is not a valid card number"))?;
        let exp = match raw.exp {
            Some(e) if !e.expose().trim().is_empty() => {
                Some(Expiry::parse_mmyy(e.expose()).map_err(|_| CardDataError("exp is not MMYY"))?)
            }
            _ => None,
        };
        let cvv = match raw.cvv {
            Some(c) if !c.expose().trim().is_empty() => {
                Some(cvv_digits(c.expose(), "cvv must be 3 or 4 digits")?)
            }
            _ => None,
        };
        Ok(CardInfo { pan, exp, cvv })
    }
}

/// Reads the plaintext of `authenticationValue`: the CVV2 as JSON (`cvv`, `cvv2`, `value` or
/// `authenticationValue`, any case) or as bare digits (possibly quoted).
pub fn cvv2_from_plaintext(plain: &[u8]) -> Result<Secret, CardDataError> {
    let text = std::str::from_utf8(plain)
        .map_err(|_| CardDataError("authenticationValue is not text"))?
        .trim();
    let candidate = if text.starts_with('{') {
        let value: Value = serde_json::from_str(text)
            .map_err(|_| CardDataError("authenticationValue is not the expected JSON"))?;
        let found = value
            .as_object()
            .and_then(first_cvv)
            .ok_or(CardDataError("authenticationValue holds no CVV2"))?;
        Secret::new(found)
    } else {
        Secret::new(text.trim_matches('"').to_owned())
    };
    cvv_digits(candidate.expose(), "CVV2 must be 3 or 4 digits")
}

fn first_cvv(object: &serde_json::Map<String, Value>) -> Option<String> {
    ["cvv", "cvv2", "value", "authenticationValue"]
        .iter()
        .find_map(|k| get_ci(object, k).and_then(value_as_string))
}
