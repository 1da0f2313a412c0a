//! The one mapping from service errors to HTTP: the contract's `{"responseCode","errorMessage"}`
//! for callbacks ([`CallbackError`]), Marqeta-style `{"error_code","error_message"}` for the staff
//! API ([`StaffError`]). Conversions are plain matches and never log: internal causes travel in
//! the error (its `Display`, never its body) and are logged where the error is handled — the
//! callback handler, and the staff scope's middleware (`http::metrics::count_staff_requests`).

use actix_web::http::header::{HeaderValue, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

use super::body::BodyReadError;
use crate::contract::{ErrorBody, ResponseCode};
use crate::service::cards::CardError;
use crate::service::events::ResendError;
use crate::service::reconcile::ReconcileError;
use crate::service::staff_actions::ActionError;
use crate::service::staff_queries::QueryError;
use crate::service::Refusal;
use crate::store::StoreError;
use crate::tsh_client::TshError;

/// A callback error ready to send.
#[derive(Debug)]
pub struct CallbackError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// Why a 500 happened, for the log only (never sent).
    pub cause: Option<String>,
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
            cause: None,
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
                return CallbackError {
                    cause: Some(cause.to_string()),
                    ..CallbackError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        ResponseCode::UnexpectedError,
                        "unexpected server error",
                    )
                };
            }
        };
        CallbackError::bad_request(code, refusal.to_string())
    }
}

/// Staff API error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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

/// Why a staff request failed, as staff are told. `Display` is the message for staff except for
/// [`StaffError::Internal`], whose `Display` adds the cause for the log.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StaffError {
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("this token lacks the required role")]
    Forbidden,
    /// A query or path parameter.
    #[error("{0}")]
    InvalidParameter(String),
    #[error("Content-Type must be application/json")]
    InvalidContentType,
    #[error("request body is too large")]
    BodyTooLarge,
    #[error("request body not received in time")]
    BodyTimedOut,
    #[error("{0}")]
    InvalidBody(String),
    #[error("{0}")]
    InvalidCard(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    IllegalTransition(String),
    #[error("{0}")]
    InvalidRules(String),
    /// The outbound event feed is not configured.
    #[error("{0}")]
    EventFeedOff(String),
    /// TSH did not take a staff action; the message names the operation's correlation id.
    #[error("{message}")]
    Tsh { error: TshError, message: String },
    #[error("{message}: {cause}")]
    Internal {
        message: &'static str,
        cause: String,
    },
}

impl StaffError {
    /// An unexpected failure; staff read only "unexpected server error".
    pub fn internal(cause: impl std::fmt::Display) -> StaffError {
        StaffError::Internal {
            message: "unexpected server error",
            cause: cause.to_string(),
        }
    }

    /// The one table of statuses and error codes of the staff API.
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            StaffError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            StaffError::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            StaffError::InvalidParameter(_) => (StatusCode::BAD_REQUEST, "invalid_parameter"),
            StaffError::InvalidContentType => (StatusCode::BAD_REQUEST, "invalid_content_type"),
            StaffError::BodyTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            StaffError::BodyTimedOut => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            StaffError::InvalidBody(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
            StaffError::InvalidCard(_) => (StatusCode::BAD_REQUEST, "invalid_card"),
            StaffError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            StaffError::IllegalTransition(_) => (StatusCode::CONFLICT, "illegal_transition"),
            StaffError::InvalidRules(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_rules"),
            StaffError::EventFeedOff(_) => (StatusCode::CONFLICT, "event_feed_off"),
            StaffError::Tsh { error, .. } => tsh_status_and_code(error),
            StaffError::Internal { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }

    /// What the body says: never the internal cause.
    fn public_message(&self) -> String {
        match self {
            StaffError::Internal { message, .. } => (*message).to_owned(),
            other => other.to_string(),
        }
    }
}

fn tsh_status_and_code(error: &TshError) -> (StatusCode, &'static str) {
    match error {
        TshError::NotConfigured | TshError::NoEncryptionCert => {
            (StatusCode::SERVICE_UNAVAILABLE, "tsh_not_configured")
        }
        TshError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "tsh_timeout"),
        TshError::Encrypt(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        TshError::Refused { .. } => (StatusCode::BAD_GATEWAY, "tsh_refused"),
        TshError::Unreachable { .. } | TshError::InvalidResponse(_) | TshError::Transport(_) => {
            (StatusCode::BAD_GATEWAY, "tsh_unavailable")
        }
    }
}

impl ResponseError for StaffError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code) = self.status_and_code();
        let mut response = staff_error(status, code, self.public_message());
        if matches!(self, StaffError::Unauthorized) {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<&ActionError> for StaffError {
    fn from(error: &ActionError) -> Self {
        match error {
            ActionError::Invalid(m) => StaffError::InvalidBody(m.clone()),
            ActionError::NotFound(what) => StaffError::NotFound(what),
            ActionError::Conflict(m) => StaffError::IllegalTransition(m.clone()),
            ActionError::Tsh { error: tsh, .. } => StaffError::Tsh {
                error: tsh.clone(),
                message: error.to_string(),
            },
            ActionError::Store(e) => StaffError::internal(e),
        }
    }
}

impl From<ActionError> for StaffError {
    fn from(error: ActionError) -> Self {
        StaffError::from(&error)
    }
}

impl From<QueryError> for StaffError {
    fn from(error: QueryError) -> Self {
        match error {
            QueryError::NotFound(what) => StaffError::NotFound(what),
            QueryError::Store(e) => StaffError::internal(e),
        }
    }
}

impl From<CardError> for StaffError {
    fn from(error: CardError) -> Self {
        match error {
            CardError::Invalid(e) => StaffError::InvalidCard(e.to_string()),
            CardError::Store(e) => StaffError::internal(e),
        }
    }
}

impl From<BodyReadError> for StaffError {
    fn from(error: BodyReadError) -> Self {
        match error {
            BodyReadError::TooLarge { .. } => StaffError::BodyTooLarge,
            BodyReadError::Incomplete => {
                StaffError::InvalidBody("request body could not be read".to_owned())
            }
            BodyReadError::TimedOut => StaffError::BodyTimedOut,
        }
    }
}

impl From<ResendError> for StaffError {
    fn from(error: ResendError) -> Self {
        match error {
            ResendError::NotFound => StaffError::NotFound("event"),
            e @ ResendError::FeedOff => StaffError::EventFeedOff(e.to_string()),
            ResendError::Store(e) => StaffError::internal(e),
        }
    }
}

impl From<ReconcileError> for StaffError {
    fn from(error: ReconcileError) -> Self {
        match error {
            ReconcileError::UnknownCard => StaffError::NotFound("card"),
            e @ ReconcileError::TshNotConfigured => StaffError::Tsh {
                error: TshError::NotConfigured,
                message: e.to_string(),
            },
            ReconcileError::Store(e) => StaffError::internal(e),
        }
    }
}

impl From<StoreError> for StaffError {
    fn from(error: StoreError) -> Self {
        StaffError::internal(error)
    }
}

/// The status staff are answered with for a staff action's outcome, recorded in the audit trail
/// by the use cases that audit inside their own transaction (`service::staff_actions`).
pub fn staff_action_status(outcome: Result<(), &ActionError>) -> u16 {
    match outcome {
        Ok(()) => StatusCode::ACCEPTED.as_u16(),
        Err(error) => StaffError::from(error).status_code().as_u16(),
    }
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
