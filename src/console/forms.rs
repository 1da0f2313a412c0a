//! Form plumbing shared by the console's POST handlers: the size limit and HTML error for bodies
//! that are not a form, the CSRF refusal, and text checks for free-text fields.
//!
//! Must not: echo a refused value (it may be card data someone pasted by mistake).

use actix_web::error::{InternalError, UrlencodedError};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::layout::message_page;

/// `web::Form` settings for the console: the service's body limit, and an HTML 400 (never the
/// JSON error shape of the APIs) for anything that is not a URL-encoded form.
pub fn form_config(limit: usize) -> web::FormConfig {
    web::FormConfig::default().limit(limit).error_handler(
        |error: UrlencodedError, _req: &HttpRequest| {
            let (status, message) = match &error {
                UrlencodedError::Overflow { .. } => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "The form was too large to accept.",
                ),
                _ => (
                    StatusCode::BAD_REQUEST,
                    "The request was not a form this page accepts.",
                ),
            };
            InternalError::from_response(error, message_page(status, "Not accepted", message))
                .into()
        },
    )
}

/// 403 for a form whose CSRF token is missing, forged or from another session.
pub fn csrf_refused() -> HttpResponse {
    message_page(
        StatusCode::FORBIDDEN,
        "Form not accepted",
        "This form is out of date or was not issued to your session. Nothing was changed. \
         Reload the page and try again.",
    )
}
