//! `sendOTP` wire types (contract §3.3). The OTP is a [`Secret`]: never printed, never stored.

use serde::Deserialize;

use super::tolerant;
use super::TokenRequestorWire;
use crate::domain::Secret;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SendOtpRequest {
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub wallet_provider_id: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub issuer_card_ref_id: Option<String>,
    pub otp_value: Option<Secret>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub otp_method_id: Option<String>,
    pub token_requestor: Option<TokenRequestorWire>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub virtual_card_id: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub device_binding_reference: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub expiration_date: Option<String>,
}
