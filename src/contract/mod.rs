//! Wire types of the TSH Issuer Gateway API (contract `tsh-issuer-gateway.md`), separate from domain
//! types. Tolerant by design: unknown fields ignored, unknown enum values kept, optional fields
//! optional, numbers accepted where strings are expected and the reverse. Never `deny_unknown_fields`.
//!
//! Each callback's wire request becomes its domain input here, in one `TryFrom` per callback
//! (validation included: messages name the field, never the value), and each domain answer
//! becomes its wire response; wire types go no further than the handler.

pub mod digitization;
pub mod eligibility;
pub mod error;
pub mod fields;
pub mod notification;
pub mod original_token;
pub mod otp;
pub mod parse;
pub mod standin;
pub mod tolerant;

pub use error::{ErrorBody, ResponseCode};
pub use fields::Received;

use serde::{Deserialize, Serialize};

/// `tokenRequestor` as TSH sends it; `id` may be a string or a number.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenRequestorWire {
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub wallet_id: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub merchant_id: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub name: Option<String>,
}

impl TokenRequestorWire {
    pub fn to_domain(&self) -> crate::domain::TokenRequestorInfo {
        crate::domain::TokenRequestorInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            wallet_id: self.wallet_id.clone(),
            merchant_id: self.merchant_id.clone(),
        }
    }
}

/// `{}`: the body of every successful notification / OTP answer.
/// (`deny_unknown_fields` only tells the generated document that the object is closed.)
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyResponse {}
