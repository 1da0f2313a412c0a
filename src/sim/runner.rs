//! Runs a [`Scenario`] against a running tsh-issuer, playing TSH: one session per scenario (one
//! `x-correlation-id`, fresh per run), card data sealed for the issuer certificate exactly as TSH
//! does, the staff API for after-the-fact checks and the simulator's gateway for OTP checks.
//!
//! Owns: the HTTP client and its timeouts (connect and per request, so nothing hangs), the
//! reachability check, step execution, captures and expectation checks. Every loop is bounded:
//! steps by the scenario limit, OTP polling by [`OTP_POLLS`]. Must not print: it returns a
//! [`ScenarioReport`] and the caller decides what to show.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::faults::{state_after, Delivery, TshView, WAIT_PAUSE};
use super::path::FieldPath;
use super::report::{show_value, Check, ScenarioReport, StepReport};
use super::scenario::{Action, Scenario, StaffMethod, Step};
use super::template::{
    identity, percent_encode, splitmix64, text_of, JsonTemplate, RenderError, Template, Variables,
};
use crate::crypto::seal::{KeyTransport, Recipient};

/// How many times an `otp_check` asks the gateway before giving up, and the pause between asks.
pub const OTP_POLLS: u32 = 10;
pub const OTP_POLL_PAUSE: Duration = Duration::from_millis(100);

/// Where and how to play TSH.
pub struct TargetOptions {
    /// tsh-issuer base URL, e.g. `http://127.0.0.1:8080`.
    pub service_url: String,
    /// Callback prefix, e.g. `/issuer/igwapi/v2.0`.
    pub prefix: String,
    /// Sent as `x-issuer-id`.
    pub issuer_id: String,
    /// Bearer token for the staff API steps.
    pub staff_token: String,
    /// Base URL of a `tsh-sim serve` gateway (`otp_check` steps), or None to skip those steps.
    pub gateway_url: Option<String>,
    /// The issuer certificate (PEM) card data is sealed for.
    pub issuer_cert_pem: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

impl TargetOptions {
    /// The local defaults: the service on 8080, the gateway on 8090, the dev certificate.
    pub fn local(service_url: &str, issuer_cert_pem: String) -> TargetOptions {
        TargetOptions {
            service_url: service_url.to_owned(),
            prefix: "/issuer/igwapi/v2.0".to_owned(),
            issuer_id: "ISSUERDEV1".to_owned(),
            staff_token: "dev-operator-token".to_owned(),
            gateway_url: Some("http://127.0.0.1:8090".to_owned()),
            issuer_cert_pem,
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// A ready target: parsed URLs, the sealing certificate and an HTTP client with timeouts.
pub struct Target {
    service_url: String,
    prefix: String,
    issuer_id: String,
    staff_token: String,
    gateway_url: Option<String>,
    recipient: Recipient,
    client: reqwest::Client,
}

fn base_url(name: &str, url: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{name} `{url}`: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "{name} `{url}`: expected an http:// or https:// URL"
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

impl Target {
    pub fn new(options: TargetOptions) -> Result<Target, String> {
        let recipient = Recipient::from_pem(&options.issuer_cert_pem)
            .map_err(|e| format!("issuer certificate: {e}"))?;
        if options.issuer_id.is_empty() {
            return Err("issuer id: must not be empty".into());
        }
        // No proxy: the simulator stands where TSH stands, calling the issuer directly.
        let client = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let prefix = format!("/{}", options.prefix.trim_matches('/'));
        Ok(Target {
            service_url: base_url("service URL", &options.service_url)?,
            prefix,
            issuer_id: options.issuer_id,
            staff_token: options.staff_token,
            gateway_url: options
                .gateway_url
                .as_deref()
                .map(|g| base_url("gateway URL", g))
                .transpose()?,
            recipient,
            client,
        })
    }

    pub fn service_url(&self) -> &str {
        &self.service_url
    }

    pub fn gateway_url(&self) -> Option<&str> {
        self.gateway_url.as_deref()
    }

    /// Is the service there? One `GET /health/live`, bounded by the client's timeouts.
    pub async fn check_service(&self) -> Result<(), String> {
        let url = format!("{}/health/live", self.service_url);
        match self.client.get(&url).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(format!(
                "cannot reach tsh-issuer at {}: {}. Is it running? Start it with `cargo run --release`, or pass --url.",
                self.service_url,
                describe(&e)
            )),
        }
    }

    /// Is the gateway there? Used to tell the user early that OTP checks will fail.
    pub async fn check_gateway(&self) -> Result<(), String> {
        let Some(gateway) = &self.gateway_url else {
            return Ok(());
        };
        match self.client.get(format!("{gateway}/otp/mode")).send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!(
                "{gateway} answered {} to GET /otp/mode: is it a `tsh-sim serve`?",
                r.status().as_u16()
            )),
            Err(e) => Err(format!(
                "cannot reach the simulator gateway at {gateway}: {}. Start it with `cargo run --bin tsh-sim -- serve`, or pass --gateway none to skip OTP checks.",
                describe(&e)
            )),
        }
    }
}

/// A reqwest error as a person needs it: what kind of failure, and its innermost cause
/// (e.g. "could not connect: Connection refused (os error 111)").
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut innermost: &dyn std::error::Error = error;
    // Cause chains are short; the bound only guards against a pathological cycle.
    for _ in 0..16 {
        match innermost.source() {
            Some(cause) => innermost = cause,
            None => break,
        }
    }
    format!("{kind}: {innermost}")
}

/// A seed that differs per call and per process (run ids, generated card numbers, OTPs).
pub fn fresh_seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    splitmix64(nanos ^ (u64::from(std::process::id()) << 32) ^ splitmix64(count))
}

