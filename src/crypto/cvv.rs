//! CVV2 verification with the Visa CVV method (spec §2, **\[resolved\]**): the issuer's card verification keys
//! CVK-A and CVK-B (single DES keys) over PAN, expiry (YYMM) and service code (`000` for CVV2).
//!
//! Owns: key parsing ([`CvvVerifier::from_hex`]), the CVV computation and the constant-time CVV2 check.
//!
//! Algorithm: PAN ‖ YYMM ‖ service code, right-padded with `0` to 32 digits, read as two 8-byte blocks; block 1
//! is DES-encrypted under CVK-A, XORed with block 2, then 2-key 3DES-EDE encrypted under (CVK-A, CVK-B, CVK-A);
//! the 16 hex digits of the result are decimalised (digits 0-9 left to right, then A-F minus 10 left to right)
//! and the first three are the CVV.
//!
//! Must not: show keys (`Debug` is redacted), keep raw key bytes (only the DES key schedules are kept),
//! compare CVVs in variable time, or panic/err on malformed card input in [`CvvVerifier::verify_cvv2`].
//!
//! Zeroization: raw key bytes and intermediate blocks live in `Zeroizing` buffers. The DES key schedules are
//! wiped on drop only when the `des` crate's `zeroize` feature is enabled (see the crate's Cargo.toml).

use std::fmt;

use aws_lc_rs::constant_time;
use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockEncrypt, KeyInit};
use des::{Des, TdesEde2};
use zeroize::{Zeroize, Zeroizing};

/// Number of digits of a Visa CVV / CVV2.
const CVV_DIGITS: usize = 3;
/// PAN lengths accepted (ISO/IEC 7812).
const PAN_DIGITS: std::ops::RangeInclusive<usize> = 12..=19;
/// CVV2 is computed with service code 000.
const CVV2_SERVICE_CODE: &str = "000";

/// Why CVK-A/CVK-B were refused. Never contains key digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CvvKeyError {
    #[error("CVK-A must be exactly 16 hex digits")]
    InvalidKeyA,
    #[error("CVK-B must be exactly 16 hex digits")]
    InvalidKeyB,
    #[error("CVK-A and CVK-B must differ (equal keys reduce 3DES to single DES)")]
    IdenticalKeys,
}

/// Why [`CvvVerifier::compute`] refused its input. Never contains the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CvvInputError {
    #[error("PAN must be 12 to 19 decimal digits")]
    Pan,
    #[error("expiry must be 4 decimal digits (YYMM)")]
    Expiry,
    #[error("service code must be 3 decimal digits")]
    ServiceCode,
}

/// Computes and checks Visa CVVs under one CVK pair.
#[derive(Clone)]
pub struct CvvVerifier {
    /// DES under CVK-A (first step).
    cvk_a: Des,
    /// 2-key 3DES-EDE under (CVK-A, CVK-B) (second step).
    cvk_ab: TdesEde2,
}

impl fmt::Debug for CvvVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CvvVerifier")
            .field("keys", &"<redacted>")
            .finish()
    }
}

impl CvvVerifier {
    /// Builds a verifier from CVK-A and CVK-B, each exactly 16 hex digits (either case; surrounding whitespace
    /// ignored). DES parity bits are not checked (the cipher ignores them).
    ///
    /// # Errors
    /// [`CvvKeyError::InvalidKeyA`] / [`CvvKeyError::InvalidKeyB`] for anything but 16 hex digits,
    /// [`CvvKeyError::IdenticalKeys`] when both are the same key.
    pub fn from_hex(cvk_a: &str, cvk_b: &str) -> Result<CvvVerifier, CvvKeyError> {
        let key_a = parse_key(cvk_a).ok_or(CvvKeyError::InvalidKeyA)?;
        let key_b = parse_key(cvk_b).ok_or(CvvKeyError::InvalidKeyB)?;
        if constant_time::verify_slices_are_equal(key_a.as_slice(), key_b.as_slice()).is_ok() {
            return Err(CvvKeyError::IdenticalKeys);
        }
        let mut key_ab = Zeroizing::new([0u8; 16]);
        let (first, second) = key_ab.split_at_mut(8);
        first.copy_from_slice(key_a.as_slice());
        second.copy_from_slice(key_b.as_slice());
        Ok(CvvVerifier {
            cvk_a: Des::new(GenericArray::from_slice(key_a.as_slice())),
            cvk_ab: TdesEde2::new(GenericArray::from_slice(key_ab.as_slice())),
        })
    }

