//! Opens sealed card data (`cipheredCardInfo` / `authenticationValue`, CMS EnvelopedData,
//! contract §2) with the issuer's keys, and finds the card a request names. Every failure is a 166
//! refusal whose message says what was wrong without echoing any byte of the input.

use super::{Refusal, Services};
use crate::crypto::KeyRing;
use crate::domain::callbacks::{CardLocator, SealedCardData};
use crate::domain::card_data::{cvv2_from_plaintext, CardInfo};
use crate::domain::{CardRecord, Expiry, Secret};

/// Contract §2: `cipheredCardInfo` is at most 8196 characters.
pub const MAX_CIPHERED_LEN: usize = 8196;

fn decrypt(
    keys: &KeyRing,
    field: &str,
    sealed: &SealedCardData,
) -> Result<zeroize::Zeroizing<Vec<u8>>, Refusal> {
    if sealed.as_str().len() > MAX_CIPHERED_LEN {
        return Err(Refusal::InvalidParameter(format!(
            "{field} exceeds {MAX_CIPHERED_LEN} characters"
        )));
    }
    keys.decrypt_envelope(sealed.as_str()).map_err(|e| {
        tracing::info!(field, reason = %e, "card data could not be decrypted");
        Refusal::InvalidCardData("could not be decrypted")
    })
}

/// Decrypts and validates `cipheredCardInfo`.
pub fn open_card_info(keys: &KeyRing, sealed: &SealedCardData) -> Result<CardInfo, Refusal> {
    let plain = decrypt(keys, "cipheredCardInfo", sealed)?;
    CardInfo::from_plaintext(&plain).map_err(|e| Refusal::InvalidCardData(e.0))
}

/// Decrypts `authenticationValue`: the CVV2.
pub fn open_authentication_value(
    keys: &KeyRing,
    sealed: &SealedCardData,
) -> Result<Secret, Refusal> {
    let plain = decrypt(keys, "authenticationValue", sealed)?;
    cvv2_from_plaintext(&plain).map_err(|e| Refusal::InvalidCardData(e.0))
}

/// The card a request names, or why not; the BIN is known whenever card data was opened.
pub(crate) struct Resolved {
    pub card: Option<CardRecord>,
    pub request_exp: Option<Expiry>,
    pub bin: Option<String>,
}

/// Finds the card a request names: by the fingerprint of its card data's PAN, else by reference.
pub(crate) async fn resolve_card(
    svc: &Services,
    locator: &CardLocator,
) -> Result<Resolved, Refusal> {
    match locator {
        CardLocator::CardData(sealed) => {
            let info = open_card_info(&svc.keys, sealed)?;
            let fingerprint = svc
                .fingerprints
                .fingerprint("pan", info.pan.expose().as_bytes());
            let (exp, bin) = (info.exp, info.pan.bin().to_owned());
            drop(info);
            let card = svc
                .store
                .lookup(move |r| r.card_by_pan_fingerprint(&fingerprint))
                .await?;
            Ok(Resolved {
                card,
                request_exp: exp,
                bin: Some(bin),
            })
        }
        CardLocator::Reference(reference) => {
            let reference = reference.as_str().to_owned();
            let card = svc.store.lookup(move |r| r.card(&reference)).await?;
            let bin = card.as_ref().map(|c| c.bin.clone());
            Ok(Resolved {
                card,
                request_exp: None,
                bin,
            })
        }
    }
}