/// The session correlation id: `sim-<run_id>-<scenario slug>`, at most 48 characters so a
/// step may add a suffix and stay within the contract's 64.
fn session_correlation_id(run_id: &str, scenario: &str) -> String {
    let slug: String = scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let mut id = format!("sim-{run_id}-{}", slug.trim_matches('-'));
    id.truncate(48);
    id.trim_end_matches('-').to_owned()
}

/// Runs every step of a scenario (a fresh session from `seed`) and reports what happened.
pub async fn run_scenario(target: &Target, scenario: &Scenario, seed: u64) -> ScenarioReport {
    let run_id = format!("{:012x}", seed >> 16);
    let correlation_id = session_correlation_id(&run_id, &scenario.name);
    let mut report = ScenarioReport {
        name: scenario.name.clone(),
        description: scenario.description.clone(),
        source: scenario.source.clone(),
        run_id: run_id.clone(),
        correlation_id: correlation_id.clone(),
        steps: Vec::new(),
        aborted: None,
        not_run: 0,
    };
    let mut vars = Variables::new(seed);
    vars.set("run_id", Value::String(run_id));
    vars.set("correlation_id", Value::String(correlation_id.clone()));
    vars.set("issuer_id", Value::String(target.issuer_id.clone()));
    for (name, template) in &scenario.vars {
        match template.render(&vars) {
            Ok(value) => vars.set(name, value),
            Err(e) => {
                report.aborted = Some(format!("vars.{name}: {e}"));
                report.not_run = scenario.steps.len();
                return report;
            }
        }
    }
    // Notifications held back (`deliver = "after_next"`): TSH's view already moved.
    let mut held: Vec<(usize, &Step)> = Vec::new();
    for (index, step) in scenario.steps.iter().enumerate() {
        let phase = match step.faults.delivery {
            Delivery::Now => Phase::Whole,
            Delivery::AfterNext | Delivery::Never => Phase::ViewOnly,
        };
        let (step_report, mut fatal) =
            run_step(target, step, index + 1, &mut vars, &correlation_id, phase).await;
        let sent_call = phase == Phase::Whole && matches!(step.action, Action::Call { .. });
        report.steps.push(step_report);
        if fatal.is_none() && step.faults.delivery == Delivery::AfterNext {
            held.push((index + 1, step));
        }
        if fatal.is_none() && sent_call {
            for (number, late) in held.drain(..) {
                let (late_report, late_fatal) = run_step(
                    target,
                    late,
                    number,
                    &mut vars,
                    &correlation_id,
                    Phase::SendOnly,
                )
                .await;
                report.steps.push(late_report);
                if late_fatal.is_some() {
                    fatal = late_fatal;
                    break;
                }
            }
        }
        if let Some(reason) = fatal {
            report.aborted = Some(reason);
            report.not_run = scenario.steps.len() - index - 1;
            break;
        }
    }
    report
}

