//! Turns JSON bytes (a request body, the card file) into a typed struct with an error message that
//! names the field but never echoes a value (serde's own messages quote the value, maybe a PAN).

use serde::de::DeserializeOwned;
use serde_json::Value;

/// A body that could not be read, with a message safe to return and log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BodyError(pub String);

/// Parses bytes as a JSON object. Anything but an object (array, string, …) is refused.
pub fn parse_object(bytes: &[u8]) -> Result<Value, BodyError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(BodyError("request body is empty".to_owned()));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        BodyError(format!(
            "request body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if !value.is_object() {
        return Err(BodyError("request body must be a JSON object".to_owned()));
    }
    Ok(value)
}

/// Parses bytes as a JSON array (the card file).
pub fn parse_array(bytes: &[u8]) -> Result<Value, BodyError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        BodyError(format!(
            "not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if !value.is_array() {
        return Err(BodyError("must be a JSON array".to_owned()));
    }
    Ok(value)
}

/// Reads a typed struct from an already parsed object.
pub fn typed<T: DeserializeOwned>(value: &Value) -> Result<T, BodyError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let reason = sanitize(&e.inner().to_string());
        BodyError(format!("invalid field `{path}`: {reason}"))
    })
}

/// Keeps serde's explanation ("invalid type: …, expected a string") but drops quoted values.
fn sanitize(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for (i, part) in message.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("<value>");
        } else {
            out.push_str(part);
        }
    }
    // serde also prints bare numbers for some kinds ("invalid value: integer 4111…"): drop digit runs.
    let mut cleaned = String::with_capacity(out.len());
    let mut run = String::new();
    for c in out.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush_run(&mut cleaned, &mut run);
            cleaned.push(c);
        }
    }
    flush_run(&mut cleaned, &mut run);
    cleaned
}

fn flush_run(out: &mut String, run: &mut String) {
    if run.len() >= 4 {
        out.push_str("<number>");
    } else {
        out.push_str(run);
    }
    run.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        name: String,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
    }

    #[test]
    fn errors_name_the_field_but_not_the_value() {
        let value = parse_object(br#"{"inner":{"name":4111111111111111}}"#).unwrap();
        let err = typed::<Outer>(&value).unwrap_err();
        assert!(err.0.contains("inner.name"), "{err}");
        assert!(!err.0.contains("4111"), "{err}");
    }

    #[test]
    fn non_objects_and_broken_json_are_refused() {
        let cases: &[&[u8]] = &[b"", b"  ", b"[]", b"\"x\"", b"{", b"{\"a\":}", b"null"];
        for body in cases {
            assert!(
                parse_object(body).is_err(),
                "case {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn broken_json_message_does_not_echo_the_input() {
        let err = parse_object(b"{\"fpan\": 4111111111111111,,}").unwrap_err();
        assert!(!err.0.contains("4111"), "{err}");
    }
}
