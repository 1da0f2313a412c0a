//! Mutual TLS on the callback listener. Certificates are generated in the test (rcgen), the service is
//! spawned with `server.tls.*`, and rustls clients present a good certificate, none, one from another
//! CA or a revoked one, or speak TLS 1.1. Refusals must happen in the handshake, before any HTTP.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, IsCa, Issuer,
    KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, ProtocolVersion, RootCertStore};
use tsh_issuer::config::{self, LoadOptions};
use tsh_issuer::startup::{Application, StartupError};

use crate::helpers::*;

/// A certificate and its key, as DER (for rustls clients) and as PEM files.
struct Identity {
    cert: CertificateDer<'static>,
    key: Vec<u8>,
}

impl Identity {
    fn from_pem_files(cert: &Path, key: &Path) -> Identity {
        Identity {
            cert: CertificateDer::from_pem_file(cert).unwrap(),
            key: PrivateKeyDer::from_pem_file(key)
                .unwrap()
                .secret_der()
                .to_vec(),
        }
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::try_from(self.key.clone()).unwrap()
    }
}

/// A certificate authority that issues leaves and CRLs.
struct Authority {
    issuer: Issuer<'static, KeyPair>,
    cert: CertificateDer<'static>,
    pem: String,
}

fn params(common_name: &str, sans: &[&str]) -> CertificateParams {
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(sans).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
}

impl Authority {
    fn new(common_name: &str) -> Authority {
        let key = KeyPair::generate().unwrap();
        let mut ca = params(common_name, &[]);
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = ca.self_signed(&key).unwrap();
        Authority {
            issuer: Issuer::new(ca, key),
            cert: cert.der().clone(),
            pem: cert.pem(),
        }
    }

    /// A leaf certificate with a given serial, written as NAME.pem + NAME.key into `dir`.
    fn issue(
        &self,
        dir: &Path,
        name: &str,
        common_name: &str,
        sans: &[&str],
        serial: u64,
    ) -> Identity {
        self.issue_with(dir, name, params(common_name, sans), serial)
    }

    fn issue_with(
        &self,
        dir: &Path,
        name: &str,
        mut leaf: CertificateParams,
        serial: u64,
    ) -> Identity {
        let key = KeyPair::generate().unwrap();
        leaf.serial_number = Some(SerialNumber::from(serial));
        let cert = leaf.signed_by(&key, &self.issuer).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
        Identity {
            cert: cert.der().clone(),
            key: key.serialize_der(),
        }
    }

