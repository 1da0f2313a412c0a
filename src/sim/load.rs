//! `tsh-sim load`: an open-model load generator playing TSH against a tsh-issuer on loopback.
//!
//! Sessions arrive on a fixed schedule (session `i` is due at `start + i / rate`) whatever the
//! service answers, and every request's latency is measured from its *intended* start: the first
//! request of a session from the session's due time, a follow-up request from the moment the
//! answer it depends on arrived. A slow service therefore shows up as latency, never as a lower
//! offered rate (no coordinated omission). `--max-in-flight` bounds the open sessions; a session
//! waiting for a slot keeps its due time, so the wait is counted in its latency.
//!
//! Owns: mix parsing, the schedule, card setup through the staff API (`POST /api/v1/cards`),
//! the sessions (fresh correlation id, card data freshly CMS-sealed as TSH does), HdrHistogram
//! recording and the report. With several `--url`s, session `i` goes to URL `i mod n`, and a
//! request that fails (transport error, timeout, 5xx) is sent once more to the next URL with the
//! same `x-correlation-id`, as TSH retries against another instance; `--acks FILE` lists every
//! 200 seen (for `scripts/failover.sh`). Bounded in count ([`MAX_SESSIONS`]) and time (duration + one request
//! timeout to drain); refuses non-loopback URLs. Must not print: the caller prints the report.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::template::{luhn_pan, splitmix64};
use crate::crypto::seal::{KeyTransport, Recipient};

/// Bounds: a load run is a local tool, not a soak test.
pub const MAX_RATE: f64 = 20_000.0;
pub const MAX_DURATION: Duration = Duration::from_secs(600);
pub const MAX_SESSIONS: u64 = 1_000_000;
pub const MAX_IN_FLIGHT: usize = 10_000;
pub const MAX_CARDS: usize = 5_000;
/// Latencies are recorded in microseconds up to this value (larger ones are clamped to it).
const HIGHEST_MICROS: u64 = 120_000_000;

/// The operations a session may send, in report order.
pub const OPERATIONS: [&str; 5] = [
    "checkCardEligibility",
    "requestCardDigitization",
    "getIDnVMethodList",
    "sendOTP",
    "notifyVirtualCardChange",
];

/// What one session does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// `checkCardEligibility`.
    Eligibility,
    /// `checkCardEligibility` then `requestCardDigitization` (CVV validated).
    Digitization,
    /// `checkCardEligibility`, `getIDnVMethodList`, then `sendOTP` (needs the OTP gateway).
    Otp,
    /// `notifyVirtualCardChange` ACTIVATE for a fresh virtual card id.
    Notify,
    /// `GET /health/live`: a request that does no work, so its service CPU is the floor that
    /// HTTP on loopback costs this machine (the benchmark subtracts nothing, it shows both).
    Probe,
}

/// The label a probe's latencies are reported under.
pub const PROBE: &str = "probe (GET /health/live)";

/// Relative weights of the session kinds (`eligibility=1,digitization=1,otp=0,notify=1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    pub eligibility: u32,
    pub digitization: u32,
    pub otp: u32,
    pub notify: u32,
    pub probe: u32,
}

impl Default for Mix {
    fn default() -> Mix {
        Mix {
            eligibility: 1,
            digitization: 1,
            otp: 0,
            notify: 1,
            probe: 0,
        }
    }
}

impl std::str::FromStr for Mix {
    type Err = String;

    /// `name=weight` pairs separated by commas; names not given weigh 0.
    fn from_str(text: &str) -> Result<Mix, String> {
        let mut mix = Mix {
            eligibility: 0,
            digitization: 0,
            otp: 0,
            notify: 0,
            probe: 0,
        };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected name=weight"))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .ok()
                .filter(|w| *w <= 100)
                .ok_or_else(|| format!("`{part}`: the weight must be an integer 0-100"))?;
            let slot = match name.trim() {
                "eligibility" => &mut mix.eligibility,
                "digitization" => &mut mix.digitization,
                "otp" => &mut mix.otp,
                "notify" => &mut mix.notify,
                "probe" => &mut mix.probe,
                other => {
                    return Err(format!(
                        "`{other}`: unknown session kind; one of eligibility, digitization, otp, notify, probe"
                    ))
                }
            };
            *slot = weight;
        }
        if mix.cycle().is_empty() {
            return Err("the mix needs at least one weight above 0".into());
        }
        Ok(mix)
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "eligibility={},digitization={},otp={},notify={}",
            self.eligibility, self.digitization, self.otp, self.notify
        )?;
        if self.probe > 0 {
            write!(f, ",probe={}", self.probe)?;
        }
        Ok(())
    }
}

impl Mix {
    /// One cycle of session kinds, interleaved (smooth weighted round robin), so any window of
    /// the run has the mix's proportions.
    pub fn cycle(&self) -> Vec<SessionKind> {
        let weights = [
            (SessionKind::Eligibility, self.eligibility as i64),
            (SessionKind::Digitization, self.digitization as i64),
            (SessionKind::Otp, self.otp as i64),
            (SessionKind::Notify, self.notify as i64),
            (SessionKind::Probe, self.probe as i64),
        ];
        let total: i64 = weights.iter().map(|(_, w)| w).sum();
        let mut current = [0i64; 5];
        let mut cycle = Vec::with_capacity(total as usize);
        for _ in 0..total {
            for (i, (_, w)) in weights.iter().enumerate() {
                current[i] += w;
            }
            let best = (0..weights.len())
                .max_by_key(|i| (current[*i], -(*i as i64)))
                .unwrap_or(0);
            current[best] -= total;
            cycle.push(weights[best].0);
        }
        cycle
    }
}

