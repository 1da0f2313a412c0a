//! Field paths into a JSON response (`levelOfTrust`, `idvMethodList[0].id`, `data[0].state`),
//! used by scenario captures and expectations. Owns parsing and lookup only; no I/O.

use std::fmt;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// A parsed path: keys separated by `.`, array indexes as `[n]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    segments: Vec<Segment>,
}

fn key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$')
}

impl FieldPath {
    pub fn parse(text: &str) -> Result<FieldPath, String> {
        let bad =
            |why: &str| format!("`{text}` is not a field path ({why}; e.g. `idvMethodList[0].id`)");
        if text.is_empty() {
            return Err(bad("empty"));
        }
        let mut segments = Vec::new();
        let mut chars = text.chars().peekable();
        let mut expect_key = true;
        while let Some(&c) = chars.peek() {
            if c == '[' {
                chars.next();
                let mut digits = String::new();
                while let Some(&d) = chars.peek() {
                    if d == ']' {
                        break;
                    }
                    digits.push(d);
                    chars.next();
                }
                if chars.next() != Some(']') {
                    return Err(bad("`[` without `]`"));
                }
                let index = digits
                    .parse::<usize>()
                    .map_err(|_| bad("an index must be a number"))?;
                segments.push(Segment::Index(index));
                expect_key = false;
            } else if c == '.' {
                chars.next();
                if expect_key {
                    return Err(bad("empty key"));
                }
                expect_key = true;
            } else if key_char(c) {
                if !expect_key {
                    return Err(bad("missing `.` before a key"));
                }
                let mut key = String::new();
                while let Some(&k) = chars.peek() {
                    if !key_char(k) {
                        break;
                    }
                    key.push(k);
                    chars.next();
                }
                segments.push(Segment::Key(key));
                expect_key = false;
            } else {
                return Err(bad(&format!("unexpected `{c}`")));
            }
        }
        if expect_key {
            return Err(bad("ends with `.`"));
        }
        Ok(FieldPath {
            text: text.to_owned(),
            segments,
        })
    }

    /// The value at this path, if every step exists.
    pub fn lookup<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        self.segments
            .iter()
            .try_fold(value, |current, segment| match segment {
                Segment::Key(k) => current.get(k.as_str()),
                Segment::Index(i) => current.get(*i),
            })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_find_nested_keys_and_array_items() {
        let body =
            json!({"idvMethodList": [{"id": "sms-1"}, {"id": "email-2"}], "data": {"x-y": 1}});
        let get = |p: &str| FieldPath::parse(p).unwrap().lookup(&body).cloned();
        assert_eq!(get("idvMethodList[1].id"), Some(json!("email-2")));
        assert_eq!(get("data.x-y"), Some(json!(1)));
        assert_eq!(get("idvMethodList[5].id"), None);
        assert_eq!(get("missing.key"), None);
        assert_eq!(
            FieldPath::parse("[0]").unwrap().lookup(&json!(["a"])),
            Some(&json!("a"))
        );
    }

    #[test]
    fn malformed_paths_are_refused() {
        for bad in ["", ".a", "a.", "a..b", "a[", "a[x]", "a[0]b", "a b", "a/b"] {
            assert!(
                FieldPath::parse(bad).is_err(),
                "case `{bad}` should be refused"
            );
        }
    }
}