    /// The 3-digit CVV for `pan`, expiry `exp_yymm` (YYMM) and `service_code` (`000` gives the CVV2, `101`/
    /// `201`/... the magnetic-stripe CVV).
    ///
    /// # Errors
    /// [`CvvInputError`] when an argument is not made of the right number of decimal digits.
    pub fn compute(
        &self,
        pan: &str,
        exp_yymm: &str,
        service_code: &str,
    ) -> Result<String, CvvInputError> {
        let pan = pan.as_bytes();
        if !PAN_DIGITS.contains(&pan.len()) || !pan.iter().all(u8::is_ascii_digit) {
            return Err(CvvInputError::Pan);
        }
        let exp = exp_yymm.as_bytes();
        if exp.len() != 4 || !exp.iter().all(u8::is_ascii_digit) {
            return Err(CvvInputError::Expiry);
        }
        let service_code = service_code.as_bytes();
        if service_code.len() != 3 || !service_code.iter().all(u8::is_ascii_digit) {
            return Err(CvvInputError::ServiceCode);
        }

        // PAN ‖ YYMM ‖ service code as 32 nibbles (at most 26 digits, then '0' padding), packed in 16 bytes.
        let mut nibbles = Zeroizing::new([0u8; 32]);
        for (nibble, digit) in nibbles
            .iter_mut()
            .zip(pan.iter().chain(exp).chain(service_code))
        {
            *nibble = digit - b'0';
        }
        let mut packed = Zeroizing::new([0u8; 16]);
        for (byte, pair) in packed.iter_mut().zip(nibbles.chunks_exact(2)) {
            if let [high, low] = pair {
                *byte = (high << 4) | low;
            }
        }
        let (block1, block2) = packed.split_at(8);

        let mut block = GenericArray::clone_from_slice(block1);
        self.cvk_a.encrypt_block(&mut block);
        for (byte, other) in block.iter_mut().zip(block2) {
            *byte ^= other;
        }
        self.cvk_ab.encrypt_block(&mut block);
        let cvv = decimalize(block.as_slice(), CVV_DIGITS);
        block.as_mut_slice().zeroize();
        Ok(cvv)
    }

    /// True when `cvv` is the CVV2 of `pan` with expiry `exp_mmyy` (MMYY, as in the card data, spec §2). False
    /// on any malformed input (CVV not exactly 3 digits, month not 01-12, bad PAN...). Constant-time comparison.
    pub fn verify_cvv2(&self, pan: &str, exp_mmyy: &str, cvv: &str) -> bool {
        let &[m1, m2, y1, y2] = exp_mmyy.as_bytes() else {
            return false;
        };
        if ![m1, m2, y1, y2].iter().all(u8::is_ascii_digit) {
            return false;
        }
        let month = (m1 - b'0') * 10 + (m2 - b'0');
        if !(1..=12).contains(&month) {
            return false;
        }
        let cvv = cvv.as_bytes();
        if cvv.len() != CVV_DIGITS || !cvv.iter().all(u8::is_ascii_digit) {
            return false;
        }
        let yymm = [y1, y2, m1, m2];
        let Ok(yymm) = std::str::from_utf8(&yymm) else {
            return false;
        };
        match self.compute(pan, yymm, CVV2_SERVICE_CODE) {
            Ok(expected) => {
                let expected = Zeroizing::new(expected);
                constant_time::verify_slices_are_equal(expected.as_bytes(), cvv).is_ok()
            }
            Err(_) => false,
        }
    }
}

/// Exactly 16 hex digits → 8 key bytes.
fn parse_key(hex_key: &str) -> Option<Zeroizing<[u8; 8]>> {
    let hex_key = hex_key.trim();
    if hex_key.len() != 16 {
        return None;
    }
    let mut key = Zeroizing::new([0u8; 8]);
    hex::decode_to_slice(hex_key, key.as_mut_slice()).ok()?;
    Some(key)
}