/// Where session `index` is due, relative to the start of the run.
pub fn intended_offset(index: u64, rate: f64) -> Duration {
    Duration::from_secs_f64(index as f64 / rate)
}

/// How many sessions a run schedules: `rate × duration`, at least one.
pub fn session_count(rate: f64, duration: Duration) -> u64 {
    ((rate * duration.as_secs_f64()).round() as u64).max(1)
}

/// Refuses anything but `http(s)://` on a loopback host (`localhost`, 127.0.0.0/8, `::1`).
pub fn loopback_base_url(url: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("--url `{url}`: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "--url `{url}`: expected an http:// or https:// URL"
        ));
    }
    let host = parsed.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Err(format!(
            "--url `{url}`: load is only sent to a loopback address (127.0.0.1, ::1, localhost)"
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// Where the cards come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cards {
    /// Create this many fresh cards (random Luhn-valid PANs, with phone and e-mail) through the
    /// staff API before the run; sessions take them in turn.
    Fresh(usize),
    /// Reuse the service's dev cards (`fixtures/dev-cards.json`, the active ones).
    Dev,
}

/// Everything a load run needs.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub url: String,
    /// Further instances: sessions are spread over `url` and these, and a failed request is
    /// retried once on the next one.
    pub other_urls: Vec<String>,
    /// Where to append one JSON line per 200 answer (operation, correlation id, URL).
    pub acks: Option<std::path::PathBuf>,
    pub prefix: String,
    pub issuer_id: String,
    pub staff_token: String,
    pub issuer_cert_pem: String,
    /// Sessions started per second.
    pub rate: f64,
    pub duration: Duration,
    pub mix: Mix,
    pub max_in_flight: usize,
    pub cards: Cards,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// The service's process on this machine: its CPU and store counters are read around the
    /// timed phase and reported (`service_cpu_us=` ... in the summary line).
    pub service_pid: Option<u32>,
}

impl LoadOptions {
    /// Local defaults against `url`, with the dev certificate.
    pub fn local(url: &str, issuer_cert_pem: String, rate: f64, duration: Duration) -> LoadOptions {
        LoadOptions {
            url: url.to_owned(),
            other_urls: Vec::new(),
            acks: None,
            prefix: "/issuer/igwapi/v2.0".into(),
            issuer_id: "ISSUERDEV1".into(),
            staff_token: "dev-operator-token".into(),
            issuer_cert_pem,
            rate,
            duration,
            mix: Mix::default(),
            max_in_flight: 256,
            cards: Cards::Fresh(100),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(2),
            service_pid: None,
        }
    }

    fn validate(&self) -> Result<(), String> {
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= MAX_RATE) {
            return Err(format!(
                "--rate {}: expected a number of sessions per second in (0, {MAX_RATE}]",
                self.rate
            ));
        }
        if self.duration.is_zero() || self.duration > MAX_DURATION {
            return Err(format!(
                "--duration: expected 1 ms to {} s",
                MAX_DURATION.as_secs()
            ));
        }
        if session_count(self.rate, self.duration) > MAX_SESSIONS {
            return Err(format!(
                "rate × duration = {} sessions; at most {MAX_SESSIONS}",
                session_count(self.rate, self.duration)
            ));
        }
        if self.max_in_flight == 0 || self.max_in_flight > MAX_IN_FLIGHT {
            return Err(format!("--max-in-flight: expected 1 to {MAX_IN_FLIGHT}"));
        }
        if let Cards::Fresh(n) = self.cards {
            if n == 0 || n > MAX_CARDS {
                return Err(format!("--cards: expected 1 to {MAX_CARDS}"));
            }
        }
        Ok(())
    }
}

/// Latency histogram and outcomes of one operation.
pub struct OpStats {
    pub histogram: Histogram<u64>,
    pub ok: u64,
    /// Failures by what they were: `400 (116)`, `timeout`, `connect`, ...
    pub errors: BTreeMap<String, u64>,
}

impl OpStats {
    pub fn new() -> OpStats {
        OpStats {
            histogram: Histogram::new_with_bounds(1, HIGHEST_MICROS, 3)
                .expect("static histogram bounds are valid"),
            ok: 0,
            errors: BTreeMap::new(),
        }
    }

