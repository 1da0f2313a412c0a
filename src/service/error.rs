//! `Refusal`: why a callback was not accepted. Messages are written for TSH's operators and never
//! contain card data; the HTTP layer maps each variant to a status and response code.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// 111: a mandatory parameter or header is missing or malformed.
    #[error("{0}")]
    InvalidParameter(String),
    /// 113: `x-issuer-id` is well formed but not ours.
    #[error("unknown issuer")]
    UnknownIssuer,
    /// 115: no product is configured for this card.
    #[error("no card product is configured for this card")]
    UnknownProduct,
    /// 116
    #[error("unknown card")]
    UnknownCard,
    /// 119
    #[error("unknown virtual card")]
    UnknownVirtualCard,
    /// 159
    #[error("card is not active")]
    CardNotActive,
    /// 160
    #[error("card is expired")]
    CardExpired,
    /// 166: undecryptable card data, bad JSON inside it, or a PAN that is not a PAN.
    #[error("invalid card data: {0}")]
    InvalidCardData(&'static str),
    /// 501
    #[error("unknown OTP method id")]
    InvalidOtpMethod,
    /// 510
    #[error("OTP cannot be delivered: {0}")]
    CannotDeliver(&'static str),
    /// 500 / 921: the cause goes to the log, never to the caller.
    #[error("unexpected server error")]
    Internal(#[source] StoreError),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Internal(e)
    }
}
