//! Lenient field readers: TSH and its relays send identifiers as strings or numbers, scores as
//! numbers or numeric strings, booleans as `true` or `"true"`. Values we cannot read as the
//! expected kind are treated as absent where that is the safe reading (scores, flags), and refused
//! where guessing would be wrong (identifiers given as objects).

use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::Value;

pub use crate::json::lenient::{
    get_ci, value_as_bool, value_as_number, value_as_string, StringOrNumber,
};

/// `Option<String>` accepting null, a string or a number.
pub fn opt_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<StringOrNumber>::deserialize(deserializer)?.map(|s| s.0))
}

/// `Option<f64>` accepting null, a number or a numeric string; anything else reads as absent.
pub fn opt_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    Ok(value_as_number(&Value::deserialize(deserializer)?))
}

/// `Option<bool>` accepting a bool or `"true"`/`"false"`/`"1"`/`"0"`/`"yes"`/`"no"`; anything else
/// reads as absent (so a garbled `cvvValidated` never counts as validated).
pub fn opt_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    Ok(value_as_bool(&Value::deserialize(deserializer)?))
}

/// `Option<i64>` accepting an integer or a numeric string; other values are an error (an
/// `errorCode` we cannot read must not be silently dropped).
pub fn opt_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| de::Error::custom("expected an integer")),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| de::Error::custom("expected an integer")),
        _ => Err(de::Error::custom("expected an integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Probe {
        #[serde(deserialize_with = "opt_string")]
        s: Option<String>,
        #[serde(deserialize_with = "opt_number")]
        n: Option<f64>,
        #[serde(deserialize_with = "opt_bool")]
        b: Option<bool>,
        #[serde(deserialize_with = "opt_i64")]
        i: Option<i64>,
    }

    #[test]
    fn lenient_readers_table() {
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            Option<f64>,
            Option<bool>,
            Option<i64>,
        );
        let cases: &[Case] = &[
            (r#"{}"#, None, None, None, None),
            (
                r#"{"s":"abc","n":3,"b":true,"i":221}"#,
                Some("abc"),
                Some(3.0),
                Some(true),
                Some(221),
            ),
            (
                r#"{"s":12345678901,"n":"2","b":"false","i":"221"}"#,
                Some("12345678901"),
                Some(2.0),
                Some(false),
                Some(221),
            ),
            (
                r#"{"s":null,"n":"high","b":"maybe","i":null}"#,
                None,
                None,
                None,
                None,
            ),
            (r#"{"n":[1],"b":{"x":1}}"#, None, None, None, None),
            (r#"{"s":1.5,"n":"NaN"}"#, Some("1.5"), None, None, None),
        ];
        for (json, s, n, b, i) in cases {
            let probe: Probe = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(probe.s.as_deref(), *s, "s in {json}");
            assert_eq!(probe.n, *n, "n in {json}");
            assert_eq!(probe.b, *b, "b in {json}");
            assert_eq!(probe.i, *i, "i in {json}");
        }
    }

    #[test]
    fn unreadable_error_codes_and_object_ids_are_refused() {
        assert!(serde_json::from_str::<Probe>(r#"{"i":"abc"}"#).is_err());
        assert!(serde_json::from_str::<Probe>(r#"{"s":{"a":1}}"#).is_err());
    }
}
