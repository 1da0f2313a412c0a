//! Scenario files (`fixtures/scenarios/*.toml`): the raw TOML shape, and its validation into a
//! [`Scenario`] that is known to be runnable before anything is sent ("parse, then build").
//!
//! Owns the file format and its error messages, which always name the file, the step (number and
//! name) and the field. Must not do network I/O; the runner (`runner.rs`) executes what this
//! module builds. The format is documented in `fixtures/scenarios/README.md`.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::faults::{self, Delivery, Faults, RawFaults, ViewContext};
use super::path::FieldPath;
use super::template::{is_identifier, JsonTemplate, Template, BUILTINS};
use crate::crypto::seal::KeyTransport;

/// Bounds, so a runaway file cannot make the runner loop for long.
pub const MAX_STEPS: usize = 200;
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// How many scenario files `--all` reads at most from one directory.
pub const MAX_SCENARIOS: usize = 500;

/// The callbacks TSH sends (spec §3); names are matched case-insensitively and sent as written.
pub const OPERATIONS: [&str; 6] = [
    "checkCardEligibility",
    "requestCardDigitization",
    "sendOTP",
    "notifyVirtualCardChange",
    "notifyStandInProcess",
    "getIDnVMethodList",
];

/// A malformed scenario: which file, which step, which field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: PathBuf,
    /// 1-based step number and its name, when the problem is inside a step.
    pub step: Option<(usize, String)>,
    /// The field at fault, as a dotted path inside the file or the step.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((n, name)) = &self.step {
            if name.is_empty() {
                write!(f, ": step {n}")?;
            } else {
                write!(f, ": step {n} \"{name}\"")?;
            }
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

// ---------------------------------------------------------------------------------------------
// Raw shape (what serde reads). Unknown keys are refused: a typo must not silently skip a check.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHead {
    name: Option<String>,
    description: Option<String>,
    /// Every notifyVirtualCardChange step also moves the simulated TSH's view (`faults.rs`).
    #[serde(default)]
    tsh_view: bool,
    #[serde(default)]
    vars: toml::Table,
    #[serde(default)]
    steps: Vec<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Option<String>,
    call: Option<String>,
    staff: Option<String>,
    otp_check: Option<RawOtpCheck>,
    correlation_id: Option<String>,
    card: Option<RawCard>,
    transport: Option<String>,
    body: Option<toml::Value>,
    #[serde(default)]
    capture: toml::Table,
    #[serde(default)]
    expect: RawExpect,
    // Fault injection (`faults.rs`).
    delay_ms: Option<i64>,
    repeat: Option<i64>,
    deadline_ms: Option<i64>,
    on_timeout: Option<String>,
    stand_in: Option<toml::Value>,
    wait_ms: Option<i64>,
    deliver: Option<String>,
    tsh_state: Option<String>,
}

/// Keys of a step (outside `body`). One of them at the top of a body is almost always a line
/// written after a `[steps.body]` table header, which TOML puts inside that table: the check or
/// option would silently be sent to the service instead of applied. `name` and `card` are left
/// out: a body may carry them legitimately.
const STEP_KEYS: [&str; 16] = [
    "call",
    "staff",
    "otp_check",
    "correlation_id",
    "transport",
    "body",
    "capture",
    "expect",
    "delay_ms",
    "repeat",
    "deadline_ms",
    "on_timeout",
    "stand_in",
    "wait_ms",
    "deliver",
    "tsh_state",
];

