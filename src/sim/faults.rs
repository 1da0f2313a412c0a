//! Fault injection for scenario steps: the step options `delay_ms` (wait before the step),
//! `repeat` (send the same callback N times: duplicates), and `deadline_ms` with
//! `on_timeout = "stand_in"` + `stand_in = { ... }` (TSH gives up on the issuer after the deadline
//! and sends `notifyStandInProcess` with that body instead). Reordering is the scenario's own step
//! order (write the late message after the newer one; `delay_ms` makes it late in time too).
//! With the simulated TSH's view followed (`tsh_view = true` on the scenario, see [`TshView`]),
//! a `notifyVirtualCardChange` step also takes `deliver = "never"` (TSH's state changes, the
//! issuer is never told: only reconciliation heals it), `deliver = "after_next"` (held and
//! delivered after the next callback: the wrong order, while TSH's view changed in the true one)
//! and `tsh_state = "..."` (TSH's `getTokenInfo` then answers a state other than the notified one).
//!
//! Owns: validating these options (bounded: [`MAX_REPEAT`], [`MAX_DELAY_MS`], [`MAX_DEADLINE_MS`])
//! into [`Faults`]. Must not do I/O; the runner applies them. Documented in
//! `fixtures/scenarios/README.md`.

use std::time::Duration;

use super::template::JsonTemplate;

pub const MAX_REPEAT: i64 = 20;
pub const MAX_DELAY_MS: i64 = 10_000;
pub const MAX_DEADLINE_MS: i64 = 60_000;
pub const MAX_WAIT_MS: i64 = 30_000;
/// Pause between two asks of a step with `wait_ms`.
pub const WAIT_PAUSE: Duration = Duration::from_millis(100);

/// The faults of one step; the default is none.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Pause before the step (inside the deadline, when there is one: a slow path to the issuer).
    pub delay: Duration,
    /// How many identical copies of the callback are sent (1 = no duplicate).
    pub repeat: u32,
    pub deadline: Option<Deadline>,
    /// A staff GET asked again (every [`WAIT_PAUSE`]) until its expectations are met, at most
    /// this long: background work (a held notification checked with TSH) settles in its own time.
    pub wait: Duration,
    /// When (and whether) the callback reaches the issuer.
    pub delivery: Delivery,
    /// Set when this step changes the simulated TSH's view of its token before it is delivered.
    pub tsh_view: Option<TshView>,
}

/// When a callback reaches the issuer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Delivery {
    /// Sent at its place in the scenario.
    #[default]
    Now,
    /// Held, and sent right after the next callback that is not held itself (out of order).
    AfterNext,
    /// Never sent: a notification lost on the way.
    Never,
}

/// A `notifyVirtualCardChange` step that moves the simulated TSH's view of its token (through
/// the gateway's `POST /tsh/tokens`), at its place in the scenario: the true order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TshView {
    /// The state TSH keeps instead of the one the action leads to (`tsh_state`).
    pub state: Option<String>,
}

/// The state TSH's view takes after a notification: the contract's action map (UPDATE and
/// unknown actions change nothing).
pub fn state_after(action: &str) -> Option<&'static str> {
    match action.to_ascii_uppercase().as_str() {
        "ACTIVATE" | "RESUME" => Some("ACTIVE"),
        "SUSPEND" => Some("SUSPENDED"),
        "DELETE" | "DELETE_FROM_APP" | "ERASE" => Some("DELETED"),
        _ => None,
    }
}

/// Where a step stands for the TSH-view options.
#[derive(Debug, Clone, Copy, Default)]
pub struct ViewContext {
    /// The step is a `notifyVirtualCardChange` callback.
    pub is_notify: bool,
    /// The scenario follows TSH's view (`tsh_view = true`).
    pub tsh_view: bool,
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
    pub wait_ms: Option<i64>,
    pub deliver: Option<&'a str>,
    pub tsh_state: Option<&'a str>,
}

/// `(field, message)` like the scenario builder's errors.
pub type FaultError = (Option<String>, String);

/// Validates the options; `is_call` says whether the step is a TSH callback.
pub fn build(raw: RawFaults<'_>, is_call: bool, view: ViewContext) -> Result<Faults, FaultError> {
    let (delivery, tsh_view) = build_view(raw.deliver, raw.tsh_state, view)?;
    if delivery != Delivery::Now && (raw.repeat.is_some() || raw.deadline_ms.is_some()) {
        return Err((
            Some("deliver".into()),
            "a dropped or held notification takes no `repeat` or `deadline_ms`".into(),
        ));
    }
    let mut faults = build_timing(raw, is_call)?;
    faults.delivery = delivery;
    faults.tsh_view = tsh_view;
    Ok(faults)
}

