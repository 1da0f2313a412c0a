//! Mutual TLS for the callback listener: reads the server certificate chain and key, the TSH client
//! CA bundle and an optional CRL file (PEM), and builds the rustls `ServerConfig` — aws-lc-rs, TLS 1.2
//! and 1.3 only, a client certificate required and verified against the CA bundle (never a pinned
//! leaf: Thales rotates it). Every refusal names the configuration key of the file at fault.
//! It owns no socket: `startup` binds the listener with the config built here.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::{VerifierBuilderError, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use x509_cert::der::Decode;
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::Certificate;

use crate::config::TlsSettings;

/// The protocol versions offered, newest first. rustls implements nothing below TLS 1.2, so a
/// TLS 1.0 / 1.1 client gets a `protocol_version` alert before any HTTP.
pub const PROTOCOL_VERSIONS: &[&SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

const CERT_KEY: &str = "server.tls.cert";
const KEY_KEY: &str = "server.tls.key";
const CLIENT_CA_KEY: &str = "server.tls.client_ca";
const CRL_KEY: &str = "server.tls.crl";

/// A TLS file that cannot be used, with the configuration key that points at it.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct TlsError {
    pub key: &'static str,
    pub message: String,
}

impl TlsError {
    fn new(key: &'static str, message: impl Into<String>) -> TlsError {
        TlsError {
            key,
            message: message.into(),
        }
    }
}

/// The crypto provider of the whole service: aws-lc-rs, chosen explicitly so no process-wide
/// default (or a second provider pulled in by a dependency) can change it.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Builds the mutual-TLS server configuration from the configured files.
pub fn server_config(settings: &TlsSettings) -> Result<ServerConfig, TlsError> {
    let provider = crypto_provider();

    let chain = read_certificates(CERT_KEY, &settings.cert)?;
    if chain.is_empty() {
        return Err(no_item(CERT_KEY, &settings.cert, "CERTIFICATE"));
    }
    Certificate::from_der(&chain[0]).map_err(|e| {
        TlsError::new(
            CERT_KEY,
            format!(
                "the first certificate in {} is not a valid X.509 certificate: {e}",
                settings.cert.display()
            ),
        )
    })?;
    let key = read_private_key(&settings.key)?;

    let verifier = client_verifier(settings, provider.clone())?;

    let builder = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|e| TlsError::new(CERT_KEY, format!("TLS 1.2/1.3 unavailable: {e}")))?;
    builder
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                TlsError::new(
                    KEY_KEY,
                    format!(
                        "the private key in {} does not match the certificate in {}",
                        settings.key.display(),
                        settings.cert.display()
                    ),
                )
            }
            rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
                TlsError::new(
                    CERT_KEY,
                    format!("{}: unusable certificate: {e}", settings.cert.display()),
                )
            }
            other => TlsError::new(
                KEY_KEY,
                format!("{}: unusable private key: {other}", settings.key.display()),
            ),
        })
}

