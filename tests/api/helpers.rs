//! `spawn_app()` and friends: a running service on a random port, a mock SMS/e-mail gateway, a
//! CMS encryptor playing TSH, and one method per callback.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::{json, Value};
use tsh_issuer::config::{self, LoadOptions, Settings};
use tsh_issuer::crypto::seal::{KeyTransport, Recipient};
use tsh_issuer::startup::Application;

pub const ISSUER_ID: &str = "ISSUERDEV1";
pub const STAFF_TOKEN: &str = "dev-operator-token";
pub const PREFIX: &str = "/issuer/igwapi/v2.0";

/// Dev cards from fixtures/dev-cards.json.
pub const PAN_FULL: &str = "4111111111111111"; // phone + e-mail, VISA-CLASSIC-DEV by BIN table
pub const PAN_PHONE_ONLY: &str = "4000056655665556"; // own productId VISA-GOLD-DEV
pub const PAN_EMAIL_ONLY: &str = "5555555555554444";
pub const PAN_NO_CONTACT: &str = "4012888888881881";
pub const PAN_SUSPENDED: &str = "4242424242424242";
pub const PAN_EXPIRED: &str = "4000000000000002";
pub const PAN_NO_PRODUCT: &str = "6011111111111117";
pub const PAN_UNKNOWN: &str = "4917610000000000";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// How the mock gateway answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayMode {
    Accept,
    Fail,
    Slow(u64),
}

/// A mock SMS / e-mail gateway that records every delivery.
pub struct MockGateway {
    pub url: String,
    pub deliveries: Arc<Mutex<Vec<Value>>>,
    pub mode: Arc<Mutex<GatewayMode>>,
}

impl MockGateway {
    pub async fn start() -> MockGateway {
        let deliveries: Arc<Mutex<Vec<Value>>> = Arc::default();
        let mode = Arc::new(Mutex::new(GatewayMode::Accept));
        let (d, m) = (deliveries.clone(), mode.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            let (d, m) = (d.clone(), m.clone());
            App::new().route(
                "/otp",
                web::post().to(move |body: web::Json<Value>| {
                    let (d, m) = (d.clone(), m.clone());
                    async move {
                        let mode = *m.lock().unwrap();
                        match mode {
                            GatewayMode::Fail => {
                                return HttpResponse::InternalServerError().finish()
                            }
                            GatewayMode::Slow(ms) => {
                                actix_web::rt::time::sleep(Duration::from_millis(ms)).await
                            }
                            GatewayMode::Accept => {}
                        }
                        d.lock().unwrap().push(body.into_inner());
                        HttpResponse::Ok().json(json!({"status": "queued"}))
                    }
                }),
            )
        })
        .workers(2)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        MockGateway {
            url: format!("http://127.0.0.1:{port}/otp"),
            deliveries,
            mode,
        }
    }

    pub fn set_mode(&self, mode: GatewayMode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn deliveries(&self) -> Vec<Value> {
        self.deliveries.lock().unwrap().clone()
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    #[allow(dead_code)] // keeps the temporary store alive for the test's duration
    pub store_dir: tempfile::TempDir,
    pub gateway: MockGateway,
    pub recipient: Recipient,
    #[allow(dead_code)]
    pub settings: Settings,
}

/// True when the suite runs against PostgreSQL (`TSH_TEST_BACKEND=postgres`, set by `.ci/run`
/// for its second pass); the default is sled.
pub fn postgres_backend() -> bool {
    match std::env::var("TSH_TEST_BACKEND").as_deref() {
        Ok("postgres") => true,
        Ok("sled") | Ok("") | Err(_) => false,
        Ok(other) => panic!("TSH_TEST_BACKEND={other}: expected sled or postgres"),
    }
}

/// The store settings of a test store named by `path`: the sled directory itself, or (on the
/// PostgreSQL pass) a fresh database of the shared throw-away cluster bound to that path, so a
/// service restarted on the same path finds its data again.
pub fn store_overrides(path: &Path) -> Vec<(String, String)> {
    match postgres_database(path) {
        None => vec![("store.path".to_owned(), path.display().to_string())],
        Some(url) => vec![
            ("store.path".to_owned(), path.display().to_string()),
            ("store.backend".to_owned(), "postgres".to_owned()),
            ("store.url".to_owned(), url),
        ],
    }
}

/// On the PostgreSQL pass, the URL of the database bound to a test store path (created on first
/// use); `None` on the sled pass.
pub fn postgres_database(path: &Path) -> Option<String> {
    if !postgres_backend() {
        return None;
    }
    static DATABASES: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());
    let cluster = crate::pg_cluster::shared()
        .expect("TSH_TEST_BACKEND=postgres needs PostgreSQL (apt-get install postgresql)");
    let mut known = DATABASES.lock().unwrap();
    if let Some((_, url)) = known.iter().find(|(p, _)| p == path) {
        return Some(url.clone());
    }
    let url = cluster.url(&crate::pg_cluster::fresh_database(cluster, "t"));
    known.push((path.to_owned(), url.clone()));
    Some(url)
}

