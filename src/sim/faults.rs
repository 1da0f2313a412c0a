//! Fault injection for scenario steps: the step options `delay_ms` (wait before the step),
//! `repeat` (send the same callback N times: duplicates), and `deadline_ms` with
//! `on_timeout = "stand_in"` + `stand_in = { ... }` (TSH gives up on the issuer after the deadline
//! and sends `notifyStandInProcess` with that body instead). Reordering is the scenario's own step
//! order (write the late message after the newer one; `delay_ms` makes it late in time too).
//!
//! Owns: validating these options (bounded: [`MAX_REPEAT`], [`MAX_DELAY_MS`], [`MAX_DEADLINE_MS`])
//! into [`Faults`]. Must not do I/O; the runner applies them. Documented in
//! `fixtures/scenarios/README.md`.

use std::time::Duration;

use super::template::JsonTemplate;

pub const MAX_REPEAT: i64 = 20;
pub const MAX_DELAY_MS: i64 = 10_000;
pub const MAX_DEADLINE_MS: i64 = 60_000;

/// The faults of one step; the default is none.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Pause before the step (inside the deadline, when there is one: a slow path to the issuer).
    pub delay: Duration,
    /// How many identical copies of the callback are sent (1 = no duplicate).
    pub repeat: u32,
    pub deadline: Option<Deadline>,
}

/// TSH's client deadline for a callback, and what it sends when the issuer misses it.
#[derive(Debug, Clone)]
pub struct Deadline {
    pub after: Duration,
    /// Body of the `notifyStandInProcess` sent instead (same correlation id).
    pub stand_in: JsonTemplate,
}

/// The raw options as read from the step.
#[derive(Debug, Default)]
pub struct RawFaults<'a> {
    pub delay_ms: Option<i64>,
    pub repeat: Option<i64>,
    pub deadline_ms: Option<i64>,
    pub on_timeout: Option<&'a str>,
    /// The `stand_in` body, already parsed as a template by the caller.
    pub stand_in: Option<JsonTemplate>,
}

/// `(field, message)` like the scenario builder's errors.
pub type FaultError = (Option<String>, String);

/// Validates the options; `is_call` says whether the step is a TSH callback.
pub fn build(raw: RawFaults<'_>, is_call: bool) -> Result<Faults, FaultError> {
    let at = |f: &str| Some(f.to_owned());
    let delay_ms = raw.delay_ms.unwrap_or(0);
    if !(0..=MAX_DELAY_MS).contains(&delay_ms) {
        return Err((
            at("delay_ms"),
            format!("{delay_ms}: expected 0 to {MAX_DELAY_MS}"),
        ));
    }
    if !is_call {
        for (present, field) in [
            (raw.repeat.is_some(), "repeat"),
            (raw.deadline_ms.is_some(), "deadline_ms"),
            (raw.on_timeout.is_some(), "on_timeout"),
            (raw.stand_in.is_some(), "stand_in"),
        ] {
            if present {
                return Err((at(field), "only a `call` step takes this field".into()));
            }
        }
    }
    let repeat = raw.repeat.unwrap_or(1);
    if !(1..=MAX_REPEAT).contains(&repeat) {
        return Err((
            at("repeat"),
            format!("{repeat}: expected 1 to {MAX_REPEAT}"),
        ));
    }
    let deadline =
        match (raw.deadline_ms, raw.on_timeout, raw.stand_in) {
            (None, None, None) => None,
            (Some(ms), Some("stand_in"), Some(stand_in)) => {
                if !(1..=MAX_DEADLINE_MS).contains(&ms) {
                    return Err((
                        at("deadline_ms"),
                        format!("{ms}: expected 1 to {MAX_DEADLINE_MS}"),
                    ));
                }
                if repeat > 1 {
                    return Err((at("repeat"), "a step with a deadline is sent once".into()));
                }
                Some(Deadline {
                    after: Duration::from_millis(ms as u64),
                    stand_in,
                })
            }
            (None, _, _) => {
                return Err((
                    at("deadline_ms"),
                    "`on_timeout` and `stand_in` need a `deadline_ms`".into(),
                ))
            }
            (Some(_), None, _) => {
                return Err((
                    at("on_timeout"),
                    "a deadline needs on_timeout = \"stand_in\"".into(),
                ))
            }
            (Some(_), Some(other), _) if other != "stand_in" => {
                return Err((
                    at("on_timeout"),
                    format!("`{other}`: the only action is \"stand_in\""),
                ))
            }
            (Some(_), Some(_), _) => return Err((
                at("stand_in"),
                "on_timeout = \"stand_in\" needs the notifyStandInProcess body: stand_in = { ... }"
                    .into(),
            )),
        };
    Ok(Faults {
        delay: Duration::from_millis(delay_ms as u64),
        repeat: repeat as u32,
        deadline,
    })
}