/// The client-certificate verifier: chains to the CA bundle, optionally checks the CRL file.
fn client_verifier(
    settings: &TlsSettings,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let bundle = read_certificates(CLIENT_CA_KEY, &settings.client_ca)?;
    if bundle.is_empty() {
        return Err(no_item(CLIENT_CA_KEY, &settings.client_ca, "CERTIFICATE"));
    }
    let mut roots = RootCertStore::empty();
    for (index, der) in bundle.into_iter().enumerate() {
        let position = index + 1;
        check_is_ca(&der).map_err(|why| {
            TlsError::new(
                CLIENT_CA_KEY,
                format!(
                    "certificate #{position} in {}: {why}",
                    settings.client_ca.display()
                ),
            )
        })?;
        roots.add(der).map_err(|e| {
            TlsError::new(
                CLIENT_CA_KEY,
                format!(
                    "certificate #{position} in {} is not a usable trust anchor: {e}",
                    settings.client_ca.display()
                ),
            )
        })?;
    }

    let mut builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    if let Some(crl_path) = &settings.crl {
        let crls = CertificateRevocationListDer::pem_file_iter(crl_path)
            .map_err(|e| pem_error(CRL_KEY, crl_path, e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_error(CRL_KEY, crl_path, e))?;
        if crls.is_empty() {
            return Err(no_item(CRL_KEY, crl_path, "X509 CRL"));
        }
        // Only the client's own certificate is checked, and its issuer's CRL must be in the file
        // (unknown status is refused): the CRL operators fetch is the issuing CA's.
        builder = builder.with_crls(crls).only_check_end_entity_revocation();
    }
    builder.build().map_err(|e| match e {
        VerifierBuilderError::InvalidCrl(why) => TlsError::new(
            CRL_KEY,
            format!(
                "{} holds a CRL that cannot be parsed: {why:?}",
                settings.crl.as_deref().unwrap_or(Path::new("")).display()
            ),
        ),
        other => TlsError::new(
            CLIENT_CA_KEY,
            format!("{}: {other}", settings.client_ca.display()),
        ),
    })
}

/// A CA bundle entry must be a CA: a leaf there would mean pinning one TSH certificate.
/// Self-signed certificates without basicConstraints (old v1 roots) are tolerated.
fn check_is_ca(der: &CertificateDer<'_>) -> Result<(), String> {
    let cert =
        Certificate::from_der(der).map_err(|e| format!("not a valid X.509 certificate: {e}"))?;
    let tbs = &cert.tbs_certificate;
    let subject = tbs.subject.to_string();
    match tbs.get::<BasicConstraints>() {
        Ok(Some((_, constraints))) if constraints.ca => Ok(()),
        Ok(Some(_)) => Err(format!(
            "{subject} is not a CA certificate (basicConstraints cA is false); configure the CA \
             that issues TSH's client certificates, never a TSH leaf"
        )),
        Ok(None) if tbs.subject == tbs.issuer => Ok(()),
        Ok(None) => Err(format!(
            "{subject} has no basicConstraints and is not self-signed, so it is not a CA; \
             configure the CA that issues TSH's client certificates, never a TSH leaf"
        )),
        Err(e) => Err(format!("{subject}: unreadable basicConstraints: {e}")),
    }
}

fn read_certificates(
    key: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(key, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(key, path, e))
}

fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        pem::Error::NoItemsFound => no_item(
            KEY_KEY,
            path,
            "PRIVATE KEY (PKCS#8), RSA PRIVATE KEY or EC PRIVATE KEY",
        ),
        other => pem_error(KEY_KEY, path, other),
    })
}

fn pem_error(key: &'static str, path: &Path, error: pem::Error) -> TlsError {
    let message = match error {
        pem::Error::Io(e) => format!("cannot read {}: {e}", path.display()),
        other => format!("{} is not valid PEM: {other}", path.display()),
    };
    TlsError::new(key, message)
}