    fn crl_pem(&self, revoked_serials: &[u64]) -> String {
        let now = time::OffsetDateTime::now_utc();
        CertificateRevocationListParams {
            this_update: now - time::Duration::days(1),
            next_update: now + time::Duration::days(30),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked_serials
                .iter()
                .map(|serial| RevokedCertParams {
                    serial_number: SerialNumber::from(*serial),
                    revocation_time: now - time::Duration::hours(1),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&self.issuer)
        .unwrap()
        .pem()
        .unwrap()
    }
}

/// The test PKI: the TSH client CA (which also signs the server certificate here), a client, a
/// revoked client, and an unrelated CA with its own client. Files live in a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
    ca: Authority,
    client: Identity,
    revoked_client: Identity,
    other_client: Identity,
    expired_client: Identity,
}

const REVOKED_SERIAL: u64 = 0x0bad;

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::new("test TSH client CA");
        let other_ca = Authority::new("test other CA");
        std::fs::write(dir.path().join("ca.pem"), &ca.pem).unwrap();
        ca.issue(
            dir.path(),
            "server",
            "localhost",
            &["localhost", "127.0.0.1"],
            1,
        );
        let client = ca.issue(dir.path(), "client", "test TSH client", &[], 2);
        let revoked_client = ca.issue(dir.path(), "revoked", "revoked client", &[], REVOKED_SERIAL);
        let other_client = other_ca.issue(dir.path(), "other", "other client", &[], 3);
        let mut expired = params("expired client", &[]);
        expired.not_before = rcgen::date_time_ymd(2020, 1, 1);
        expired.not_after = rcgen::date_time_ymd(2021, 1, 1);
        let expired_client = ca.issue_with(dir.path(), "expired", expired, 4);
        std::fs::write(dir.path().join("crl.pem"), ca.crl_pem(&[REVOKED_SERIAL])).unwrap();
        Pki {
            dir,
            ca,
            client,
            revoked_client,
            other_client,
            expired_client,
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// The `server.tls.*` overrides for these files.
    fn overrides(&self) -> Vec<(&'static str, String)> {
        vec![
            ("server.tls.cert", self.path("server.pem")),
            ("server.tls.key", self.path("server.key")),
            ("server.tls.client_ca", self.path("ca.pem")),
        ]
    }

    fn client_config(
        &self,
        identity: Option<&Identity>,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> ClientConfig {
        client_config(&self.ca.cert, identity, versions)
    }
}

const BOTH: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
const VERSIONS: [(&str, &rustls::SupportedProtocolVersion); 2] = [
    ("TLS 1.2", &rustls::version::TLS12),
    ("TLS 1.3", &rustls::version::TLS13),
];

/// A rustls client trusting `server_ca`, presenting `identity` (or no certificate).
fn client_config(
    server_ca: &CertificateDer<'static>,
    identity: Option<&Identity>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    roots.add(server_ca.clone()).unwrap();
    let builder = ClientConfig::builder_with_provider(tsh_issuer::tls::crypto_provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    match identity {
        Some(id) => builder
            .with_client_auth_cert(vec![id.cert.clone()], id.key())
            .unwrap(),
        None => builder.with_no_client_auth(),
    }
}

fn https_client(config: ClientConfig) -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The service on port 0 with mutual TLS; its `client` presents `pki.client`.
async fn spawn_tls_app(pki: &Pki, extra: &[(&str, &str)]) -> TestApp {
    let store_dir = tempfile::tempdir().unwrap();
    let gateway = MockGateway::start().await;
    let mut overrides = pki.overrides();
    overrides.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let overrides: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let settings = test_settings(&store_dir.path().join("store"), &gateway.url, &overrides);
    let mut app = start(settings, store_dir, gateway).await;
    app.address = app.address.replacen("http://", "https://", 1);
    app.client = https_client(pki.client_config(Some(&pki.client), BOTH));
    app
}

fn port_of(app: &TestApp) -> u16 {
    app.address.rsplit(':').next().unwrap().parse().unwrap()
}

/// What a raw TLS client saw: the handshake as the client judged it, then the bytes (and the error,
/// if any) that came back for one HTTP request.
#[derive(Debug)]
struct Exchange {
    handshake: Result<ProtocolVersion, String>,
    received: Vec<u8>,
    error: Option<String>,
}

impl Exchange {
    fn http_answered(&self) -> bool {
        self.received.starts_with(b"HTTP/1.1 ")
    }

    /// Refused by a TLS alert, with no HTTP byte received.
    fn refused_by_tls(&self) -> bool {
        let alert = |e: &str| e.contains("alert");
        self.received.is_empty()
            && match &self.handshake {
                Err(e) => alert(e),
                Ok(_) => self.error.as_deref().is_some_and(alert),
            }
    }
}

/// Handshakes with blocking rustls over a std socket, then sends `GET /health/live`.
fn raw_exchange(port: u16, config: ClientConfig) -> Exchange {
    let mut socket = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let name = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
    let mut tls = ClientConnection::new(Arc::new(config), name).unwrap();
    while tls.is_handshaking() {
        if let Err(e) = tls.complete_io(&mut socket) {
            return Exchange {
                handshake: Err(e.to_string()),
                received: Vec::new(),
                error: None,
            };
        }
    }
    let handshake = Ok(tls.protocol_version().unwrap());
    let mut stream = rustls::Stream::new(&mut tls, &mut socket);
    let mut received = Vec::new();
    let request = b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let error = match stream.write_all(request) {
        Err(e) => Some(e.to_string()),
        Ok(()) => {
            let mut chunk = [0u8; 4096];
            loop {
                match stream.read(&mut chunk) {
                    Ok(0) => break None,
                    Ok(n) => received.extend_from_slice(&chunk[..n]),
                    Err(e) => break Some(e.to_string()),
                }
            }
        }
    };
    Exchange {
        handshake,
        received,
        error,
    }
}

async fn exchange(port: u16, config: ClientConfig) -> Exchange {
    tokio::task::spawn_blocking(move || raw_exchange(port, config))
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_client_certificate_from_the_configured_ca_reaches_the_callbacks() {
    let pki = Pki::new();
    let app = spawn_tls_app(&pki, &[]).await;

    let live = app
        .client
        .get(format!("{}/health/live", app.address))
        .send()
        .await
        .expect("mTLS request succeeds");
    assert_eq!(live.status().as_u16(), 200);

    let correlation = cid("mtls");
    let reply = app.eligibility(&correlation, PAN_FULL).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["productId"], "VISA-CLASSIC-DEV");
    let enrollment = app
        .staff_get(&format!("/api/v1/enrollments/{correlation}"))
        .await;
    assert_eq!(enrollment.status, 200, "{:?}", enrollment.body);

    for (case, version) in VERSIONS {
        let seen = exchange(
            port_of(&app),
            pki.client_config(Some(&pki.client), &[version]),
        )
        .await;
        assert_eq!(seen.handshake, Ok(version.version), "{case}: {seen:?}");
        assert!(
            seen.received.starts_with(b"HTTP/1.1 200"),
            "{case}: {}",
            String::from_utf8_lossy(&seen.received)
        );
    }
}

#[actix_web::test]
async fn a_handshake_without_a_client_certificate_is_refused_before_any_http() {
    let pki = Pki::new();
    let app = spawn_tls_app(&pki, &[]).await;

    for (case, version) in VERSIONS {
        let seen = exchange(port_of(&app), pki.client_config(None, &[version])).await;
        assert!(seen.refused_by_tls(), "{case}: {seen:?}");
        assert!(!seen.http_answered(), "{case}: {seen:?}");
    }

    let anonymous = https_client(pki.client_config(None, BOTH));
    let result = anonymous
        .get(format!("{}/health/live", app.address))
        .send()
        .await;
    assert!(
        result.is_err(),
        "answered without a client certificate: {result:?}"
    );

    // Plain HTTP on the TLS port gets no HTTP answer either.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{}/health/live", port_of(&app)))
        .send()
        .await;
    assert!(
        plain
            .as_ref()
            .map(|r| !r.status().is_success())
            .unwrap_or(true),
        "{plain:?}"
    );
}

#[actix_web::test]
async fn a_client_certificate_from_another_ca_or_expired_is_refused_before_any_http() {
    let pki = Pki::new();
    let app = spawn_tls_app(&pki, &[]).await;

    for (who, identity) in [
        ("other CA", &pki.other_client),
        ("expired", &pki.expired_client),
    ] {
        for (case, version) in VERSIONS {
            let config = pki.client_config(Some(identity), &[version]);
            let seen = exchange(port_of(&app), config).await;
            assert!(seen.refused_by_tls(), "{who}, {case}: {seen:?}");
        }
    }

    let foreign = https_client(pki.client_config(Some(&pki.other_client), BOTH));
    let result = foreign
        .post(format!("{}{PREFIX}/checkCardEligibility", app.address))
        .header("x-correlation-id", "other-ca")
        .header("x-issuer-id", ISSUER_ID)
        .json(&serde_json::json!({"cipheredCardInfo": app.card_info(PAN_FULL)}))
        .send()
        .await;
    assert!(result.is_err(), "answered a foreign client: {result:?}");
    assert_eq!(
        app.staff_get("/api/v1/enrollments/other-ca").await.status,
        404,
        "the refused call must not reach the handler"
    );
}

/// A TLS 1.1 ClientHello as an old client capped at 1.1 sends it: client_version 3.2, no
/// supported_versions, with signature_algorithms.
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02];
    body.extend([0x5a; 32]); // random
    body.push(0); // session id
    body.extend([0x00, 0x04, 0xc0, 0x13, 0x00, 0x2f]); // ECDHE-RSA-AES128-SHA, AES128-SHA
    body.extend([0x01, 0x00]); // null compression
    body.extend([
        0x00, 0x0a, 0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x04, 0x03, 0x04, 0x01,
    ]);
    let mut handshake = vec![0x01, 0x00, (body.len() >> 8) as u8, body.len() as u8];
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x02];
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

#[actix_web::test]
async fn a_tls_1_1_client_is_refused_with_a_protocol_version_alert() {
    let pki = Pki::new();
    let app = spawn_tls_app(&pki, &[]).await;
    let port = port_of(&app);

    let answer = tokio::task::spawn_blocking(move || {
        let mut socket = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        socket.write_all(&tls11_client_hello()).unwrap();
        let mut answer = Vec::new();
        let _ = socket.read_to_end(&mut answer);
        answer
    })
    .await
    .unwrap();
    // One alert record: type 21, then level fatal (2), description protocol_version (70).
    assert_eq!(answer.len(), 7, "{answer:?}");
    assert_eq!(answer[0], 21, "{answer:?}");
    assert_eq!(&answer[5..], &[2, 70], "{answer:?}");

    // The same with a real TLS 1.1 client, when the openssl CLI is installed.
    let (ca, cert, key) = (
        pki.path("ca.pem"),
        pki.path("client.pem"),
        pki.path("client.key"),
    );
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-tls1_1",
            ])
            .args([
                "-cipher",
                "DEFAULT:@SECLEVEL=0",
                "-CAfile",
                &ca,
                "-cert",
                &cert,
                "-key",
                &key,
            ])
            .stdin(std::process::Stdio::null())
            .output()
    })
    .await
    .unwrap();
    let Ok(output) = output else {
        eprintln!("note: openssl CLI not found; skipping the openssl s_client -tls1_1 check");
        return;
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if text.contains("no protocols available") || text.contains("unknown option") {
        eprintln!("note: this openssl cannot speak TLS 1.1; skipping the s_client check:\n{text}");
        return;
    }
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("alert"), "{text}");
    assert!(!text.contains("HTTP/1.1"), "{text}");
}

