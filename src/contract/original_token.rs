//! Finds the token-for-token attributes (contract §4) wherever TSH put them: the top level first,
//! then `tokenRequestor`, then `tokenInfo` (when an object); key spelling is matched ignoring case,
//! which covers the `ID`/`Id` aliases. Also reads the token's own number out of `tokenInfo`.
//!
//! Values come out as [`Secret`] (token numbers) or plain strings (identifiers, which may arrive as
//! numbers). Nothing here keeps a copy of the raw objects, so a token number cannot leak through them.

use serde_json::{Map, Value};

use super::fields;
use super::parse::BodyError;
use super::tolerant::{get_ci, value_as_string};
use crate::domain::callbacks::OriginalTokenClaim;
use crate::domain::{Pan, Secret};

/// The original-token attributes as found on the wire.
#[derive(Debug, Default)]
pub struct OriginalTokenWire {
    pub token: Option<Secret>,
    pub requestor_id: Option<String>,
    pub reference_id: Option<String>,
    pub assurance_level: Option<String>,
    /// Attributes that arrived as an object or an array (canonical field names): malformed.
    pub wrong_type: Vec<&'static str>,
}

impl OriginalTokenWire {
    pub fn is_empty(&self) -> bool {
        self.token.is_none()
            && self.requestor_id.is_none()
            && self.reference_id.is_none()
            && self.assurance_level.is_none()
    }
}

/// Extracts the original-token attributes from a whole request body.
pub fn extract(body: &Value) -> OriginalTokenWire {
    let mut places: Vec<&Map<String, Value>> = Vec::with_capacity(3);
    if let Some(top) = body.as_object() {
        places.push(top);
        if let Some(Value::Object(requestor)) = get_ci(top, "tokenRequestor") {
            places.push(requestor);
        }
        if let Some(Value::Object(info)) = get_ci(top, "tokenInfo") {
            places.push(info);
        }
    }
    let mut wrong_type = Vec::new();
    let mut find = |key: &'static str| -> Option<String> {
        let value = places.iter().find_map(|obj| get_ci(obj, key))?;
        if value.is_object() || value.is_array() {
            wrong_type.push(key);
            return None;
        }
        value_as_string(value)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let token = find("originalToken").map(Secret::new);
    let requestor_id = find("originalTokenRequestorId");
    let reference_id = find("originalTokenReferenceId");
    let assurance_level = find("originalTokenAssuranceLevel");
    OriginalTokenWire {
        token,
        requestor_id,
        reference_id,
        assurance_level,
        wrong_type,
    }
}

/// The original-token attributes of a whole request body, checked (contract §4): malformed ones
/// are refused naming the field, never the value. The token number must be 12 to 19 digits;
/// identifiers are printable and bounded (tolerantly: the contract's 11-digit requestor id and
/// 32-character reference id are accepted up to 32 and 64 characters, since they are only
/// compared).
pub fn claim(body: &Value) -> Result<OriginalTokenClaim, BodyError> {
    let wire = extract(body);
    if let Some(field) = wire.wrong_type.first() {
        return Err(BodyError(format!("{field} must be a string")));
    }
    if let Some(token) = &wire.token {
        if Pan::parse_token(token.expose()).is_err() {
            return Err(BodyError(
                "originalToken must be 12 to 19 digits".to_owned(),
            ));
        }
    }
    let requestor_id = fields::text("originalTokenRequestorId", wire.requestor_id.as_deref(), 32)?;
    let reference_id = fields::text("originalTokenReferenceID", wire.reference_id.as_deref(), 64)?;
    let assurance_level = fields::text(
        "originalTokenAssuranceLevel",
        wire.assurance_level.as_deref(),
        32,
    )?;
    Ok(OriginalTokenClaim {
        token: wire.token,
        requestor_id,
        reference_id,
        assurance_level,
    })
}

/// What `tokenInfo` tells about the token itself.
#[derive(Debug, Default)]
pub struct TokenInfoWire {
    pub token_number: Option<Secret>,
    pub token_reference_id: Option<String>,
}

