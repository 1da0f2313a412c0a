//! The checks every callback's `TryFrom` shares: identifiers parsed into the domain's validated
//! newtypes with messages naming the wire field (never the value), the card locator, the capture
//! method, and the whole body's canonical form for duplicate detection.

use serde_json::Value;

use super::digitization::CardCaptureInformation;
use super::parse::BodyError;
use crate::domain::callbacks::{CardLocator, MessageBody, SealedCardData};
use crate::domain::ids::{bounded_text, CardRef, IdError};
use crate::domain::Secret;

/// A request's wire type with the whole body it was read from: some attributes are found
/// anywhere in the body (token-for-token, `tokenInfo`), and duplicates are detected on it.
pub struct Received<'a, T> {
    pub request: T,
    pub body: &'a Value,
}

impl<'a, T: serde::de::DeserializeOwned> Received<'a, T> {
    pub fn parse(body: &'a Value) -> Result<Received<'a, T>, BodyError> {
        Ok(Received {
            request: super::parse::typed(body)?,
            body,
        })
    }
}

fn invalid(field: &str, error: IdError) -> BodyError {
    BodyError(format!("{field} {error}"))
}

/// An identifier that may be absent (or blank).
pub fn optional<T>(
    field: &str,
    raw: &Option<String>,
    parse: fn(&str) -> Result<Option<T>, IdError>,
) -> Result<Option<T>, BodyError> {
    match raw.as_deref() {
        None => Ok(None),
        Some(raw) => parse(raw).map_err(|e| invalid(field, e)),
    }
}

/// An identifier the contract makes mandatory.
pub fn required<T>(
    field: &str,
    raw: &Option<String>,
    parse: fn(&str) -> Result<Option<T>, IdError>,
) -> Result<T, BodyError> {
    optional(field, raw, parse)?.ok_or_else(|| BodyError(format!("{field} is required")))
}

/// Short printable text (an action, a decision value): trimmed, `None` when blank.
pub fn text(field: &str, raw: Option<&str>, max: usize) -> Result<Option<String>, BodyError> {
    match raw {
        None => Ok(None),
        Some(raw) => bounded_text(raw, max)
            .map(|v| v.map(str::to_owned))
            .map_err(|e| invalid(field, e)),
    }
}

/// The card a request names: its card data when present (it wins), else our reference.
pub fn card_locator(
    ciphered: Option<&str>,
    reference: Option<CardRef>,
    missing: &str,
) -> Result<CardLocator, BodyError> {
    match (ciphered.and_then(SealedCardData::new), reference) {
        (Some(sealed), _) => Ok(CardLocator::CardData(sealed)),
        (None, Some(reference)) => Ok(CardLocator::Reference(reference)),
        (None, None) => Err(BodyError(missing.to_owned())),
    }
}

/// The capture method in upper case, from the nested `cardCaptureInformation` or the top level
/// (`nested_first` says which the callback's section of the contract puts first).
pub fn capture_method(
    nested: Option<&CardCaptureInformation>,
    top: &Option<String>,
    nested_first: bool,
) -> Option<String> {
    let nested = nested.and_then(|c| c.capture_method.clone());
    let raw = if nested_first {
        nested.or_else(|| top.clone())
    } else {
        top.clone().or(nested)
    };
    raw.map(|m| m.trim().to_ascii_uppercase())
        .filter(|m| !m.is_empty())
}

/// The body in canonical form: serde_json's map is ordered by key.
pub fn message_body(body: &Value) -> MessageBody {
    MessageBody(Secret::new(body.to_string()))
}
