//! The TSH callbacks: `POST {prefix}/{operationName}`, operation names matched case-insensitively
//! (contract §1). Order of checks: operation, headers, content type, size, JSON, fields.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use tracing::Instrument;

use super::body::{is_json_or_absent, read_limited, BodyReadError};
use super::error::CallbackError;
use super::headers;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::contract::digitization::{
    GetIdvMethodListRequest, GetIdvMethodListResponse, RequestDigitizationRequest,
    RequestDigitizationResponse,
};
use crate::contract::eligibility::{CheckEligibilityRequest, CheckEligibilityResponse};
use crate::contract::notification::NotifyVirtualCardChangeRequest;
use crate::contract::otp::SendOtpRequest;
use crate::contract::parse::{parse_object, BodyError};
use crate::contract::standin::NotifyStandInRequest;
use crate::contract::{EmptyResponse, Received, ResponseCode};
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

/// An operation name that cannot even be read (bad percent-encoding): an unknown operation, in
/// the contract's error shape like every other 404 here.
pub fn path_error(err: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    let response = CallbackError::new(
        StatusCode::NOT_FOUND,
        ResponseCode::InvalidParameter,
        "unknown operation",
    )
    .response();
    actix_web::error::InternalError::from_response(err, response).into()
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
    let started = std::time::Instant::now();
    let Some(operation) = Operation::parse(&operation) else {
        let response = CallbackError::new(
            StatusCode::NOT_FOUND,
            ResponseCode::InvalidParameter,
            "unknown operation",
        )
        .response();
        crate::metrics::callback_answered("unknown", response.status().as_u16(), started.elapsed());
        return response;
    };
    // The span opens before the header checks, so every log line of the request (a refusal of its
    // headers included) carries the correlation id whenever the header holds a well-formed one.
    let span = tracing::info_span!(
        "callback",
        operation = operation.name(),
        correlation_id = tracing::field::Empty
    );
    if let Some(cid) = well_formed_correlation_id(&req) {
        span.record("correlation_id", cid);
    }
    async move {
        let response = match headers::check(&req, &svc.settings.issuer.id) {
            Err(e) => {
                tracing::info!(code = e.body.response_code, "callback refused: headers");
                e.response()
            }
            Ok(ctx) => {
                let response = match run(&req, payload, &svc, operation, &ctx).await {
                    Ok(response) => response,
                    Err(e) => {
                        if let Some(cause) = &e.cause {
                            tracing::error!(error = %cause, "internal error while handling a callback");
                        }
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
        };
        crate::metrics::callback_answered(operation.name(), response.status().as_u16(), started.elapsed());
        response
    }
    .instrument(span)
    .await
}

/// The `x-correlation-id` header when it is usable in a log line (1–64 printable ASCII
/// characters, as `headers::check` requires), before the other header checks run.
fn well_formed_correlation_id(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get("x-correlation-id")?.to_str().ok()?.trim();
    let ok = !value.is_empty() && value.len() <= 64 && value.bytes().all(|b| b.is_ascii_graphic());
    ok.then_some(value)
}

/// The `action` label of a notification: the contract's actions, `OTHER` for anything else,
/// `NONE` when absent (request data never becomes a metric series).
fn action_label(body: &serde_json::Value) -> &'static str {
    use crate::domain::LifecycleAction;
    let raw = match body.get("action") {
        None | Some(serde_json::Value::Null) => return "NONE",
        Some(serde_json::Value::String(raw)) => raw,
        Some(_) => return "OTHER",
    };
    match LifecycleAction::from(raw.trim().to_owned()) {
        LifecycleAction::Activate => "ACTIVATE",
        LifecycleAction::Suspend => "SUSPEND",
        LifecycleAction::Resume => "RESUME",
        LifecycleAction::Delete => "DELETE",
        LifecycleAction::DeleteFromApp => "DELETE_FROM_APP",
        LifecycleAction::Update => "UPDATE",
        LifecycleAction::Erase => "ERASE",
        LifecycleAction::Other(_) => "OTHER",
    }
}

/// The request body as a JSON object, after the content type and the size and time limits.
async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    svc: &Services,
) -> Result<Value, CallbackError> {
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
            BodyReadError::TimedOut => CallbackError::new(
                StatusCode::REQUEST_TIMEOUT,
                ResponseCode::InvalidParameter,
                "request body not received in time",
            ),
        })?;
    parse_object(&bytes)
        .map_err(|e| CallbackError::bad_request(ResponseCode::InvalidParameter, e.0))
}

