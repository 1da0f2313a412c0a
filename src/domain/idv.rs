//! Step-up (ID&V) methods offered to the cardholder on a yellow decision.
//!
//! Only methods the issuer can complete end to end are offered: `cell_phone` when the card has a phone
//! (OTP by SMS), `email` when it has an e-mail address. Ids are stable per card and contact, so the
//! `otpMethodId` TSH sends back later can be matched without storing the list.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdvMethodType {
    CellPhone,
    Email,
    AppToApp,
    CustomerService,
    Website,
}

impl IdvMethodType {
    pub fn as_str(&self) -> &'static str {
        match self {
            IdvMethodType::CellPhone => "cell_phone",
            IdvMethodType::Email => "email",
            IdvMethodType::AppToApp => "app_to_app",
            IdvMethodType::CustomerService => "customer_service",
            IdvMethodType::Website => "website",
        }
    }

    /// The OTP gateway channel for this method, if it is an OTP method.
    pub fn otp_channel(&self) -> Option<&'static str> {
        match self {
            IdvMethodType::CellPhone => Some("sms"),
            IdvMethodType::Email => Some("email"),
            _ => None,
        }
    }
}

/// One entry of `idvMethodList`, exactly as sent to TSH (`value` is masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IdvMethod {
    pub id: String,
    #[serde(rename = "type")]
    pub method_type: IdvMethodType,
    pub value: String,
}

/// A step-up method together with its delivery target (full phone number or e-mail). The target is
/// needed to deliver an OTP and is never serialized into a response or a decision record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUpContact {
    pub method: IdvMethod,
    pub target: String,
}
