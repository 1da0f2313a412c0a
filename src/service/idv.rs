//! Builds the step-up methods a card can complete end to end (contract §3.2 resolved): SMS to the
//! card's phone, e-mail to its address. Ids are derived from the card reference and the contact
//! under the issuer's key, so they are stable across calls and restarts and change if the contact
//! changes, without storing the list.

use crate::crypto::Fingerprinter;
use crate::domain::callbacks::IdvMethodListInput;
use crate::domain::card::{mask_email, mask_phone};
use crate::domain::idv::StepUpContact;
use crate::domain::{CardRecord, IdvMethod, IdvMethodType};

fn method_id(fingerprints: &Fingerprinter, card: &CardRecord, kind: &str, target: &str) -> String {
    let material = format!("{}|{kind}|{target}", card.issuer_card_ref_id);
    let digest = fingerprints.fingerprint("idv-method", material.as_bytes());
    format!("{kind}-{}", &digest[..12])
}

/// Every step-up method this card supports, in preference order (SMS first).
pub fn contacts(fingerprints: &Fingerprinter, card: &CardRecord) -> Vec<StepUpContact> {
    let mut out = Vec::with_capacity(2);
    if let Some(phone) = &card.phone {
        out.push(StepUpContact {
            method: IdvMethod {
                id: method_id(fingerprints, card, "sms", phone),
                method_type: IdvMethodType::CellPhone,
                value: mask_phone(phone),
            },
            target: phone.clone(),
        });
    }
    if let Some(email) = &card.email {
        out.push(StepUpContact {
            method: IdvMethod {
                id: method_id(fingerprints, card, "email", email),
                method_type: IdvMethodType::Email,
                value: mask_email(email),
            },
            target: email.clone(),
        });
    }
    out
}

/// The methods to offer, restricted to the types a rule allows (None = no restriction).
pub fn offered(
    fingerprints: &Fingerprinter,
    card: &CardRecord,
    allowed_types: Option<&[String]>,
) -> Vec<StepUpContact> {
    contacts(fingerprints, card)
        .into_iter()
        .filter(|c| {
            allowed_types.is_none_or(|allowed| {
                allowed
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(c.method.method_type.as_str()))
            })
        })
        .collect()
}

/// The card a `getIDnVMethodList` names. A named card wins (116 when unknown): the call may come
/// before the token's first notification, so a token we do not know yet is no refusal there, but
/// a known token of another card is (119). Named by `virtualCardId` alone, the token must be known
/// (119, as everywhere a token is named).
fn card_of_request(
    r: &crate::store::StoreReader<'_>,
    reference: Option<&str>,
    vcid: Option<&str>,
) -> Result<Result<CardRecord, super::Refusal>, crate::store::StoreError> {
    let token = match vcid {
        Some(vcid) => r.token(vcid)?,
        None => None,
    };
    let reference = match (reference, token) {
        (Some(reference), _) if r.card(reference)?.is_none() => {
            return Ok(Err(super::Refusal::UnknownCard))
        }
        (Some(reference), Some(token)) if token.issuer_card_ref_id != reference => {
            return Ok(Err(super::Refusal::UnknownVirtualCard))
        }
        (Some(reference), _) => reference.to_owned(),
        (None, Some(token)) => token.issuer_card_ref_id,
        (None, None) => return Ok(Err(super::Refusal::UnknownVirtualCard)),
    };
    Ok(r.card(&reference)?.ok_or(super::Refusal::UnknownCard))
}

/// `getIDnVMethodList` (contract §3.6): the step-up methods re-offered after digitization. The
/// card is named by `issuerCardRefId`, or found through the token when only `virtualCardId` is sent.
pub async fn method_list(
    svc: &super::Services,
    input: IdvMethodListInput,
) -> Result<Vec<IdvMethod>, super::Refusal> {
    let card = svc
        .store
        .lookup(move |r| {
            card_of_request(
                r,
                input.card_ref.as_ref().map(|c| c.as_str()),
                input.virtual_card_id.as_ref().map(|v| v.as_str()),
            )
        })
        .await??;
    Ok(contacts(&svc.fingerprints, &card)
        .into_iter()
        .map(|c| c.method)
        .collect())
}
