//! `{{name}}` placeholders in scenario strings, and the per-run values they stand for.
//!
//! Owns: parsing a template string into literal and placeholder pieces (so a scenario is checked
//! before anything is sent), the built-in generated values (`run_id`, `digits:N`, `luhn:PREFIX`),
//! and rendering a JSON value with a set of variables. Must not do I/O.
//!
//! A string that is exactly one placeholder takes the variable's JSON value as is (a captured
//! number stays a number); a placeholder inside a longer string is replaced by the value's text.

use std::collections::BTreeMap;

use serde_json::Value;

/// Names the simulator defines for every scenario session.
pub const BUILTINS: [&str; 3] = ["run_id", "correlation_id", "issuer_id"];

/// The most digits `{{digits:N}}` may ask for (fits a u64).
pub const MAX_DIGITS: usize = 18;

/// One reference inside `{{ }}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholder {
    /// A built-in, a scenario variable or a captured value.
    Var(String),
    /// `{{digits:N}}`: N decimal digits, fixed for the session.
    Digits(usize),
    /// `{{luhn:PREFIX}}`: a 16-digit card number starting with PREFIX, valid Luhn, fixed for the session.
    Luhn(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Hole(Placeholder),
}

/// A parsed template string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// Why a template string is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("`{{{{` without a closing `}}}}`")]
    Unclosed,
    #[error("empty placeholder `{{{{}}}}`")]
    Empty,
    #[error("`{0}` is not a valid placeholder name (letters, digits and `_`, not starting with a digit)")]
    BadName(String),
    #[error("`{{{{digits:{0}}}}}` needs a count from 1 to {MAX_DIGITS}")]
    BadDigits(String),
    #[error("`{{{{luhn:{0}}}}}` needs a prefix of 1 to 12 digits")]
    BadLuhn(String),
}

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("variable `{0}` has no value (was it captured by an earlier step?)")]
    Unbound(String),
}

pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or(TemplateError::Unclosed)?;
            pieces.push(Piece::Hole(parse_placeholder(after[..end].trim())?));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Template { pieces })
    }

    /// The variable names this template needs (generated values excluded).
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Hole(Placeholder::Var(name)) => Some(name.as_str()),
            _ => None,
        })
    }

    /// Renders to JSON: a lone placeholder keeps its value's type; anything else is a string.
    /// `encode` is applied to every substituted text (e.g. percent-encoding in a URL path).
    pub fn render(
        &self,
        vars: &Variables,
        encode: fn(&str) -> String,
    ) -> Result<Value, RenderError> {
        if let [Piece::Hole(hole)] = self.pieces.as_slice() {
            let value = vars.resolve(hole)?;
            return Ok(match value {
                Value::String(s) => Value::String(encode(&s)),
                other => other,
            });
        }
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Hole(hole) => out.push_str(&encode(&text_of(&vars.resolve(hole)?))),
            }
        }
        Ok(Value::String(out))
    }

    pub fn render_string(&self, vars: &Variables) -> Result<String, RenderError> {
        self.render(vars, identity).map(|v| text_of(&v))
    }
}

fn parse_placeholder(inner: &str) -> Result<Placeholder, TemplateError> {
    if inner.is_empty() {
        return Err(TemplateError::Empty);
    }
    if let Some(n) = inner.strip_prefix("digits:") {
        return match n.trim().parse::<usize>() {
            Ok(count) if (1..=MAX_DIGITS).contains(&count) => Ok(Placeholder::Digits(count)),
            _ => Err(TemplateError::BadDigits(n.to_owned())),
        };
    }
    if let Some(prefix) = inner.strip_prefix("luhn:") {
        let prefix = prefix.trim();
        return if (1..=12).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Placeholder::Luhn(prefix.to_owned()))
        } else {
            Err(TemplateError::BadLuhn(prefix.to_owned()))
        };
    }
    if is_identifier(inner) {
        Ok(Placeholder::Var(inner.to_owned()))
    } else {
        Err(TemplateError::BadName(inner.to_owned()))
    }
}

