//! The OTP delivery webhook client (service-interface.md "OTP delivery webhook"): POSTs the OTP,
//! unchanged, to the issuer's SMS / e-mail gateway. Async with a hard timeout, so a slow or dead
//! gateway costs one request its deadline and never blocks other callbacks.

use std::time::Duration;

use serde::Serialize;

use crate::domain::Secret;

/// One delivery request.
pub struct OtpDelivery<'a> {
    pub channel: &'static str,
    pub to: &'a str,
    pub otp: &'a Secret,
    pub correlation_id: &'a str,
    pub issuer_card_ref_id: &'a str,
    pub method_id: Option<&'a str>,
    pub expiration_date: Option<&'a str>,
}

#[derive(Serialize)]
struct WireDelivery<'a> {
    channel: &'a str,
    to: &'a str,
    otp: &'a str,
    correlation_id: &'a str,
    issuer_card_ref_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    method_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_date: Option<&'a str>,
}

/// Why a delivery did not happen. Never carries the OTP or the destination.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("gateway did not answer within {0} ms")]
    Timeout(u64),
    #[error("gateway unreachable")]
    Unreachable,
    #[error("gateway answered HTTP {0}")]
    Status(u16),
}

#[derive(Clone)]
pub struct OtpGateway {
    client: reqwest::Client,
    url: String,
    timeout_ms: u64,
}

impl OtpGateway {
    pub fn new(url: &str, timeout_ms: u64) -> Result<OtpGateway, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(timeout_ms))
            .connect_timeout(Duration::from_millis(timeout_ms.min(2000)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the OTP gateway client: {e}"))?;
        Ok(OtpGateway {
            client,
            url: url.to_owned(),
            timeout_ms,
        })
    }

    pub async fn deliver(&self, delivery: &OtpDelivery<'_>) -> Result<(), DeliveryError> {
        let wire = WireDelivery {
            channel: delivery.channel,
            to: delivery.to,
            otp: delivery.otp.expose(),
            correlation_id: delivery.correlation_id,
            issuer_card_ref_id: delivery.issuer_card_ref_id,
            method_id: delivery.method_id,
            expiration_date: delivery.expiration_date,
        };
        let response = self
            .client
            .post(&self.url)
            .header("x-correlation-id", delivery.correlation_id)
            .json(&wire)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    DeliveryError::Timeout(self.timeout_ms)
                } else {
                    DeliveryError::Unreachable
                }
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(DeliveryError::Status(status.as_u16()))
        }
    }
}