fn no_item(key: &'static str, path: &Path, what: &str) -> TlsError {
    TlsError::new(key, format!("{} contains no {what} block", path.display()))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, ClientConnection, ProtocolVersion, ServerConnection};

    use super::*;

    /// A CA, a server certificate and a client certificate, written to a temporary directory.
    struct Pki {
        dir: tempfile::TempDir,
        ca_der: CertificateDer<'static>,
        client_chain: Vec<CertificateDer<'static>>,
        client_key: PrivateKeyDer<'static>,
    }

    impl Pki {
        fn new() -> Pki {
            let dir = tempfile::tempdir().unwrap();
            let named = |sans: &[&str], cn: &str| {
                let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
                let mut params = CertificateParams::new(sans).unwrap();
                params.distinguished_name.push(DnType::CommonName, cn);
                params
            };
            let ca_key = KeyPair::generate().unwrap();
            let mut ca_params = named(&[], "test TSH client CA");
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            let ca_cert = ca_params.self_signed(&ca_key).unwrap();
            let ca = Issuer::new(ca_params, ca_key);

            let server_key = KeyPair::generate().unwrap();
            let server_cert = named(&["localhost"], "test server")
                .signed_by(&server_key, &ca)
                .unwrap();
            let client_key = KeyPair::generate().unwrap();
            let client_cert = named(&[], "test TSH client")
                .signed_by(&client_key, &ca)
                .unwrap();

            let write =
                |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
            write("ca.pem", &ca_cert.pem());
            write("server.pem", &server_cert.pem());
            write("server.key", &server_key.serialize_pem());
            write("client.pem", &client_cert.pem());
            write("client.key", &client_key.serialize_pem());
            Pki {
                ca_der: ca_cert.der().clone(),
                client_chain: vec![client_cert.der().clone()],
                client_key: PrivateKeyDer::try_from(client_key.serialize_der()).unwrap(),
                dir,
            }
        }

        fn path(&self, name: &str) -> std::path::PathBuf {
            self.dir.path().join(name)
        }

        fn settings(&self) -> TlsSettings {
            TlsSettings {
                cert: self.path("server.pem"),
                key: self.path("server.key"),
                client_ca: self.path("ca.pem"),
                crl: None,
                handshake_timeout_ms: 3000,
            }
        }

        fn client(&self, version: &'static SupportedProtocolVersion) -> ClientConfig {
            let mut roots = RootCertStore::empty();
            roots.add(self.ca_der.clone()).unwrap();
            ClientConfig::builder_with_provider(crypto_provider())
                .with_protocol_versions(&[version])
                .unwrap()
                .with_root_certificates(roots)
                .with_client_auth_cert(self.client_chain.clone(), self.client_key.clone_key())
                .unwrap()
        }
    }

    /// Runs a handshake in memory; returns the negotiated version.
    fn handshake(client: ClientConfig, server: ServerConfig) -> Result<ProtocolVersion, String> {
        let name = ServerName::try_from("localhost").unwrap();
        let mut client = ClientConnection::new(Arc::new(client), name).unwrap();
        let mut server = ServerConnection::new(Arc::new(server)).unwrap();
        for _ in 0..10 {
            let mut wire = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut wire).unwrap();
            }
            server.read_tls(&mut wire.as_slice()).unwrap();
            server.process_new_packets().map_err(|e| e.to_string())?;
            let mut wire = Vec::new();
            while server.wants_write() {
                server.write_tls(&mut wire).unwrap();
            }
            client.read_tls(&mut wire.as_slice()).unwrap();
            client.process_new_packets().map_err(|e| e.to_string())?;
            if !client.is_handshaking() && !server.is_handshaking() {
                // Prove the channel carries data, then report the version.
                client.writer().write_all(b"ping").unwrap();
                let mut wire = Vec::new();
                client.write_tls(&mut wire).unwrap();
                server.read_tls(&mut wire.as_slice()).unwrap();
                server.process_new_packets().map_err(|e| e.to_string())?;
                let mut got = [0u8; 4];
                server.reader().read_exact(&mut got).unwrap();
                assert_eq!(&got, b"ping");
                return server.protocol_version().ok_or("no version".to_owned());
            }
        }
        Err("handshake did not finish".to_owned())
    }

    /// A TLS 1.1 ClientHello (no supported_versions extension). A pure TLS 1.1 client sends no
    /// signature_algorithms either (a TLS 1.2 extension); `with_signature_algorithms` adds it, as a
    /// client capped at 1.1 by configuration may.
    fn tls11_client_hello(with_signature_algorithms: bool) -> Vec<u8> {
        let mut body = vec![0x03, 0x02]; // client_version: TLS 1.1
        body.extend([0x5a; 32]); // random
        body.push(0); // empty session id
        body.extend([0x00, 0x04, 0xc0, 0x13, 0x00, 0x2f]); // ECDHE-RSA-AES128-SHA, AES128-SHA
        body.extend([0x01, 0x00]); // compression: null only
        if with_signature_algorithms {
            // extensions: signature_algorithms = ecdsa_secp256r1_sha256, rsa_pkcs1_sha256
            body.extend([
                0x00, 0x0a, 0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x04, 0x03, 0x04, 0x01,
            ]);
        }
        let mut handshake = vec![0x01, 0x00, (body.len() >> 8) as u8, body.len() as u8];
        handshake.extend(body);
        let mut record = vec![0x16, 0x03, 0x02];
        record.extend((handshake.len() as u16).to_be_bytes());
        record.extend(handshake);
        record
    }

    #[test]
    fn the_server_offers_only_tls_1_3_and_1_2() {
        let versions: Vec<ProtocolVersion> = PROTOCOL_VERSIONS.iter().map(|v| v.version).collect();
        assert_eq!(
            versions,
            [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2]
        );

        let pki = Pki::new();
        for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
            let server = server_config(&pki.settings()).expect("server config builds");
            let negotiated = handshake(pki.client(version), server)
                .unwrap_or_else(|e| panic!("{:?} handshake: {e}", version.version));
            assert_eq!(negotiated, version.version);
        }
    }

    #[test]
    fn a_tls_1_1_client_hello_is_refused_with_a_fatal_alert() {
        let pki = Pki::new();
        // Alert descriptions: handshake_failure (40), protocol_version (70).
        for (case, with_signature_algorithms, description) in [
            ("pure TLS 1.1 client", false, 40),
            ("client capped at TLS 1.1", true, 70),
        ] {
            let server = server_config(&pki.settings()).unwrap();
            let mut server = ServerConnection::new(Arc::new(server)).unwrap();
            server
                .read_tls(&mut tls11_client_hello(with_signature_algorithms).as_slice())
                .unwrap();
            let error = server.process_new_packets().expect_err("TLS 1.1 refused");
            assert!(
                matches!(error, rustls::Error::PeerIncompatible(_)),
                "{case}: {error:?}"
            );
            let mut alert = Vec::new();
            server.write_tls(&mut alert).unwrap();
            // One record: type alert (21), level fatal (2), then the description.
            assert_eq!(alert.len(), 7, "{case}: {alert:?}");
            assert_eq!(alert[0], 21, "{case}: {alert:?}");
            assert_eq!(&alert[5..], &[2, description], "{case}: {alert:?}");
        }
    }

    #[test]
    fn a_handshake_without_a_client_certificate_is_refused() {
        let pki = Pki::new();
        let mut roots = RootCertStore::empty();
        roots.add(pki.ca_der.clone()).unwrap();
        for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
            let anonymous = ClientConfig::builder_with_provider(crypto_provider())
                .with_protocol_versions(&[version])
                .unwrap()
                .with_root_certificates(roots.clone())
                .with_no_client_auth();
            let error = handshake(anonymous, server_config(&pki.settings()).unwrap())
                .expect_err("no client certificate is refused");
            assert!(
                error.contains("no certificates"),
                "{:?}: {error}",
                version.version
            );
        }
    }

    #[test]
    fn an_unusable_tls_file_is_refused_naming_its_key() {
        let pki = Pki::new();
        let write = |name: &str, text: &str| {
            std::fs::write(pki.path(name), text).unwrap();
            pki.path(name)
        };
        let garbage = write(
            "garbage.pem",
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
        );
        let broken_base64 = write(
            "broken.pem",
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        );
        let empty = write("empty.pem", "");
        let bad_crl = write(
            "bad-crl.pem",
            "-----BEGIN X509 CRL-----\nbm90IGEgY3Js\n-----END X509 CRL-----\n",
        );
        let missing = pki.path("missing.pem");

        type Change = Box<dyn Fn(&mut TlsSettings)>;
        let cases: Vec<(&str, Change, &str, &str)> = vec![
            (
                "missing certificate file",
                Box::new({
                    let p = missing.clone();
                    move |s| s.cert = p.clone()
                }),
                "server.tls.cert",
                "cannot read",
            ),
            (
                "certificate that is not X.509",
                Box::new({
                    let p = garbage.clone();
                    move |s| s.cert = p.clone()
                }),
                "server.tls.cert",
                "not a valid X.509",
            ),
            (
                "certificate PEM with broken base64",
                Box::new({
                    let p = broken_base64.clone();
                    move |s| s.cert = p.clone()
                }),
                "server.tls.cert",
                "not valid PEM",
            ),
            (
                "key file holding a certificate",
                Box::new({
                    let p = pki.path("server.pem");
                    move |s| s.key = p.clone()
                }),
                "server.tls.key",
                "no PRIVATE KEY",
            ),
            (
                "key of another certificate",
                Box::new({
                    let p = pki.path("client.key");
                    move |s| s.key = p.clone()
                }),
                "server.tls.key",
                "does not match",
            ),
            (
                "empty CA bundle",
                Box::new({
                    let p = empty.clone();
                    move |s| s.client_ca = p.clone()
                }),
                "server.tls.client_ca",
                "contains no CERTIFICATE",
            ),
            (
                "a leaf pinned as the CA",
                Box::new({
                    let p = pki.path("client.pem");
                    move |s| s.client_ca = p.clone()
                }),
                "server.tls.client_ca",
                "not a CA",
            ),
            (
                "CRL that cannot be parsed",
                Box::new({
                    let p = bad_crl.clone();
                    move |s| s.crl = Some(p.clone())
                }),
                "server.tls.crl",
                "cannot be parsed",
            ),
            (
                "missing CRL file",
                Box::new({
                    let p = missing.clone();
                    move |s| s.crl = Some(p.clone())
                }),
                "server.tls.crl",
                "cannot read",
            ),
        ];
        for (case, change, key, fragment) in cases {
            let mut settings = pki.settings();
            change(&mut settings);
            let error = server_config(&settings)
                .err()
                .unwrap_or_else(|| panic!("{case}: accepted"));
            assert_eq!(error.key, key, "{case}: {error}");
            assert!(error.message.contains(fragment), "{case}: {error}");
        }
    }
}
