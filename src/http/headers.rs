//! The two headers every callback carries (contract §1): `x-correlation-id` (1–64 chars) and
//! `x-issuer-id` (exactly 10 chars, must equal ours). Malformed → 111; well-formed but not ours → 113.
//! A header given twice is malformed (contract §1, resolved): which copy would we believe?

use actix_web::HttpRequest;

use crate::contract::ResponseCode;
use crate::http::error::CallbackError;
use crate::service::CallContext;

fn header<'a>(req: &'a HttpRequest, name: &str) -> Result<Option<&'a str>, CallbackError> {
    let mut values = req.headers().get_all(name);
    let first = values.next();
    if values.next().is_some() {
        return Err(CallbackError::bad_request(
            ResponseCode::InvalidParameter,
            format!("header {name} must be given once"),
        ));
    }
    match first {
        None => Ok(None),
        Some(v) => v.to_str().map(|s| Some(s.trim())).map_err(|_| {
            CallbackError::bad_request(
                ResponseCode::InvalidParameter,
                format!("header {name} must be printable ASCII"),
            )
        }),
    }
}

pub fn check(req: &HttpRequest, issuer_id: &str) -> Result<CallContext, CallbackError> {
    let correlation_id = header(req, "x-correlation-id")?
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            CallbackError::bad_request(
                ResponseCode::InvalidParameter,
                "header x-correlation-id is required",
            )
        })?;
    if correlation_id.len() > 64 || !correlation_id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CallbackError::bad_request(
            ResponseCode::InvalidParameter,
            "header x-correlation-id must be 1 to 64 printable characters",
        ));
    }
    let issuer = header(req, "x-issuer-id")?
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            CallbackError::bad_request(
                ResponseCode::InvalidParameter,
                "header x-issuer-id is required",
            )
        })?;
    if issuer.len() != 10 || !issuer.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CallbackError::bad_request(
            ResponseCode::InvalidParameter,
            "header x-issuer-id must be exactly 10 characters",
        ));
    }
    if issuer != issuer_id {
        return Err(CallbackError::bad_request(
            ResponseCode::UnknownIssuer,
            "unknown issuer",
        ));
    }
    Ok(CallContext {
        correlation_id: correlation_id.to_owned(),
    })
}
