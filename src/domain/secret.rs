//! `Secret`: a string that must never be printed, logged or persisted (OTP values, CVVs).
//!
//! `Debug`/`Display` print a fixed placeholder and the memory is zeroized on drop.

use serde::{Deserialize, Deserializer};
use std::fmt;
use zeroize::Zeroizing;

/// A sensitive string held only in memory.
#[derive(Clone, Default)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The clear value, for the one place that must hand it on (e.g. the OTP gateway call).
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Accepts a JSON string or number (an OTP such as `123456` may arrive unquoted).
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = crate::json::lenient::StringOrNumber::deserialize(deserializer)?;
        Ok(Secret::new(value.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("482913".to_owned());
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(secret.expose(), "482913");
    }

    #[test]
    fn deserializes_from_a_string_or_a_number() {
        let a: Secret = serde_json::from_str("\"001234\"").unwrap();
        let b: Secret = serde_json::from_str("98765").unwrap();
        assert_eq!(a.expose(), "001234");
        assert_eq!(b.expose(), "98765");
    }
}