/// Refuses a body (or stand-in body) holding a step key at its top level.
fn no_step_keys(field: &str, value: &toml::Value) -> Result<(), FieldError> {
    let Some(table) = value.as_table() else {
        return Ok(());
    };
    match STEP_KEYS.iter().find(|k| table.contains_key(**k)) {
        None => Ok(()),
        Some(key) => Err((
            Some(format!("{field}.{key}")),
            format!(
                "`{key}` is a step key, not part of the {field} sent: a `{key} = ...` line after a `[steps.{field}]` table belongs to that table in TOML; write it before `[steps.{field}]`, or as its own `[steps.{key}]` table"
            ),
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCard {
    fpan: String,
    exp: Option<String>,
    cvv: Option<String>,
    #[serde(rename = "additionalCardInfos")]
    additional_card_infos: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOtpCheck {
    issuer_card_ref_id: String,
    otp: String,
    correlation_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    status: Option<i64>,
    #[serde(default)]
    fields: toml::Table,
    #[serde(default)]
    present: Vec<String>,
    #[serde(default)]
    absent: Vec<String>,
    body: Option<toml::Value>,
    #[serde(default)]
    not_contains: Vec<String>,
}

impl RawExpect {
    fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.fields.is_empty()
            && self.present.is_empty()
            && self.absent.is_empty()
            && self.body.is_none()
            && self.not_contains.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// Built shape (what the runner executes).

/// A validated scenario: every template parses and every variable it uses has a source.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub source: PathBuf,
    /// Scenario variables, rendered once per session (they may use built-ins only).
    pub vars: Vec<(String, JsonTemplate)>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub action: Action,
    /// Values kept from the response for later steps: variable name → field path.
    pub captures: Vec<(String, FieldPath)>,
    pub expect: Expectations,
    /// Injected faults: delay, duplicates, deadline with stand-in (`faults.rs`).
    pub faults: Faults,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffMethod {
    Get,
    Post,
}

impl StaffMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            StaffMethod::Get => "GET",
            StaffMethod::Post => "POST",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Action {
    /// A TSH callback: `POST {prefix}/{operation}` with the session headers.
    Call {
        operation: String,
        /// Overrides the session correlation id (e.g. one per lifecycle operation).
        correlation_id: Option<Template>,
        body: JsonTemplate,
        /// Clear card data sealed into `cipheredCardInfo` with the issuer certificate.
        card: Option<(JsonTemplate, KeyTransport)>,
    },
    /// The staff API, with the bearer token.
    Staff {
        method: StaffMethod,
        path: Template,
        body: Option<JsonTemplate>,
    },
    /// Asks the simulator's gateway for the last delivery to a card, and checks the OTP in it.
    OtpCheck {
        issuer_card_ref_id: Template,
        otp: Template,
        correlation_id: Option<Template>,
    },
}

#[derive(Debug, Clone)]
pub struct Expectations {
    pub status: u16,
    pub fields: Vec<(FieldPath, JsonTemplate)>,
    pub present: Vec<FieldPath>,
    pub absent: Vec<FieldPath>,
    pub body: Option<JsonTemplate>,
    pub not_contains: Vec<Template>,
}

// ---------------------------------------------------------------------------------------------
// Loading.

/// Reads and validates one scenario file.
pub fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let file_error = |message: String| ScenarioError {
        file: path.to_owned(),
        step: None,
        field: None,
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| file_error(format!("cannot read: {e}")))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(file_error(format!(
            "file is {} bytes; scenario files are limited to {MAX_FILE_BYTES}",
            meta.len()
        )));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| file_error(format!("cannot read: {e}")))?;
    parse(path, &text)
}

/// Every `*.toml` scenario in a directory, sorted by file name.
pub fn scenario_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list scenarios in {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .take(MAX_SCENARIOS + 1)
        .collect();
    if files.len() > MAX_SCENARIOS {
        return Err(format!(
            "{} holds more than {MAX_SCENARIOS} scenario files",
            dir.display()
        ));
    }
    files.sort();
    Ok(files)
}

/// Validates scenario text; `path` names the file in errors and gives the default name.
pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let file_error = |field: Option<String>, message: String| ScenarioError {
        file: path.to_owned(),
        step: None,
        field,
        message,
    };
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        file_error(
            None,
            format!("invalid TOML: {}", e.message().trim().replace('\n', ": "))
                + &line_of(text, e.span()),
        )
    })?;
    let head: RawHead = serde_path_to_error::deserialize(toml::Value::Table(table))
        .map_err(|e| file_error(field_of(e.path()), e.inner().message().to_owned()))?;

    let name = match head.name {
        Some(n) if n.trim().is_empty() => {
            return Err(file_error(Some("name".into()), "must not be empty".into()))
        }
        Some(n) => n,
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into()),
    };
    if head.steps.is_empty() {
        return Err(file_error(
            Some("steps".into()),
            "a scenario needs at least one [[steps]] entry".into(),
        ));
    }
    if head.steps.len() > MAX_STEPS {
        return Err(file_error(
            Some("steps".into()),
            format!("{} steps; at most {MAX_STEPS}", head.steps.len()),
        ));
    }

    // Variables available to every step: built-ins, then scenario vars.
    let mut known: BTreeSet<String> = BUILTINS.iter().map(|s| (*s).to_owned()).collect();
    let mut vars = Vec::new();
    for (var, value) in &head.vars {
        let field = format!("vars.{var}");
        if !is_identifier(var) || BUILTINS.contains(&var.as_str()) {
            return Err(file_error(
                Some(field),
                "a variable name must be an identifier and not a built-in (run_id, correlation_id, issuer_id)".into(),
            ));
        }
        let template = json_template(&toml_to_json(value))
            .map_err(|(at, m)| file_error(Some(join(&field, &at)), m))?;
        for (at, used) in template.variables() {
            if !BUILTINS.contains(&used.as_str()) {
                return Err(file_error(
                    Some(join(&field, &at)),
                    format!("`{{{{{used}}}}}`: scenario variables may use only built-ins and generated values"),
                ));
            }
        }
        vars.push((var.clone(), template));
    }
    known.extend(head.vars.keys().cloned());

    let mut steps = Vec::with_capacity(head.steps.len());
    for (index, raw) in head.steps.iter().enumerate() {
        let number = index + 1;
        let step_name = raw
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        let step_error = |field: Option<String>, message: String| ScenarioError {
            file: path.to_owned(),
            step: Some((number, step_name.clone())),
            field,
            message,
        };
        if !raw.is_table() {
            return Err(step_error(
                None,
                "a step must be a table ([[steps]])".into(),
            ));
        }
        let raw: RawStep = serde_path_to_error::deserialize(raw.clone())
            .map_err(|e| step_error(field_of(e.path()), e.inner().message().to_owned()))?;
        let step = build_step(raw, &known, head.tsh_view)
            .map_err(|(field, message)| step_error(field, message))?;
        for (var, _) in &step.captures {
            known.insert(var.clone());
        }
        steps.push(step);
    }

    check_held_steps(&steps).map_err(|(number, name, message)| ScenarioError {
        file: path.to_owned(),
        step: Some((number, name)),
        field: Some("deliver".into()),
        message,
    })?;
    Ok(Scenario {
        name,
        description: head.description.unwrap_or_default(),
        source: path.to_owned(),
        vars,
        steps,
    })
}

