//! `notifyStandInProcess` wire types (contract §3.5, resolved): the network decided without us.
//! The decision may be in `levelOfTrust`, `decision` or `standInDecision`.

use serde::Deserialize;
use serde_json::Value;

use super::parse::BodyError;
use super::{fields, original_token, tolerant, Received, TokenRequestorWire};
use crate::domain::callbacks::StandInInput;
use crate::domain::ids::{CardRef, VirtualCardId, WalletProviderId};

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotifyStandInRequest {
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub issuer_card_ref_id: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub virtual_card_id: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub wallet_provider_id: Option<String>,
    pub token_requestor: Option<TokenRequestorWire>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub level_of_trust: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub decision: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub stand_in_decision: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub reason: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub reason_code: Option<String>,
    pub ciphered_card_info: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
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

    /// Upper case; `cardCaptureInformation` first, then the top level.
    pub fn capture_method(&self) -> Option<String> {
        fields::capture_method(
            self.card_capture_information.as_ref(),
            &self.capture_method,
            true,
        )
    }
}

impl TryFrom<Received<'_, NotifyStandInRequest>> for StandInInput {
    type Error = BodyError;

    fn try_from(received: Received<'_, NotifyStandInRequest>) -> Result<Self, BodyError> {
        let request = received.request;
        let reference = fields::optional(
            "issuerCardRefId",
            &request.issuer_card_ref_id,
            CardRef::parse,
        )?;
        let virtual_card_id = fields::optional(
            "virtualCardId",
            &request.virtual_card_id,
            VirtualCardId::parse,
        )?;
        let wallet_provider_id = fields::optional(
            "walletProviderId",
            &request.wallet_provider_id,
            WalletProviderId::parse,
        )?;
        let network_decision = fields::text("levelOfTrust", request.decision_value(), 32)?;
        let card = fields::card_locator(
            request.ciphered_card_info.as_deref(),
            reference,
            "issuerCardRefId or cipheredCardInfo is required",
        )?;
        let reason = request.reason.as_ref().map(|r| {
            r.chars()
                .filter(|c| !c.is_control())
                .take(256)
                .collect::<String>()
        });
        Ok(StandInInput {
            card,
            virtual_card_id,
            wallet_provider_id,
            network_decision,
            reason,
            token_requestor: request.token_requestor.as_ref().map(|r| r.to_domain()),
            capture_method: request.capture_method(),
            original_token: original_token::claim(received.body)?,
            message: fields::message_body(received.body),
        })
    }
}
