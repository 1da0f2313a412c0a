//! The TSH callbacks: `POST {prefix}/{operationName}`, operation names matched case-insensitively
//! (contract §1). Order of checks: operation, headers, content type, size, JSON, fields.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use tracing::Instrument;

use super::body::{is_json_or_absent, read_limited, BodyReadError};
use super::error::CallbackError;
use super::headers;
use crate::contract::parse::{parse_object, typed};
use crate::contract::{EmptyResponse, ResponseCode};
use crate::service::{self, Refusal, Services};

/// The callback operations we serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    CheckCardEligibility,
    RequestCardDigitization,
    SendOtp,
    NotifyVirtualCardChange,
    NotifyStandInProcess,
    GetIdnvMethodList,
}

impl Operation {
    pub const ALL: [Operation; 6] = [
        Operation::CheckCardEligibility,
        Operation::RequestCardDigitization,
        Operation::SendOtp,
        Operation::NotifyVirtualCardChange,
        Operation::NotifyStandInProcess,
        Operation::GetIdnvMethodList,
    ];

    /// The canonical name, as the contract writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::CheckCardEligibility => "checkCardEligibility",
            Operation::RequestCardDigitization => "requestCardDigitization",
            Operation::SendOtp => "sendOTP",
            Operation::NotifyVirtualCardChange => "notifyVirtualCardChange",
            Operation::NotifyStandInProcess => "notifyStandInProcess",
            Operation::GetIdnvMethodList => "getIDnVMethodList",
        }
    }

    pub fn parse(raw: &str) -> Option<Operation> {
        Operation::ALL
            .into_iter()
            .find(|op| op.name().eq_ignore_ascii_case(raw))
    }
}

fn ok_json<T: Serialize>(value: &T, correlation_id: &str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("x-correlation-id", correlation_id))
        .json(value)
}

pub async fn method_not_allowed() -> HttpResponse {
    CallbackError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ResponseCode::InvalidParameter,
        "callbacks accept POST only",
    )
    .response()
}

pub async fn handle(
    req: HttpRequest,
    operation: web::Path<String>,
    payload: web::Payload,
    svc: web::Data<Services>,
) -> HttpResponse {
    let Some(operation) = Operation::parse(&operation) else {
        return CallbackError::new(
            StatusCode::NOT_FOUND,
            ResponseCode::InvalidParameter,
            "unknown operation",
        )
        .response();
    };
    let ctx = match headers::check(&req, &svc.settings.issuer.id) {
        Ok(ctx) => ctx,
        Err(e) => {
            tracing::info!(
                operation = operation.name(),
                code = e.body.response_code,
                "callback refused: headers"
            );
            return e.response();
        }
    };
    let span = tracing::info_span!("callback", operation = operation.name(), correlation_id = %ctx.correlation_id);
    async move {
        let started = std::time::Instant::now();
        let response = match run(&req, payload, &svc, operation, &ctx).await {
            Ok(response) => response,
            Err(e) => {
                tracing::info!(code = e.body.response_code, message = %e.body.error_message, "callback refused");
                let mut response = e.response();
                if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&ctx.correlation_id) {
                    response.headers_mut().insert(
                        actix_web::http::header::HeaderName::from_static("x-correlation-id"),
                        value,
                    );
                }
                response
            }
        };
        tracing::info!(status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "callback answered");
        response
    }
    .instrument(span)
    .await
}

async fn run(
    req: &HttpRequest,
    payload: web::Payload,
    svc: &Services,
    operation: Operation,
    ctx: &service::CallContext,
) -> Result<HttpResponse, CallbackError> {
    if !is_json_or_absent(req) {
        return Err(CallbackError::bad_request(
            ResponseCode::InvalidParameter,
            "Content-Type must be application/json",
        ));
    }
    let bytes = read_limited(req, payload, svc.settings.server.max_body_bytes)
        .await
        .map_err(|e| match e {
            BodyReadError::TooLarge { limit } => CallbackError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ResponseCode::InvalidParameter,
                format!("request body exceeds {limit} bytes"),
            ),
            BodyReadError::Incomplete => CallbackError::bad_request(
                ResponseCode::InvalidParameter,
                "request body could not be read",
            ),
        })?;
    let body = parse_object(&bytes)
        .map_err(|e| CallbackError::bad_request(ResponseCode::InvalidParameter, e.0))?;
    drop(bytes);
    let invalid =
        |e: crate::contract::parse::BodyError| CallbackError::from(Refusal::InvalidParameter(e.0));
    let cid = ctx.correlation_id.as_str();
    match operation {
        Operation::CheckCardEligibility => {
            let request = typed(&body).map_err(invalid)?;
            let response = service::eligibility::check(svc, ctx, request, &body).await?;
            Ok(ok_json(&response, cid))
        }
        Operation::RequestCardDigitization => {
            let request = typed(&body).map_err(invalid)?;
            let response = service::digitization::request(svc, ctx, request, &body).await?;
            Ok(ok_json(&response, cid))
        }
        Operation::SendOtp => {
            let request = typed(&body).map_err(invalid)?;
            service::otp::send(svc, ctx, request).await?;
            Ok(ok_json(&EmptyResponse {}, cid))
        }
        Operation::NotifyVirtualCardChange => {
            let request = typed(&body).map_err(invalid)?;
            service::lifecycle::notify(svc, ctx, request, &body).await?;
            Ok(ok_json(&EmptyResponse {}, cid))
        }
        Operation::NotifyStandInProcess => {
            let request = typed(&body).map_err(invalid)?;
            service::standin::notify(svc, ctx, request, &body).await?;
            Ok(ok_json(&EmptyResponse {}, cid))
        }
        Operation::GetIdnvMethodList => {
            let request: crate::contract::digitization::GetIdvMethodListRequest =
                typed(&body).map_err(invalid)?;
            let response = service::idv::method_list(svc, request).await?;
            Ok(ok_json(&response, cid))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_match_case_insensitively() {
        assert_eq!(
            Operation::parse("RequestCardDigitization"),
            Some(Operation::RequestCardDigitization)
        );
        assert_eq!(
            Operation::parse("requestcarddigitization"),
            Some(Operation::RequestCardDigitization)
        );
        assert_eq!(Operation::parse("SENDOTP"), Some(Operation::SendOtp));
        assert_eq!(
            Operation::parse("getIdnvMethodList"),
            Some(Operation::GetIdnvMethodList)
        );
        assert_eq!(Operation::parse("deleteEverything"), None);
    }
}
