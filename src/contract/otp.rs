//! `sendOTP` wire types (contract §3.3). The OTP is a [`Secret`]: never printed, never stored.

use serde::Deserialize;

use super::parse::BodyError;
use super::{fields, tolerant, Received, TokenRequestorWire};
use crate::domain::callbacks::OtpInput;
use crate::domain::ids::{CardRef, OtpMethodId, VirtualCardId, WalletProviderId};
use crate::domain::Secret;

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendOtpRequest {
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub wallet_provider_id: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub issuer_card_ref_id: Option<String>,
    /// The OTP exactly as the network made it (never logged, never stored).
    #[schema(value_type = Option<String>)]
    pub otp_value: Option<Secret>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub otp_method_id: Option<String>,
    pub token_requestor: Option<TokenRequestorWire>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub virtual_card_id: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub device_binding_reference: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub expiration_date: Option<String>,
}

impl TryFrom<Received<'_, SendOtpRequest>> for OtpInput {
    type Error = BodyError;

    /// Checks in the contract's order; the OTP itself is only checked for presence and shape.
    fn try_from(received: Received<'_, SendOtpRequest>) -> Result<Self, BodyError> {
        let request = received.request;
        let card_ref = fields::required(
            "issuerCardRefId",
            &request.issuer_card_ref_id,
            CardRef::parse,
        )?;
        fields::optional(
            "walletProviderId",
            &request.wallet_provider_id,
            WalletProviderId::parse,
        )?;
        fields::optional(
            "virtualCardId",
            &request.virtual_card_id,
            VirtualCardId::parse,
        )?;
        let otp = request
            .otp_value
            .filter(|o| !o.expose().trim().is_empty())
            .ok_or_else(|| BodyError("otpValue is required".to_owned()))?;
        if otp.len() > 64 || otp.expose().chars().any(|c| c.is_control()) {
            return Err(BodyError("otpValue is malformed".to_owned()));
        }
        let method_id =
            fields::optional("otpMethodId", &request.otp_method_id, OtpMethodId::parse)?;
        Ok(OtpInput {
            card_ref,
            otp,
            method_id,
            expiration_date: request.expiration_date,
        })
    }
}