/// Which part of a step runs: a held or dropped notification moves TSH's view at its place in
/// the scenario (the true order) and is sent later, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Whole,
    ViewOnly,
    SendOnly,
}

/// The response of one step, as checked.
struct Answer {
    status: u16,
    text: String,
    json: Value,
    /// Checks the step makes by itself (an otp_check's OTP and correlation id), shown right
    /// after the status check.
    own_checks: Vec<Check>,
}

/// Runs one step. The second value is set when the scenario cannot go on (transport failure).
async fn run_step(
    target: &Target,
    step: &Step,
    number: usize,
    vars: &mut Variables,
    session_cid: &str,
    phase: Phase,
) -> (StepReport, Option<String>) {
    let started = Instant::now();
    let mut report = StepReport::new(number, &step.name, describe_action(&step.action));
    let faults = &step.faults;
    // A delay is a pause before the step; with a deadline it is inside it (a slow path).
    if !faults.delay.is_zero() && faults.deadline.is_none() && phase != Phase::SendOnly {
        actix_web::rt::time::sleep(faults.delay).await;
    }
    if let (Some(view), Action::Call { body, .. }, false) =
        (&faults.tsh_view, &step.action, phase == Phase::SendOnly)
    {
        match move_tsh_view(target, view, body, vars).await {
            Ok(check) => report.checks.push(check),
            Err(failure) => return failed_step(report, failure, number, &step.name),
        }
    }
    match phase {
        Phase::Whole => {}
        Phase::ViewOnly => {
            report.call = match faults.delivery {
                Delivery::Never => "notification dropped: never sent to the issuer".into(),
                _ => "notification held: sent after the next callback".into(),
            };
            report.elapsed_ms = started.elapsed().as_millis();
            return (report, None);
        }
        Phase::SendOnly => report.call.push_str(" (held)"),
    }
    let outcome = match &step.action {
        Action::Call {
            operation,
            correlation_id,
            body,
            card,
        } => {
            // Every copy is the same request (same body, correlation id and card data).
            macro_rules! send_call {
                () => {
                    call_step(
                        target,
                        operation,
                        correlation_id.as_ref(),
                        body,
                        card.as_ref(),
                        vars,
                        session_cid,
                        &mut report,
                    )
                };
            }
            let outcome = match &faults.deadline {
                None => {
                    let mut outcome = send_call!().await;
                    let mut copy_checks = Vec::new();
                    for copy in 2..=faults.repeat {
                        let Ok(first) = &outcome else { break };
                        let (status, json) = (first.status, first.json.clone());
                        let next = send_call!().await;
                        if let Ok(answer) = &next {
                            let label = format!("copy {copy}/{} answered the same", faults.repeat);
                            copy_checks.push(if answer.status == status && answer.json == json {
                                Check::pass(label)
                            } else {
                                Check::fail(
                                    label,
                                    format!("got {} {}", answer.status, short(&answer.json)),
                                )
                            });
                        }
                        outcome = next;
                    }
                    outcome.map(|mut answer| {
                        answer.own_checks.extend(copy_checks);
                        answer
                    })
                }
                Some(deadline) => {
                    let attempt = async {
                        actix_web::rt::time::sleep(faults.delay).await;
                        send_call!().await
                    };
                    match actix_web::rt::time::timeout(deadline.after, attempt).await {
                        Ok(outcome) => outcome.map(|mut answer| {
                            answer.own_checks.push(Check::pass(format!(
                                "answered within the {} ms deadline (no stand-in)",
                                deadline.after.as_millis()
                            )));
                            answer
                        }),
                        Err(_) => {
                            let outcome = call_step(
                                target,
                                "notifyStandInProcess",
                                correlation_id.as_ref(),
                                &deadline.stand_in,
                                None,
                                vars,
                                session_cid,
                                &mut report,
                            )
                            .await;
                            report.call = format!(
                                "POST {operation}: no answer within {} ms, TSH gave up → POST notifyStandInProcess",
                                deadline.after.as_millis()
                            );
                            outcome
                        }
                    }
                }
            };
            report.call.push_str(&faults.describe());
            outcome
        }
        Action::Staff { method, path, body } => {
            // With `wait_ms`, asked again until the expectations are met or the time is up.
            let until = Instant::now() + faults.wait;
            loop {
                let outcome =
                    staff_step(target, *method, path, body.as_ref(), vars, &mut report).await;
                let settled = match &outcome {
                    Ok(answer) if Instant::now() < until => {
                        let mut scratch = StepReport::new(number, &step.name, String::new());
                        check_expectations(step, answer, vars, &mut scratch);
                        scratch.passed()
                    }
                    _ => true,
                };
                if settled {
                    break outcome;
                }
                actix_web::rt::time::sleep(WAIT_PAUSE).await;
            }
        }
        Action::OtpCheck {
            issuer_card_ref_id,
            otp,
            correlation_id,
        } => {
            if target.gateway_url.is_none() {
                report.skipped = Some("no simulator gateway (--gateway none)".into());
                return (report, None);
            }
            otp_step(
                target,
                issuer_card_ref_id,
                otp,
                correlation_id.as_ref(),
                vars,
                session_cid,
                &mut report,
            )
            .await
        }
    };
    report.elapsed_ms = started.elapsed().as_millis();
    let answer = match outcome {
        Ok(answer) => answer,
        Err(failure) => return failed_step(report, failure, number, &step.name),
    };
    report.status = Some(answer.status);
    report.response = answer.text.clone();
    check_expectations(step, &answer, vars, &mut report);
    for (var, path) in &step.captures {
        match path.lookup(&answer.json) {
            Some(value) if !value.is_null() => {
                vars.set(var, value.clone());
                report.captured.push((var.clone(), value.clone()));
            }
            _ => report.checks.push(Check::fail(
                format!("capture {var} ← {path}"),
                "not in the response",
            )),
        }
    }
    (report, None)
}