/// Visa decimalisation: the hex digits 0-9 in order, then the digits A-F (minus 10) in order; first `count`.
fn decimalize(bytes: &[u8], count: usize) -> String {
    let nibbles = || bytes.iter().flat_map(|b| [b >> 4, b & 0x0F]);
    nibbles()
        .filter(|n| *n < 10)
        .chain(nibbles().filter(|n| *n >= 10).map(|n| n - 10))
        .take(count)
        .map(|n| char::from(b'0' + n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CVK_A: &str = "0123456789ABCDEF";
    const CVK_B: &str = "FEDCBA9876543210";

    fn verifier() -> CvvVerifier {
        CvvVerifier::from_hex(CVK_A, CVK_B).expect("test keys")
    }

    #[test]
    fn compute_matches_published_vectors() {
        // (source, CVK-A, CVK-B, PAN, YYMM, service code, CVV). Each was also recomputed step by step with the
        // openssl CLI (`enc -des-ecb` then `enc -des-ede-ecb`, `-nopad`).
        let cases = [
            (
                "classic Visa CVV example",
                CVK_A,
                CVK_B,
                "4123456789012345",
                "8701",
                "101",
                "561",
            ),
            (
                "psec (Python payment-security library) test suite",
                "9999999999999999",
                "8888888888888888",
                "2222222222222222",
                "3333",
                "111",
                "361",
            ),
            (
                "worked example with intermediates, 3DES result 24E1A05574051BBF",
                "D676DCF3AFB73505",
                "32EAF00EA253D875",
                "4123450990122129",
                "0721",
                "202",
                "241",
            ),
        ];
        for (source, a, b, pan, yymm, service_code, expected) in cases {
            let verifier = CvvVerifier::from_hex(a, b).expect("keys");
            assert_eq!(
                verifier.compute(pan, yymm, service_code).as_deref(),
                Ok(expected),
                "case: {source}"
            );
        }
    }

    /// CVV2 vectors (service code 000) computed with the openssl CLI under the dev CVKs above.
    const CVV2_VECTORS: &[(&str, &str, &str)] = &[
        // (PAN, expiry MMYY, CVV2)
        ("4111111111111111", "1230", "597"),
        ("5555555555554444", "0829", "251"),
        ("378282246310005", "0131", "739"),
        ("6011000000000000004", "0128", "460"),
    ];

    #[test]
    fn verify_cvv2_accepts_the_right_cvv2() {
        let verifier = verifier();
        for (pan, exp, cvv) in CVV2_VECTORS {
            assert!(
                verifier.verify_cvv2(pan, exp, cvv),
                "PAN {pan} exp {exp} CVV2 {cvv}"
            );
        }
    }

    #[test]
    fn verify_cvv2_refuses_a_wrong_cvv2() {
        let verifier = verifier();
        for (pan, exp, cvv) in CVV2_VECTORS {
            let wrong: String = cvv
                .bytes()
                .map(|d| char::from(b'0' + (d - b'0' + 1) % 10))
                .collect();
            assert!(
                !verifier.verify_cvv2(pan, exp, &wrong),
                "PAN {pan} CVV2 {wrong}"
            );
        }
        // The magnetic-stripe CVV (service code 101) is not the CVV2.
        assert!(!verifier.verify_cvv2("4123456789012345", "0187", "561"));
    }

    #[test]
    fn verify_cvv2_uses_the_expiry_as_yymm_and_service_code_000() {
        let verifier = verifier();
        assert_eq!(
            verifier
                .compute("4111111111111111", "3012", "000")
                .as_deref(),
            Ok("597")
        );
        // Using MMYY as if it were YYMM gives another value: the reordering matters.
        assert_ne!(
            verifier
                .compute("4111111111111111", "1230", "000")
                .as_deref(),
            Ok("597")
        );
    }

    #[test]
    fn verify_cvv2_is_false_on_malformed_input() {
        let verifier = verifier();
        let cases = [
            ("4-digit CVV", "4111111111111111", "1230", "5970"),
            ("2-digit CVV", "4111111111111111", "1230", "59"),
            ("letters in CVV", "4111111111111111", "1230", "59a"),
            ("full-width digits", "4111111111111111", "1230", "５９７"),
            ("empty CVV", "4111111111111111", "1230", ""),
            ("month 13", "4111111111111111", "1330", "597"),
            ("month 00", "4111111111111111", "0030", "597"),
            ("5-char expiry", "4111111111111111", "12/30", "597"),
            ("letters in expiry", "4111111111111111", "12a0", "597"),
            ("empty expiry", "4111111111111111", "", "597"),
            ("PAN too short", "41111111111", "1230", "597"),
            ("PAN too long", "41111111111111111111", "1230", "597"),
            ("PAN with spaces", "4111 1111 1111 1111", "1230", "597"),
            ("empty PAN", "", "1230", "597"),
        ];
        for (name, pan, exp, cvv) in cases {
            assert!(!verifier.verify_cvv2(pan, exp, cvv), "case: {name}");
        }
    }

    #[test]
    fn compute_refuses_malformed_input() {
        let verifier = verifier();
        let cases = [
            (
                "11-digit PAN",
                "41234567890",
                "8701",
                "101",
                CvvInputError::Pan,
            ),
            (
                "20-digit PAN",
                "41234567890123456789",
                "8701",
                "101",
                CvvInputError::Pan,
            ),
            (
                "PAN with a letter",
                "412345678901234X",
                "8701",
                "101",
                CvvInputError::Pan,
            ),
            (
                "3-digit expiry",
                "4123456789012345",
                "871",
                "101",
                CvvInputError::Expiry,
            ),
            (
                "expiry with a letter",
                "4123456789012345",
                "87O1",
                "101",
                CvvInputError::Expiry,
            ),
            (
                "2-digit service code",
                "4123456789012345",
                "8701",
                "10",
                CvvInputError::ServiceCode,
            ),
            (
                "4-digit service code",
                "4123456789012345",
                "8701",
                "1010",
                CvvInputError::ServiceCode,
            ),
        ];
        for (name, pan, exp, service_code, expected) in cases {
            assert_eq!(
                verifier.compute(pan, exp, service_code),
                Err(expected),
                "case: {name}"
            );
        }
        // 12 and 19 digits are the accepted bounds.
        assert!(verifier.compute("412345678901", "8701", "101").is_ok());
        assert!(verifier
            .compute("4123456789012345678", "8701", "101")
            .is_ok());
    }

    #[test]
    fn decimalization_falls_back_to_hex_letters_minus_ten() {
        // Digits first (1, 2), then letters A→0, B→1...
        assert_eq!(
            decimalize(&[0xAB, 0xCD, 0xEF, 0x1A, 0xB2, 0xCC, 0xDD, 0xEE], 3),
            "120"
        );
        assert_eq!(
            decimalize(&[0xFE, 0xDC, 0xBA, 0xFE, 0xDC, 0xBA, 0xFE, 0xDC], 3),
            "543"
        );
        assert_eq!(
            decimalize(&[0x5B, 0x61, 0x49, 0x82, 0xE0, 0x3C, 0x97, 0xDD], 16),
            "5614982039714233"
        );
    }

    #[test]
    fn keys_must_be_16_hex_digits_and_distinct() {
        let cases = [
            (
                "15 digits A",
                "0123456789ABCDE",
                CVK_B,
                CvvKeyError::InvalidKeyA,
            ),
            (
                "17 digits A",
                "0123456789ABCDEF0",
                CVK_B,
                CvvKeyError::InvalidKeyA,
            ),
            (
                "non-hex A",
                "0123456789ABCDEG",
                CVK_B,
                CvvKeyError::InvalidKeyA,
            ),
            ("empty B", CVK_A, "", CvvKeyError::InvalidKeyB),
            (
                "double-length B",
                CVK_A,
                "FEDCBA9876543210FEDCBA9876543210",
                CvvKeyError::InvalidKeyB,
            ),
            ("equal keys", CVK_A, CVK_A, CvvKeyError::IdenticalKeys),
            (
                "equal keys, other case",
                CVK_A,
                "0123456789abcdef",
                CvvKeyError::IdenticalKeys,
            ),
        ];
        for (name, a, b, expected) in cases {
            assert_eq!(
                CvvVerifier::from_hex(a, b).map(|_| ()),
                Err(expected),
                "case: {name}"
            );
        }
        let lower_case = CvvVerifier::from_hex(" 0123456789abcdef ", "fedcba9876543210\n")
            .expect("lower case and surrounding whitespace");
        assert_eq!(
            lower_case
                .compute("4123456789012345", "8701", "101")
                .as_deref(),
            Ok("561")
        );
    }

    #[test]
    fn debug_does_not_show_the_keys() {
        let shown = format!("{:?}", verifier());
        assert!(shown.contains("redacted"), "{shown}");
        assert!(
            !shown.to_uppercase().contains("0123456789ABCDEF"),
            "{shown}"
        );
        assert!(!shown.contains("[1, 35"), "{shown}");
    }
}
