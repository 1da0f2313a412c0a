//! The contract's error shape `{"responseCode": <int>, "errorMessage": "<text>"}` and its codes (§1).

use serde::Serialize;

/// Response codes of contract §1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseCode {
    InvalidParameter,
    UnknownIssuer,
    UnknownProduct,
    UnknownCard,
    UnknownVirtualCard,
    CardNotActive,
    CardExpired,
    InvalidCvv2,
    InvalidFpan,
    TimeToLiveExpired,
    InvalidOtpMethod,
    VerificationDeclined,
    OperationFailed,
    UnexpectedError,
}

impl ResponseCode {
    pub fn code(&self) -> u16 {
        match self {
            ResponseCode::InvalidParameter => 111,
            ResponseCode::UnknownIssuer => 113,
            ResponseCode::UnknownProduct => 115,
            ResponseCode::UnknownCard => 116,
            ResponseCode::UnknownVirtualCard => 119,
            ResponseCode::CardNotActive => 159,
            ResponseCode::CardExpired => 160,
            ResponseCode::InvalidCvv2 => 161,
            ResponseCode::InvalidFpan => 166,
            ResponseCode::TimeToLiveExpired => 322,
            ResponseCode::InvalidOtpMethod => 501,
            ResponseCode::VerificationDeclined => 510,
            ResponseCode::OperationFailed => 911,
            ResponseCode::UnexpectedError => 921,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub response_code: u16,
    pub error_message: String,
}

impl ErrorBody {
    pub fn new(code: ResponseCode, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            response_code: code.code(),
            error_message: message.into(),
        }
    }
}
