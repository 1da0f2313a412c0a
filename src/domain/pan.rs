//! `Pan`: a primary account number (or token number) held only in memory.
//!
//! Built only through [`Pan::parse`] (digits, 12–19 long, Luhn-valid). `Debug` shows the masked form,
//! the digits are zeroized on drop, and nothing here can persist it: callers store
//! [`Pan::masked`] and a keyed fingerprint instead.

use std::fmt;
use zeroize::Zeroizing;

#[derive(Clone)]
pub struct Pan(Zeroizing<String>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PanError {
    #[error("card number must be 12 to 19 digits")]
    Length,
    #[error("card number must contain only digits")]
    NotDigits,
    #[error("card number fails the Luhn check")]
    Luhn,
}

impl Pan {
    /// Parses a PAN, tolerating spaces and dashes between digit groups.
    pub fn parse(raw: &str) -> Result<Pan, PanError> {
        let digits: Zeroizing<String> =
            Zeroizing::new(raw.chars().filter(|c| *c != ' ' && *c != '-').collect());
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(PanError::NotDigits);
        }
        if !(12..=19).contains(&digits.len()) {
            return Err(PanError::Length);
        }
        if !luhn_valid(&digits) {
            return Err(PanError::Luhn);
        }
        Ok(Pan(digits))
    }

    /// Parses a token number: same shape rules, but the Luhn check is not enforced because some
    /// token ranges are not Luhn-valid. Still only digits, 12–19 long.
    pub fn parse_token(raw: &str) -> Result<Pan, PanError> {
        let digits: Zeroizing<String> = Zeroizing::new(raw.trim().to_owned());
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(PanError::NotDigits);
        }
        if !(12..=19).contains(&digits.len()) {
            return Err(PanError::Length);
        }
        Ok(Pan(digits))
    }

    /// The clear digits, for fingerprinting and CVV computation only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// First six digits (the BIN): not sensitive on its own.
    pub fn bin(&self) -> &str {
        &self.0[..6]
    }

    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }

    /// BIN + last 4, the middle digits replaced by `*` (PCI DSS display rule).
    pub fn masked(&self) -> String {
        let hidden = self.0.len() - 10;
        format!("{}{}{}", self.bin(), "*".repeat(hidden), self.last4())
    }
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pan({})", self.masked())
    }
}

fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(c - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_valid_pans_and_refuses_the_rest() {
        let cases: &[(&str, Result<(), PanError>)] = &[
            ("4111111111111111", Ok(())),
            ("4111 1111 1111 1111", Ok(())),
            ("5555555555554444", Ok(())),
            ("4111111111111112", Err(PanError::Luhn)),
            ("41111111111", Err(PanError::Length)),
            ("41111111111111111111", Err(PanError::Length)),
            ("4111x11111111111", Err(PanError::NotDigits)),
            ("", Err(PanError::Length)),
            ("４１１１１１１１１１１１１１１１", Err(PanError::NotDigits)),
        ];
        for (raw, expected) in cases {
            assert_eq!(Pan::parse(raw).map(|_| ()), *expected, "case {raw:?}");
        }
    }

    #[test]
    fn masked_form_keeps_bin_and_last_four_only() {
        let pan = Pan::parse("4111111111111111").unwrap();
        assert_eq!(pan.masked(), "411111******1111");
        assert_eq!(pan.bin(), "411111");
        assert_eq!(pan.last4(), "1111");
        let short = Pan::parse_token("489537123456").unwrap();
        assert_eq!(short.masked(), "489537**3456");
    }

    #[test]
    fn debug_never_prints_the_middle_digits() {
        let pan = Pan::parse("4000056655665556").unwrap();
        let shown = format!("{pan:?}");
        assert!(!shown.contains("4000056655665556"), "{shown}");
        assert!(shown.contains("400005******5556"), "{shown}");
    }
}