/// Settings for a test: the repo's default + local layers, a temp store, port 0, the mock gateway.
pub fn test_settings(store_path: &Path, gateway_url: &str, extra: &[(&str, &str)]) -> Settings {
    let mut overrides = store_overrides(store_path);
    overrides.extend([
        ("server.bind".to_owned(), "127.0.0.1:0".to_owned()),
        ("otp.webhook_url".to_owned(), gateway_url.to_owned()),
        ("otp.timeout_ms".to_owned(), "1000".to_owned()),
        ("server.workers".to_owned(), "2".to_owned()),
    ]);
    for (k, v) in extra {
        overrides.push(((*k).to_owned(), (*v).to_owned()));
    }
    config::load(LoadOptions {
        config_dir: Some(repo_root().join("config")),
        environment: Some("local".to_owned()),
        extra_file: None,
        use_env_vars: false,
        overrides,
    })
    .expect("test settings load")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let store_dir = tempfile::tempdir().unwrap();
    let gateway = MockGateway::start().await;
    let settings = test_settings(&store_dir.path().join("store"), &gateway.url, extra);
    start(settings, store_dir, gateway).await
}

pub async fn start(
    settings: Settings,
    store_dir: tempfile::TempDir,
    gateway: MockGateway,
) -> TestApp {
    let app = Application::build(settings.clone()).expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    let pem =
        std::fs::read_to_string(repo_root().join("fixtures/dev-keys/issuer-dev.crt")).unwrap();
    TestApp {
        address,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        store_dir,
        gateway,
        recipient: Recipient::from_pem(&pem).unwrap(),
        settings,
    }
}

/// A response: status and JSON body (Null when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// Status and JSON body of a response (Null when the body is not JSON).
    pub async fn of(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    pub fn code(&self) -> Option<i64> {
        self.body["responseCode"].as_i64()
    }
}

impl TestApp {
    pub fn seal(&self, card: &Value, transport: KeyTransport) -> String {
        self.recipient
            .seal_base64(card.to_string().as_bytes(), transport)
            .unwrap()
    }

    pub fn card_info(&self, pan: &str) -> String {
        self.seal(
            &json!({"fpan": pan, "exp": card_exp(pan)}),
            KeyTransport::OaepSha256,
        )
    }

