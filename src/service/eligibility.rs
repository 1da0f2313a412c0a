//! `checkCardEligibility` (contract §3.1): is this card known, active, unexpired, and which product
//! does it map to? Starts (or refreshes) the enrolment session for the correlation id.

use serde_json::Value;

use super::card_data::open_card_info;
use super::cards::effective_product;
use super::{check_id, original_token_record, velocity, CallContext, Refusal, Services};
use crate::contract::eligibility::{CheckEligibilityRequest, CheckEligibilityResponse};
use crate::contract::original_token;
use crate::domain::time::now_rfc3339;
use crate::domain::{CardRecord, EligibilityRecord, Enrollment, Expiry};

/// The card a request names, or why not; the BIN is known whenever card data was decrypted.
pub(crate) struct Resolved {
    pub card: Option<CardRecord>,
    pub request_exp: Option<Expiry>,
    pub bin: Option<String>,
}

/// Finds the card a request names: by decrypted PAN when card data is present, else by reference.
pub(crate) async fn resolve_card(
    svc: &Services,
    ciphered: Option<&str>,
    reference: Option<&str>,
) -> Result<Resolved, Refusal> {
    if let Some(ciphered) = ciphered {
        let info = open_card_info(&svc.keys, ciphered)?;
        let fingerprint = svc
            .fingerprints
            .fingerprint("pan", info.pan.expose().as_bytes());
        let (exp, bin) = (info.exp, info.pan.bin().to_owned());
        drop(info);
        let card = svc
            .store
            .read(move |r| r.card_by_pan_fingerprint(&fingerprint))
            .await?;
        return Ok(Resolved {
            card,
            request_exp: exp,
            bin: Some(bin),
        });
    }
    let reference = reference
        .ok_or_else(|| {
            Refusal::InvalidParameter("cipheredCardInfo or issuerCardRefId is required".to_owned())
        })?
        .to_owned();
    let card = svc.store.read(move |r| r.card(&reference)).await?;
    let bin = card.as_ref().map(|c| c.bin.clone());
    Ok(Resolved {
        card,
        request_exp: None,
        bin,
    })
}

/// Counts a refused eligibility check against its BIN (the BIN-attack signal), then refuses. This
/// counter is the one thing a refusal writes: it is what lets rules see an enumeration attack.
async fn refuse(svc: &Services, bin: Option<String>, refusal: Refusal) -> Refusal {
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

pub async fn check(
    svc: &Services,
    ctx: &CallContext,
    request: CheckEligibilityRequest,
    body: &Value,
) -> Result<CheckEligibilityResponse, Refusal> {
    let reference = check_id(
        "issuerCardRefId",
        request.issuer_card_ref_id.as_deref(),
        48,
        false,
    )?;
    check_id(
        "walletProviderId",
        request.wallet_provider_id.as_deref(),
        64,
        false,
    )?;
    let ciphered = request
        .ciphered_card_info
        .as_deref()
        .filter(|c| !c.trim().is_empty());
    let Resolved {
        card,
        request_exp,
        bin,
    } = resolve_card(svc, ciphered, reference).await?;
    let Some(card) = card else {
        return Err(refuse(svc, bin, Refusal::UnknownCard).await);
    };
    if !card.status.is_active() {
        return Err(refuse(svc, bin, Refusal::CardNotActive).await);
    }
    if card.exp.is_expired() || request_exp.is_some_and(|e| e.is_expired()) {
        return Err(refuse(svc, bin, Refusal::CardExpired).await);
    }
    let Some(product_id) = effective_product(&card, &svc.settings.cards).map(str::to_owned) else {
        return Err(refuse(svc, bin, Refusal::UnknownProduct).await);
    };

    let capture_method = request.capture_method();
    let original = original_token_record(&svc.fingerprints, &original_token::extract(body))?;
    let requestor = request.token_requestor.as_ref().map(|r| r.to_domain());
    let correlation_id = ctx.correlation_id.clone();
    let card_ref = card.issuer_card_ref_id.clone();
    let product = product_id.clone();
    let wallet = request.wallet_provider_id.clone();
    svc.store
        .write(move |tx| {
            let now = now_rfc3339();
            let mut enrollment = tx
                .enrollment(&correlation_id)?
                .unwrap_or_else(|| Enrollment::new(&correlation_id, &now));
            enrollment.issuer_card_ref_id = Some(card_ref.clone());
            if capture_method.is_some() {
                enrollment.capture_method.clone_from(&capture_method);
            }
            enrollment.token_for_token = enrollment.capture_method.as_deref() == Some("TOKEN");
            if wallet.is_some() {
                enrollment.wallet_provider_id.clone_from(&wallet);
            }
            if requestor.is_some() {
                enrollment.token_requestor.clone_from(&requestor);
            }
            if let Some(original) = &original {
                enrollment.original_token = Some(match enrollment.original_token.take() {
                    Some(existing) => existing.merged_with(original),
                    None => original.clone(),
                });
            }
            enrollment.eligibility = Some(EligibilityRecord {
                product_id: product.clone(),
                issuer_card_ref_id: card_ref.clone(),
                capture_method: capture_method.clone(),
                created_time: now.clone(),
            });
            enrollment.last_modified_time = now;
            tx.put_enrollment(&enrollment)
        })
        .await?;

    Ok(CheckEligibilityResponse {
        issuer_card_ref_id: card.issuer_card_ref_id,
        product_id,
    })
}