    /// Records one request that was due at `intended` and finished at `done`.
    pub fn record(&mut self, intended: Instant, done: Instant, outcome: Result<(), String>) {
        let micros = done.saturating_duration_since(intended).as_micros() as u64;
        self.histogram.saturating_record(micros.max(1));
        match outcome {
            Ok(()) => self.ok += 1,
            Err(kind) => *self.errors.entry(kind).or_default() += 1,
        }
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

impl Default for OpStats {
    fn default() -> OpStats {
        OpStats::new()
    }
}

/// What a run found.
pub struct LoadReport {
    pub url: String,
    pub rate: f64,
    pub duration: Duration,
    pub mix: Mix,
    pub cards: usize,
    pub scheduled: u64,
    pub started: u64,
    /// Sessions that never got a slot (`--max-in-flight`) before the run's time bound.
    pub not_started: u64,
    /// Sessions still open when the drain time ran out.
    pub unfinished: u64,
    /// Requests sent a second time to another instance after a failure.
    pub retried: u64,
    /// From the first due time to the last answer.
    pub elapsed: Duration,
    pub ops: BTreeMap<&'static str, OpStats>,
    /// What the service spent during the timed phase (with `--service-pid`).
    pub service: Option<super::service_usage::Usage>,
}

impl LoadReport {
    pub fn total_requests(&self) -> u64 {
        self.ops.values().map(OpStats::count).sum()
    }

    pub fn total_errors(&self) -> u64 {
        self.ops.values().map(OpStats::error_count).sum::<u64>()
            + self.not_started
            + self.unfinished
    }

    /// All operations merged.
    pub fn overall(&self) -> OpStats {
        let mut all = OpStats::new();
        for stats in self.ops.values() {
            all.histogram.add(&stats.histogram).ok();
            all.ok += stats.ok;
            for (k, v) in &stats.errors {
                *all.errors.entry(k.clone()).or_default() += v;
            }
        }
        all
    }

    /// The machine-readable last line `scripts/bench.sh` reads (milliseconds), with the
    /// service's CPU per request and its store flushes and writes when they were measured.
    pub fn summary_line(&self) -> String {
        let mut line = self.stats_line("summary", &self.overall(), self.total_errors());
        if let Some(usage) = &self.service {
            let requests = self.total_requests().max(1) as f64;
            line.push_str(&format!(
                " service_cpu_us={:.0} service_cpu_us_per_request={:.0} store_flushes={} store_writes={}",
                usage.cpu.as_secs_f64() * 1e6,
                usage.cpu.as_secs_f64() * 1e6 / requests,
                usage.flushes,
                usage.writes
            ));
        }
        line
    }

    /// The summary line, then one line per operation that was sent (`summary[operation]: ...`).
    pub fn summary_lines(&self) -> Vec<String> {
        let mut lines = vec![self.summary_line()];
        for (name, stats) in self.ops.iter().filter(|(_, s)| s.count() > 0) {
            lines.push(self.stats_line(&format!("summary[{name}]"), stats, stats.error_count()));
        }
        lines
    }

    fn stats_line(&self, label: &str, all: &OpStats, errors: u64) -> String {
        let q = |p: f64| ms(all.histogram.value_at_quantile(p));
        format!(
            "{label}: offered={:.1} achieved={:.1} requests={} errors={} p50_ms={} p90_ms={} p99_ms={} p999_ms={} max_ms={}",
            self.rate,
            self.achieved_rate(),
            all.count(),
            errors,
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999),
            ms(all.histogram.max())
        )
    }

    /// Completed sessions per second over the elapsed time.
    pub fn achieved_rate(&self) -> f64 {
        let done = self.started.saturating_sub(self.unfinished);
        done as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn ms(micros: u64) -> String {
    format!("{:.2}", micros as f64 / 1000.0)
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_header(f)?;
        self.write_latencies(f)?;
        self.write_errors(f)?;
        if self.retried > 0 {
            writeln!(
                f,
                "failover: {} request(s) retried on another instance",
                self.retried
            )?;
        }
        write!(f, "{}", self.summary_line())
    }
}

impl LoadReport {
    /// What was asked for and how many sessions ran.
    fn write_header(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "tsh-sim load: {} · offered {:.1} sessions/s for {:.1} s · mix {} · {} card(s)",
            self.url,
            self.rate,
            self.duration.as_secs_f64(),
            self.mix,
            self.cards
        )?;
        writeln!(
            f,
            "sessions: {} scheduled, {} started, {} not started (max in flight), {} unfinished; {:.1} sessions/s completed over {:.2} s",
            self.scheduled,
            self.started,
            self.not_started,
            self.unfinished,
            self.achieved_rate(),
            self.elapsed.as_secs_f64()
        )
    }

    /// One row per operation sent, then all of them together.
    fn write_latencies(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "latency from each request's intended start, ms:\n{:<24} {:>7} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "operation", "count", "errors", "req/s", "p50", "p90", "p99", "p99.9", "max"
        )?;
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut row = |name: &str, s: &OpStats| {
            let h = &s.histogram;
            writeln!(
                f,
                "{:<24} {:>7} {:>6} {:>8.1} {:>8} {:>8} {:>8} {:>8} {:>8}",
                name,
                s.count(),
                s.error_count(),
                s.count() as f64 / secs,
                ms(h.value_at_quantile(0.5)),
                ms(h.value_at_quantile(0.9)),
                ms(h.value_at_quantile(0.99)),
                ms(h.value_at_quantile(0.999)),
                ms(h.max())
            )
        };
        for (name, stats) in &self.ops {
            if stats.count() > 0 {
                row(name, stats)?;
            }
        }
        row("all", &self.overall())
    }