    pub async fn post_raw(
        &self,
        operation: &str,
        correlation_id: Option<&str>,
        issuer: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self
            .client
            .post(format!("{}{PREFIX}/{operation}", self.address));
        if let Some(c) = correlation_id {
            request = request.header("x-correlation-id", c);
        }
        if let Some(i) = issuer {
            request = request.header("x-issuer-id", i);
        }
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let response = request
            .body(body)
            .send()
            .await
            .expect("request reaches the service");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    pub async fn call(&self, operation: &str, correlation_id: &str, body: &Value) -> Reply {
        self.post_raw(
            operation,
            Some(correlation_id),
            Some(ISSUER_ID),
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await
    }

    pub async fn eligibility(&self, correlation_id: &str, pan: &str) -> Reply {
        let body = json!({"cipheredCardInfo": self.card_info(pan), "walletProviderId": "APPLE_PAY", "captureMethod": "MANUAL"});
        self.call("checkCardEligibility", correlation_id, &body)
            .await
    }

    /// GET with a bearer token of the caller's choosing.
    pub async fn get_as(&self, token: &str, path: &str) -> Reply {
        let request = self.client.get(format!("{}{path}", self.address));
        Reply::of(request.bearer_auth(token).send().await.unwrap()).await
    }

    /// POST a JSON body with a bearer token of the caller's choosing.
    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> Reply {
        let request = self.client.post(format!("{}{path}", self.address));
        Reply::of(request.bearer_auth(token).json(body).send().await.unwrap()).await
    }

    pub async fn staff_get(&self, path: &str) -> Reply {
        self.get_as(STAFF_TOKEN, path).await
    }

    pub async fn staff_post(&self, path: &str, body: &Value) -> Reply {
        self.post_as(STAFF_TOKEN, path, body).await
    }
}

/// The registry expiry of a dev card (CVV2 depends on it).
pub fn card_exp(pan: &str) -> &'static str {
    match pan {
        PAN_EMAIL_ONLY => "0631",
        PAN_EXPIRED => "0121",
        _ => "1230",
    }
}

/// A digitization body for a dev card with the given capture method and extra fields merged in.
pub fn digitization_body(app: &TestApp, pan: &str, capture: &str, extra: Value) -> Value {
    let mut body = json!({
        "cipheredCardInfo": app.card_info(pan),
        "walletProviderId": "APPLE_PAY",
        "tokenRequestor": {"id": "40010030273", "name": "Apple Pay"},
        "cardCaptureInformation": {"captureMethod": capture},
        "tncStatus": true
    });
    if let (Some(target), Value::Object(more)) = (body.as_object_mut(), extra) {
        for (k, v) in more {
            target.insert(k, v);
        }
    }
    body
}

/// A correlation id unique within the test run.
pub fn cid(tag: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{tag}-{}", N.fetch_add(1, Ordering::SeqCst))
}

/// The release/debug binary run as a child process, as an operator would run it.
pub struct ServiceProcess {
    pub child: std::process::Child,
    pub address: String,
    pub log: Arc<Mutex<String>>,
    /// The threads copying stdout / stderr into `log`; joined once the process is gone, so the
    /// log is complete when a test reads it after a kill.
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl ServiceProcess {
    /// Starts `tsh-issuer serve` on port 0 with the given store and gateway, waits for "listening".
    pub fn start(store: &Path, gateway_url: &str, extra_env: &[(&str, &str)]) -> ServiceProcess {
        Self::start_wrapped(&[], store, gateway_url, extra_env)
    }

    /// Like [`ServiceProcess::start`], with the binary run under a wrapper command (e.g.
    /// `strace -f -o FILE`); the wrapper must pass the service's output through.
    pub fn start_wrapped(
        wrapper: &[&str],
        store: &Path,
        gateway_url: &str,
        extra_env: &[(&str, &str)],
    ) -> ServiceProcess {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        let binary = env!("CARGO_BIN_EXE_tsh-issuer");
        let mut command = match wrapper.split_first() {
            None => Command::new(binary),
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(binary);
                command
            }
        };
        command
            .arg("serve")
            .current_dir(repo_root())
            .env("TSH_ISSUER__SERVER__BIND", "127.0.0.1:0")
            .env("TSH_ISSUER__OTP__WEBHOOK_URL", gateway_url)
            .env("TSH_ISSUER__SERVER__WORKERS", "2")
            .env_remove("TSH_ISSUER_ENV")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in store_overrides(store) {
            let var = format!(
                "TSH_ISSUER__{}",
                key.replace('.', "__").to_ascii_uppercase()
            );
            command.env(var, value);
        }
        for (k, v) in extra_env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("binary starts");
        let log: Arc<Mutex<String>> = Arc::default();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let mut readers = Vec::with_capacity(2);
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = log.clone();
            let tx = tx.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    log.lock().unwrap().push_str(&line);
                    log.lock().unwrap().push('\n');
                    if line.contains("listening") {
                        let _ = tx.send(line);
                    }
                }
            }));
        }
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("service did not start; log:\n{}", log.lock().unwrap()));
        let start = line.find("http://").expect("address in the listening line");
        let address: String = line[start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '"')
            .collect();
        ServiceProcess {
            child,
            address,
            log,
            readers,
        }
    }

    /// SIGKILL: no graceful shutdown, no final flush.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The pipes close with the process: the readers finish what it wrote, then end.
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when an external tool the test needs is installed. In CI (`CI` set) a missing tool fails
/// the test; elsewhere the test says loudly that it did not run.
pub fn tool_available(program: &str, why: &str) -> bool {
    let found = std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("{program} is required in CI ({why}); .ci/run installs it");
        }
        // Written to the real stderr: the test harness's capture would hide an eprintln!.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** NOT RUN: {program} is not installed ({why}) ***\n"
        );
    }
    found
}