pub fn identity(s: &str) -> String {
    s.to_owned()
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for values put into URL paths
/// and query strings).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The text of a JSON value as it appears inside a longer string.
pub fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A JSON value whose strings are templates, parsed once.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonTemplate {
    Literal(Value),
    Text(Template),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
}

impl JsonTemplate {
    /// Parses every string of `value`; the error carries the dotted path of the bad string.
    pub fn parse(value: &Value) -> Result<JsonTemplate, (String, TemplateError)> {
        Ok(match value {
            Value::String(s) => {
                JsonTemplate::Text(Template::parse(s).map_err(|e| (String::new(), e))?)
            }
            Value::Array(items) => JsonTemplate::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        JsonTemplate::parse(item)
                            .map_err(|(p, e)| (join_path(&format!("[{i}]"), &p), e))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => JsonTemplate::Object(
                map.iter()
                    .map(|(k, v)| {
                        JsonTemplate::parse(v)
                            .map(|t| (k.clone(), t))
                            .map_err(|(p, e)| (join_path(k, &p), e))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => JsonTemplate::Literal(other.clone()),
        })
    }

    /// Every variable name used anywhere in the value, with the dotted path where it is used.
    pub fn variables(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        self.collect_variables("", &mut out);
        out
    }

    fn collect_variables(&self, at: &str, out: &mut Vec<(String, String)>) {
        match self {
            JsonTemplate::Literal(_) => {}
            JsonTemplate::Text(t) => {
                out.extend(t.variables().map(|v| (at.to_owned(), v.to_owned())));
            }
            JsonTemplate::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    item.collect_variables(&join_path(at, &format!("[{i}]")), out);
                }
            }
            JsonTemplate::Object(fields) => {
                for (k, v) in fields {
                    v.collect_variables(&join_path(at, k), out);
                }
            }
        }
    }

    pub fn render(&self, vars: &Variables) -> Result<Value, RenderError> {
        Ok(match self {
            JsonTemplate::Literal(v) => v.clone(),
            JsonTemplate::Text(t) => t.render(vars, identity)?,
            JsonTemplate::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(vars))
                    .collect::<Result<_, _>>()?,
            ),
            JsonTemplate::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| v.render(vars).map(|v| (k.clone(), v)))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

fn join_path(parent: &str, child: &str) -> String {
    match (parent.is_empty(), child.is_empty(), child.starts_with('[')) {
        (true, _, _) => child.to_owned(),
        (_, true, _) => parent.to_owned(),
        (_, _, true) => format!("{parent}{child}"),
        _ => format!("{parent}.{child}"),
    }
}

/// The values of one scenario session: a seed for generated values plus named variables.
#[derive(Debug, Clone)]
pub struct Variables {
    seed: u64,
    values: BTreeMap<String, Value>,
}

impl Variables {
    pub fn new(seed: u64) -> Variables {
        Variables {
            seed,
            values: BTreeMap::new(),
        }
    }

    pub fn set(&mut self, name: &str, value: Value) {
        self.values.insert(name.to_owned(), value);
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    fn resolve(&self, hole: &Placeholder) -> Result<Value, RenderError> {
        match hole {
            Placeholder::Var(name) => self
                .values
                .get(name)
                .cloned()
                .ok_or_else(|| RenderError::Unbound(name.clone())),
            Placeholder::Digits(n) => {
                Ok(Value::String(digits(self.seed, &format!("digits:{n}"), *n)))
            }
            Placeholder::Luhn(prefix) => Ok(Value::String(luhn_pan(self.seed, prefix))),
        }
    }
}

/// SplitMix64: a small, well-mixed step for deriving per-session values from one seed.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn derive(seed: u64, label: &str) -> u64 {
    label
        .bytes()
        .fold(splitmix64(seed), |acc, b| splitmix64(acc ^ u64::from(b)))
}

/// `n` decimal digits (n ≤ 18) derived from the seed and a label, zero-padded.
fn digits(seed: u64, label: &str, n: usize) -> String {
    let modulus = 10u64.pow(n as u32);
    format!("{:0width$}", derive(seed, label) % modulus, width = n)
}

/// A 16-digit PAN starting with `prefix` (1–12 digits) whose last digit is the Luhn check digit.
pub fn luhn_pan(seed: u64, prefix: &str) -> String {
    let body_len = 15 - prefix.len();
    let mut pan = format!(
        "{prefix}{}",
        digits(seed, &format!("luhn:{prefix}"), body_len)
    );
    pan.push(luhn_check_digit(&pan));
    pan
}

/// The digit that makes `payload` + digit pass the Luhn check.
pub fn luhn_check_digit(payload: &str) -> char {
    let sum: u32 = payload
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Variables {
        let mut v = Variables::new(42);
        v.set("run_id", json!("abc123"));
        v.set("count", json!(3));
        v.set("card", json!("ICR/1 2"));
        v
    }

    #[test]
    fn a_lone_placeholder_keeps_the_value_type() {
        let t = Template::parse("{{count}}").unwrap();
        assert_eq!(t.render(&vars(), identity).unwrap(), json!(3));
    }

    #[test]
    fn placeholders_inside_text_are_replaced_by_their_text() {
        let t = Template::parse("VC-{{ run_id }}-{{count}}!").unwrap();
        assert_eq!(t.render_string(&vars()).unwrap(), "VC-abc123-3!");
    }

    #[test]
    fn text_without_placeholders_is_unchanged() {
        let t = Template::parse("plain } { text").unwrap();
        assert_eq!(t.render_string(&vars()).unwrap(), "plain } { text");
        assert_eq!(t.variables().count(), 0);
    }

    #[test]
    fn substituted_values_can_be_percent_encoded() {
        let t = Template::parse("/api/v1/cards/{{card}}/tokens").unwrap();
        assert_eq!(
            t.render(&vars(), percent_encode).unwrap(),
            json!("/api/v1/cards/ICR%2F1%202/tokens")
        );
    }

    #[test]
    fn malformed_placeholders_are_refused() {
        let cases = [
            ("{{run_id", TemplateError::Unclosed),
            ("{{}}", TemplateError::Empty),
            ("{{1abc}}", TemplateError::BadName("1abc".into())),
            ("{{a-b}}", TemplateError::BadName("a-b".into())),
            ("{{digits:0}}", TemplateError::BadDigits("0".into())),
            ("{{digits:19}}", TemplateError::BadDigits("19".into())),
            ("{{luhn:41a}}", TemplateError::BadLuhn("41a".into())),
            (
                "{{luhn:4111111111111}}",
                TemplateError::BadLuhn("4111111111111".into()),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(Template::parse(text), Err(expected), "case {text}");
        }
    }

    #[test]
    fn an_unbound_variable_is_named() {
        let t = Template::parse("{{issuerCardRefId}}").unwrap();
        assert_eq!(
            t.render(&vars(), identity),
            Err(RenderError::Unbound("issuerCardRefId".into()))
        );
    }

    #[test]
    fn generated_values_are_stable_within_a_session_and_differ_between_sessions() {
        let a = Template::parse("{{digits:6}} {{luhn:411111}}").unwrap();
        let first = a.render_string(&Variables::new(1)).unwrap();
        assert_eq!(first, a.render_string(&Variables::new(1)).unwrap());
        assert_ne!(first, a.render_string(&Variables::new(2)).unwrap());
        let (otp, pan) = first.split_once(' ').unwrap();
        assert_eq!(otp.len(), 6);
        assert!(pan.starts_with("411111") && pan.len() == 16);
    }

    #[test]
    fn generated_card_numbers_pass_luhn() {
        for seed in 0..50 {
            let pan = luhn_pan(seed, "4");
            let payload = &pan[..15];
            assert_eq!(pan.chars().last(), Some(luhn_check_digit(payload)), "{pan}");
        }
        // Known numbers: 4111111111111111 and 5555555555554444.
        assert_eq!(luhn_check_digit("411111111111111"), '1');
        assert_eq!(luhn_check_digit("555555555555444"), '4');
    }

    #[test]
    fn json_templates_render_nested_strings_and_report_their_paths() {
        let raw = json!({"a": {"b": ["x", "{{run_id}}"]}, "n": 1});
        let t = JsonTemplate::parse(&raw).unwrap();
        assert_eq!(
            t.variables(),
            vec![("a.b[1]".to_owned(), "run_id".to_owned())]
        );
        assert_eq!(
            t.render(&vars()).unwrap(),
            json!({"a": {"b": ["x", "abc123"]}, "n": 1})
        );
        let bad = JsonTemplate::parse(&json!({"a": [{"c": "{{oops"}]})).unwrap_err();
        assert_eq!(bad, ("a[0].c".to_owned(), TemplateError::Unclosed));
    }
}
