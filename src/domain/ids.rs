//! Validated identifiers of the TSH callbacks, built only by `parse`: trimmed, 1 to `MAX_LEN`
//! characters, no control characters (identifiers become store keys and log fields). A blank value
//! parses as `None`: whether it may be absent is the caller's rule, not the identifier's.

use std::fmt;

/// Why a value is not a valid identifier; the caller adds the field's name, never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("contains control characters")]
    ControlCharacters,
}

/// `raw` trimmed, when it is 1 to `max` printable characters; `None` when blank.
pub fn bounded_text(raw: &str, max: usize) -> Result<Option<&str>, IdError> {
    let value = raw.trim();
    if value.is_empty() {
        Ok(None)
    } else if value.chars().count() > max {
        Err(IdError::TooLong { max })
    } else if value.chars().any(char::is_control) {
        Err(IdError::ControlCharacters)
    } else {
        Ok(Some(value))
    }
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub const MAX_LEN: usize = $max;

            /// The identifier in `raw` (trimmed), `None` when `raw` is blank.
            pub fn parse(raw: &str) -> Result<Option<$name>, IdError> {
                Ok(bounded_text(raw, Self::MAX_LEN)?.map(|v| $name(v.to_owned())))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

identifier!(
    /// `issuerCardRefId`: the issuer's reference of a card.
    CardRef,
    48
);
identifier!(
    /// `virtualCardId`: TSH's identifier of a token.
    VirtualCardId,
    64
);
identifier!(
    /// `walletProviderId`: the token requestor's wallet.
    WalletProviderId,
    64
);
identifier!(
    /// `otpMethodId`: one of the step-up methods we offered.
    OtpMethodId,
    64
);
identifier!(
    /// A wallet-side reference of a token (`tokenStorageId`, `walletCardRefId`,
    /// `walletVirtualCardId`, `primaryWalletVirtualCardId`, `deviceBindingReference`).
    WalletRef,
    128
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_trimmed_bounded_and_printable() {
        assert_eq!(CardRef::parse("").unwrap(), None);
        assert_eq!(CardRef::parse("  ").unwrap(), None);
        assert_eq!(
            CardRef::parse(" CARD-1 ").unwrap().unwrap().as_str(),
            "CARD-1"
        );
        assert!(CardRef::parse(&"x".repeat(48)).unwrap().is_some());
        assert_eq!(
            CardRef::parse(&"x".repeat(49)),
            Err(IdError::TooLong { max: 48 })
        );
        assert_eq!(
            VirtualCardId::parse("a\u{7}b"),
            Err(IdError::ControlCharacters)
        );
        // Characters, not bytes: 64 two-byte characters are fine.
        assert!(VirtualCardId::parse(&"é".repeat(64)).unwrap().is_some());
    }
}