    /// Errors by operation and kind, and sessions that never started or never finished.
    fn write_errors(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let any_error = self.ops.values().any(|s| !s.errors.is_empty());
        if !any_error && self.not_started == 0 && self.unfinished == 0 {
            return writeln!(f, "errors: none");
        }
        writeln!(f, "errors by status:")?;
        for (name, stats) in &self.ops {
            for (kind, n) in &stats.errors {
                writeln!(f, "  {name:<24} {kind:<16} {n}")?;
            }
        }
        for (what, n) in [
            ("not started", self.not_started),
            ("unfinished", self.unfinished),
        ] {
            if n > 0 {
                writeln!(f, "  {:<24} {:<16} {}", "(session)", what, n)?;
            }
        }
        Ok(())
    }
}

/// One card sessions can use: its PAN (sealed fresh per request) and the issuer's reference.
#[derive(Debug, Clone)]
struct Card {
    pan: String,
    exp: String,
    reference: Option<String>,
}

struct Ctx {
    base: String,
    /// Every instance, `base` first.
    bases: Vec<String>,
    acks: Option<Mutex<std::fs::File>>,
    retried: std::sync::atomic::AtomicU64,
    prefix: String,
    issuer_id: String,
    recipient: Recipient,
    client: reqwest::Client,
    cards: Vec<Card>,
    stats: Mutex<BTreeMap<&'static str, OpStats>>,
    /// Per run, so correlation ids and virtual card ids never collide across runs.
    run_tag: String,
}

/// Runs the load and returns the report; errors are for runs that could not start at all.
pub async fn run_load(options: LoadOptions) -> Result<LoadReport, String> {
    options.validate()?;
    let ctx = Arc::new(prepare(&options).await?);
    let before = match options.service_pid {
        Some(pid) => Some(super::service_usage::read(&ctx.client, &ctx.base, pid).await?),
        None => None,
    };
    let start = Instant::now();
    let ran = run_schedule(&ctx, &options, start).await;
    let elapsed = start.elapsed();
    let service = match (before, options.service_pid) {
        (Some(before), Some(pid)) => {
            let after = super::service_usage::read(&ctx.client, &ctx.base, pid).await?;
            Some(before.until(&after))
        }
        _ => None,
    };
    let ops = std::mem::take(&mut *ctx.stats.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(LoadReport {
        url: ctx.bases.join(" + "),
        rate: options.rate,
        duration: options.duration,
        mix: options.mix,
        cards: ctx.cards.len(),
        scheduled: ran.scheduled,
        started: ran.started,
        not_started: ran.not_started,
        unfinished: ran.unfinished,
        retried: ctx.retried.load(std::sync::atomic::Ordering::Relaxed),
        elapsed,
        ops,
        service,
    })
}

/// Everything before the timed phase: URLs checked, the client, the service reachable, the cards
/// (created, or the dev cards with their references looked up), so none of it is measured.
async fn prepare(options: &LoadOptions) -> Result<Ctx, String> {
    let base = loopback_base_url(&options.url)?;
    let mut bases = vec![base.clone()];
    for url in &options.other_urls {
        bases.push(loopback_base_url(url)?);
    }
    let acks = match &options.acks {
        None => None,
        Some(path) => Some(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("--acks {}: {e}", path.display()))?,
        )),
    };
    let recipient = Recipient::from_pem(&options.issuer_cert_pem)
        .map_err(|e| format!("issuer certificate: {e}"))?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(options.connect_timeout)
        .timeout(options.request_timeout)
        .pool_max_idle_per_host(options.max_in_flight)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    client
        .get(format!("{base}/health/live"))
        .send()
        .await
        .map_err(|e| format!("cannot reach tsh-issuer at {base}: {e}. Is it running?"))?;

    let seed = super::runner::fresh_seed();
    let run_tag = format!("{:010x}", seed >> 24);
    let cards = match options.cards {
        Cards::Dev => dev_cards(),
        Cards::Fresh(n) => create_cards(&client, &base, &options.staff_token, n, seed).await?,
    };
    let mut ctx = Ctx {
        base,
        bases,
        acks,
        retried: std::sync::atomic::AtomicU64::new(0),
        prefix: format!("/{}", options.prefix.trim_matches('/')),
        issuer_id: options.issuer_id.clone(),
        recipient,
        client,
        cards,
        stats: Mutex::new(OPERATIONS.iter().map(|op| (*op, OpStats::new())).collect()),
        run_tag,
    };
    // Cards without a known reference (the dev cards) get it from one eligibility call each,
    // outside the measurements, so notify sessions can name them.
    for i in 0..ctx.cards.len() {
        if ctx.cards[i].reference.is_none() {
            ctx.cards[i].reference = lookup_reference(&ctx, &ctx.cards[i]).await?;
        }
    }
    Ok(ctx)
}

/// How the schedule went.
struct Ran {
    scheduled: u64,
    started: u64,
    not_started: u64,
    unfinished: u64,
}

