//! Keyed fingerprints (spec §2): how a PAN, a token or a card reference is stored and looked up without being
//! stored.
//!
//! Owns: HMAC-SHA-256 under the issuer's fingerprint secret, with a domain label so a fingerprint made for one
//! use ("pan", "token", "card-ref", ...) never equals one made for another, and the opaque `issuerCardRefId`.
//!
//! Must not: reveal the key (`Debug` is redacted), accept a key shorter than 32 bytes, or change its output
//! format (stored fingerprints would stop matching).

use std::fmt;

use aws_lc_rs::hmac;
use zeroize::Zeroizing;

/// Shortest key accepted: the HMAC-SHA-256 output size, 256 bits.
const MIN_KEY_LEN: usize = 32;
/// Domain of [`Fingerprinter::issuer_card_ref_id`].
const ISSUER_CARD_REF_DOMAIN: &str = "issuer-card-ref";
/// Prefix and number of hex digits of an issuer card reference: "ICR" + 40 hex = 43 chars (160 bits).
const ISSUER_CARD_REF_PREFIX: &str = "ICR";
const ISSUER_CARD_REF_HEX_DIGITS: usize = 40;

/// Why a fingerprint key was refused. Never contains the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FingerprintKeyError {
    #[error("fingerprint key is {len} bytes; at least {min} are required")]
    TooShort { len: usize, min: usize },
    #[error("fingerprint key is not valid hex")]
    InvalidHex,
}

/// HMAC-SHA-256 fingerprinter. Clone is cheap; the key stays inside aws-lc (cleansed when freed).
#[derive(Clone)]
pub struct Fingerprinter {
    key: hmac::Key,
}

impl fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fingerprinter")
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Fingerprinter {
    /// # Errors
    /// [`FingerprintKeyError::TooShort`] for a key under 32 bytes.
    pub fn new(key: &[u8]) -> Result<Fingerprinter, FingerprintKeyError> {
        if key.len() < MIN_KEY_LEN {
            return Err(FingerprintKeyError::TooShort {
                len: key.len(),
                min: MIN_KEY_LEN,
            });
        }
        Ok(Fingerprinter {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        })
    }

    /// The key as hex (either case, surrounding whitespace ignored), e.g. from configuration.
    ///
    /// # Errors
    /// [`FingerprintKeyError::InvalidHex`], or [`FingerprintKeyError::TooShort`] under 32 bytes (64 hex digits).
    pub fn from_hex(hex_key: &str) -> Result<Fingerprinter, FingerprintKeyError> {
        let key = Zeroizing::new(
            hex::decode(hex_key.trim()).map_err(|_| FingerprintKeyError::InvalidHex)?,
        );
        Fingerprinter::new(&key)
    }

    /// Lowercase hex (64 chars) of HMAC-SHA-256(key, `domain` || 0x00 || `value`).
    ///
    /// `domain` is a fixed label chosen by the code ("pan", "token", "card-ref", ...) and must not contain NUL,
    /// which keeps the encoding unambiguous.
    pub fn fingerprint(&self, domain: &str, value: &[u8]) -> String {
        debug_assert!(!domain.contains('\0'), "fingerprint domain contains NUL");
        let mut context = hmac::Context::with_key(&self.key);
        context.update(domain.as_bytes());
        context.update(&[0x00]);
        context.update(value);
        hex::encode(context.sign())
    }

    /// Opaque, deterministic `issuerCardRefId` for a PAN: "ICR" + the first 40 hex digits of the fingerprint
    /// under domain "issuer-card-ref" (43 chars, 160 bits). Cannot be computed or reversed without the key.
    pub fn issuer_card_ref_id(&self, pan_digits: &str) -> String {
        let fingerprint = self.fingerprint(ISSUER_CARD_REF_DOMAIN, pan_digits.as_bytes());
        let digits = fingerprint
            .get(..ISSUER_CARD_REF_HEX_DIGITS)
            .unwrap_or(&fingerprint);
        format!("{ISSUER_CARD_REF_PREFIX}{digits}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn fingerprinter() -> Fingerprinter {
        Fingerprinter::from_hex(KEY_HEX).expect("test key")
    }

    #[test]
    fn fingerprint_matches_an_independent_hmac_sha256() {
        // Expected values computed with the openssl CLI:
        //   printf 'pan\0004111111111111111' | openssl dgst -sha256 -mac HMAC -macopt hexkey:<KEY_HEX>
        let f = fingerprinter();
        assert_eq!(
            f.fingerprint("pan", b"4111111111111111"),
            "82fd0347d7b27f5b6792102330fa4f29671277adbfcda6bfb5a28b302073ade0"
        );
    }

    #[test]
    fn domains_separate_uses_of_the_same_value() {
        let f = fingerprinter();
        assert_ne!(
            f.fingerprint("pan", b"4111111111111111"),
            f.fingerprint("token", b"4111111111111111")
        );
        // The NUL separator keeps ("pa", "n...") apart from ("pan", "...").
        assert_ne!(f.fingerprint("pa", b"n4111"), f.fingerprint("pan", b"4111"));
    }

    #[test]
    fn fingerprints_depend_on_the_key() {
        let other = Fingerprinter::new(&[7u8; 32]).expect("key");
        assert_ne!(
            fingerprinter().fingerprint("pan", b"4111111111111111"),
            other.fingerprint("pan", b"4111111111111111")
        );
    }

    #[test]
    fn issuer_card_ref_id_is_43_chars_deterministic_and_keyed() {
        let f = fingerprinter();
        let id = f.issuer_card_ref_id("4111111111111111");
        // openssl CLI, as above with domain "issuer-card-ref": 9254fb75…a090cfeb5af4…
        assert_eq!(id, "ICR9254fb75513350c15900a17925744fd7a090cfeb");
        assert_eq!(id.len(), 43);
        assert!(id.starts_with("ICR"));
        assert!(id[3..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(id, f.issuer_card_ref_id("4111111111111111"));
        assert_eq!(
            &id[3..],
            &f.fingerprint("issuer-card-ref", b"4111111111111111")[..40]
        );
        assert_ne!(id, f.issuer_card_ref_id("5555555555554444"));
        assert_ne!(
            id,
            Fingerprinter::new(&[7u8; 32])
                .expect("key")
                .issuer_card_ref_id("4111111111111111")
        );
    }

    #[test]
    fn short_and_malformed_keys_are_refused() {
        assert_eq!(
            Fingerprinter::new(&[1u8; 31]).map(|_| ()),
            Err(FingerprintKeyError::TooShort { len: 31, min: 32 })
        );
        assert_eq!(
            Fingerprinter::from_hex("00ff").map(|_| ()),
            Err(FingerprintKeyError::TooShort { len: 2, min: 32 })
        );
        for bad in ["xyz", "abc", &"g".repeat(64)] {
            assert_eq!(
                Fingerprinter::from_hex(bad).map(|_| ()),
                Err(FingerprintKeyError::InvalidHex),
                "key {bad:?}"
            );
        }
        assert!(Fingerprinter::from_hex(&format!("  {}\n", KEY_HEX.to_uppercase())).is_ok());
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let shown = format!("{:?}", fingerprinter());
        assert!(shown.contains("redacted"), "{shown}");
        assert!(!shown.contains("0001020304"), "{shown}");
    }
}
