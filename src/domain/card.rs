//! The card registry's record: what the issuer knows about a card, minus its number.
//!
//! The PAN itself is never here: only its keyed fingerprint, its masked form and the BIN, which is
//! enough for lookup, display and product mapping.

use serde::{Deserialize, Serialize};
use std::fmt;
use time::{Month, OffsetDateTime};

/// Card status as the issuer's card management system reports it. Unknown values are kept verbatim
/// and treated as "not active" (the tolerant reading that never approves by accident).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum CardStatus {
    Active,
    Suspended,
    Closed,
    Lost,
    Stolen,
    Other(String),
}

impl CardStatus {
    pub fn is_active(&self) -> bool {
        matches!(self, CardStatus::Active)
    }

    pub fn as_str(&self) -> &str {
        match self {
            CardStatus::Active => "ACTIVE",
            CardStatus::Suspended => "SUSPENDED",
            CardStatus::Closed => "CLOSED",
            CardStatus::Lost => "LOST",
            CardStatus::Stolen => "STOLEN",
            CardStatus::Other(other) => other,
        }
    }
}

impl From<String> for CardStatus {
    fn from(raw: String) -> Self {
        match raw.trim().to_ascii_uppercase().as_str() {
            "ACTIVE" => CardStatus::Active,
            "SUSPENDED" => CardStatus::Suspended,
            "CLOSED" => CardStatus::Closed,
            "LOST" => CardStatus::Lost,
            "STOLEN" => CardStatus::Stolen,
            other => CardStatus::Other(other.to_owned()),
        }
    }
}

impl From<CardStatus> for String {
    fn from(status: CardStatus) -> Self {
        status.as_str().to_owned()
    }
}

/// A card expiry month, written `MMYY`. A card is valid through the last day of that month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Expiry {
    month: u8,
    /// Full year, e.g. 2030.
    year: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expiry must be MMYY with a month from 01 to 12")]
pub struct ExpiryError;

impl Expiry {
    pub fn parse_mmyy(raw: &str) -> Result<Expiry, ExpiryError> {
        let raw = raw.trim().replace('/', "");
        if raw.len() != 4 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ExpiryError);
        }
        let month: u8 = raw[..2].parse().map_err(|_| ExpiryError)?;
        let yy: u16 = raw[2..].parse().map_err(|_| ExpiryError)?;
        if !(1..=12).contains(&month) {
            return Err(ExpiryError);
        }
        Ok(Expiry {
            month,
            year: 2000 + yy,
        })
    }

    pub fn mmyy(&self) -> String {
        format!("{:02}{:02}", self.month, self.year % 100)
    }

    /// True once the month after the expiry month has begun (UTC).
    pub fn is_expired_at(&self, now: OffsetDateTime) -> bool {
        let now_year = now.year();
        let now_month = u8::from(now.month());
        (i32::from(self.year), self.month) < (now_year, now_month)
    }

    pub fn is_expired(&self) -> bool {
        self.is_expired_at(OffsetDateTime::now_utc())
    }

    pub fn month(&self) -> Month {
        Month::try_from(self.month).unwrap_or(Month::January)
    }
}

impl TryFrom<String> for Expiry {
    type Error = ExpiryError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Expiry::parse_mmyy(&raw)
    }
}

impl From<Expiry> for String {
    fn from(exp: Expiry) -> Self {
        exp.mmyy()
    }
}

impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.mmyy())
    }
}

/// A card as stored in the registry (tree `issuercardrefid_card`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardRecord {
    pub issuer_card_ref_id: String,
    /// HMAC-SHA-256 of the PAN under the issuer's fingerprint key (hex).
    pub pan_fingerprint: String,
    pub pan_masked: String,
    pub bin: String,
    pub last4: String,
    pub exp: Expiry,
    pub status: CardStatus,
    #[serde(default)]
    pub product_id: Option<String>,
    #[serde(default)]
    pub cardholder_name: Option<String>,
    /// E.164 phone number used for SMS step-up. PII, not card data.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    pub created_time: String,
    pub last_modified_time: String,
}

impl CardRecord {
    pub fn has_stepup_contact(&self) -> bool {
        self.phone.is_some() || self.email.is_some()
    }
}

/// Masks an E.164 phone number for display: keeps the `+`, the first two and last two digits.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() < 6 {
        return "*".repeat(digits.len());
    }
    let head: String = digits[..2].iter().collect();
    let tail: String = digits[digits.len() - 2..].iter().collect();
    format!("+{head}{}{tail}", "*".repeat(digits.len() - 4))
}

/// Masks an e-mail address for display: first letter of the local part, then the domain.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) if !local.is_empty() => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        _ => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn expiry_is_valid_through_the_end_of_its_month() {
        let exp = Expiry::parse_mmyy("1126").unwrap();
        assert!(!exp.is_expired_at(datetime!(2026-11-30 23:59 UTC)));
        assert!(exp.is_expired_at(datetime!(2026-12-01 00:00 UTC)));
        assert!(!exp.is_expired_at(datetime!(2025-12-01 00:00 UTC)));
    }

    #[test]
    fn expiry_parse_refuses_bad_shapes() {
        for raw in ["", "13", "1326", "0026", "ab12", "12345", "1/2"] {
            assert!(Expiry::parse_mmyy(raw).is_err(), "case {raw:?}");
        }
        assert_eq!(Expiry::parse_mmyy("12/30").unwrap().mmyy(), "1230");
    }

    #[test]
    fn unknown_status_is_kept_and_not_active() {
        let status = CardStatus::from("frozen".to_owned());
        assert_eq!(status.as_str(), "FROZEN");
        assert!(!status.is_active());
        assert!(CardStatus::from("active".to_owned()).is_active());
    }

    #[test]
    fn contacts_are_masked_for_display() {
        assert_eq!(mask_phone("+447700900123"), "+44********23");
        assert_eq!(mask_email("jane.doe@example.com"), "j***@example.com");
        assert_eq!(mask_email("broken"), "***");
    }
}
