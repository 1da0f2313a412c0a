//! The card registry: the card file format, upserts (seed file at startup, `cards import`, and
//! `POST /api/v1/cards`), and the card view shown to staff. PANs are fingerprinted and masked on
//! the way in and never stored.

use serde::{Deserialize, Serialize};

use crate::crypto::Fingerprinter;
use crate::domain::card::{mask_email, mask_phone};
use crate::domain::time::now_rfc3339;
use crate::domain::{CardRecord, CardStatus, Expiry, Pan, Secret};
use crate::store::{Store, StoreError, Tx, TxError};

/// One card of the card file / staff API body. Keys as in service-interface.md; snake_case
/// aliases accepted for the staff API.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CardInput {
    /// The card number (never stored, logged or echoed in clear).
    #[schema(value_type = String)]
    pub pan: Secret,
    pub exp: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, alias = "product_id")]
    pub product_id: Option<String>,
    #[serde(default, alias = "cardholder_name")]
    pub cardholder_name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// A card refused by validation; the message names the field, never the PAN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CardInputError {
    pub field: &'static str,
    pub message: String,
}

fn field_error(field: &'static str, message: impl Into<String>) -> CardInputError {
    CardInputError {
        field,
        message: message.into(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("invalid card: {0}")]
    Invalid(#[from] CardInputError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What staff see of a card.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct CardView {
    pub issuer_card_ref_id: String,
    pub pan_masked: String,
    pub exp: String,
    pub status: String,
    pub product_id: Option<String>,
    pub cardholder_name: Option<String>,
    pub phone_masked: Option<String>,
    pub email_masked: Option<String>,
    pub created_time: String,
    pub last_modified_time: String,
}

impl CardView {
    pub fn of(card: &CardRecord, effective_product: Option<&str>) -> CardView {
        CardView {
            issuer_card_ref_id: card.issuer_card_ref_id.clone(),
            pan_masked: card.pan_masked.clone(),
            exp: card.exp.mmyy(),
            status: card.status.as_str().to_owned(),
            product_id: effective_product.map(str::to_owned),
            cardholder_name: card.cardholder_name.clone(),
            phone_masked: card.phone.as_deref().map(mask_phone),
            email_masked: card.email.as_deref().map(mask_email),
            created_time: card.created_time.clone(),
            last_modified_time: card.last_modified_time.clone(),
        }
    }
}

/// The result of one upsert.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UpsertedCard {
    #[serde(flatten)]
    pub card: CardView,
    pub created: bool,
    pub result: UpsertKind,
}

fn clean_optional(raw: &Option<String>) -> Option<String> {
    raw.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The status of an incoming card: absent means ACTIVE; anything but the statuses we act on is
/// refused (a typo such as `ACTVE` would otherwise be stored as an unknown, never-active status).
/// Stored records stay tolerant ([`CardStatus::Other`]); only input is strict.
fn card_status(raw: Option<&str>) -> Result<CardStatus, CardInputError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(CardStatus::Active);
    };
    match CardStatus::from(raw.to_owned()) {
        CardStatus::Other(_) => Err(field_error(
            "status",
            "must be one of ACTIVE, SUSPENDED, CLOSED, LOST, STOLEN",
        )),
        known => Ok(known),
    }
}

/// Validates a card input into a record (not yet stored).
pub fn build_record(
    input: &CardInput,
    fingerprints: &Fingerprinter,
) -> Result<CardRecord, CardInputError> {
    let pan = Pan::parse(input.pan.expose()).map_err(|e| field_error("pan", e.to_string()))?;
    let exp = Expiry::parse_mmyy(&input.exp).map_err(|e| field_error("exp", e.to_string()))?;
    let status = card_status(input.status.as_deref())?;
    let phone = clean_optional(&input.phone);
    if let Some(phone) = &phone {
        let digits = phone.strip_prefix('+').unwrap_or("");
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(field_error("phone", "must be E.164, e.g. +447700900123"));
        }
    }
    let email = clean_optional(&input.email);
    if let Some(email) = &email {
        let valid = email.len() <= 254
            && !email.contains(char::is_whitespace)
            && email
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains('@'));
        if !valid {
            return Err(field_error("email", "must be an e-mail address"));
        }
    }
    let product_id = clean_optional(&input.product_id);
    if product_id.as_ref().is_some_and(|p| p.len() > 64) {
        return Err(field_error("productId", "must be at most 64 characters"));
    }
    let cardholder_name = clean_optional(&input.cardholder_name);
    if cardholder_name
        .as_ref()
        .is_some_and(|n| n.chars().count() > 128)
    {
        return Err(field_error(
            "cardholderName",
            "must be at most 128 characters",
        ));
    }
    let now = now_rfc3339();
    Ok(CardRecord {
        issuer_card_ref_id: fingerprints.issuer_card_ref_id(pan.expose()),
        pan_fingerprint: fingerprints.fingerprint("pan", pan.expose().as_bytes()),
        pan_masked: pan.masked(),
        bin: pan.bin().to_owned(),
        last4: pan.last4().to_owned(),
        exp,
        status,
        product_id,
        cardholder_name,
        phone,
        email,
        created_time: now.clone(),
        last_modified_time: now,
    })
}

