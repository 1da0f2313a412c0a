//! An enrolment session, keyed by TSH's `x-correlation-id`: eligibility → digitization decision(s)
//! → OTP sends → notifications. OTP values are never part of it.

use serde::{Deserialize, Serialize};

use crate::domain::{IdvMethod, OriginalToken, TokenRequestorInfo};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EligibilityRecord {
    pub product_id: String,
    pub issuer_card_ref_id: String,
    #[serde(default)]
    pub capture_method: Option<String>,
    pub created_time: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OtpSendRecord {
    pub method_id: Option<String>,
    /// `sms` or `email`; absent when no channel could be chosen.
    pub channel: Option<String>,
    /// `delivered`, `failed`, `rate_limited`, `no_method`.
    pub outcome: String,
    #[serde(default)]
    pub detail: Option<String>,
    pub created_time: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NotificationRef {
    pub virtual_card_id: String,
    pub action: String,
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub error_code: Option<i64>,
    pub created_time: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Enrollment {
    pub correlation_id: String,
    #[serde(default)]
    pub issuer_card_ref_id: Option<String>,
    #[serde(default)]
    pub capture_method: Option<String>,
    #[serde(default)]
    pub token_for_token: bool,
    #[serde(default)]
    pub wallet_provider_id: Option<String>,
    #[serde(default)]
    pub token_requestor: Option<TokenRequestorInfo>,
    #[serde(default)]
    pub eligibility: Option<EligibilityRecord>,
    /// Ids into the decisions tree, oldest first.
    #[serde(default)]
    pub decision_ids: Vec<String>,
    /// The methods offered on the last yellow decision.
    #[serde(default)]
    pub idv_methods: Vec<IdvMethod>,
    #[serde(default)]
    pub otp_sends: Vec<OtpSendRecord>,
    #[serde(default)]
    pub notifications: Vec<NotificationRef>,
    #[serde(default)]
    pub original_token: Option<OriginalToken>,
    #[serde(default)]
    pub virtual_card_ids: Vec<String>,
    pub created_time: String,
    pub last_modified_time: String,
}

impl Enrollment {
    pub fn new(correlation_id: &str, now: &str) -> Enrollment {
        Enrollment {
            correlation_id: correlation_id.to_owned(),
            created_time: now.to_owned(),
            last_modified_time: now.to_owned(),
            ..Default::default()
        }
    }

    /// Keeps lists bounded: an enrolment is one session, but a misbehaving client could reuse a
    /// correlation id forever.
    pub const MAX_LIST: usize = 200;

    pub fn push_bounded<T>(list: &mut Vec<T>, item: T) {
        if list.len() >= Self::MAX_LIST {
            list.remove(0);
        }
        list.push(item);
    }
}

/// What a callback tells about its enrolment session.
#[derive(Debug, Clone, Default)]
pub struct EnrollmentNote {
    pub issuer_card_ref_id: String,
    /// Upper case.
    pub capture_method: Option<String>,
    pub wallet_provider_id: Option<String>,
    pub token_requestor: Option<TokenRequestorInfo>,
    pub original_token: Option<OriginalToken>,
}

impl Enrollment {
    /// Our own calls (eligibility, digitization): what the latest request says wins.
    pub fn note_request(&mut self, note: &EnrollmentNote) {
        self.issuer_card_ref_id = Some(note.issuer_card_ref_id.clone());
        if note.capture_method.is_some() {
            self.capture_method.clone_from(&note.capture_method);
        }
        self.token_for_token = self.capture_method.as_deref() == Some("TOKEN");
        if note.wallet_provider_id.is_some() {
            self.wallet_provider_id.clone_from(&note.wallet_provider_id);
        }
        if note.token_requestor.is_some() {
            self.token_requestor.clone_from(&note.token_requestor);
        }
        OriginalToken::merge_into(&mut self.original_token, note.original_token.as_ref());
    }

    /// The network's stand-in: fills only what the session does not know yet.
    pub fn fill_gaps(&mut self, note: &EnrollmentNote) {
        if self.issuer_card_ref_id.is_none() {
            self.issuer_card_ref_id = Some(note.issuer_card_ref_id.clone());
        }
        if self.capture_method.is_none() {
            self.capture_method.clone_from(&note.capture_method);
            self.token_for_token = note.capture_method.as_deref() == Some("TOKEN");
        }
        if self.wallet_provider_id.is_none() {
            self.wallet_provider_id.clone_from(&note.wallet_provider_id);
        }
        if self.token_requestor.is_none() {
            self.token_requestor.clone_from(&note.token_requestor);
        }
        OriginalToken::merge_into(&mut self.original_token, note.original_token.as_ref());
    }
}