/// `deliver` and `tsh_state`: only on a notifyVirtualCardChange step of a scenario that follows
/// TSH's view (`tsh_state` alone is enough to follow it for that step).
fn build_view(
    deliver: Option<&str>,
    tsh_state: Option<&str>,
    view: ViewContext,
) -> Result<(Delivery, Option<TshView>), FaultError> {
    let at = |f: &str| Some(f.to_owned());
    for (present, field) in [
        (deliver.is_some(), "deliver"),
        (tsh_state.is_some(), "tsh_state"),
    ] {
        if present && !view.is_notify {
            return Err((
                at(field),
                "only a `call = \"notifyVirtualCardChange\"` step takes this field".into(),
            ));
        }
    }
    let delivery = match deliver {
        None | Some("now") => Delivery::Now,
        Some("after_next") => Delivery::AfterNext,
        Some("never") => Delivery::Never,
        Some(other) => {
            return Err((
                at("deliver"),
                format!("`{other}`: one of \"now\", \"after_next\", \"never\""),
            ))
        }
    };
    if delivery != Delivery::Now && !view.tsh_view {
        return Err((
            at("deliver"),
            "a dropped or reordered notification needs `tsh_view = true` at the top of the file (TSH's view must change in the true order)".into(),
        ));
    }
    let state = match tsh_state {
        None => None,
        Some(s) if ["ACTIVE", "SUSPENDED", "DELETED"].contains(&s) => Some(s.to_owned()),
        Some(s) => {
            return Err((
                at("tsh_state"),
                format!("`{s}`: one of \"ACTIVE\", \"SUSPENDED\", \"DELETED\""),
            ))
        }
    };
    let follows = view.is_notify && (view.tsh_view || state.is_some());
    Ok((delivery, follows.then_some(TshView { state })))
}

