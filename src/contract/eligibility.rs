//! `checkCardEligibility` wire types (contract §3.1).

use serde::{Deserialize, Serialize};

use super::tolerant;
use super::TokenRequestorWire;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CheckEligibilityRequest {
    pub ciphered_card_info: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub issuer_card_ref_id: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub wallet_provider_id: Option<String>,
    pub token_requestor: Option<TokenRequestorWire>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub capture_method: Option<String>,
    /// Not in the contract for this call, but some relays nest the capture method as in §3.2.
    pub card_capture_information: Option<super::digitization::CardCaptureInformation>,
}

impl CheckEligibilityRequest {
    pub fn capture_method(&self) -> Option<String> {
        self.capture_method
            .clone()
            .or_else(|| {
                self.card_capture_information
                    .as_ref()
                    .and_then(|c| c.capture_method.clone())
            })
            .map(|m| m.trim().to_ascii_uppercase())
            .filter(|m| !m.is_empty())
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckEligibilityResponse {
    pub issuer_card_ref_id: String,
    pub product_id: String,
}
