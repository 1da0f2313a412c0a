//! The OpenAPI operations of the TSH callbacks (contract §3). One actix handler serves every
//! callback (`callbacks::handle`, dispatching on the operation name), so each operation is
//! described here by a documentation-only function naming the wire types that handler parses and
//! answers with; nothing here is called. Paths are written under the default prefix and moved
//! under `server.prefix` when the document is served (`openapi::document`).

#![allow(dead_code)]

use utoipa::IntoParams;

use super::openapi::CallbackRefusals;
use crate::contract::digitization::{
    GetIdvMethodListRequest, GetIdvMethodListResponse, RequestDigitizationRequest,
    RequestDigitizationResponse,
};
use crate::contract::eligibility::{CheckEligibilityRequest, CheckEligibilityResponse};
use crate::contract::notification::NotifyVirtualCardChangeRequest;
use crate::contract::otp::SendOtpRequest;
use crate::contract::standin::NotifyStandInRequest;
use crate::contract::EmptyResponse;

/// The headers every callback carries (contract §1); missing, malformed or given twice → 111.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct CallbackHeaders {
    /// Links the calls of one session; echoed in the answer.
    #[param(
        rename = "x-correlation-id",
        min_length = 1,
        max_length = 64,
        pattern = r"^[!-~]+$"
    )]
    correlation_id: String,
    /// Exactly 10 characters, equal to `issuer.id` (else 113).
    #[param(
        rename = "x-issuer-id",
        min_length = 10,
        max_length = 10,
        pattern = r"^[!-~]{10}$"
    )]
    issuer_id: String,
}

#[utoipa::path(post, path = "/issuer/igwapi/v2.0/checkCardEligibility", tag = "callbacks",
    operation_id = "checkCardEligibility", params(CallbackHeaders),
    request_body = CheckEligibilityRequest,
    responses((status = 200, description = "Eligible", body = CheckEligibilityResponse),
        CallbackRefusals))]
fn check_card_eligibility() {}

#[utoipa::path(post, path = "/issuer/igwapi/v2.0/requestCardDigitization", tag = "callbacks",
    operation_id = "requestCardDigitization", params(CallbackHeaders),
    request_body = RequestDigitizationRequest,
    responses((status = 200, description = "The decision (red is an answer, not an error)",
        body = RequestDigitizationResponse), CallbackRefusals))]
fn request_card_digitization() {}

#[utoipa::path(post, path = "/issuer/igwapi/v2.0/sendOTP", tag = "callbacks",
    operation_id = "sendOTP", params(CallbackHeaders), request_body = SendOtpRequest,
    responses((status = 200, description = "Handed to the delivery channel", body = EmptyResponse),
        CallbackRefusals))]
fn send_otp() {}

#[utoipa::path(post, path = "/issuer/igwapi/v2.0/notifyVirtualCardChange", tag = "callbacks",
    operation_id = "notifyVirtualCardChange", params(CallbackHeaders),
    request_body = NotifyVirtualCardChangeRequest,
    responses((status = 200, description = "Recorded (a duplicate is recorded once)",
        body = EmptyResponse), CallbackRefusals))]
fn notify_virtual_card_change() {}

#[utoipa::path(post, path = "/issuer/igwapi/v2.0/notifyStandInProcess", tag = "callbacks",
    operation_id = "notifyStandInProcess", params(CallbackHeaders),
    request_body = NotifyStandInRequest,
    responses((status = 200, description = "Recorded as the network's decision",
        body = EmptyResponse), CallbackRefusals))]
fn notify_stand_in_process() {}

#[utoipa::path(post, path = "/issuer/igwapi/v2.0/getIDnVMethodList", tag = "callbacks",
    operation_id = "getIDnVMethodList", params(CallbackHeaders),
    request_body = GetIdvMethodListRequest,
    responses((status = 200, description = "The step-up methods", body = GetIdvMethodListResponse),
        CallbackRefusals))]
fn get_idnv_method_list() {}