/// `value` (default `default`) when it lies in `range`, else an error naming `field`.
fn bounded(
    field: &str,
    value: Option<i64>,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, FaultError> {
    let value = value.unwrap_or(default);
    if range.contains(&value) {
        Ok(value)
    } else {
        Err((
            Some(field.to_owned()),
            format!("{value}: expected {} to {}", range.start(), range.end()),
        ))
    }
}

/// `delay_ms`, `repeat`, `wait_ms` and the deadline.
fn build_timing(raw: RawFaults<'_>, is_call: bool) -> Result<Faults, FaultError> {
    let delay_ms = bounded("delay_ms", raw.delay_ms, 0, 0..=MAX_DELAY_MS)?;
    if !is_call {
        for (present, field) in [
            (raw.repeat.is_some(), "repeat"),
            (raw.deadline_ms.is_some(), "deadline_ms"),
            (raw.on_timeout.is_some(), "on_timeout"),
            (raw.stand_in.is_some(), "stand_in"),
        ] {
            if present {
                return Err((
                    Some(field.to_owned()),
                    "only a `call` step takes this field".into(),
                ));
            }
        }
    }
    let wait_ms = bounded("wait_ms", raw.wait_ms, 0, 0..=MAX_WAIT_MS)?;
    let repeat = bounded("repeat", raw.repeat, 1, 1..=MAX_REPEAT)?;
    let deadline = build_deadline(raw.deadline_ms, raw.on_timeout, raw.stand_in, repeat)?;
    Ok(Faults {
        delay: Duration::from_millis(delay_ms as u64),
        repeat: repeat as u32,
        deadline,
        wait: Duration::from_millis(wait_ms as u64),
        ..Faults::default()
    })
}

/// `deadline_ms` + `on_timeout = "stand_in"` + the `stand_in` body: all three or none.
fn build_deadline(
    deadline_ms: Option<i64>,
    on_timeout: Option<&str>,
    stand_in: Option<JsonTemplate>,
    repeat: i64,
) -> Result<Option<Deadline>, FaultError> {
    let at = |f: &str| Some(f.to_owned());
    match (deadline_ms, on_timeout, stand_in) {
        (None, None, None) => Ok(None),
        (Some(ms), Some("stand_in"), Some(stand_in)) => {
            let ms = bounded("deadline_ms", Some(ms), 0, 1..=MAX_DEADLINE_MS)?;
            if repeat > 1 {
                return Err((at("repeat"), "a step with a deadline is sent once".into()));
            }
            Ok(Some(Deadline {
                after: Duration::from_millis(ms as u64),
                stand_in,
            }))
        }
        (None, _, _) => Err((
            at("deadline_ms"),
            "`on_timeout` and `stand_in` need a `deadline_ms`".into(),
        )),
        (Some(_), None, _) => Err((
            at("on_timeout"),
            "a deadline needs on_timeout = \"stand_in\"".into(),
        )),
        (Some(_), Some(other), _) if other != "stand_in" => Err((
            at("on_timeout"),
            format!("`{other}`: the only action is \"stand_in\""),
        )),
        (Some(_), Some(_), _) => Err((
            at("stand_in"),
            "on_timeout = \"stand_in\" needs the notifyStandInProcess body: stand_in = { ... }"
                .into(),
        )),
    }
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
        match self.delivery {
            Delivery::Now => {}
            Delivery::AfterNext => parts.push("delivered out of order".into()),
            Delivery::Never => parts.push("dropped".into()),
        }
        if let Some(TshView { state: Some(state) }) = &self.tsh_view {
            parts.push(format!("TSH keeps {state}"));
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

    /// The timing options, on a step of a scenario that does not follow TSH's view.
    fn build(raw: RawFaults, is_call: bool) -> Result<Faults, FaultError> {
        super::build(raw, is_call, ViewContext::default())
    }

    const NOTIFY_FOLLOWING: ViewContext = ViewContext {
        is_notify: true,
        tsh_view: true,
    };

    #[test]
    fn delivery_and_tsh_state_build_on_a_followed_notification() {
        let raw = |deliver, tsh_state| RawFaults {
            deliver,
            tsh_state,
            ..Default::default()
        };
        let f = super::build(raw(Some("never"), None), true, NOTIFY_FOLLOWING).unwrap();
        assert_eq!(f.delivery, Delivery::Never);
        assert_eq!(f.tsh_view, Some(TshView::default()));
        assert_eq!(f.describe(), " [dropped]");
        let f = super::build(raw(Some("after_next"), None), true, NOTIFY_FOLLOWING).unwrap();
        assert_eq!(f.delivery, Delivery::AfterNext);
        // tsh_state alone follows TSH's view for that step, even when the scenario does not.
        let alone = ViewContext {
            is_notify: true,
            tsh_view: false,
        };
        let f = super::build(raw(None, Some("SUSPENDED")), true, alone).unwrap();
        assert_eq!(f.tsh_view.unwrap().state.as_deref(), Some("SUSPENDED"));
        // A scenario that does not follow TSH's view leaves the notification steps alone.
        let f = super::build(raw(None, None), true, alone).unwrap();
        assert!(f.tsh_view.is_none());
        assert_eq!(state_after("resume"), Some("ACTIVE"));
        assert_eq!(state_after("UPDATE"), None);
    }

    #[test]
    fn bad_delivery_options_name_their_field() {
        let cases: Vec<(RawFaults, ViewContext, &str, &str)> = vec![
            (
                RawFaults {
                    deliver: Some("later"),
                    ..Default::default()
                },
                NOTIFY_FOLLOWING,
                "deliver",
                "one of",
            ),
            (
                RawFaults {
                    deliver: Some("never"),
                    ..Default::default()
                },
                ViewContext {
                    is_notify: true,
                    tsh_view: false,
                },
                "deliver",
                "tsh_view = true",
            ),
            (
                RawFaults {
                    deliver: Some("never"),
                    ..Default::default()
                },
                ViewContext {
                    is_notify: false,
                    tsh_view: true,
                },
                "deliver",
                "only a `call = \"notifyVirtualCardChange\"`",
            ),
            (
                RawFaults {
                    tsh_state: Some("active"),
                    ..Default::default()
                },
                NOTIFY_FOLLOWING,
                "tsh_state",
                "one of",
            ),
            (
                RawFaults {
                    deliver: Some("after_next"),
                    repeat: Some(2),
                    ..Default::default()
                },
                NOTIFY_FOLLOWING,
                "deliver",
                "no `repeat`",
            ),
        ];
        for (raw, view, field, message) in cases {
            let (got_field, got) = super::build(raw, true, view).unwrap_err();
            assert_eq!(got_field.as_deref(), Some(field), "{got}");
            assert!(got.contains(message), "{field}: {got}");
        }
    }

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