/// A client for a `ServiceProcess`.
pub struct ProcessClient {
    pub address: String,
    pub client: reqwest::Client,
}

impl ProcessClient {
    pub fn new(address: &str) -> ProcessClient {
        ProcessClient {
            address: address.to_owned(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        }
    }

    pub async fn call(&self, operation: &str, correlation_id: &str, body: &Value) -> Reply {
        let response = self
            .client
            .post(format!("{}{PREFIX}/{operation}", self.address))
            .header("x-correlation-id", correlation_id)
            .header("x-issuer-id", ISSUER_ID)
            .json(body)
            .send()
            .await
            .unwrap();
        Reply::of(response).await
    }

    /// Eligibility then digitization of the dev card `PAN_FULL` with `capture`, one request at a
    /// time; both must answer 200. The card's `issuerCardRefId` and the decision.
    pub async fn enrol(&self, correlation_id: &str, capture: &str) -> (String, Reply) {
        let sealed = || dev_seal(&json!({"fpan": PAN_FULL, "exp": "1230"}));
        let eligibility = json!({"cipheredCardInfo": sealed()});
        let elig = self
            .call("checkCardEligibility", correlation_id, &eligibility)
            .await;
        assert_eq!(elig.status, 200, "{:?}", elig.body);
        let card = elig.body["issuerCardRefId"].as_str().unwrap().to_owned();
        let digitization = json!({"cipheredCardInfo": sealed(), "cardCaptureInformation": {"captureMethod": capture}});
        let decision = self
            .call("requestCardDigitization", correlation_id, &digitization)
            .await;
        assert_eq!(decision.status, 200, "{:?}", decision.body);
        (card, decision)
    }

    pub async fn staff_get(&self, path: &str) -> Reply {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .bearer_auth(STAFF_TOKEN)
            .send()
            .await
            .unwrap();
        Reply::of(response).await
    }
}

/// Encrypts card JSON for the dev issuer certificate (OAEP).
pub fn dev_seal(card: &Value) -> String {
    let pem =
        std::fs::read_to_string(repo_root().join("fixtures/dev-keys/issuer-dev.crt")).unwrap();
    Recipient::from_pem(&pem)
        .unwrap()
        .seal_base64(card.to_string().as_bytes(), KeyTransport::OaepSha256)
        .unwrap()
}