#[actix_web::test]
async fn a_revoked_client_certificate_is_refused_when_a_crl_is_configured() {
    let pki = Pki::new();
    let crl = pki.path("crl.pem");
    let app = spawn_tls_app(&pki, &[("server.tls.crl", &crl)]).await;

    let good = exchange(port_of(&app), pki.client_config(Some(&pki.client), BOTH)).await;
    assert!(good.http_answered(), "{good:?}");
    for (case, version) in VERSIONS {
        let config = pki.client_config(Some(&pki.revoked_client), &[version]);
        let seen = exchange(port_of(&app), config).await;
        assert!(seen.refused_by_tls(), "{case}: {seen:?}");
    }

    // Without the CRL the same certificate is accepted: the refusal above is the CRL's doing.
    let app = spawn_tls_app(&pki, &[]).await;
    let seen = exchange(
        port_of(&app),
        pki.client_config(Some(&pki.revoked_client), BOTH),
    )
    .await;
    assert!(seen.http_answered(), "{seen:?}");
}

#[actix_web::test]
async fn a_client_that_stalls_the_handshake_is_disconnected_after_the_timeout() {
    let pki = Pki::new();
    let app = spawn_tls_app(&pki, &[("server.tls.handshake_timeout_ms", "300")]).await;
    let port = port_of(&app);

    let (elapsed, outcome) = tokio::task::spawn_blocking(move || {
        let mut socket = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let started = Instant::now();
        let mut byte = [0u8; 1];
        let outcome = socket.read(&mut byte).map_err(|e| e.kind());
        (started.elapsed(), outcome)
    })
    .await
    .unwrap();
    let closed = matches!(outcome, Ok(0) | Err(std::io::ErrorKind::ConnectionReset));
    assert!(closed, "{outcome:?} after {elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(2),
        "closed only after {elapsed:?}"
    );
}