/// The callback's domain input, built from its wire type by the contract layer (one `TryFrom`
/// per callback); a refusal is the contract's 111.
fn input<'a, W, I>(body: &'a Value) -> Result<I, CallbackError>
where
    W: DeserializeOwned,
    I: TryFrom<Received<'a, W>, Error = BodyError>,
{
    Received::<W>::parse(body)
        .and_then(I::try_from)
        .map_err(|e| CallbackError::from(Refusal::InvalidParameter(e.0)))
}

async fn run(
    req: &HttpRequest,
    payload: web::Payload,
    svc: &web::Data<Services>,
    operation: Operation,
    ctx: &service::CallContext,
) -> Result<HttpResponse, CallbackError> {
    let body = read_body(req, payload, svc).await?;
    let cid = ctx.correlation_id.as_str();
    match operation {
        Operation::CheckCardEligibility => {
            let input = input::<CheckEligibilityRequest, _>(&body)?;
            let eligible = service::eligibility::check(svc, ctx, input).await?;
            Ok(ok_json(&CheckEligibilityResponse::from(eligible), cid))
        }
        Operation::RequestCardDigitization => {
            let input = input::<RequestDigitizationRequest, _>(&body)?;
            let decision = service::digitization::request(svc, ctx, input).await?;
            Ok(ok_json(&RequestDigitizationResponse::from(decision), cid))
        }
        Operation::SendOtp => {
            let input = input::<SendOtpRequest, _>(&body)?;
            service::otp::send(svc, ctx, input).await?;
            Ok(ok_json(&EmptyResponse {}, cid))
        }
        Operation::NotifyVirtualCardChange => notify_virtual_card_change(svc, ctx, &body).await,
        Operation::NotifyStandInProcess => notify_stand_in(svc, ctx, &body).await,
        Operation::GetIdnvMethodList => {
            let input = input::<GetIdvMethodListRequest, _>(&body)?;
            let methods = service::idv::method_list(svc, input).await?;
            Ok(ok_json(&GetIdvMethodListResponse::of(methods), cid))
        }
    }
}

/// Counted by action and outcome (a refusal included) for the metrics.
async fn notify_virtual_card_change(
    svc: &web::Data<Services>,
    ctx: &service::CallContext,
    body: &Value,
) -> Result<HttpResponse, CallbackError> {
    let result = match input::<NotifyVirtualCardChangeRequest, _>(body) {
        Ok(input) => service::lifecycle::notify(svc, ctx, input)
            .await
            .map_err(CallbackError::from),
        Err(e) => Err(e),
    };
    let outcome = result.as_ref().map_or("refused", |n| n.outcome.as_str());
    crate::metrics::notification(action_label(body), outcome);
    let notified = result?;
    if !notified.lineage.suspend.is_empty() {
        // Acknowledge TSH first: the suspensions are separate calls towards TSH.
        let svc = svc.clone();
        svc.clone().background.spawn(async move {
            service::lineage::suspend_descendants(
                &svc,
                notified.lineage,
                super::error::staff_action_status,
            )
            .await;
        });
    }
    Ok(ok_json(&EmptyResponse {}, &ctx.correlation_id))
}

/// Acknowledges TSH first: a suspension after a mismatch is a separate call towards TSH.
async fn notify_stand_in(
    svc: &web::Data<Services>,
    ctx: &service::CallContext,
    body: &Value,
) -> Result<HttpResponse, CallbackError> {
    let input = input::<NotifyStandInRequest, _>(body)?;
    let result = service::standin::notify(svc, ctx, input).await?;
    if let Some(vcid) = result.auto_suspend {
        let svc = svc.clone();
        svc.clone().background.spawn(async move {
            service::standin::suspend_after_mismatch(&svc, vcid, super::error::staff_action_status)
                .await;
        });
    }
    Ok(ok_json(&EmptyResponse {}, &ctx.correlation_id))
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