type FieldError = (Option<String>, String);

/// A held notification (`deliver = "after_next"`) needs a later callback that is sent.
fn check_held_steps(steps: &[Step]) -> Result<(), (usize, String, String)> {
    for (index, step) in steps.iter().enumerate() {
        let sent_later = steps[index + 1..].iter().any(|later| {
            matches!(later.action, Action::Call { .. }) && later.faults.delivery == Delivery::Now
        });
        if step.faults.delivery == Delivery::AfterNext && !sent_later {
            return Err((
                index + 1,
                step.name.clone(),
                "\"after_next\": no later `call` step is sent, so this one would never be delivered (use \"never\" to drop it)".into(),
            ));
        }
    }
    Ok(())
}

fn build_step(raw: RawStep, known: &BTreeSet<String>, tsh_view: bool) -> Result<Step, FieldError> {
    let at = |field: &str| Some(field.to_owned());
    let kinds = [
        raw.call.is_some(),
        raw.staff.is_some(),
        raw.otp_check.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err((
            None,
            "a step needs exactly one of `call` (a TSH callback), `staff` (\"GET /api/v1/...\") or `otp_check`".into(),
        ));
    }
    let is_call = raw.call.is_some();
    let view = ViewContext {
        is_notify: raw
            .call
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("notifyVirtualCardChange")),
        tsh_view,
    };
    if let Some(body) = &raw.body {
        no_step_keys("body", body)?;
    }
    if let Some(stand_in) = &raw.stand_in {
        no_step_keys("stand_in", stand_in)?;
    }
    if !is_call {
        for (present, field) in [
            (raw.card.is_some(), "card"),
            (raw.transport.is_some(), "transport"),
            (raw.correlation_id.is_some(), "correlation_id"),
        ] {
            if present {
                return Err((at(field), "only a `call` step takes this field".into()));
            }
        }
    }
    if raw.transport.is_some() && raw.card.is_none() {
        return Err((at("transport"), "`transport` needs a `card` to seal".into()));
    }

    let mut uses: Vec<(String, String)> = Vec::new();
    let template = |field: &str, text: &str, uses: &mut Vec<(String, String)>| {
        let t = Template::parse(text).map_err(|e| (at(field), e.to_string()))?;
        uses.extend(t.variables().map(|v| (field.to_owned(), v.to_owned())));
        Ok::<_, FieldError>(t)
    };
    let json = |field: &str, value: &toml::Value, uses: &mut Vec<(String, String)>| {
        let t = json_template(&toml_to_json(value)).map_err(|(p, m)| (Some(join(field, &p)), m))?;
        uses.extend(t.variables().into_iter().map(|(p, v)| (join(field, &p), v)));
        Ok::<_, FieldError>(t)
    };

    let action = if let Some(operation) = raw.call {
        if !OPERATIONS
            .iter()
            .any(|op| op.eq_ignore_ascii_case(&operation))
        {
            return Err((
                at("call"),
                format!(
                    "unknown operation `{operation}`; one of: {}",
                    OPERATIONS.join(", ")
                ),
            ));
        }
        let body = match &raw.body {
            None => JsonTemplate::Object(Vec::new()),
            Some(v @ toml::Value::Table(_)) => json("body", v, &mut uses)?,
            Some(_) => return Err((at("body"), "must be a table (the JSON object sent)".into())),
        };
        let card = match raw.card {
            None => None,
            Some(card) => {
                let transport = match raw.transport.as_deref() {
                    None | Some("oaep") => KeyTransport::OaepSha256,
                    Some("pkcs1") => KeyTransport::Pkcs1v15,
                    Some(other) => {
                        return Err((
                            at("transport"),
                            format!("`{other}`: expected \"oaep\" (RSAES-OAEP-SHA256) or \"pkcs1\" (RSAES-PKCS1-v1_5)"),
                        ))
                    }
                };
                if card.fpan.trim().is_empty() {
                    return Err((at("card.fpan"), "must not be empty".into()));
                }
                let mut table = toml::Table::new();
                table.insert("fpan".into(), toml::Value::String(card.fpan));
                if let Some(exp) = card.exp {
                    table.insert("exp".into(), toml::Value::String(exp));
                }
                if let Some(cvv) = card.cvv {
                    table.insert("cvv".into(), toml::Value::String(cvv));
                }
                if let Some(extra) = card.additional_card_infos {
                    table.insert("additionalCardInfos".into(), extra);
                }
                if matches!(&raw.body, Some(toml::Value::Table(b)) if b.contains_key("cipheredCardInfo"))
                {
                    return Err((
                        at("body.cipheredCardInfo"),
                        "give either `card` (sealed by the simulator) or body.cipheredCardInfo, not both".into(),
                    ));
                }
                Some((
                    json("card", &toml::Value::Table(table), &mut uses)?,
                    transport,
                ))
            }
        };
        let correlation_id = raw
            .correlation_id
            .as_deref()
            .map(|c| template("correlation_id", c, &mut uses))
            .transpose()?;
        Action::Call {
            operation,
            correlation_id,
            body,
            card,
        }
    } else if let Some(staff) = raw.staff {
        let (method, path) = staff.split_once(' ').ok_or_else(|| {
            (
                at("staff"),
                format!("`{staff}`: expected \"GET /api/v1/...\" or \"POST /api/v1/...\""),
            )
        })?;
        let method = match method {
            "GET" => StaffMethod::Get,
            "POST" => StaffMethod::Post,
            other => {
                return Err((
                    at("staff"),
                    format!("method `{other}`: expected GET or POST"),
                ))
            }
        };
        let path = path.trim();
        if !path.starts_with('/') {
            return Err((at("staff"), format!("path `{path}` must start with `/`")));
        }
        let path = template("staff", path, &mut uses)?;
        let body = match (&raw.body, method) {
            (None, _) => None,
            (Some(v @ toml::Value::Table(_)), StaffMethod::Post) => {
                Some(json("body", v, &mut uses)?)
            }
            (Some(_), StaffMethod::Post) => {
                return Err((at("body"), "must be a table (the JSON object sent)".into()))
            }
            (Some(_), StaffMethod::Get) => {
                return Err((at("body"), "a GET step sends no body".into()))
            }
        };
        Action::Staff { method, path, body }
    } else {
        let check = raw.otp_check.expect("one kind is present");
        Action::OtpCheck {
            issuer_card_ref_id: template(
                "otp_check.issuer_card_ref_id",
                &check.issuer_card_ref_id,
                &mut uses,
            )?,
            otp: template("otp_check.otp", &check.otp, &mut uses)?,
            correlation_id: check
                .correlation_id
                .as_deref()
                .map(|c| template("otp_check.correlation_id", c, &mut uses))
                .transpose()?,
        }
    };

    if matches!(action, Action::OtpCheck { .. }) && raw.body.is_some() {
        return Err((at("body"), "an otp_check step sends no body".into()));
    }
    let stand_in = match &raw.stand_in {
        None => None,
        Some(v @ toml::Value::Table(_)) => Some(json("stand_in", v, &mut uses)?),
        Some(_) => {
            return Err((
                at("stand_in"),
                "must be a table (the notifyStandInProcess body)".into(),
            ))
        }
    };
    let faults = faults::build(
        RawFaults {
            delay_ms: raw.delay_ms,
            repeat: raw.repeat,
            deadline_ms: raw.deadline_ms,
            on_timeout: raw.on_timeout.as_deref(),
            stand_in,
            wait_ms: raw.wait_ms,
            deliver: raw.deliver.as_deref(),
            tsh_state: raw.tsh_state.as_deref(),
        },
        is_call,
        view,
    )?;
    let staff_get = matches!(
        action,
        Action::Staff {
            method: StaffMethod::Get,
            ..
        }
    );
    if raw.wait_ms.is_some() && !staff_get {
        return Err((
            at("wait_ms"),
            "only a `staff = \"GET ...\"` step is asked again until its expectations are met"
                .into(),
        ));
    }
    if faults.delivery == Delivery::Never && (!raw.capture.is_empty() || !raw.expect.is_empty()) {
        return Err((
            at("deliver"),
            "a dropped notification gets no answer: it takes no `capture` or `expect`".into(),
        ));
    }

    let mut captures = Vec::new();
    for (var, path) in &raw.capture {
        let field = format!("capture.{var}");
        if !is_identifier(var) || BUILTINS.contains(&var.as_str()) {
            return Err((
                Some(field),
                "a capture name must be an identifier and not a built-in (run_id, correlation_id, issuer_id)".into(),
            ));
        }
        let path = path.as_str().ok_or_else(|| {
            (
                Some(field.clone()),
                "must be a field path string, e.g. \"idvMethodList[0].id\"".into(),
            )
        })?;
        captures.push((
            var.clone(),
            FieldPath::parse(path).map_err(|m| (Some(field.clone()), m))?,
        ));
    }

    let expect = raw.expect;
    let status = match expect.status {
        None => 200,
        Some(s) if (100..=599).contains(&s) => s as u16,
        Some(s) => {
            return Err((
                at("expect.status"),
                format!("{s} is not an HTTP status (100-599)"),
            ))
        }
    };
    let mut fields = Vec::new();
    for (path, value) in &expect.fields {
        let field = format!("expect.fields.\"{path}\"");
        let parsed = FieldPath::parse(path).map_err(|m| (Some(field.clone()), m))?;
        fields.push((parsed, json(&field, value, &mut uses)?));
    }
    let paths = |list: &[String], name: &str| {
        list.iter()
            .enumerate()
            .map(|(i, p)| FieldPath::parse(p).map_err(|m| (Some(format!("expect.{name}[{i}]")), m)))
            .collect::<Result<Vec<_>, _>>()
    };
    let present = paths(&expect.present, "present")?;
    let absent = paths(&expect.absent, "absent")?;
    let body = expect
        .body
        .as_ref()
        .map(|b| json("expect.body", b, &mut uses))
        .transpose()?;
    let not_contains = expect
        .not_contains
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if s.is_empty() {
                return Err((
                    Some(format!("expect.not_contains[{i}]")),
                    "must not be empty".into(),
                ));
            }
            template(&format!("expect.not_contains[{i}]"), s, &mut uses)
        })
        .collect::<Result<Vec<_>, _>>()?;

    for (field, var) in &uses {
        if !known.contains(var) {
            let this_step = captures.iter().any(|(c, _)| c == var);
            let hint = if this_step {
                "it is captured by this same step, so it is only available to later steps"
            } else {
                "not a built-in (run_id, correlation_id, issuer_id), not in [vars], and not captured by an earlier step"
            };
            return Err((Some(field.clone()), format!("`{{{{{var}}}}}`: {hint}")));
        }
    }

    let name = raw.name.unwrap_or_else(|| match &action {
        Action::Call { operation, .. } => operation.clone(),
        Action::Staff { method, .. } => format!("staff {}", method.as_str()),
        Action::OtpCheck { .. } => "otp_check".into(),
    });
    Ok(Step {
        name,
        action,
        captures,
        faults,
        expect: Expectations {
            status,
            fields,
            present,
            absent,
            body,
            not_contains,
        },
    })
}

