//! `sendOTP` (contract §3.3): deliver the network's OTP unchanged to the cardholder on the chosen
//! method, after the per-card rate limit. Steps, in the contract's order: find the card → choose
//! the method → reserve a rate-limit slot → deliver → record the attempt. The OTP is handed to the
//! gateway and forgotten: never logged, never stored.

use time::OffsetDateTime;

use super::{idv, CallContext, Refusal, Services};
use crate::domain::callbacks::OtpInput;
use crate::domain::idv::StepUpContact;
use crate::domain::time::now_rfc3339;
use crate::domain::{CardRecord, Enrollment, OtpSendRecord};
use crate::metrics::OtpOutcome;
use crate::otp::OtpDelivery;
use crate::store::counters::{self, Series};

/// The per-card series of OTP sends (the rate limit's window, counted like the velocity facts).
pub fn otp_sends(card_ref: &str) -> Series {
    Series::single("otp-sends", card_ref)
}

pub async fn send(svc: &Services, ctx: &CallContext, input: OtpInput) -> Result<(), Refusal> {
    let card_ref = input.card_ref.as_str();
    let card = find_card(svc, card_ref).await?;
    let contacts = allowed_contacts(svc, ctx, &card).await?;
    // 1. Method: the id TSH sends back must be one we offered; without one, SMS then e-mail.
    let chosen = match &input.method_id {
        Some(id) => contacts
            .into_iter()
            .find(|c| c.method.id == id.as_str())
            .ok_or(Refusal::InvalidOtpMethod)?,
        None => match contacts.into_iter().next() {
            Some(first) => first,
            None => return Err(no_method(svc, ctx, card_ref).await?),
        },
    };
    let channel = chosen
        .method
        .method_type
        .otp_channel()
        .ok_or(Refusal::InvalidOtpMethod)?;
    let record = |outcome: &str, detail: Option<String>| OtpSendRecord {
        method_id: Some(chosen.method.id.clone()),
        channel: Some(channel.to_owned()),
        outcome: outcome.to_owned(),
        detail,
        created_time: now_rfc3339(),
    };
    // 2. Rate limit.
    if !reserve_slot(svc, card_ref).await? {
        record_attempt(svc, ctx, card_ref, record("rate_limited", None)).await?;
        crate::metrics::otp_delivery(OtpOutcome::RateLimited);
        return Err(Refusal::CannotDeliver(
            "OTP rate limit reached for this card",
        ));
    }
    // 3. Deliver.
    let delivered = deliver(svc, ctx, &input, &chosen, channel).await;
    let (outcome, detail, metric) = match &delivered {
        Ok(()) => ("delivered", None, OtpOutcome::Delivered),
        Err(reason) => ("failed", Some(reason.clone()), OtpOutcome::Failed),
    };
    record_attempt(svc, ctx, card_ref, record(outcome, detail)).await?;
    crate::metrics::otp_delivery(metric);
    delivered.map_err(|_| Refusal::CannotDeliver("the delivery channel did not accept the OTP"))
}

async fn find_card(svc: &Services, card_ref: &str) -> Result<CardRecord, Refusal> {
    let lookup = card_ref.to_owned();
    svc.store
        .lookup(move |r| r.card(&lookup))
        .await?
        .ok_or(Refusal::UnknownCard)
}

/// The card's step-up methods. When this enrolment offered a step-up list, only those methods may
/// be used: a rule that restricted step-up (e.g. e-mail only) must not be bypassed by sending
/// another card method.
async fn allowed_contacts(
    svc: &Services,
    ctx: &CallContext,
    card: &CardRecord,
) -> Result<Vec<StepUpContact>, Refusal> {
    let mut contacts = idv::contacts(&svc.fingerprints, card);
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
    Ok(contacts)
}

/// No method to send on: recorded, then refused.
async fn no_method(svc: &Services, ctx: &CallContext, card_ref: &str) -> Result<Refusal, Refusal> {
    let record = OtpSendRecord {
        method_id: None,
        channel: None,
        outcome: "no_method".to_owned(),
        detail: Some("card has no phone or e-mail".to_owned()),
        created_time: now_rfc3339(),
    };
    record_attempt(svc, ctx, card_ref, record).await?;
    crate::metrics::otp_delivery(OtpOutcome::NoMethod);
    Ok(Refusal::CannotDeliver("the card has no phone or e-mail"))
}

/// Reserves a slot in the card's rate-limit window atomically, so concurrent sends cannot
/// overshoot the limit; `false` when the window is full.
async fn reserve_slot(svc: &Services, card_ref: &str) -> Result<bool, Refusal> {
    let limit = u64::from(svc.settings.otp.rate_limit_count);
    let window = svc.settings.otp.rate_limit_window_secs;
    let now_unix = u64::try_from(OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0);
    let sends = otp_sends(card_ref);
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
    Ok(allowed)
}

/// Hands the OTP to the gateway; the error is the reason, for the send record.
async fn deliver(
    svc: &Services,
    ctx: &CallContext,
    input: &OtpInput,
    chosen: &StepUpContact,
    channel: &'static str,
) -> Result<(), String> {
    let delivery = OtpDelivery {
        channel,
        to: &chosen.target,
        otp: &input.otp,
        correlation_id: &ctx.correlation_id,
        issuer_card_ref_id: input.card_ref.as_str(),
        method_id: Some(&chosen.method.id),
        expiration_date: input.expiration_date.as_deref(),
    };
    match svc.otp_gateway.deliver(&delivery).await {
        Ok(()) => {
            tracing::info!(channel, method_id = %chosen.method.id, "OTP handed to the gateway");
            Ok(())
        }
        Err(e) => {
            tracing::warn!(channel, reason = %e, "OTP delivery failed");
            Err(e.to_string())
        }
    }
}

/// Appends one send attempt to the enrolment (created if this is its first call).
async fn record_attempt(
    svc: &Services,
    ctx: &CallContext,
    card_ref: &str,
    record: OtpSendRecord,
) -> Result<(), Refusal> {
    let correlation_id = ctx.correlation_id.clone();
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