#[test]
fn an_unusable_tls_file_stops_startup_naming_its_key() {
    let pki = Pki::new();
    let empty = pki.dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let empty = empty.display().to_string();
    let (client_key, missing) = (pki.path("client.key"), pki.path("missing.pem"));
    let cases = [
        ("missing certificate", "server.tls.cert", missing.as_str()),
        (
            "key of another certificate",
            "server.tls.key",
            client_key.as_str(),
        ),
        ("empty CA bundle", "server.tls.client_ca", empty.as_str()),
        ("empty CRL file", "server.tls.crl", empty.as_str()),
    ];
    for (case, key, value) in cases {
        let store = tempfile::tempdir().unwrap();
        let mut overrides = pki.overrides();
        overrides.retain(|(k, _)| *k != key);
        overrides.push((key, value.to_owned()));
        let overrides: Vec<(&str, &str)> =
            overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let settings = test_settings(
            &store.path().join("store"),
            "http://127.0.0.1:9/otp",
            &overrides,
        );
        match Application::build(settings) {
            Err(StartupError::Config {
                key: named,
                message,
            }) => {
                assert_eq!(named, key, "{case}: {message}");
            }
            Err(other) => panic!("{case}: wrong error {other}"),
            Ok(_) => panic!("{case}: started"),
        }
    }
}