/// The timed phase: session *i* starts at `start + i / rate` (open model), at most
/// `max_in_flight` open at once; then the open ones are drained.
async fn run_schedule(ctx: &Arc<Ctx>, options: &LoadOptions, start: Instant) -> Ran {
    let cycle = options.mix.cycle();
    let total = session_count(options.rate, options.duration);
    let slots = Arc::new(tokio::sync::Semaphore::new(options.max_in_flight));
    // Nothing is started after the scheduled window plus one request timeout, and nothing is
    // waited for after a further request timeout: the run is bounded in time.
    let last_start = start + options.duration + options.request_timeout;
    let mut tasks = tokio::task::JoinSet::new();
    let mut started = 0u64;
    let mut not_started = 0u64;
    for index in 0..total {
        let due = start + intended_offset(index, options.rate);
        tokio::time::sleep_until(due).await;
        let permit = match tokio::time::timeout_at(last_start, slots.clone().acquire_owned()).await
        {
            Ok(Ok(permit)) => permit,
            _ => {
                not_started = total - index;
                break;
            }
        };
        started += 1;
        let kind = cycle[(index % cycle.len() as u64) as usize];
        let ctx = ctx.clone();
        tasks.spawn(async move {
            run_session(&ctx, kind, index, due).await;
            drop(permit);
        });
    }
    let drain_until = last_start + options.request_timeout;
    let mut unfinished = 0u64;
    loop {
        match tokio::time::timeout_at(drain_until, tasks.join_next()).await {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => {
                unfinished = tasks.len() as u64;
                tasks.abort_all();
                break;
            }
        }
    }
    Ran {
        scheduled: total,
        started,
        not_started,
        unfinished,
    }
}

/// The active dev cards of `fixtures/dev-cards.json` (eligibility answers 200 for them).
fn dev_cards() -> Vec<Card> {
    [
        ("4111111111111111", "1230"),
        ("4000056655665556", "1230"),
        ("5555555555554444", "0631"),
        ("4012888888881881", "1230"),
    ]
    .iter()
    .map(|(pan, exp)| Card {
        pan: (*pan).into(),
        exp: (*exp).into(),
        reference: None,
    })
    .collect()
}

/// Creates `n` cards through the staff API, 16 at a time.
async fn create_cards(
    client: &reqwest::Client,
    base: &str,
    staff_token: &str,
    n: usize,
    seed: u64,
) -> Result<Vec<Card>, String> {
    let mut cards = Vec::with_capacity(n);
    let indexes: Vec<usize> = (0..n).collect();
    for chunk in indexes.chunks(16) {
        let requests = chunk.iter().map(|i| {
            let pan = luhn_pan(splitmix64(seed ^ (*i as u64)), "4");
            async move {
                let body = json!({
                    "pan": pan, "exp": "1230", "status": "ACTIVE",
                    "cardholderName": "Load Sim", "phone": "+447700900111",
                    "email": "load.sim@example.com"
                });
                let response = client
                    .post(format!("{base}/api/v1/cards"))
                    .bearer_auth(staff_token)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| format!("creating cards: POST /api/v1/cards: {e}"))?;
                let status = response.status().as_u16();
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                if !(200..300).contains(&status) {
                    return Err(format!(
                        "creating cards: POST /api/v1/cards answered {status}: {answer} (is --staff-token an operator token?)"
                    ));
                }
                let reference = answer
                    .pointer("/card/issuer_card_ref_id")
                    .or_else(|| answer.get("issuer_card_ref_id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                Ok(Card {
                    pan,
                    exp: "1230".into(),
                    reference,
                })
            }
        });
        for card in futures_util::future::join_all(requests).await {
            cards.push(card?);
        }
    }
    Ok(cards)
}

async fn lookup_reference(ctx: &Ctx, card: &Card) -> Result<Option<String>, String> {
    let url = format!("{}{}/checkCardEligibility", ctx.base, ctx.prefix);
    let body = json!({"cipheredCardInfo": sealed(ctx, card, 0), "captureMethod": "BANK_APP"});
    let response = ctx
        .client
        .post(&url)
        .header("x-correlation-id", format!("load-{}-setup", ctx.run_tag))
        .header("x-issuer-id", &ctx.issuer_id)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("looking up a card reference: {e}"))?;
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    Ok(answer["issuerCardRefId"].as_str().map(str::to_owned))
}

/// What one request came to: the answer's JSON, or the failure kind for the report. Sent to the
/// session's instance; a failure that another instance could answer (no answer, 5xx) is sent
/// once more to the next instance, with the same correlation id.
async fn send(
    ctx: &Ctx,
    operation: &'static str,
    correlation_id: &str,
    body: Value,
    intended: Instant,
) -> Option<Value> {
    let first = session_instance(ctx, correlation_id);
    let mut attempt = attempt_once(ctx, &ctx.bases[first], operation, correlation_id, &body).await;
    if ctx.bases.len() > 1 && attempt.retryable {
        ctx.retried
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let next = &ctx.bases[(first + 1) % ctx.bases.len()];
        attempt = attempt_once(ctx, next, operation, correlation_id, &body).await;
    }
    let done = Instant::now();
    if let (Ok(()), Some(acks)) = (&attempt.outcome, &ctx.acks) {
        record_ack(acks, operation, correlation_id, &attempt.base, &body);
    }
    ctx.stats
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(operation)
        .or_default()
        .record(intended, done, attempt.outcome);
    attempt.json
}

/// The instance of the session a correlation id belongs to (`load-<run>-<index>`).
fn session_instance(ctx: &Ctx, correlation_id: &str) -> usize {
    let index: usize = correlation_id
        .rsplit('-')
        .next()
        .and_then(|i| i.parse().ok())
        .unwrap_or(0);
    index % ctx.bases.len()
}

/// One answer (or its absence) from one instance.
struct Attempt {
    base: String,
    outcome: Result<(), String>,
    json: Option<Value>,
    /// No answer, or a 5xx: another instance may do better.
    retryable: bool,
}

