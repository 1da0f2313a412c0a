//! `notifyVirtualCardChange` wire types (contract §3.4). `tokenInfo` stays raw JSON: it may be an
//! object or a string and carries the token number, which is fingerprinted and then dropped.

use serde::Deserialize;
use serde_json::Value;

use super::tolerant;
use super::TokenRequestorWire;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NotifyVirtualCardChangeRequest {
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub issuer_card_ref_id: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub virtual_card_id: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub wallet_provider_id: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub token_storage_id: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_bool")]
    pub is_primary: Option<bool>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub wallet_card_ref_id: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub wallet_virtual_card_id: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub primary_wallet_virtual_card_id: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub action: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub source: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_i64")]
    pub error_code: Option<i64>,
    pub token_info: Option<Value>,
    pub token_requestor: Option<TokenRequestorWire>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub device_binding_reference: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub reason: Option<String>,
    #[serde(deserialize_with = "tolerant::opt_string")]
    pub reason_code: Option<String>,
}
