//! Wire types of TSH's inbound API (contract §5), camelCase as TSH names them. Answers are read
//! tolerantly (unknown fields ignored, everything optional); requests never carry card data in
//! clear — `fpanDetails` is sealed before it gets here.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `updateCardState` actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CardStateAction {
    Suspend,
    Resume,
    Delete,
}

impl CardStateAction {
    pub fn as_str(&self) -> &'static str {
        match self {
            CardStateAction::Suspend => "SUSPEND",
            CardStateAction::Resume => "RESUME",
            CardStateAction::Delete => "DELETE",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateCardStateRequest {
    pub issuer_card_ref_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtual_card_id: Option<String>,
    pub action: CardStateAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetCardInfoRequest {
    pub issuer_card_ref_id: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetTokenInfoRequest {
    pub issuer_card_ref_id: String,
    pub virtual_card_id: String,
}

/// `getCardInfo` answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CardInfo {
    pub issuer_card_ref_id: Option<String>,
    pub virtual_card_list: Vec<VirtualCardInfo>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VirtualCardInfo {
    pub virtual_card_id: Option<String>,
    pub issuer_card_ref_id: Option<String>,
    pub wallet_provider_id: Option<String>,
    pub device_information: Option<Value>,
    pub status: Option<String>,
}

/// `getTokenInfo` answer: the known identifiers and the rest kept raw. It may carry the token
/// number, so callers must not log or store `details` as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenInfo {
    pub virtual_card_id: Option<String>,
    pub issuer_card_ref_id: Option<String>,
    pub wallet_provider_id: Option<String>,
    pub status: Option<String>,
    #[serde(flatten)]
    pub details: serde_json::Map<String, Value>,
}

/// The clear content of `fpanDetails` (sealed for TSH's certificate before sending).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FpanDetails<'a> {
    #[serde(rename = "oldFPAN", skip_serializing_if = "Option::is_none")]
    pub old_fpan: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_exp_date: Option<String>,
    #[serde(rename = "newFPAN", skip_serializing_if = "Option::is_none")]
    pub new_fpan: Option<&'a str>,
    pub new_exp_date: String,
}

/// What `updateCard` is asked to do, in clear (the client seals `fpan`).
pub struct UpdateCard<'a> {
    pub issuer_card_ref_id: String,
    pub new_issuer_card_ref_id: Option<String>,
    pub old_exp: Option<String>,
    /// The new PAN's digits; sealed, never logged.
    pub new_pan: Option<&'a str>,
    pub new_exp: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateCardRequest {
    pub issuer_card_ref_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_issuer_card_ref_id: Option<String>,
    /// Base64 DER CMS EnvelopedData for TSH's encryption certificate (RSA-OAEP-SHA256, AES-256-CBC).
    pub fpan_details: String,
}

/// TSH's error body (same shape as ours towards it).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TshErrorBody {
    pub response_code: Option<Value>,
    pub error_message: Option<String>,
}