fn record_ack(
    acks: &Mutex<std::fs::File>,
    operation: &str,
    correlation_id: &str,
    base: &str,
    body: &Value,
) {
    use std::io::Write;
    let line = json!({
        "operation": operation,
        "correlation_id": correlation_id,
        "url": base,
        "virtual_card_id": body.get("virtualCardId"),
        "at_ms": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    });
    let mut file = acks.lock().unwrap_or_else(|p| p.into_inner());
    // A failed write only weakens the failover check, which then reports missing lines.
    let _ = writeln!(file, "{line}");
}

async fn attempt_once(
    ctx: &Ctx,
    base: &str,
    operation: &'static str,
    correlation_id: &str,
    body: &Value,
) -> Attempt {
    let url = format!("{base}{}/{operation}", ctx.prefix);
    let result = ctx
        .client
        .post(&url)
        .header("x-correlation-id", correlation_id)
        .header("x-issuer-id", &ctx.issuer_id)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await;
    let (outcome, json, retryable) = match result {
        Err(e) => (Err(transport_kind(&e)), None, true),
        Ok(response) => {
            let status = response.status().as_u16();
            match response.bytes().await {
                Err(e) => (Err(transport_kind(&e)), None, true),
                Ok(bytes) => {
                    let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                    if status == 200 {
                        (Ok(()), Some(json), false)
                    } else {
                        let kind = match json.get("responseCode") {
                            Some(code) => format!("{status} ({code})"),
                            None => status.to_string(),
                        };
                        (Err(kind), None, status >= 500)
                    }
                }
            }
        }
    };
    Attempt {
        base: base.to_owned(),
        outcome,
        json,
        retryable,
    }
}

/// `GET /health/live` on the session's instance, recorded under [`PROBE`].
async fn probe(ctx: &Ctx, correlation_id: &str, intended: Instant) {
    let base = &ctx.bases[session_instance(ctx, correlation_id)];
    let outcome = match ctx.client.get(format!("{base}/health/live")).send().await {
        Err(e) => Err(transport_kind(&e)),
        Ok(response) => match (response.status().as_u16(), response.bytes().await) {
            (_, Err(e)) => Err(transport_kind(&e)),
            (200, Ok(_)) => Ok(()),
            (status, Ok(_)) => Err(status.to_string()),
        },
    };
    let done = Instant::now();
    ctx.stats
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(PROBE)
        .or_default()
        .record(intended, done, outcome);
}

fn transport_kind(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".into()
    } else if error.is_connect() {
        "connect".into()
    } else {
        "transport".into()
    }
}

fn sealed(ctx: &Ctx, card: &Card, index: u64) -> String {
    let clear = json!({"fpan": card.pan, "exp": card.exp}).to_string();
    let transport = if index.is_multiple_of(2) {
        KeyTransport::OaepSha256
    } else {
        KeyTransport::Pkcs1v15
    };
    ctx.recipient
        .seal_base64(clear.as_bytes(), transport)
        .unwrap_or_default()
}

/// One session: fresh correlation id, the next card, freshly sealed card data.
async fn run_session(ctx: &Ctx, kind: SessionKind, index: u64, due: Instant) {
    let cid = format!("load-{}-{index}", ctx.run_tag);
    let card = &ctx.cards[(index % ctx.cards.len() as u64) as usize];
    let wallet = json!({"id": "40010030273", "walletId": "103", "name": "Apple Pay"});
    if kind == SessionKind::Probe {
        probe(ctx, &cid, due).await;
        return;
    }
    if kind == SessionKind::Notify {
        let body = json!({
            "issuerCardRefId": card.reference,
            "virtualCardId": format!("VC-{cid}"),
            "walletProviderId": "APPLE_PAY",
            "action": "ACTIVATE",
            "source": "TSP",
        });
        send(ctx, "notifyVirtualCardChange", &cid, body, due).await;
        return;
    }
    let body = json!({
        "cipheredCardInfo": sealed(ctx, card, index),
        "walletProviderId": "APPLE_PAY",
        "captureMethod": "MANUAL",
        "tokenRequestor": wallet,
    });
    let Some(answer) = send(ctx, "checkCardEligibility", &cid, body, due).await else {
        return;
    };
    let reference = answer["issuerCardRefId"].clone();
    match kind {
        SessionKind::Digitization => {
            let body = json!({
                "cipheredCardInfo": sealed(ctx, card, index + 1),
                "issuerCardRefId": reference,
                "walletProviderId": "APPLE_PAY",
                "walletCardRefId": format!("WCR-{cid}"),
                "tokenRequestor": wallet,
                "cvvValidated": true,
                "tncStatus": true,
                "cardCaptureInformation": {"captureMethod": "MANUAL", "cardHolderName": "Load Sim"},
            });
            send(ctx, "requestCardDigitization", &cid, body, Instant::now()).await;
        }
        SessionKind::Otp => {
            let body = json!({"issuerCardRefId": reference, "walletProviderId": "APPLE_PAY"});
            let Some(methods) = send(ctx, "getIDnVMethodList", &cid, body, Instant::now()).await
            else {
                return;
            };
            let body = json!({
                "issuerCardRefId": reference,
                "otpValue": format!("{:06}", splitmix64(index) % 1_000_000),
                "otpMethodId": methods["idvMethodList"][0]["id"],
                "walletProviderId": "APPLE_PAY",
                "expirationDate": "2030-01-01T00:00:00Z",
            });
            send(ctx, "sendOTP", &cid, body, Instant::now()).await;
        }
        SessionKind::Eligibility | SessionKind::Notify | SessionKind::Probe => {}
    }
}