fn json_template(value: &Value) -> Result<JsonTemplate, (String, String)> {
    JsonTemplate::parse(value).map_err(|(at, e)| (at, e.to_string()))
}

fn join(parent: &str, child: &str) -> String {
    if child.is_empty() {
        parent.to_owned()
    } else if child.starts_with('[') {
        format!("{parent}{child}")
    } else {
        format!("{parent}.{child}")
    }
}

/// The dotted field of a serde_path_to_error path, or None at the top.
fn field_of(path: &serde_path_to_error::Path) -> Option<String> {
    let text = path.to_string();
    (text != ".").then_some(text)
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!(" (line {line})")
        }
        None => String::new(),
    }
}

/// TOML → JSON; datetimes become their RFC 3339 text.
pub fn toml_to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Scenario, ScenarioError> {
        parse(Path::new("fixtures/scenarios/x.toml"), text)
    }

    const GOOD: &str = r#"
name = "demo"
description = "a demo"
[vars]
pan = "{{luhn:411111}}"

[[steps]]
name = "eligibility"
call = "checkCardEligibility"
card = { fpan = "{{pan}}", exp = "1230" }
transport = "pkcs1"
body = { walletProviderId = "APPLE_PAY", captureMethod = "BANK_APP" }
capture = { card_ref = "issuerCardRefId", first = "idvMethodList[0].id" }
expect = { status = 200, present = ["issuerCardRefId"] }

