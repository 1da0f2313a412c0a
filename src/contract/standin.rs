//! `notifyStandInProcess` wire types (contract §3.5, resolved): the network decided without us.
//! The decision may be in `levelOfTrust`, `decision` or `standInDecision`.

use serde::Deserialize;
use serde_json::Value;

use super::tolerant;
use super::TokenRequestorWire;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NotifyStandInRequest {
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub issuer_card_ref_id: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub virtual_card_id: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub wallet_provider_id: Option<String>,
    pub token_requestor: Option<TokenRequestorWire>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub level_of_trust: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub decision: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub stand_in_decision: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub reason: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub reason_code: Option<String>,
    pub ciphered_card_info: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub capture_method: Option<String>,
    pub card_capture_information: Option<super::digitization::CardCaptureInformation>,
    pub token_info: Option<Value>,
}

impl NotifyStandInRequest {
    /// The network's decision value, from whichever field carries it.
    pub fn decision_value(&self) -> Option<&str> {
        self.level_of_trust
            .as_deref()
            .or(self.stand_in_decision.as_deref())
            .or(self.decision.as_deref())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    pub fn capture_method(&self) -> Option<String> {
        self.card_capture_information
            .as_ref()
            .and_then(|c| c.capture_method.clone())
            .or_else(|| self.capture_method.clone())
            .map(|m| m.trim().to_ascii_uppercase())
            .filter(|m| !m.is_empty())
    }
}