/// `tsh-sim load` arguments.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// tsh-issuer base URL; loopback only. Repeat for several instances: sessions are spread
    /// over them, and a failed request (no answer, 5xx) is retried once on the next one with the
    /// same x-correlation-id.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: Vec<String>,
    /// Append one JSON line per 200 answer (operation, correlation id, instance) to this file.
    #[arg(long, value_name = "FILE")]
    pub acks: Option<std::path::PathBuf>,
    /// Sessions started per second (open model: on schedule, whatever the answers).
    #[arg(long)]
    pub rate: f64,
    /// How long sessions are started for, seconds (fractions allowed).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Session kinds and their weights.
    #[arg(long, default_value = "eligibility=1,digitization=1,otp=0,notify=1")]
    pub mix: Mix,
    /// Open sessions at most; a session waiting for a slot keeps its due time.
    #[arg(long, default_value_t = 256)]
    pub max_in_flight: usize,
    /// Fresh cards created through the staff API before the run (sessions take them in turn);
    /// 0 reuses the dev cards instead.
    #[arg(long, default_value_t = 100)]
    pub cards: usize,
    /// Bearer token for `POST /api/v1/cards` (operator role).
    #[arg(long, default_value = "dev-operator-token")]
    pub staff_token: String,
    /// Callback path prefix (server.prefix).
    #[arg(long, default_value = "/issuer/igwapi/v2.0")]
    pub prefix: String,
    /// Sent as x-issuer-id (issuer.id).
    #[arg(long, default_value = "ISSUERDEV1")]
    pub issuer_id: String,
    /// Issuer certificate (PEM) the card data is sealed for.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_ISSUER_CERT)]
    pub issuer_cert: std::path::PathBuf,
    /// Whole-request timeout, milliseconds.
    #[arg(long, default_value_t = 10000)]
    pub timeout_ms: u64,
    /// Print only the `summary:` lines (overall, then one per operation), for scripts.
    #[arg(long)]
    pub summary_only: bool,
    /// The service's process id (same machine): its CPU time and store flushes / writes during
    /// the timed phase are added to the summary line (benchmarks).
    #[arg(long, value_name = "PID")]
    pub service_pid: Option<u32>,
}

const DEFAULT_ISSUER_CERT: &str = "fixtures/dev-keys/issuer-dev.crt";

