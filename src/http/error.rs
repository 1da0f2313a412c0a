//! Maps service refusals to HTTP: the contract's `{"responseCode","errorMessage"}` for callbacks,
//! Marqeta-style `{"error_code","error_message"}` for the staff API. Internal causes are logged
//! here, once, and never sent to the caller.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use crate::contract::{ErrorBody, ResponseCode};
use crate::service::Refusal;

/// A callback error ready to send.
#[derive(Debug)]
pub struct CallbackError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl CallbackError {
    pub fn new(
        status: StatusCode,
        code: ResponseCode,
        message: impl Into<String>,
    ) -> CallbackError {
        CallbackError {
            status,
            body: ErrorBody::new(code, message),
        }
    }

    pub fn bad_request(code: ResponseCode, message: impl Into<String>) -> CallbackError {
        CallbackError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(&self.body)
    }
}

impl From<Refusal> for CallbackError {
    fn from(refusal: Refusal) -> Self {
        let code = match &refusal {
            Refusal::InvalidParameter(_) => ResponseCode::InvalidParameter,
            Refusal::UnknownIssuer => ResponseCode::UnknownIssuer,
            Refusal::UnknownProduct => ResponseCode::UnknownProduct,
            Refusal::UnknownCard => ResponseCode::UnknownCard,
            Refusal::UnknownVirtualCard => ResponseCode::UnknownVirtualCard,
            Refusal::CardNotActive => ResponseCode::CardNotActive,
            Refusal::CardExpired => ResponseCode::CardExpired,
            Refusal::InvalidCardData(_) => ResponseCode::InvalidFpan,
            Refusal::InvalidOtpMethod => ResponseCode::InvalidOtpMethod,
            Refusal::CannotDeliver(_) => ResponseCode::VerificationDeclined,
            Refusal::Internal(cause) => {
                tracing::error!(error = %cause, "internal error while handling a callback");
                return CallbackError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ResponseCode::UnexpectedError,
                    "unexpected server error",
                );
            }
        };
        CallbackError::bad_request(code, refusal.to_string())
    }
}

/// Staff API error body.
#[derive(Debug, Serialize)]
pub struct StaffErrorBody {
    pub error_code: &'static str,
    pub error_message: String,
}

pub fn staff_error(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> HttpResponse {
    HttpResponse::build(status).json(StaffErrorBody {
        error_code: code,
        error_message: message.into(),
    })
}

/// Unknown paths: the contract's shape, so a mistyped TSH prefix is easy to spot.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    let _ = req;
    CallbackError::new(
        StatusCode::NOT_FOUND,
        ResponseCode::InvalidParameter,
        "no such endpoint",
    )
    .response()
}
