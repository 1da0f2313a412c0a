//! Fuzz target: a callback body as the handler reads it — the bounded JSON object parser, then
//! every callback's wire type and its conversion into the domain input (ids, capture method,
//! original-token attributes, signals). A refusal is fine; a panic is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tsh_issuer::contract::digitization::{GetIdvMethodListRequest, RequestDigitizationRequest};
use tsh_issuer::contract::eligibility::CheckEligibilityRequest;
use tsh_issuer::contract::fields::Received;
use tsh_issuer::contract::notification::NotifyVirtualCardChangeRequest;
use tsh_issuer::contract::otp::SendOtpRequest;
use tsh_issuer::contract::parse::BodyError;
use tsh_issuer::contract::standin::NotifyStandInRequest;
use tsh_issuer::domain::callbacks::{
    DigitizationInput, EligibilityInput, IdvMethodListInput, NotificationInput, OtpInput,
    StandInInput,
};

fn convert<'a, W, I>(body: &'a Value)
where
    W: serde::de::DeserializeOwned,
    I: TryFrom<Received<'a, W>, Error = BodyError>,
{
    let _ = Received::<W>::parse(body).and_then(I::try_from);
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(body) = tsh_issuer::json::parse::parse_object(bytes) else {
        return;
    };
    convert::<CheckEligibilityRequest, EligibilityInput>(&body);
    convert::<RequestDigitizationRequest, DigitizationInput>(&body);
    convert::<GetIdvMethodListRequest, IdvMethodListInput>(&body);
    convert::<SendOtpRequest, OtpInput>(&body);
    convert::<NotifyVirtualCardChangeRequest, NotificationInput>(&body);
    convert::<NotifyStandInRequest, StandInInput>(&body);
    let _ = tsh_issuer::contract::original_token::token_info(&body);
});
