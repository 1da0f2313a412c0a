//! `requestCardDigitization` wire types (contract §3.2). Scoring, device and wallet-user blocks are
//! kept as raw JSON objects: their field lists grow over time and every score may be a number or a
//! numeric string, so the service reads them by name into rule facts.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::tolerant;
use super::TokenRequestorWire;
use crate::domain::IdvMethod;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CardCaptureInformation {
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub capture_method: Option<String>,
    /// Free-form (string or object); read tolerantly for a country.
    pub device_location: Option<Value>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub source_ip: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestDigitizationRequest {
    pub ciphered_card_info: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub issuer_card_ref_id: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub wallet_provider_id: Option<String>,
    pub token_requestor: Option<TokenRequestorWire>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub wallet_card_ref_id: Option<String>,
    pub authentication_value: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_bool")]
    pub cvv_validated: Option<bool>,
    #[serde(deserialize_with = "tolerant::opt_bool")]
    pub tnc_status: Option<bool>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub tnc_accepted_date: Option<String>,
    pub card_capture_information: Option<CardCaptureInformation>,
    /// Top-level capture method, tolerated when a relay flattens `cardCaptureInformation`.
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub capture_method: Option<String>,
    pub scoring_information: Option<Map<String, Value>>,
    pub device_information: Option<Map<String, Value>>,
    pub wallet_user_information: Option<Map<String, Value>>,
}

impl RequestDigitizationRequest {
    pub fn capture_method(&self) -> Option<String> {
        self.card_capture_information
            .as_ref()
            .and_then(|c| c.capture_method.clone())
            .or_else(|| self.capture_method.clone())
            .map(|m| m.trim().to_ascii_uppercase())
            .filter(|m| !m.is_empty())
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestDigitizationResponse {
    pub level_of_trust: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idv_method_list: Option<Vec<IdvMethod>>,
}

/// `getIDnVMethodList` (contract §3.6).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetIdvMethodListRequest {
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub issuer_card_ref_id: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub virtual_card_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetIdvMethodListResponse {
    pub idv_method_list: Vec<IdvMethod>,
}