/// Runs `tsh-sim load`: exit 0 when every request succeeded, 1 when some failed, 2 when the run
/// could not start.
pub fn command(args: LoadArgs) -> std::process::ExitCode {
    let fail = |message: String| {
        eprintln!("error: {message}");
        std::process::ExitCode::from(2)
    };
    let mut cert = args.issuer_cert.clone();
    if cert == std::path::Path::new(DEFAULT_ISSUER_CERT) && !cert.exists() {
        cert = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_ISSUER_CERT);
    }
    let pem = match std::fs::read_to_string(&cert) {
        Ok(p) => p,
        Err(e) => {
            return fail(format!(
                "--issuer-cert {}: cannot read: {e}",
                cert.display()
            ))
        }
    };
    if !(args.duration.is_finite() && args.duration > 0.0) {
        return fail(format!(
            "--duration {}: expected seconds > 0",
            args.duration
        ));
    }
    let duration = Duration::from_secs_f64(args.duration.min(MAX_DURATION.as_secs_f64() + 1.0));
    let summary_only = args.summary_only;
    let mut urls = args.url.into_iter();
    let options = LoadOptions {
        url: urls
            .next()
            .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned()),
        other_urls: urls.collect(),
        acks: args.acks,
        prefix: args.prefix,
        issuer_id: args.issuer_id,
        staff_token: args.staff_token,
        issuer_cert_pem: pem,
        rate: args.rate,
        duration,
        mix: args.mix,
        max_in_flight: args.max_in_flight,
        cards: if args.cards == 0 {
            Cards::Dev
        } else {
            Cards::Fresh(args.cards)
        },
        request_timeout: Duration::from_millis(args.timeout_ms.max(1)),
        connect_timeout: Duration::from_secs(2),
        service_pid: args.service_pid,
    };
    // Two worker threads: enough to keep a schedule of thousands of sessions per second on a
    // small machine without taking every core from the service under test.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(format!("runtime: {e}")),
    };
    match runtime.block_on(run_load(options)) {
        Err(message) => fail(message),
        Ok(report) => {
            if summary_only {
                println!("{}", report.summary_lines().join("\n"));
            } else {
                println!("{report}");
            }
            if report.total_errors() == 0 {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_due_on_a_fixed_schedule() {
        assert_eq!(intended_offset(0, 20.0), Duration::ZERO);
        assert_eq!(intended_offset(1, 20.0), Duration::from_millis(50));
        assert_eq!(intended_offset(40, 20.0), Duration::from_secs(2));
        assert_eq!(intended_offset(3, 1000.0), Duration::from_millis(3));
        assert_eq!(session_count(20.0, Duration::from_secs(1)), 20);
        assert_eq!(session_count(0.1, Duration::from_secs(1)), 1);
        // Evenly spaced: the schedule never depends on answers.
        let gaps: Vec<Duration> = (1..10)
            .map(|i| intended_offset(i, 8.0) - intended_offset(i - 1, 8.0))
            .collect();
        assert!(
            gaps.iter().all(|g| *g == Duration::from_millis(125)),
            "{gaps:?}"
        );
    }

    #[test]
    fn latency_counts_from_the_intended_start() {
        let mut stats = OpStats::new();
        let due = Instant::now();
        // Sent late (queued behind a slow answer) and answered 5 ms after sending: the latency
        // recorded is from the due time, 30 ms, not the 5 ms the request itself took.
        stats.record(due, due + Duration::from_millis(30), Ok(()));
        stats.record(
            due,
            due + Duration::from_millis(10),
            Err("400 (116)".into()),
        );
        stats.record(
            due,
            due + Duration::from_millis(10),
            Err("400 (116)".into()),
        );
        stats.record(due, due + Duration::from_millis(20), Err("timeout".into()));
        assert_eq!(stats.count(), 4);
        assert_eq!(stats.ok, 1);
        assert_eq!(stats.error_count(), 3);
        assert_eq!(stats.errors["400 (116)"], 2);
        let max = stats.histogram.max();
        assert!((29_900..=30_100).contains(&max), "{max}");
        let p50 = stats.histogram.value_at_quantile(0.5);
        assert!((9_990..=10_010).contains(&p50), "{p50}");
        // A finish before the due time (clock granularity) still records, as 1 µs.
        stats.record(due + Duration::from_millis(1), due, Ok(()));
        assert_eq!(stats.histogram.min(), 1);
    }

    #[test]
    fn the_report_shows_percentiles_errors_and_a_summary_line() {
        let mut ops = BTreeMap::new();
        let mut s = OpStats::new();
        let t = Instant::now();
        for i in 1..=100u64 {
            s.record(t, t + Duration::from_millis(i), Ok(()));
        }
        s.record(t, t + Duration::from_millis(1), Err("503".into()));
        ops.insert("checkCardEligibility", s);
        let report = LoadReport {
            url: "http://127.0.0.1:1".into(),
            rate: 50.0,
            duration: Duration::from_secs(2),
            mix: Mix::default(),
            cards: 3,
            scheduled: 100,
            started: 100,
            not_started: 0,
            unfinished: 0,
            retried: 0,
            elapsed: Duration::from_secs(2),
            ops,
            service: None,
        };
        let text = report.to_string();
        assert!(text.contains("checkCardEligibility"), "{text}");
        assert!(text.contains("p99.9"), "{text}");
        assert!(text.contains("503"), "{text}");
        let summary = report.summary_line();
        assert!(summary.contains("requests=101 errors=1"), "{summary}");
        assert!(summary.contains("p50_ms=50.0"), "{summary}");
        assert!(summary.contains("max_ms=100.0"), "{summary}");
    }

    #[test]
    fn only_loopback_urls_are_accepted() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.0.0.2:1/",
            "http://localhost:8080",
            "https://[::1]:8443",
        ] {
            assert!(loopback_base_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:8080",
            "http://example.com",
            "http://0.0.0.0:8080",
            "ftp://127.0.0.1/",
            "not a url",
        ] {
            assert!(loopback_base_url(bad).is_err(), "{bad}");
        }
        assert!(loopback_base_url("http://192.168.1.1")
            .unwrap_err()
            .contains("loopback"));
    }

    #[test]
    fn mixes_parse_and_interleave() {
        let mix: Mix = "eligibility=2,notify=1".parse().unwrap();
        assert_eq!(
            mix.cycle(),
            vec![
                SessionKind::Eligibility,
                SessionKind::Notify,
                SessionKind::Eligibility
            ]
        );
        assert_eq!(Mix::default().cycle().len(), 3);
        assert!("".parse::<Mix>().is_err());
        assert!("otp=0".parse::<Mix>().is_err());
        assert!("refund=1".parse::<Mix>().unwrap_err().contains("unknown"));
        let probes: Mix = "probe=1".parse().unwrap();
        assert_eq!(probes.cycle(), vec![SessionKind::Probe]);
        assert_eq!(
            probes.to_string(),
            "eligibility=0,digitization=0,otp=0,notify=0,probe=1"
        );
        assert!("eligibility=x".parse::<Mix>().is_err());
        assert!("eligibility=1000".parse::<Mix>().is_err());
    }

    #[test]
    fn options_are_bounded() {
        let base = LoadOptions::local(
            "http://127.0.0.1:1",
            String::new(),
            10.0,
            Duration::from_secs(1),
        );
        assert!(base.validate().is_ok());
        for bad in [
            LoadOptions {
                rate: 0.0,
                ..base.clone()
            },
            LoadOptions {
                rate: f64::NAN,
                ..base.clone()
            },
            LoadOptions {
                rate: MAX_RATE * 2.0,
                ..base.clone()
            },
            LoadOptions {
                duration: Duration::ZERO,
                ..base.clone()
            },
            LoadOptions {
                duration: MAX_DURATION * 2,
                ..base.clone()
            },
            LoadOptions {
                max_in_flight: 0,
                ..base.clone()
            },
            LoadOptions {
                cards: Cards::Fresh(0),
                ..base.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
