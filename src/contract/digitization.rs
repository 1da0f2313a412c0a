//! `requestCardDigitization` and `getIDnVMethodList` wire types (contract §3.2, §3.6). Scoring,
//! device and wallet-user blocks arrive as open JSON objects (their field lists grow over time and
//! every score may be a number or a numeric string); they are read here, by name and tolerantly,
//! into the domain's typed [`Signals`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::parse::BodyError;
use super::{fields, original_token, tolerant, Received, TokenRequestorWire};
use crate::domain::callbacks::{
    DigitizationDecision, DigitizationInput, IdvMethodListInput, SealedCardData,
};
use crate::domain::ids::{CardRef, VirtualCardId, WalletProviderId};
use crate::domain::signals::{DeviceSignals, ScoringSignals, Signals, WalletUserSignals};
use crate::domain::IdvMethod;
use crate::json::lenient::{first_text, get_ci, value_as_bool, value_as_number, value_as_string};

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CardCaptureInformation {
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub capture_method: Option<String>,
    /// Free-form (string or object); read tolerantly for a country.
    pub device_location: Option<Value>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub source_ip: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestDigitizationRequest {
    pub ciphered_card_info: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub issuer_card_ref_id: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub wallet_provider_id: Option<String>,
    pub token_requestor: Option<TokenRequestorWire>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub wallet_card_ref_id: Option<String>,
    pub authentication_value: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_bool")]
    pub cvv_validated: Option<bool>,
    #[serde(default, deserialize_with = "tolerant::opt_bool")]
    pub tnc_status: Option<bool>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub tnc_accepted_date: Option<String>,
    pub card_capture_information: Option<CardCaptureInformation>,
    /// Top-level capture method, tolerated when a relay flattens `cardCaptureInformation`.
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub capture_method: Option<String>,
    pub scoring_information: Option<Map<String, Value>>,
    pub device_information: Option<Map<String, Value>>,
    pub wallet_user_information: Option<Map<String, Value>>,
}

impl RequestDigitizationRequest {
    /// Upper case; `cardCaptureInformation` first, then the top level.
    pub fn capture_method(&self) -> Option<String> {
        fields::capture_method(
            self.card_capture_information.as_ref(),
            &self.capture_method,
            true,
        )
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestDigitizationResponse {
    pub level_of_trust: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idv_method_list: Option<Vec<IdvMethod>>,
}

/// `getIDnVMethodList` (contract §3.6).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetIdvMethodListRequest {
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub issuer_card_ref_id: Option<String>,
    #[serde(default, deserialize_with = "tolerant::opt_string")]
    pub virtual_card_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetIdvMethodListResponse {
    pub idv_method_list: Vec<IdvMethod>,
}

impl TryFrom<Received<'_, RequestDigitizationRequest>> for DigitizationInput {
    type Error = BodyError;

    fn try_from(received: Received<'_, RequestDigitizationRequest>) -> Result<Self, BodyError> {
        let request = received.request;
        let card_ref = fields::optional(
            "issuerCardRefId",
            &request.issuer_card_ref_id,
            CardRef::parse,
        )?;
        let wallet_provider_id = fields::optional(
            "walletProviderId",
            &request.wallet_provider_id,
            WalletProviderId::parse,
        )?;
        let card_data = request
            .ciphered_card_info
            .as_deref()
            .and_then(SealedCardData::new)
            .ok_or_else(|| BodyError("cipheredCardInfo is required".to_owned()))?;
        Ok(DigitizationInput {
            card_ref,
            wallet_provider_id,
            card_data,
            authentication_value: request
                .authentication_value
                .as_deref()
                .and_then(SealedCardData::new),
            token_requestor: request.token_requestor.as_ref().map(|r| r.to_domain()),
            cvv_validated: request.cvv_validated,
            tnc_accepted: request.tnc_status,
            capture_method: request.capture_method(),
            signals: signals(&request),
            original_token: original_token::claim(received.body)?,
            message: fields::message_body(received.body),
        })
    }
}

impl From<DigitizationDecision> for RequestDigitizationResponse {
    fn from(decision: DigitizationDecision) -> Self {
        RequestDigitizationResponse {
            level_of_trust: decision.level_of_trust.as_str(),
            idv_method_list: decision.idv_methods,
        }
    }
}

impl TryFrom<Received<'_, GetIdvMethodListRequest>> for IdvMethodListInput {
    type Error = BodyError;

    fn try_from(received: Received<'_, GetIdvMethodListRequest>) -> Result<Self, BodyError> {
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
        if reference.is_none() && virtual_card_id.is_none() {
            return Err(BodyError(
                "issuerCardRefId or virtualCardId is required".to_owned(),
            ));
        }
        Ok(IdvMethodListInput {
            card_ref: reference,
            virtual_card_id,
        })
    }
}

impl GetIdvMethodListResponse {
    pub fn of(methods: Vec<IdvMethod>) -> GetIdvMethodListResponse {
        GetIdvMethodListResponse {
            idv_method_list: methods,
        }
    }
}

/// A trimmed, non-empty text value of `object[key]` (any key case; numbers read as text).
fn text_of(object: Option<&Map<String, Value>>, key: &str) -> Option<String> {
    object.and_then(|o| first_text(o, &[key]))
}

fn number_of(object: Option<&Map<String, Value>>, key: &str) -> Option<f64> {
    object
        .and_then(|o| get_ci(o, key))
        .and_then(value_as_number)
}

/// Every risk signal of the request, read tolerantly by name.
fn signals(request: &RequestDigitizationRequest) -> Signals {
    Signals {
        scoring: scoring(request.scoring_information.as_ref()),
        device: device(request),
        wallet_user: wallet_user(request.wallet_user_information.as_ref()),
    }
}

fn scoring(scoring: Option<&Map<String, Value>>) -> ScoringSignals {
    ScoringSignals {
        level_of_trust: text_of(scoring, "levelOfTrust"),
        tsp_score: number_of(scoring, "tspScore"),
        device_score: number_of(scoring, "deviceScore"),
        account_score: number_of(scoring, "accountScore"),
        phone_number_score: number_of(scoring, "phoneNumberScore"),
        wallet_score: number_of(scoring, "walletScore"),
        card_score: number_of(scoring, "cardScore"),
        device_tenure: number_of(scoring, "deviceTenure"),
        user_tenure: number_of(scoring, "userTenure"),
        card_newly_added: scoring
            .and_then(|s| get_ci(s, "cardNewlyAdded"))
            .and_then(value_as_bool),
        reason_codes: scoring
            .and_then(|s| get_ci(s, "reasonCodes"))
            .and_then(reason_codes),
    }
}

/// Reason codes as a list, or packed into one comma- or space-separated string.
fn reason_codes(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(codes) => Some(
            codes
                .iter()
                .filter_map(value_as_string)
                .map(|c| c.trim().to_owned())
                .collect(),
        ),
        Value::String(codes) => Some(
            codes
                .split([',', ' '])
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

fn device(request: &RequestDigitizationRequest) -> DeviceSignals {
    let device = request.device_information.as_ref();
    DeviceSignals {
        device_id: device.and_then(|d| first_text(d, &["deviceId", "serialNumber", "imei"])),
        token_storage_type: text_of(device, "tokenStorageType"),
        manufacturer: text_of(device, "manufacturer"),
        brand: text_of(device, "brand"),
        model: text_of(device, "model"),
        os_version: text_of(device, "osVersion"),
        language: text_of(device, "language"),
        country: device_country(request),
    }
}

/// A country from `deviceLocation` (object with `country`/`countryCode`, or an ISO code string),
/// else from `deviceInformation`.
fn device_country(request: &RequestDigitizationRequest) -> Option<String> {
    let location = request
        .card_capture_information
        .as_ref()
        .and_then(|c| c.device_location.as_ref());
    let from_location = match location {
        Some(Value::Object(obj)) => ["country", "countryCode", "country_code"]
            .iter()
            .find_map(|k| get_ci(obj, k).and_then(value_as_string)),
        Some(Value::String(s)) if s.trim().len() == 2 => Some(s.trim().to_owned()),
        _ => None,
    };
    from_location
        .or_else(|| {
            request.device_information.as_ref().and_then(|d| {
                ["deviceCountry", "country"]
                    .iter()
                    .find_map(|k| get_ci(d, k).and_then(value_as_string))
            })
        })
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty())
}

fn wallet_user(user: Option<&Map<String, Value>>) -> WalletUserSignals {
    WalletUserSignals {
        account_country: text_of(user, "walletAccountCountry"),
        provisioning_attempts_on_device_in_24_hours: number_of(
            user,
            "provisioningAttemptsOnDeviceIn24Hours",
        ),
        suspended_cards_in_account: number_of(user, "suspendedCardsInAccount"),
        days_since_last_account_activity: number_of(user, "daysSinceLastAccountActivity"),
        number_of_active_tokens: number_of(user, "numberOfActiveTokens"),
    }
}
