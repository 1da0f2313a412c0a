//! `checkCardEligibility` (contract §3.1): is this card known, active, unexpired, and which product
//! does it map to? Starts (or refreshes) the enrolment session for the correlation id.
//!
//! Steps: find the card → check it → record the eligibility → answer. A refusal counts against the
//! card's BIN (the BIN-attack signal); it is the only thing a refusal writes.

use super::card_data::{resolve_card, Resolved};
use super::cards::effective_product;
use super::{original_token_record, velocity, CallContext, Refusal, Services};
use crate::domain::callbacks::{EligibilityInput, Eligible};
use crate::domain::time::now_rfc3339;
use crate::domain::{CardRecord, EligibilityRecord, Enrollment, EnrollmentNote, Expiry};

pub async fn check(
    svc: &Services,
    ctx: &CallContext,
    input: EligibilityInput,
) -> Result<Eligible, Refusal> {
    let Resolved {
        card,
        request_exp,
        bin,
    } = resolve_card(svc, &input.card).await?;
    let (card, product_id) = match eligible_card(svc, card, request_exp) {
        Ok(eligible) => eligible,
        Err(refusal) => return Err(count_refusal(svc, bin, refusal).await),
    };
    record_eligibility(svc, ctx, &input, &card, &product_id).await?;
    Ok(Eligible {
        issuer_card_ref_id: card.issuer_card_ref_id,
        product_id,
    })
}

/// The card and its product, when the card may be digitized.
fn eligible_card(
    svc: &Services,
    card: Option<CardRecord>,
    request_exp: Option<Expiry>,
) -> Result<(CardRecord, String), Refusal> {
    let card = card.ok_or(Refusal::UnknownCard)?;
    if !card.status.is_active() {
        return Err(Refusal::CardNotActive);
    }
    if card.exp.is_expired() || request_exp.is_some_and(|e| e.is_expired()) {
        return Err(Refusal::CardExpired);
    }
    let product_id = effective_product(&card, &svc.settings.cards)
        .map(str::to_owned)
        .ok_or(Refusal::UnknownProduct)?;
    Ok((card, product_id))
}

/// Counts a refused eligibility check against its BIN (the BIN-attack signal), then refuses. This
/// counter is the one thing a refusal writes: it is what lets rules see an enumeration attack.
async fn count_refusal(svc: &Services, bin: Option<String>, refusal: Refusal) -> Refusal {
    let Some(bin) = bin else { return refusal };
    let now = velocity::unix_now();
    let written = svc
        .store
        .write(move |tx| velocity::record_bin_refusal(tx, &bin, now))
        .await;
    match written {
        Ok(()) => refusal,
        Err(e) => Refusal::Internal(e),
    }
}

/// Starts or refreshes the enrolment session with what this request says.
async fn record_eligibility(
    svc: &Services,
    ctx: &CallContext,
    input: &EligibilityInput,
    card: &CardRecord,
    product_id: &str,
) -> Result<(), Refusal> {
    let note = EnrollmentNote {
        issuer_card_ref_id: card.issuer_card_ref_id.clone(),
        capture_method: input.capture_method.clone(),
        wallet_provider_id: input.wallet_provider_id.as_ref().map(|w| w.to_string()),
        token_requestor: input.token_requestor.clone(),
        original_token: original_token_record(&svc.fingerprints, &input.original_token),
    };
    let correlation_id = ctx.correlation_id.clone();
    let product = product_id.to_owned();
    svc.store
        .write(move |tx| {
            let now = now_rfc3339();
            let mut enrollment = tx
                .enrollment(&correlation_id)?
                .unwrap_or_else(|| Enrollment::new(&correlation_id, &now));
            enrollment.note_request(&note);
            enrollment.eligibility = Some(EligibilityRecord {
                product_id: product.clone(),
                issuer_card_ref_id: note.issuer_card_ref_id.clone(),
                capture_method: note.capture_method.clone(),
                created_time: now.clone(),
            });
            enrollment.last_modified_time = now;
            tx.put_enrollment(&enrollment)
        })
        .await?;
    Ok(())
}