impl Faults {
    /// How the step line shows them, e.g. ` [delay 200 ms, ×3]`; empty without faults.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.delay.is_zero() {
            parts.push(format!("delay {} ms", self.delay.as_millis()));
        }
        if self.repeat > 1 {
            parts.push(format!("×{}", self.repeat));
        }
        if let Some(d) = &self.deadline {
            parts.push(format!("deadline {} ms", d.after.as_millis()));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" [{}]", parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body() -> JsonTemplate {
        JsonTemplate::parse(&json!({"standInDecision": "APPROVED"})).unwrap()
    }

    #[test]
    fn no_options_means_no_faults() {
        let f = build(RawFaults::default(), true).unwrap();
        assert_eq!(
            (f.delay, f.repeat, f.deadline.is_none()),
            (Duration::ZERO, 1, true)
        );
        assert_eq!(f.describe(), "");
    }

    #[test]
    fn good_options_build() {
        let f = build(
            RawFaults {
                delay_ms: Some(200),
                repeat: Some(3),
                ..Default::default()
            },
            true,
        )
        .unwrap();
        assert_eq!((f.delay, f.repeat), (Duration::from_millis(200), 3));
        assert_eq!(f.describe(), " [delay 200 ms, ×3]");
        let f = build(
            RawFaults {
                deadline_ms: Some(100),
                on_timeout: Some("stand_in"),
                stand_in: Some(body()),
                ..Default::default()
            },
            true,
        )
        .unwrap();
        assert_eq!(f.deadline.unwrap().after, Duration::from_millis(100));
        // A delay alone is fine on any step.
        assert!(build(
            RawFaults {
                delay_ms: Some(5),
                ..Default::default()
            },
            false
        )
        .is_ok());
    }

    #[test]
    fn bad_options_name_their_field() {
        let cases: Vec<(RawFaults, bool, &str, &str)> = vec![
            (
                RawFaults {
                    delay_ms: Some(-1),
                    ..Default::default()
                },
                true,
                "delay_ms",
                "expected 0",
            ),
            (
                RawFaults {
                    delay_ms: Some(MAX_DELAY_MS + 1),
                    ..Default::default()
                },
                true,
                "delay_ms",
                "expected 0",
            ),
            (
                RawFaults {
                    repeat: Some(0),
                    ..Default::default()
                },
                true,
                "repeat",
                "expected 1",
            ),
            (
                RawFaults {
                    repeat: Some(MAX_REPEAT + 1),
                    ..Default::default()
                },
                true,
                "repeat",
                "expected 1",
            ),
            (
                RawFaults {
                    repeat: Some(2),
                    ..Default::default()
                },
                false,
                "repeat",
                "only a `call`",
            ),
            (
                RawFaults {
                    deadline_ms: Some(10),
                    ..Default::default()
                },
                true,
                "on_timeout",
                "needs on_timeout",
            ),
            (
                RawFaults {
                    on_timeout: Some("stand_in"),
                    ..Default::default()
                },
                true,
                "deadline_ms",
                "need a `deadline_ms`",
            ),
            (
                RawFaults {
                    deadline_ms: Some(10),
                    on_timeout: Some("retry"),
                    stand_in: Some(body()),
                    ..Default::default()
                },
                true,
                "on_timeout",
                "only action",
            ),
            (
                RawFaults {
                    deadline_ms: Some(10),
                    on_timeout: Some("stand_in"),
                    ..Default::default()
                },
                true,
                "stand_in",
                "needs the notifyStandInProcess body",
            ),
            (
                RawFaults {
                    deadline_ms: Some(0),
                    on_timeout: Some("stand_in"),
                    stand_in: Some(body()),
                    ..Default::default()
                },
                true,
                "deadline_ms",
                "expected 1",
            ),
            (
                RawFaults {
                    deadline_ms: Some(10),
                    on_timeout: Some("stand_in"),
                    stand_in: Some(body()),
                    repeat: Some(2),
                    ..Default::default()
                },
                true,
                "repeat",
                "sent once",
            ),
        ];
        for (raw, is_call, field, message) in cases {
            let (got_field, got) = build(raw, is_call).unwrap_err();
            assert_eq!(got_field.as_deref(), Some(field), "{got}");
            assert!(got.contains(message), "{field}: {got}");
        }
    }
}