#[test]
fn tls_settings_default_the_handshake_timeout_and_refuse_a_bad_one() {
    let load = |extra: &[(&str, &str)]| {
        let mut overrides: Vec<(String, String)> = vec![
            ("server.tls.cert".into(), "certs/server.pem".into()),
            ("server.tls.key".into(), "certs/server.key".into()),
            ("server.tls.client_ca".into(), "certs/ca.pem".into()),
        ];
        overrides.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        config::load(LoadOptions {
            config_dir: Some(repo_root().join("config")),
            environment: Some("local".to_owned()),
            extra_file: None,
            use_env_vars: false,
            overrides,
        })
    };
    let tls = load(&[]).unwrap().server.tls.unwrap();
    assert_eq!(tls.handshake_timeout_ms, 3000);
    assert_eq!(tls.crl, None);
    assert_eq!(tls.client_ca, repo_root().join("certs/ca.pem"));

    let tls = load(&[("server.tls.crl", "certs/crl.pem")])
        .unwrap()
        .server
        .tls
        .unwrap();
    assert_eq!(tls.crl, Some(repo_root().join("certs/crl.pem")));

    for bad in ["0", "50", "600000"] {
        let err = load(&[("server.tls.handshake_timeout_ms", bad)]).unwrap_err();
        assert_eq!(err.key, "server.tls.handshake_timeout_ms", "{bad}: {err}");
    }
}

/// `scripts/dev-certs.sh` output works with the service as documented (needs the openssl CLI).
#[actix_web::test]
async fn the_dev_certs_script_makes_certificates_the_service_accepts() {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!("note: openssl CLI not found; skipping the scripts/dev-certs.sh check");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("certs");
    let status = std::process::Command::new(repo_root().join("scripts/dev-certs.sh"))
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let stdout = String::from_utf8_lossy(&status.stdout);
    assert!(
        stdout.contains("TSH_ISSUER__SERVER__TLS__CLIENT_CA="),
        "{stdout}"
    );
    assert!(stdout.contains("curl "), "{stdout}");

    let file = |name: &str| -> PathBuf { out.join(name) };
    let as_str = |p: PathBuf| p.display().to_string();
    let (cert, key, ca, crl) = (
        as_str(file("server.crt")),
        as_str(file("server.key")),
        as_str(file("ca.crt")),
        as_str(file("crl.pem")),
    );
    let store_dir = tempfile::tempdir().unwrap();
    let gateway = MockGateway::start().await;
    let settings = test_settings(
        &store_dir.path().join("store"),
        &gateway.url,
        &[
            ("server.tls.cert", &cert),
            ("server.tls.key", &key),
            ("server.tls.client_ca", &ca),
            ("server.tls.crl", &crl),
        ],
    );
    let app = start(settings, store_dir, gateway).await;
    let port = port_of(&app);
    let server_ca = CertificateDer::from_pem_file(file("ca.crt")).unwrap();
    let identity = |name: &str| {
        Identity::from_pem_files(&file(&format!("{name}.crt")), &file(&format!("{name}.key")))
    };

    let good = exchange(
        port,
        client_config(&server_ca, Some(&identity("client")), BOTH),
    )
    .await;
    assert!(good.received.starts_with(b"HTTP/1.1 200"), "{good:?}");
    for name in ["other-client", "revoked-client"] {
        let seen = exchange(port, client_config(&server_ca, Some(&identity(name)), BOTH)).await;
        assert!(seen.refused_by_tls(), "{name}: {seen:?}");
    }
    let seen = exchange(port, client_config(&server_ca, None, BOTH)).await;
    assert!(seen.refused_by_tls(), "no certificate: {seen:?}");
}