/// Reads `tokenInfo` (object, or a string holding the bare token number).
pub fn token_info(body: &Value) -> TokenInfoWire {
    let Some(info) = body.as_object().and_then(|top| get_ci(top, "tokenInfo")) else {
        return TokenInfoWire::default();
    };
    match info {
        Value::String(s) => {
            let digits = s.trim();
            let is_number =
                (12..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
            TokenInfoWire {
                token_number: is_number.then(|| Secret::new(digits.to_owned())),
                token_reference_id: None,
            }
        }
        Value::Object(obj) => {
            let number = [
                "token",
                "tokenPan",
                "tokenNumber",
                "tokenPAN",
                "dpan",
                "pan",
            ]
            .iter()
            .find_map(|k| get_ci(obj, k).and_then(value_as_string))
            .map(Secret::new);
            let reference = ["tokenReferenceId", "tokenRefId", "tokenReference"]
                .iter()
                .find_map(|k| get_ci(obj, k).and_then(value_as_string));
            TokenInfoWire {
                token_number: number,
                token_reference_id: reference,
            }
        }
        _ => TokenInfoWire::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attributes_are_found_at_each_place_with_aliases() {
        let cases = vec![
            (
                "top level, canonical spelling",
                json!({"originalToken":"4895370012003478","originalTokenRequestorId":"40010030273","originalTokenReferenceID":"DNITHE1","originalTokenAssuranceLevel":"25"}),
            ),
            (
                "inside tokenRequestor, ID aliases, numeric requestor id",
                json!({"tokenRequestor":{"id":"1","originalToken":"4895370012003478","originalTokenRequestorID":40010030273u64,"originalTokenReferenceId":"DNITHE1","originalTokenAssuranceLevel":"25"}}),
            ),
            (
                "inside tokenInfo",
                json!({"tokenInfo":{"originalToken":"4895370012003478","originalTokenRequestorId":"40010030273","originalTokenReferenceID":"DNITHE1","originalTokenAssuranceLevel":25}}),
            ),
        ];
        for (name, body) in cases {
            let found = extract(&body);
            assert_eq!(
                found.token.as_ref().map(|t| t.expose()),
                Some("4895370012003478"),
                "{name}"
            );
            assert_eq!(found.requestor_id.as_deref(), Some("40010030273"), "{name}");
            assert_eq!(found.reference_id.as_deref(), Some("DNITHE1"), "{name}");
            assert_eq!(found.assurance_level.as_deref(), Some("25"), "{name}");
        }
    }

    #[test]
    fn top_level_wins_over_nested_objects() {
        let body = json!({"originalTokenReferenceID":"TOP","tokenRequestor":{"originalTokenReferenceID":"NESTED"}});
        assert_eq!(extract(&body).reference_id.as_deref(), Some("TOP"));
    }

    #[test]
    fn objects_and_arrays_are_reported_as_the_wrong_type() {
        let found = extract(
            &json!({"originalToken": {"pan": "4895370012003478"}, "tokenRequestor": {"originalTokenReferenceID": ["R"]}}),
        );
        assert_eq!(
            found.wrong_type,
            vec!["originalToken", "originalTokenReferenceId"]
        );
        assert!(found.token.is_none());
    }

    #[test]
    fn absent_attributes_read_as_empty() {
        assert!(extract(&json!({"tokenInfo":"abc"})).is_empty());
        assert!(extract(&json!({"originalToken":""})).is_empty());
    }

    #[test]
    fn token_info_number_is_read_from_object_or_string() {
        let obj = token_info(
            &json!({"tokenInfo":{"tokenPan":"4895370012003478","tokenReferenceId":"R1"}}),
        );
        assert_eq!(
            obj.token_number.map(|t| t.expose().to_owned()).as_deref(),
            Some("4895370012003478")
        );
        assert_eq!(obj.token_reference_id.as_deref(), Some("R1"));
        let s = token_info(&json!({"tokenInfo":"4895370012003478"}));
        assert!(s.token_number.is_some());
        let opaque = token_info(&json!({"tokenInfo":"eyJhbGciOi"}));
        assert!(opaque.token_number.is_none());
    }
}
