//! `sendOTP` (contract §3.3): deliver the network's OTP unchanged to the cardholder on the chosen
//! method, after the per-card rate limit. Checks in the contract's order: method id, then rate
//! limit. The OTP is handed to the gateway and forgotten: never logged, never stored.

use time::OffsetDateTime;

use super::{check_id, idv, CallContext, Refusal, Services};
use crate::contract::otp::SendOtpRequest;
use crate::domain::idv::StepUpContact;
use crate::domain::time::now_rfc3339;
use crate::domain::{Enrollment, OtpSendRecord};
use crate::otp::OtpDelivery;
use crate::store::counters::{self, Series};

/// The per-card series of OTP sends (the rate limit's window, counted like the velocity facts).
pub fn otp_sends(card_ref: &str) -> Series {
    Series::single("otp-sends", card_ref)
}

async fn record_attempt(
    svc: &Services,
    correlation_id: &str,
    card_ref: &str,
    record: OtpSendRecord,
) -> Result<(), Refusal> {
    let correlation_id = correlation_id.to_owned();
    let card_ref = card_ref.to_owned();
    svc.store
        .write(move |tx| {
            let mut enrollment = tx
                .enrollment(&correlation_id)?
                .unwrap_or_else(|| Enrollment::new(&correlation_id, &record.created_time));
            if enrollment.issuer_card_ref_id.is_none() {
                enrollment.issuer_card_ref_id = Some(card_ref.clone());
            }
            Enrollment::push_bounded(&mut enrollment.otp_sends, record.clone());
            enrollment
                .last_modified_time
                .clone_from(&record.created_time);
            tx.put_enrollment(&enrollment)
        })
        .await?;
    Ok(())
}

pub async fn send(
    svc: &Services,
    ctx: &CallContext,
    request: SendOtpRequest,
) -> Result<(), Refusal> {
    let card_ref = check_id(
        "issuerCardRefId",
        request.issuer_card_ref_id.as_deref(),
        48,
        true,
    )?
    .unwrap_or_default()
    .to_owned();
    check_id(
        "walletProviderId",
        request.wallet_provider_id.as_deref(),
        64,
        false,
    )?;
    check_id(
        "virtualCardId",
        request.virtual_card_id.as_deref(),
        64,
        false,
    )?;
    let otp = request
        .otp_value
        .as_ref()
        .filter(|o| !o.expose().trim().is_empty())
        .ok_or_else(|| Refusal::InvalidParameter("otpValue is required".to_owned()))?;
    if otp.len() > 64 || otp.expose().chars().any(|c| c.is_control()) {
        return Err(Refusal::InvalidParameter(
            "otpValue is malformed".to_owned(),
        ));
    }
    let method_id =
        check_id("otpMethodId", request.otp_method_id.as_deref(), 64, false)?.map(str::to_owned);

    let lookup = card_ref.clone();
    let card = svc
        .store
        .read(move |r| r.card(&lookup))
        .await?
        .ok_or(Refusal::UnknownCard)?;
    let mut contacts = idv::contacts(&svc.fingerprints, &card);
    // When this enrolment offered a step-up list, only those methods may be used: a rule that
    // restricted step-up (e.g. e-mail only) must not be bypassed by sending another card method.
    let cid = ctx.correlation_id.clone();
    let offered: Vec<String> = svc
        .store
        .read(move |r| {
            Ok(r.enrollment(&cid)?
                .map(|e| e.idv_methods)
                .unwrap_or_default())
        })
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect();
    if !offered.is_empty() {
        contacts.retain(|c| offered.contains(&c.method.id));
    }

    // 1. Method: the id TSH sends back must be one we offered; without one, SMS then e-mail.
    let chosen: StepUpContact = match &method_id {
        Some(id) => contacts
            .into_iter()
            .find(|c| &c.method.id == id)
            .ok_or(Refusal::InvalidOtpMethod)?,
        None => match contacts.into_iter().next() {
            Some(first) => first,
            None => {
                record_attempt(
                    svc,
                    &ctx.correlation_id,
                    &card_ref,
                    OtpSendRecord {
                        method_id: None,
                        channel: None,
                        outcome: "no_method".to_owned(),
                        detail: Some("card has no phone or e-mail".to_owned()),
                        created_time: now_rfc3339(),
                    },
                )
                .await?;
                crate::metrics::otp_delivery(crate::metrics::OtpOutcome::NoMethod);
                return Err(Refusal::CannotDeliver("the card has no phone or e-mail"));
            }
        },
    };
    let channel = chosen
        .method
        .method_type
        .otp_channel()
        .ok_or(Refusal::InvalidOtpMethod)?;

    // 2. Rate limit: reserve a slot atomically, so concurrent sends cannot overshoot the limit.
    let limit = u64::from(svc.settings.otp.rate_limit_count);
    let window = svc.settings.otp.rate_limit_window_secs;
    let now_unix = u64::try_from(OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0);
    let sends = otp_sends(&card_ref);
    let allowed = svc
        .store
        .write(move |tx| {
            let sent = counters::count(|span| tx.counter_sum(span), &sends, now_unix, window)?;
            if sent >= limit {
                return Ok(false);
            }
            counters::record(tx, &sends, 0, now_unix)?;
            Ok(true)
        })
        .await?;
    let record = |outcome: &str, detail: Option<String>| OtpSendRecord {
        method_id: Some(chosen.method.id.clone()),
        channel: Some(channel.to_owned()),
        outcome: outcome.to_owned(),
        detail,
        created_time: now_rfc3339(),
    };
    if !allowed {
        record_attempt(
            svc,
            &ctx.correlation_id,
            &card_ref,
            record("rate_limited", None),
        )
        .await?;
        crate::metrics::otp_delivery(crate::metrics::OtpOutcome::RateLimited);
        return Err(Refusal::CannotDeliver(
            "OTP rate limit reached for this card",
        ));
    }

    // 3. Deliver.
    let delivery = OtpDelivery {
        channel,
        to: &chosen.target,
        otp,
        correlation_id: &ctx.correlation_id,
        issuer_card_ref_id: &card_ref,
        method_id: Some(&chosen.method.id),
        expiration_date: request.expiration_date.as_deref(),
    };
    match svc.otp_gateway.deliver(&delivery).await {
        Ok(()) => {
            record_attempt(
                svc,
                &ctx.correlation_id,
                &card_ref,
                record("delivered", None),
            )
            .await?;
            crate::metrics::otp_delivery(crate::metrics::OtpOutcome::Delivered);
            tracing::info!(channel, method_id = %chosen.method.id, "OTP handed to the gateway");
            Ok(())
        }
        Err(e) => {
            tracing::warn!(channel, reason = %e, "OTP delivery failed");
            record_attempt(
                svc,
                &ctx.correlation_id,
                &card_ref,
                record("failed", Some(e.to_string())),
            )
            .await?;
            crate::metrics::otp_delivery(crate::metrics::OtpOutcome::Failed);
            Err(Refusal::CannotDeliver(
                "the delivery channel did not accept the OTP",
            ))
        }
    }
}
