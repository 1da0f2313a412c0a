//! Decrypts `cipheredCardInfo` / `authenticationValue` (CMS EnvelopedData, contract §2) into
//! in-memory values that zeroize themselves. Every failure is a 166 refusal whose message says
//! what was wrong without echoing any byte of the input.

use serde::Deserialize;
use serde_json::Value;

use super::Refusal;
use crate::crypto::KeyRing;
use crate::domain::{Expiry, Pan, Secret};

/// Contract §2: `cipheredCardInfo` is at most 8196 characters.
pub const MAX_CIPHERED_LEN: usize = 8196;

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

/// Decrypted card data.
#[derive(Debug)]
pub struct CardInfo {
    pub pan: Pan,
    /// `None` when absent; a present but malformed expiry is refused.
    pub exp: Option<Expiry>,
    pub cvv: Option<Secret>,
}

fn check_size(field: &str, ciphered: &str) -> Result<(), Refusal> {
    if ciphered.trim().is_empty() {
        return Err(Refusal::InvalidParameter(format!("{field} is empty")));
    }
    if ciphered.len() > MAX_CIPHERED_LEN {
        return Err(Refusal::InvalidParameter(format!(
            "{field} exceeds {MAX_CIPHERED_LEN} characters"
        )));
    }
    Ok(())
}

fn decrypt(
    keys: &KeyRing,
    field: &str,
    ciphered: &str,
) -> Result<zeroize::Zeroizing<Vec<u8>>, Refusal> {
    check_size(field, ciphered)?;
    keys.decrypt_envelope(ciphered).map_err(|e| {
        tracing::info!(field, reason = %e, "card data could not be decrypted");
        Refusal::InvalidCardData("could not be decrypted")
    })
}

/// Decrypts and validates `cipheredCardInfo`.
pub fn open_card_info(keys: &KeyRing, ciphered: &str) -> Result<CardInfo, Refusal> {
    let plain = decrypt(keys, "cipheredCardInfo", ciphered)?;
    let raw: RawCardInfo = serde_json::from_slice(&plain)
        .map_err(|_| Refusal::InvalidCardData("decrypted content is not the expected JSON"))?;
    let fpan = raw
        .fpan
        .ok_or(Refusal::InvalidCardData("fpan is missing"))?;
    let pan = Pan::parse(fpan.expose())
        .map_err(|_| Refusal::InvalidCardData("fpan is not a valid card number"))?;
    let exp = match raw.exp {
        Some(e) if !e.expose().trim().is_empty() => Some(
            Expiry::parse_mmyy(e.expose())
                .map_err(|_| Refusal::InvalidCardData("exp is not MMYY"))?,
        ),
        _ => None,
    };
    let cvv = match raw.cvv {
        Some(c) if !c.expose().trim().is_empty() => {
            let digits = c.expose().trim();
            if !(3..=4).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Refusal::InvalidCardData("cvv must be 3 or 4 digits"));
            }
            Some(Secret::new(digits.to_owned()))
        }
        _ => None,
    };
    Ok(CardInfo { pan, exp, cvv })
}

/// Decrypts `authenticationValue`: the CVV2 as JSON (`cvv`, `cvv2` or `value`) or as bare digits.
pub fn open_authentication_value(keys: &KeyRing, ciphered: &str) -> Result<Secret, Refusal> {
    let plain = decrypt(keys, "authenticationValue", ciphered)?;
    let text = std::str::from_utf8(&plain)
        .map_err(|_| Refusal::InvalidCardData("authenticationValue is not text"))?
        .trim();
    let candidate: Secret = if text.starts_with('{') {
        let value: Value = serde_json::from_str(text).map_err(|_| {
            Refusal::InvalidCardData("authenticationValue is not the expected JSON")
        })?;
        let found = ["cvv", "cvv2", "value", "authenticationValue"]
            .iter()
            .find_map(|k| {
                value
                    .as_object()
                    .and_then(|o| crate::contract::tolerant::get_ci(o, k))
                    .and_then(crate::contract::tolerant::value_as_string)
            })
            .ok_or(Refusal::InvalidCardData(
                "authenticationValue holds no CVV2",
            ))?;
        Secret::new(found)
    } else {
        Secret::new(text.trim_matches('"').to_owned())
    };
    let digits = candidate.expose().trim();
    if !(3..=4).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::InvalidCardData("CVV2 must be 3 or 4 digits"));
    }
    Ok(Secret::new(digits.to_owned()))
}
