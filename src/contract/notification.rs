//! `notifyVirtualCardChange` wire types (contract §3.4). `tokenInfo` stays raw JSON: it may be an
//! object or a string and carries the token number, which is fingerprinted and then dropped.

use serde::Deserialize;
use serde_json::Value;

use super::parse::BodyError;
use super::{fields, original_token, tolerant, Received, TokenRequestorWire};
use crate::domain::callbacks::{NotificationInput, WalletAttributes};
use crate::domain::ids::{CardRef, VirtualCardId, WalletProviderId, WalletRef};
use crate::domain::LifecycleAction;

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotifyVirtualCardChangeRequest {
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub issuer_card_ref_id: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub virtual_card_id: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub wallet_provider_id: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub token_storage_id: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_bool")]
    pub is_primary: Option<bool>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub wallet_card_ref_id: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub wallet_virtual_card_id: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub primary_wallet_virtual_card_id: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub action: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub source: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_i64")]
    pub error_code: Option<i64>,
    pub token_info: Option<Value>,
    pub token_requestor: Option<TokenRequestorWire>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub device_binding_reference: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub reason: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub reason_code: Option<String>,
}

impl TryFrom<Received<'_, NotifyVirtualCardChangeRequest>> for NotificationInput {
    type Error = BodyError;

    fn try_from(received: Received<'_, NotifyVirtualCardChangeRequest>) -> Result<Self, BodyError> {
        let request = received.request;
        let card_ref = fields::required(
            "issuerCardRefId",
            &request.issuer_card_ref_id,
            CardRef::parse,
        )?;
        let virtual_card_id = fields::required(
            "virtualCardId",
            &request.virtual_card_id,
            VirtualCardId::parse,
        )?;
        let wallet_provider_id = fields::required(
            "walletProviderId",
            &request.wallet_provider_id,
            WalletProviderId::parse,
        )?;
        let wallet = wallet_attributes(&request)?;
        // `action` is optional in the contract: a notification without one is recorded and
        // changes no state (read as an unknown action).
        let action = fields::text("action", request.action.as_deref(), 32)?;
        let token_info = original_token::token_info(received.body);
        let token_reference_id = fields::text(
            "tokenInfo.tokenReferenceId",
            token_info.token_reference_id.as_deref(),
            64,
        )?;
        Ok(NotificationInput {
            card_ref,
            virtual_card_id,
            wallet_provider_id,
            wallet,
            action: LifecycleAction::from(action.unwrap_or_default()),
            source: request.source,
            error_code: request.error_code,
            reason: request.reason,
            reason_code: request.reason_code,
            token_requestor: request.token_requestor.as_ref().map(|r| r.to_domain()),
            token_number: token_info.token_number,
            token_reference_id,
            original_token: original_token::claim(received.body)?,
            message: fields::message_body(received.body),
        })
    }
}

fn wallet_attributes(
    request: &NotifyVirtualCardChangeRequest,
) -> Result<WalletAttributes, BodyError> {
    let token_storage_id = fields::optional(
        "tokenStorageId",
        &request.token_storage_id,
        WalletRef::parse,
    )?;
    let wallet_card_ref_id = fields::optional(
        "walletCardRefId",
        &request.wallet_card_ref_id,
        WalletRef::parse,
    )?;
    let wallet_virtual_card_id = fields::optional(
        "walletVirtualCardId",
        &request.wallet_virtual_card_id,
        WalletRef::parse,
    )?;
    fields::optional(
        "primaryWalletVirtualCardId",
        &request.primary_wallet_virtual_card_id,
        WalletRef::parse,
    )?;
    let device_binding_reference = fields::optional(
        "deviceBindingReference",
        &request.device_binding_reference,
        WalletRef::parse,
    )?;
    Ok(WalletAttributes {
        token_storage_id,
        wallet_card_ref_id,
        wallet_virtual_card_id,
        device_binding_reference,
        is_primary: request.is_primary,
    })
}