/// The report of a step that could not be carried out; a fatal failure stops the scenario.
fn failed_step(
    mut report: StepReport,
    failure: StepFailure,
    number: usize,
    name: &str,
) -> (StepReport, Option<String>) {
    match failure {
        StepFailure::Fatal(message) => {
            report.error = Some(message.clone());
            (report, Some(format!("step {number} \"{name}\": {message}")))
        }
        StepFailure::Step(message) => {
            report.error = Some(message);
            (report, None)
        }
    }
}

/// Moves the simulated TSH's view of the notified token (the gateway's `POST /tsh/tokens`) to
/// the state the action leads to, or the step's `tsh_state`: TSH's truth, in the true order.
async fn move_tsh_view(
    target: &Target,
    view: &TshView,
    body: &JsonTemplate,
    vars: &Variables,
) -> Result<Check, StepFailure> {
    let body = body.render(vars)?;
    let field = |name: &str| body[name].as_str().map(str::to_owned);
    let (Some(card), Some(vcid)) = (field("issuerCardRefId"), field("virtualCardId")) else {
        return Err(StepFailure::Step(
            "moving TSH's view needs body.issuerCardRefId and body.virtualCardId".into(),
        ));
    };
    let action = field("action").unwrap_or_default();
    let Some(state) = view
        .state
        .clone()
        .or(state_after(&action).map(str::to_owned))
    else {
        return Ok(Check::pass(format!(
            "TSH's view of {vcid} unchanged ({action})"
        )));
    };
    let Some(gateway) = &target.gateway_url else {
        return Err(StepFailure::Fatal(
            "this step moves the simulated TSH's view: it needs a `tsh-sim serve` gateway (--gateway)".into(),
        ));
    };
    let mut token =
        serde_json::json!({"issuer_card_ref_id": card, "virtual_card_id": vcid, "state": state});
    if let Some(wallet) = field("walletProviderId") {
        token["wallet_provider_id"] = Value::String(wallet);
    }
    let request = target
        .client
        .post(format!("{gateway}/tsh/tokens"))
        .header("content-type", "application/json")
        .body(token.to_string());
    let answer = send(request, gateway).await?;
    if answer.status != 200 {
        return Err(StepFailure::Fatal(format!(
            "the simulated TSH refused the token view ({}): {}",
            answer.status,
            short(&answer.json)
        )));
    }
    Ok(Check::pass(format!("TSH's view: {vcid} {state}")))
}

