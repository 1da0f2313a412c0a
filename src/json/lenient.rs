//! Lenient readings of JSON values: TSH and its relays send identifiers as strings or numbers,
//! scores as numbers or numeric strings, booleans as `true` or `"true"`, and spell keys with any
//! ASCII case. Shared by the contract's wire types and by the readers of decrypted card data;
//! knows neither.

use serde_json::{Map, Value};

/// A number as text: integers without a fractional part, others as Rust prints them.
pub fn number_to_string(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        v.to_string()
    }
}

/// A number, or a numeric string; `None` for other kinds and non-finite values.
pub fn value_as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
        _ => None,
    }
}

/// A bool, `"true"`/`"false"`/`"1"`/`"0"`/`"yes"`/`"no"`, or the numbers 1 and 0.
pub fn value_as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "y" => Some(true),
            "false" | "0" | "no" | "n" => Some(false),
            _ => None,
        },
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A string, or a number or bool rendered as a string; `None` for other kinds.
pub fn value_as_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => n.as_f64().map(number_to_string),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Looks a key up in a JSON object ignoring ASCII case (`originalTokenReferenceID` and
/// `originalTokenReferenceId` are the same field to us); the exact spelling wins; null is absent.
pub fn get_ci<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object
        .get(key)
        .or_else(|| {
            object
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

/// The value of the first of `keys` present in `object` (any case) that reads as text, trimmed;
/// `None` when that value is blank.
pub fn first_text(object: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| get_ci(object, k).and_then(value_as_string))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// A string that may have been sent as a JSON number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringOrNumber(pub String);

impl<'de> serde::Deserialize<'de> for StringOrNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = StringOrNumber;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StringOrNumber(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(StringOrNumber(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(StringOrNumber(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(StringOrNumber(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(StringOrNumber(number_to_string(v)))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_lookup_prefers_the_exact_key() {
        let obj: Map<String, Value> = serde_json::from_str(
            r#"{"originalTokenReferenceId":"a","ORIGINALTOKENREFERENCEID":"b"}"#,
        )
        .unwrap();
        assert_eq!(
            get_ci(&obj, "originalTokenReferenceId"),
            Some(&Value::from("a"))
        );
        assert!(get_ci(&obj, "originalTokenReferenceID").is_some());
        assert!(get_ci(&obj, "missing").is_none());
    }

    #[test]
    fn first_text_takes_the_first_readable_key() {
        let obj: Map<String, Value> =
            serde_json::from_str(r#"{"deviceId":[1],"SerialNumber":12345,"imei":"x"}"#).unwrap();
        assert_eq!(
            first_text(&obj, &["deviceId", "serialNumber", "imei"]).as_deref(),
            Some("12345")
        );
        let blank: Map<String, Value> = serde_json::from_str(r#"{"deviceId":" "}"#).unwrap();
        assert_eq!(first_text(&blank, &["deviceId"]), None);
    }
}