[[steps]]
name = "token"
staff = "GET /api/v1/cards/{{card_ref}}"
[steps.expect]
fields = { "data[0].state" = "ACTIVE", count = 1 }
not_contains = ["{{pan}}"]
"#;

    #[test]
    fn a_good_scenario_builds() {
        let s = parse_str(GOOD).unwrap();
        assert_eq!(s.name, "demo");
        assert_eq!(s.steps.len(), 2);
        assert_eq!(s.steps[0].captures.len(), 2);
        match &s.steps[0].action {
            Action::Call {
                card: Some((_, t)), ..
            } => assert_eq!(*t, KeyTransport::Pkcs1v15),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(s.steps[1].expect.status, 200);
        assert_eq!(s.steps[1].expect.fields.len(), 2);
    }

    #[test]
    fn the_name_defaults_to_the_file_stem() {
        let s = parse_str("[[steps]]\ncall = \"sendOTP\"\n").unwrap();
        assert_eq!(s.name, "x");
        assert_eq!(s.steps[0].name, "sendOTP");
    }

    /// Each malformed case must be refused naming the file, the step and the field.
    #[test]
    fn malformed_scenarios_name_file_step_and_field() {
        let step = |extra: &str| {
            format!("[[steps]]\nname = \"ok\"\ncall = \"sendOTP\"\n\n[[steps]]\nname = \"bad one\"\n{extra}\n")
        };
        /// (case, file text, expected step, expected field, message fragment)
        type Case<'a> = (
            &'a str,
            String,
            Option<(usize, &'a str)>,
            Option<&'a str>,
            &'a str,
        );
        let cases: Vec<Case> = vec![
            ("syntax", "[[steps]\n".into(), None, None, "invalid TOML"),
            (
                "no steps",
                "name = \"x\"\n".into(),
                None,
                Some("steps"),
                "at least one",
            ),
            (
                "unknown top-level key",
                "nmae = \"x\"\n[[steps]]\ncall = \"sendOTP\"\n".into(),
                None,
                Some("nmae"),
                "unknown field",
            ),
            (
                "unknown step key",
                step("call = \"sendOTP\"\nexpcet = {}"),
                Some((2, "bad one")),
                Some("expcet"),
                "unknown field",
            ),
            (
                "expect written after a [steps.body] table",
                step("call = \"sendOTP\"\n[steps.body]\nmethodId = \"m1\"\nexpect = { status = 200 }"),
                Some((2, "bad one")),
                Some("body.expect"),
                "a `expect = ...` line after a `[steps.body]` table belongs to that table",
            ),
            (
                "capture written after a staff [steps.body] table",
                step("staff = \"POST /api/v1/cards\"\n[steps.body]\npan = \"4111111111111111\"\ncapture = { r = \"issuer_card_ref_id\" }"),
                Some((2, "bad one")),
                Some("body.capture"),
                "step key",
            ),
            (
                "dropped notification outside a tsh_view scenario",
                step("call = \"notifyVirtualCardChange\"\ndeliver = \"never\""),
                Some((2, "bad one")),
                Some("deliver"),
                "tsh_view = true",
            ),
            (
                "held notification never delivered",
                format!("tsh_view = true\n{}", step("call = \"notifyVirtualCardChange\"\ndeliver = \"after_next\"")),
                Some((2, "bad one")),
                Some("deliver"),
                "no later `call` step",
            ),
            (
                "dropped notification with expectations",
                format!("tsh_view = true\n{}", step("call = \"notifyVirtualCardChange\"\ndeliver = \"never\"\nexpect = { status = 200 }")),
                Some((2, "bad one")),
                Some("deliver"),
                "no `capture` or `expect`",
            ),
            (
                "wait on a callback",
                step("call = \"sendOTP\"\nwait_ms = 100"),
                Some((2, "bad one")),
                Some("wait_ms"),
                "only a `staff = \"GET ...\"` step",
            ),
            (
                "unknown expect key",
                step("call = \"sendOTP\"\nexpect = { stauts = 200 }"),
                Some((2, "bad one")),
                Some("expect.stauts"),
                "unknown field",
            ),
            (
                "status of the wrong type",
                step("call = \"sendOTP\"\nexpect = { status = \"ok\" }"),
                Some((2, "bad one")),
                Some("expect.status"),
                "invalid type",
            ),
            (
                "status out of range",
                step("call = \"sendOTP\"\nexpect = { status = 42 }"),
                Some((2, "bad one")),
                Some("expect.status"),
                "not an HTTP status",
            ),
            (
                "no kind",
                step(""),
                Some((2, "bad one")),
                None,
                "exactly one of",
            ),
            (
                "two kinds",
                step("call = \"sendOTP\"\nstaff = \"GET /api/v1/tokens\""),
                Some((2, "bad one")),
                None,
                "exactly one of",
            ),
            (
                "unknown operation",
                step("call = \"deleteEverything\""),
                Some((2, "bad one")),
                Some("call"),
                "unknown operation",
            ),
            (
                "bad transport",
                step("call = \"sendOTP\"\ncard = { fpan = \"4111\" }\ntransport = \"rsa\""),
                Some((2, "bad one")),
                Some("transport"),
                "oaep",
            ),
            (
                "transport without card",
                step("call = \"sendOTP\"\ntransport = \"oaep\""),
                Some((2, "bad one")),
                Some("transport"),
                "needs a `card`",
            ),
            (
                "card without fpan",
                step("call = \"sendOTP\"\ncard = { exp = \"1230\" }"),
                Some((2, "bad one")),
                Some("card"),
                "missing field `fpan`",
            ),
            (
                "unknown card key",
                step("call = \"sendOTP\"\ncard = { fpan = \"4111\", cvc = \"1\" }"),
                Some((2, "bad one")),
                Some("card.cvc"),
                "unknown field",
            ),
            (
                "card on a staff step",
                step("staff = \"GET /api/v1/tokens\"\ncard = { fpan = \"4111\" }"),
                Some((2, "bad one")),
                Some("card"),
                "only a `call`",
            ),
            (
                "bad staff method",
                step("staff = \"DELETE /api/v1/tokens\""),
                Some((2, "bad one")),
                Some("staff"),
                "GET or POST",
            ),
            (
                "bad capture path",
                step("call = \"sendOTP\"\ncapture = { x = \"a[\" }"),
                Some((2, "bad one")),
                Some("capture.x"),
                "not a field path",
            ),
            (
                "bad expect path",
                step("call = \"sendOTP\"\nexpect = { present = [\"ok\", \"a..b\"] }"),
                Some((2, "bad one")),
                Some("expect.present[1]"),
                "not a field path",
            ),
            (
                "unclosed placeholder",
                step("call = \"sendOTP\"\nbody = { otpValue = \"{{otp\" }"),
                Some((2, "bad one")),
                Some("body.otpValue"),
                "closing",
            ),
            (
                "unknown variable",
                step("call = \"sendOTP\"\nbody = { tokenRequestor = { id = \"{{nobody}}\" } }"),
                Some((2, "bad one")),
                Some("body.tokenRequestor.id"),
                "`{{nobody}}`",
            ),
            (
                "variable captured too late",
                step("call = \"sendOTP\"\nbody = { x = \"{{mine}}\" }\ncapture = { mine = \"a\" }"),
                Some((2, "bad one")),
                Some("body.x"),
                "this same step",
            ),
            (
                "unknown variable in an expectation",
                step("staff = \"GET /api/v1/tokens\"\nexpect = { fields = { count = \"{{n}}\" } }"),
                Some((2, "bad one")),
                Some("expect.fields.\"count\""),
                "`{{n}}`",
            ),
            (
                "var using a var",
                "[vars]\na = \"x\"\nb = \"{{a}}\"\n[[steps]]\ncall = \"sendOTP\"\n".into(),
                None,
                Some("vars.b"),
                "only built-ins",
            ),
        ];
        for (case, text, step_at, field, message) in cases {
            let err = parse_str(&text).expect_err(case);
            assert_eq!(err.file, Path::new("fixtures/scenarios/x.toml"), "{case}");
            assert_eq!(
                err.step.as_ref().map(|(n, s)| (*n, s.as_str())),
                step_at,
                "{case}: {err}"
            );
            assert_eq!(err.field.as_deref(), field, "{case}: {err}");
            assert!(err.message.contains(message), "{case}: {err}");
            let shown = err.to_string();
            assert!(
                shown.starts_with("fixtures/scenarios/x.toml"),
                "{case}: {shown}"
            );
            if let Some((n, name)) = step_at {
                assert!(
                    shown.contains(&format!("step {n} \"{name}\"")),
                    "{case}: {shown}"
                );
            }
            if let Some(field) = field {
                assert!(shown.contains(&format!("`{field}`")), "{case}: {shown}");
            }
        }
    }

    #[test]
    fn every_shipped_scenario_builds() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios");
        let files = scenario_files(&dir).unwrap();
        assert!(files.len() >= 6, "{files:?}");
        for file in files {
            load_file(&file).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