/// How an upsert changed the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpsertKind {
    Created,
    Updated,
    Unchanged,
}

/// Writes a card record inside a transaction, keeping the original creation time and leaving an
/// identical card untouched (so a re-import at every startup writes nothing).
fn apply_upsert(tx: &dyn Tx, record: &CardRecord) -> Result<(CardRecord, UpsertKind), TxError> {
    let Some(existing) = tx.card(&record.issuer_card_ref_id)? else {
        tx.put_card(record)?;
        return Ok((record.clone(), UpsertKind::Created));
    };
    let mut stored = record.clone();
    stored.created_time.clone_from(&existing.created_time);
    stored
        .last_modified_time
        .clone_from(&existing.last_modified_time);
    if stored == existing {
        return Ok((existing, UpsertKind::Unchanged));
    }
    stored.last_modified_time = now_rfc3339();
    tx.put_card(&stored)?;
    Ok((stored, UpsertKind::Updated))
}

/// Upserts one card from the staff API, durable on return.
pub async fn upsert(
    store: &Store,
    fingerprints: &Fingerprinter,
    products: &crate::config::CardsSettings,
    input: CardInput,
) -> Result<UpsertedCard, CardError> {
    let record = build_record(&input, fingerprints)?;
    drop(input);
    let (stored, kind) = store.write(move |tx| apply_upsert(tx, &record)).await?;
    let product = effective_product(&stored, products);
    Ok(UpsertedCard {
        card: CardView::of(&stored, product),
        created: kind == UpsertKind::Created,
        result: kind,
    })
}

/// A card's own product wins; the BIN-range table is the fallback.
pub fn effective_product<'a>(
    card: &'a CardRecord,
    products: &'a crate::config::CardsSettings,
) -> Option<&'a str> {
    card.product_id
        .as_deref()
        .or_else(|| products.product_for_bin(&card.bin))
}

/// Summary of a card-file import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read card file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("card file {path} is not a JSON array of cards: {reason}")]
    Format { path: String, reason: String },
    #[error("card file {path}, card #{index}: {error}")]
    Card {
        path: String,
        index: usize,
        error: CardInputError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Parses a whole card file, refusing it entirely if any card is invalid (no half imports).
pub fn parse_card_file(
    path: &std::path::Path,
    fingerprints: &Fingerprinter,
) -> Result<Vec<CardRecord>, ImportError> {
    let shown = path.display().to_string();
    let bytes = zeroize::Zeroizing::new(std::fs::read(path).map_err(|e| ImportError::Read {
        path: shown.clone(),
        reason: e.to_string(),
    })?);
    let inputs: Vec<CardInput> = crate::json::parse::parse_array(&bytes)
        .and_then(|v| crate::json::parse::typed(&v))
        .map_err(|e| ImportError::Format {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
    inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            build_record(input, fingerprints).map_err(|error| ImportError::Card {
                path: shown.clone(),
                index,
                error,
            })
        })
        .collect()
}

/// Imports a card file (startup seed or `cards import`): idempotent upsert, flushed at the end.
pub fn import_file(
    store: &Store,
    fingerprints: &Fingerprinter,
    path: &std::path::Path,
) -> Result<ImportReport, ImportError> {
    let records = parse_card_file(path, fingerprints)?;
    let mut report = ImportReport::default();
    for record in records {
        let (_, kind) = store.transact_blocking(|tx| apply_upsert(tx, &record))?;
        match kind {
            UpsertKind::Created => report.created += 1,
            UpsertKind::Updated => report.updated += 1,
            UpsertKind::Unchanged => report.unchanged += 1,
        }
    }
    store.flush_blocking()?;
    Ok(report)
}

#[cfg(test)]
mod status_tests {
    use super::card_status;
    use crate::domain::CardStatus;

    /// Regression (issue 13, defect 9): `"status": "ACTVE"` and control characters were accepted.
    #[test]
    fn card_input_refuses_unknown_statuses_and_control_characters() {
        assert_eq!(card_status(None).unwrap(), CardStatus::Active);
        assert_eq!(
            card_status(Some("suspended")).unwrap(),
            CardStatus::Suspended
        );
        for bad in ["ACTVE", "ACTIVE\u{0}", "ACT\nIVE", "frozen"] {
            let err = card_status(Some(bad)).unwrap_err();
            assert_eq!(err.field, "status", "case {bad:?}");
            assert!(!err.message.contains(bad), "case {bad:?}");
        }
    }
}
