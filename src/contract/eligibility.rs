//! `checkCardEligibility` wire types (contract §3.1).

use serde::{Deserialize, Serialize};

use super::parse::BodyError;
use super::{fields, original_token, tolerant, Received, TokenRequestorWire};
use crate::domain::callbacks::{EligibilityInput, Eligible};
use crate::domain::ids::{CardRef, WalletProviderId};

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckEligibilityRequest {
    pub ciphered_card_info: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub issuer_card_ref_id: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub wallet_provider_id: Option<String>,
    pub token_requestor: Option<TokenRequestorWire>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub capture_method: Option<String>,
    /// Not in the contract for this call, but some relays nest the capture method as in §3.2.
    pub card_capture_information: Option<super::digitization::CardCaptureInformation>,
}

impl CheckEligibilityRequest {
    /// Upper case; the top level first, then `cardCaptureInformation`.
    pub fn capture_method(&self) -> Option<String> {
        fields::capture_method(
            self.card_capture_information.as_ref(),
            &self.capture_method,
            false,
        )
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckEligibilityResponse {
    pub issuer_card_ref_id: String,
    pub product_id: String,
}

impl TryFrom<Received<'_, CheckEligibilityRequest>> for EligibilityInput {
    type Error = BodyError;

    fn try_from(received: Received<'_, CheckEligibilityRequest>) -> Result<Self, BodyError> {
        let request = received.request;
        let reference = fields::optional(
            "issuerCardRefId",
            &request.issuer_card_ref_id,
            CardRef::parse,
        )?;
        let wallet_provider_id = fields::optional(
            "walletProviderId",
            &request.wallet_provider_id,
            WalletProviderId::parse,
        )?;
        let card = fields::card_locator(
            request.ciphered_card_info.as_deref(),
            reference,
            "cipheredCardInfo or issuerCardRefId is required",
        )?;
        Ok(EligibilityInput {
            card,
            wallet_provider_id,
            token_requestor: request.token_requestor.as_ref().map(|r| r.to_domain()),
            capture_method: request.capture_method(),
            original_token: original_token::claim(received.body)?,
        })
    }
}

impl From<Eligible> for CheckEligibilityResponse {
    fn from(eligible: Eligible) -> Self {
        CheckEligibilityResponse {
            issuer_card_ref_id: eligible.issuer_card_ref_id,
            product_id: eligible.product_id,
        }
    }
}