enum StepFailure {
    /// This step failed; later steps may still run.
    Step(String),
    /// The scenario cannot go on (the service or gateway is unreachable).
    Fatal(String),
}

impl From<RenderError> for StepFailure {
    fn from(e: RenderError) -> StepFailure {
        StepFailure::Step(e.to_string())
    }
}

fn describe_action(action: &Action) -> String {
    match action {
        Action::Call { operation, .. } => format!("POST {operation}"),
        Action::Staff { method, .. } => format!("{} staff API", method.as_str()),
        Action::OtpCheck { .. } => "GET gateway /otp/last".into(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn call_step(
    target: &Target,
    operation: &str,
    correlation_id: Option<&Template>,
    body: &JsonTemplate,
    card: Option<&(JsonTemplate, KeyTransport)>,
    vars: &Variables,
    session_cid: &str,
    report: &mut StepReport,
) -> Result<Answer, StepFailure> {
    let mut body = body.render(vars)?;
    // What `record` writes: the body with the card in a `$seal` placeholder, never ciphertext.
    let mut recorded_body = body.clone();
    if let Some((card, transport)) = card {
        let clear_json = card.render(vars)?;
        if let Value::Object(map) = &mut recorded_body {
            let transport_name = match transport {
                KeyTransport::OaepSha256 => "oaep",
                KeyTransport::Pkcs1v15 => "pkcs1",
            };
            map.insert(
                "cipheredCardInfo".into(),
                serde_json::json!({"$seal": clear_json, "transport": transport_name}),
            );
        }
        let clear = clear_json.to_string();
        let sealed = target
            .recipient
            .seal_base64(clear.as_bytes(), *transport)
            .map_err(|e| StepFailure::Step(format!("sealing the card data: {e}")))?;
        if let Value::Object(map) = &mut body {
            map.insert("cipheredCardInfo".into(), Value::String(sealed));
        }
        let name = match transport {
            KeyTransport::OaepSha256 => "OAEP-SHA256",
            KeyTransport::Pkcs1v15 => "PKCS#1 v1.5",
        };
        report.call = format!("POST {operation} (card sealed, {name})");
    }
    let cid = match correlation_id {
        Some(t) => t.render_string(vars)?,
        None => session_cid.to_owned(),
    };
    if cid != session_cid {
        report.call.push_str(&format!(" [x-correlation-id {cid}]"));
    }
    report.recorded = Some(crate::sim::report::RecordedCall {
        operation: operation.to_owned(),
        correlation_id: cid.clone(),
        issuer_id: target.issuer_id.clone(),
        body: recorded_body,
    });
    let url = format!("{}{}/{operation}", target.service_url, target.prefix);
    let request = target
        .client
        .post(&url)
        .header("x-correlation-id", cid)
        .header("x-issuer-id", &target.issuer_id)
        .header("content-type", "application/json")
        .body(body.to_string());
    send(request, &target.service_url).await
}

async fn staff_step(
    target: &Target,
    method: StaffMethod,
    path: &Template,
    body: Option<&JsonTemplate>,
    vars: &Variables,
    report: &mut StepReport,
) -> Result<Answer, StepFailure> {
    let path = text_of(&path.render(vars, percent_encode)?);
    report.call = format!("{} {path}", method.as_str());
    let url = format!("{}{path}", target.service_url);
    let request = match method {
        StaffMethod::Get => target.client.get(&url),
        StaffMethod::Post => {
            let body = match body {
                Some(b) => b.render(vars)?,
                None => Value::Object(Default::default()),
            };
            target
                .client
                .post(&url)
                .header("content-type", "application/json")
                .body(body.to_string())
        }
    };
    send(
        request.bearer_auth(&target.staff_token),
        &target.service_url,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn otp_step(
    target: &Target,
    issuer_card_ref_id: &Template,
    otp: &Template,
    correlation_id: Option<&Template>,
    vars: &Variables,
    session_cid: &str,
    report: &mut StepReport,
) -> Result<Answer, StepFailure> {
    let gateway = target.gateway_url.as_deref().unwrap_or_default();
    let card = issuer_card_ref_id.render_string(vars)?;
    let expected_otp = otp.render_string(vars)?;
    let expected_cid = match correlation_id {
        Some(t) => t.render_string(vars)?,
        None => session_cid.to_owned(),
    };
    let url = format!(
        "{gateway}/otp/last?issuer_card_ref_id={}",
        percent_encode(&card)
    );
    report.call = format!("GET {gateway}/otp/last (card {card})");
    let mut answer = None;
    for attempt in 0..OTP_POLLS {
        let a = send(target.client.get(&url), gateway).await?;
        // The delivery may still be in flight when the gateway is slow: ask again, a bounded
        // number of times.
        let arrived = a.status == 200 && a.json["correlation_id"] == expected_cid.as_str();
        answer = Some(a);
        if arrived || attempt + 1 == OTP_POLLS {
            break;
        }
        actix_web::rt::time::sleep(OTP_POLL_PAUSE).await;
    }
    let mut answer = answer.expect("at least one poll");
    if answer.status == 200 {
        let got = text_of(&answer.json["otp"]);
        answer.own_checks.push(if got == expected_otp {
            Check::pass(format!(
                "otp arrived unchanged ({})",
                show_value(&Value::String(got))
            ))
        } else {
            Check::fail(
                format!(
                    "otp arrived unchanged ({})",
                    show_value(&Value::String(expected_otp))
                ),
                format!("gateway got {}", show_value(&answer.json["otp"])),
            )
        });
        let got_cid = &answer.json["correlation_id"];
        answer
            .own_checks
            .push(if *got_cid == expected_cid.as_str() {
                Check::pass(format!("correlation_id = {}", show_value(got_cid)))
            } else {
                Check::fail(
                    format!("correlation_id = \"{expected_cid}\""),
                    format!("got {}", show_value(got_cid)),
                )
            });
    }
    Ok(answer)
}

/// Sends and reads the answer; a transport failure is fatal for the scenario.
async fn send(request: reqwest::RequestBuilder, base: &str) -> Result<Answer, StepFailure> {
    let response = request
        .send()
        .await
        .map_err(|e| StepFailure::Fatal(format!("cannot reach {base}: {}", describe(&e))))?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| {
        StepFailure::Fatal(format!("reading the answer from {base}: {}", describe(&e)))
    })?;
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Answer {
        status,
        text,
        json,
        own_checks: Vec::new(),
    })
}

fn check_expectations(step: &Step, answer: &Answer, vars: &Variables, report: &mut StepReport) {
    let expect = &step.expect;
    let status_label = format!("status {}", expect.status);
    report.checks.push(if answer.status == expect.status {
        Check::pass(status_label)
    } else {
        let code = match (&answer.json["responseCode"], &answer.json["errorMessage"]) {
            (Value::Null, _) => String::new(),
            (code, Value::String(m)) => format!(" (responseCode {code}: {m})"),
            (code, _) => format!(" (responseCode {code})"),
        };
        Check::fail(status_label, format!("got {}{code}", answer.status))
    });
    report.checks.extend(answer.own_checks.iter().cloned());
    if let Some(body) = &expect.body {
        let label = |v: &Value| format!("body = {}", show_value(v));
        match body.render(vars) {
            Ok(expected) if expected == answer.json => {
                report.checks.push(Check::pass(label(&expected)))
            }
            Ok(expected) => report.checks.push(Check::fail(
                label(&expected),
                format!("got {}", answer.text.trim()),
            )),
            Err(e) => report.checks.push(Check::fail("body = …", e.to_string())),
        }
    }
    for (path, template) in &expect.fields {
        let expected = match template.render(vars) {
            Ok(v) => v,
            Err(e) => {
                report
                    .checks
                    .push(Check::fail(format!("{path} = …"), e.to_string()));
                continue;
            }
        };
        report
            .checks
            .push(field_check(path, &expected, &answer.json));
    }
    for path in &expect.present {
        report.checks.push(match path.lookup(&answer.json) {
            Some(v) if !v.is_null() => Check::pass(format!("{path} present ({})", short(v))),
            _ => Check::fail(format!("{path} present"), "missing"),
        });
    }
    for path in &expect.absent {
        report.checks.push(match path.lookup(&answer.json) {
            None | Some(Value::Null) => Check::pass(format!("{path} absent")),
            Some(v) => Check::fail(format!("{path} absent"), format!("got {}", short(v))),
        });
    }
    for template in &expect.not_contains {
        match template.render(vars, identity) {
            Ok(needle) => {
                let needle = text_of(&needle);
                let label = format!("answer does not contain \"{needle}\"");
                report.checks.push(if answer.text.contains(&needle) {
                    Check::fail(label, "it does")
                } else {
                    Check::pass(label)
                });
            }
            Err(e) => report
                .checks
                .push(Check::fail("answer does not contain …", e.to_string())),
        }
    }
}

fn short(value: &Value) -> String {
    let text = show_value(value);
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

fn field_check(path: &FieldPath, expected: &Value, body: &Value) -> Check {
    let label = format!("{path} = {}", show_value(expected));
    match path.lookup(body) {
        Some(actual) if actual == expected => Check::pass(label),
        Some(actual) => Check::fail(label, format!("got {}", short(actual))),
        None if body.is_null() => Check::fail(label, "the answer is not JSON"),
        None => Check::fail(label, "missing"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn session_correlation_ids_fit_the_contract() {
        let id = session_correlation_id(
            "0123456789ab",
            "Token for token: a very long scenario name indeed",
        );
        assert!(id.len() <= 48, "{id}");
        assert!(id.starts_with("sim-0123456789ab-token-for-token"), "{id}");
        assert!(
            id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{id}"
        );
    }

    #[test]
    fn fresh_seeds_differ() {
        assert_ne!(fresh_seed(), fresh_seed());
    }

    #[test]
    fn field_checks_say_what_was_found() {
        let body = json!({"levelOfTrust": "red", "n": 1});
        let p = |s: &str| FieldPath::parse(s).unwrap();
        assert!(field_check(&p("levelOfTrust"), &json!("red"), &body).passed);
        assert!(field_check(&p("n"), &json!(1), &body).passed);
        let wrong = field_check(&p("levelOfTrust"), &json!("green"), &body);
        assert_eq!(
            (wrong.passed, wrong.detail.as_str()),
            (false, "got \"red\"")
        );
        assert_eq!(field_check(&p("x"), &json!(1), &body).detail, "missing");
        assert_eq!(
            field_check(&p("x"), &json!(1), &Value::Null).detail,
            "the answer is not JSON"
        );
    }
}
