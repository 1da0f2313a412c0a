//! The issuer's card-data decryption keys (spec §2): a directory of `NAME.crt` + `NAME.key` PEM pairs, several
//! of which may be live at once during a rotation.
//!
//! Owns: reading and validating the key directory ([`KeyRing::load_dir`]), [`KeyRingError`], and the public
//! entry point [`KeyRing::decrypt_envelope`] (the CMS work itself is in `envelope.rs`).
//!
//! Must not: accept a key whose certificate does not match it, an RSA size outside 2048..=4096, or a half pair;
//! print key material (errors name the file and the reason only; `Debug` shows names and sizes); keep decoded
//! private-key bytes outside `Zeroizing` buffers.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::PrivateDecryptingKey;
use cms::enveloped_data::RecipientIdentifier;
use der::asn1::{ObjectIdentifier, OctetStringRef, UintRef};
use der::{Decode, Encode, Header, Reader as _, SliceReader, Tag};
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};
use x509_cert::Certificate;
use zeroize::Zeroizing;

pub use super::envelope::DecryptError;

/// RSA sizes accepted for issuer keys (spec §2: 2048 or 4096; 3072 is let through).
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=4096;
/// Key and certificate files are small; anything bigger is a mistake (or not a PEM file).
const MAX_PEM_FILE_LEN: u64 = 1024 * 1024;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_CE_SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");

/// Why the key directory could not be loaded. Every variant names the file (or directory) and the reason;
/// none carries key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRingError {
    #[error("cannot read key directory {}: {source}", dir.display())]
    ReadDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: file name is not valid UTF-8", path.display())]
    NonUtf8FileName { path: PathBuf },
    #[error("{}: larger than {max} bytes, not a PEM key or certificate", path.display())]
    FileTooLarge { path: PathBuf, max: u64 },
    #[error("key directory {} holds no NAME.crt + NAME.key pair", dir.display())]
    Empty { dir: PathBuf },
    #[error("{}: certificate without its private key (expected {})", cert.display(), expected.display())]
    MissingKey { cert: PathBuf, expected: PathBuf },
    #[error("{}: private key without its certificate (expected {})", key.display(), expected.display())]
    MissingCertificate { key: PathBuf, expected: PathBuf },
    #[error("{}: invalid certificate: {reason}", path.display())]
    InvalidCertificate { path: PathBuf, reason: String },
    #[error("{}: invalid private key: {reason}", path.display())]
    InvalidKey { path: PathBuf, reason: String },
    #[error("{}: RSA key of {bits} bits; only 2048 to 4096 bits are accepted", path.display())]
    UnsupportedKeySize { path: PathBuf, bits: usize },
    #[error("{}: private key does not match the public key of {}", key.display(), cert.display())]
    KeyMismatch { key: PathBuf, cert: PathBuf },
    #[error("{}: same issuer and serial number as {}, so recipients would be ambiguous", path.display(), other.display())]
    DuplicateCertificate { path: PathBuf, other: PathBuf },
}

/// One loaded key: the private key and what identifies its certificate in a recipient info.
#[derive(Clone)]
pub(crate) struct LoadedKey {
    pub(crate) name: String,
    pub(crate) key: PrivateDecryptingKey,
    issuer: Name,
    serial: SerialNumber,
    subject_key_id: Vec<u8>,
    bits: usize,
    cert_sha256: String,
    cert_path: PathBuf,
}

impl LoadedKey {
    /// True when a KeyTransRecipientInfo's `rid` designates this key's certificate.
    pub(crate) fn is_named_by(&self, rid: &RecipientIdentifier) -> bool {
        match rid {
            RecipientIdentifier::IssuerAndSerialNumber(ias) => {
                ias.serial_number == self.serial && ias.issuer == self.issuer
            }
            RecipientIdentifier::SubjectKeyIdentifier(ski) => {
                ski.0.as_bytes() == self.subject_key_id.as_slice()
            }
        }
    }
}

/// The live issuer decryption keys. Cheap to share (`Arc` it); `Send + Sync`.
#[derive(Clone)]
pub struct KeyRing {
    /// Sorted by name; a recipient is matched against them in that order.
    keys: Vec<LoadedKey>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.keys
                    .iter()
                    .map(|k| format!("{} (RSA {}, cert sha256 {})", k.name, k.bits, k.cert_sha256)),
            )
            .finish()
    }
}

impl KeyRing {
    /// Longest base64 envelope [`KeyRing::decrypt_envelope`] accepts (checked before decoding).
    pub const MAX_ENVELOPE_BASE64_LEN: usize = super::envelope::MAX_ENVELOPE_BASE64_LEN;

    /// Loads every `NAME.crt` + `NAME.key` pair of `dir` (certificate: X.509 PEM; key: PKCS#8 `PRIVATE KEY` or
    /// PKCS#1 `RSA PRIVATE KEY`, unencrypted). Other files and dot-files (e.g. Kubernetes' `..data`) are ignored.
    ///
    /// # Errors
    /// A half pair, an unreadable or unparsable file, a key that does not match its certificate, an RSA size
    /// outside 2048..=4096, two certificates with the same issuer and serial, or no pair at all.
    pub fn load_dir(dir: &Path) -> Result<KeyRing, KeyRingError> {
        let read_dir_error = |source| KeyRingError::ReadDir {
            dir: dir.to_path_buf(),
            source,
        };
        let mut pairs: BTreeMap<String, (Option<PathBuf>, Option<PathBuf>)> = BTreeMap::new();
        for entry in fs::read_dir(dir).map_err(read_dir_error)? {
            let path = entry.map_err(read_dir_error)?.path();
            let Some(file_name) = path.file_name() else {
                continue;
            };
            let Some(file_name) = file_name.to_str() else {
                // Only refuse a non-UTF-8 name that looks like one of ours; ignore other strays.
                let lossy = file_name.to_string_lossy();
                if lossy.ends_with(".crt") || lossy.ends_with(".key") {
                    return Err(KeyRingError::NonUtf8FileName { path });
                }
                continue;
            };
            if file_name.starts_with('.') {
                continue;
            }
            let (stem, is_cert) = if let Some(stem) = file_name.strip_suffix(".crt") {
                (stem, true)
            } else if let Some(stem) = file_name.strip_suffix(".key") {
                (stem, false)
            } else {
                tracing::debug!(file = %path.display(), "key directory: ignoring a file that is not NAME.crt or NAME.key");
                continue;
            };
            // `metadata` follows symlinks (Kubernetes secret volumes are symlinks).
            let is_file = fs::metadata(&path)
                .map_err(|source| KeyRingError::ReadFile {
                    path: path.clone(),
                    source,
                })?
                .is_file();
            if !is_file || stem.is_empty() {
                continue;
            }
            let slot = pairs.entry(stem.to_owned()).or_default();
            if is_cert {
                slot.0 = Some(path);
            } else {
                slot.1 = Some(path);
            }
        }
        if pairs.is_empty() {
            return Err(KeyRingError::Empty {
                dir: dir.to_path_buf(),
            });
        }

        let mut keys: Vec<LoadedKey> = Vec::with_capacity(pairs.len());
        for (name, paths) in pairs {
            let (cert_path, key_path) = match paths {
                (Some(cert), Some(key)) => (cert, key),
                (Some(cert), None) => {
                    return Err(KeyRingError::MissingKey {
                        expected: dir.join(format!("{name}.key")),
                        cert,
                    })
                }
                (None, Some(key)) => {
                    return Err(KeyRingError::MissingCertificate {
                        expected: dir.join(format!("{name}.crt")),
                        key,
                    })
                }
                (None, None) => continue,
            };
            let loaded = load_pair(name, &cert_path, &key_path)?;
            if let Some(other) = keys
                .iter()
                .find(|k| k.issuer == loaded.issuer && k.serial == loaded.serial)
            {
                return Err(KeyRingError::DuplicateCertificate {
                    path: cert_path,
                    other: other.cert_path.clone(),
                });
            }
            keys.push(loaded);
        }
        Ok(KeyRing { keys })
    }

    /// Names of the loaded keys (file stems), sorted.
    pub fn names(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.name.clone()).collect()
    }

    /// Number of loaded keys (never 0 for a ring built by [`KeyRing::load_dir`]).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false for a ring built by [`KeyRing::load_dir`]; present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// `(name, lowercase hex SHA-256 of the certificate DER)` per key, sorted by name: for start-up logs and
    /// for checking which certificate TSH was given. Certificates are public; this reveals nothing secret.
    pub fn certificate_fingerprints(&self) -> Vec<(String, String)> {
        self.keys
            .iter()
            .map(|k| (k.name.clone(), k.cert_sha256.clone()))
            .collect()
    }

    /// Decrypts a base64 CMS EnvelopedData (`cipheredCardInfo`, `authenticationValue`) addressed to one of the
    /// loaded certificates. Accepts a ContentInfo or a bare EnvelopedData, DER or BER, base64 in the standard or
    /// URL-safe alphabet with or without padding and line breaks, up to
    /// [`KeyRing::MAX_ENVELOPE_BASE64_LEN`] characters.
    ///
    /// # Errors
    /// See [`DecryptError`]. Answer all of them the same way to the caller (spec: 400 / 166).
    pub fn decrypt_envelope(&self, b64: &str) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        super::envelope::open(&self.keys, b64)
    }
}

fn load_pair(name: String, cert_path: &Path, key_path: &Path) -> Result<LoadedKey, KeyRingError> {
    let invalid_cert = |reason: String| KeyRingError::InvalidCertificate {
        path: cert_path.to_path_buf(),
        reason,
    };
    let invalid_key = |reason: String| KeyRingError::InvalidKey {
        path: key_path.to_path_buf(),
        reason,
    };

    // Certificate.
    let cert_text = read_small_file(cert_path)?;
    let (_, cert_der) = decode_pem(&cert_text, &["CERTIFICATE"]).map_err(invalid_cert)?;
    let cert = Certificate::from_der(&cert_der).map_err(|e| invalid_cert(e.to_string()))?;
    let tbs = &cert.tbs_certificate;
    let spki = &tbs.subject_public_key_info;
    if spki.algorithm.oid != RSA_ENCRYPTION {
        return Err(invalid_cert("the public key is not an RSA key".into()));
    }
    let cert_public_key = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| invalid_cert("the public key bit string is not octet-aligned".into()))?;
    let bits = rsa_modulus_bits(cert_public_key)
        .ok_or_else(|| invalid_cert("the RSA public key is malformed".into()))?;
    if !RSA_BITS.contains(&bits) {
        return Err(KeyRingError::UnsupportedKeySize {
            path: cert_path.to_path_buf(),
            bits,
        });
    }
    let subject_key_id = subject_key_id(&cert, cert_public_key).map_err(invalid_cert)?;
    warn_if_outside_validity(&name, &cert);

    // Private key.
    let key_text = Zeroizing::new(read_small_file(key_path)?);
    let (label, key_der) =
        decode_pem(&key_text, &["PRIVATE KEY", "RSA PRIVATE KEY"]).map_err(invalid_key)?;
    let pkcs8 = if label == "RSA PRIVATE KEY" {
        pkcs1_to_pkcs8(&key_der).map_err(|_| invalid_key("malformed PKCS#1 RSA key".into()))?
    } else {
        key_der
    };
    let key = PrivateDecryptingKey::from_pkcs8(&pkcs8)
        .map_err(|e| invalid_key(format!("not a usable RSA private key ({e})")))?;
    let key_public_der = key
        .public_key()
        .as_der()
        .map_err(|_| invalid_key("cannot derive its public key".into()))?;
    let key_public = SubjectPublicKeyInfoRef::from_der(key_public_der.as_ref())
        .map_err(|_| invalid_key("cannot derive its public key".into()))?;
    if key_public.subject_public_key.as_bytes() != Some(cert_public_key) {
        return Err(KeyRingError::KeyMismatch {
            key: key_path.to_path_buf(),
            cert: cert_path.to_path_buf(),
        });
    }

    Ok(LoadedKey {
        name,
        key,
        issuer: tbs.issuer.clone(),
        serial: tbs.serial_number.clone(),
        subject_key_id,
        bits,
        cert_sha256: hex::encode(digest::digest(&digest::SHA256, &cert_der)),
        cert_path: cert_path.to_path_buf(),
    })
}

fn read_small_file(path: &Path) -> Result<String, KeyRingError> {
    let read_error = |source| KeyRingError::ReadFile {
        path: path.to_path_buf(),
        source,
    };
    let file = fs::File::open(path).map_err(read_error)?;
    // Pre-sized so that reading does not reallocate (which would leave unzeroized copies of a key file).
    let expected_len = file
        .metadata()
        .map(|m| m.len().min(MAX_PEM_FILE_LEN))
        .unwrap_or(0);
    let mut text = String::with_capacity(usize::try_from(expected_len).unwrap_or(0) + 64);
    // Read one byte past the limit to detect an oversized file without trusting metadata.
    let read = file
        .take(MAX_PEM_FILE_LEN + 1)
        .read_to_string(&mut text)
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::InvalidData {
                KeyRingError::ReadFile {
                    path: path.to_path_buf(),
                    source: std::io::Error::new(source.kind(), "not UTF-8 text (expected PEM)"),
                }
            } else {
                read_error(source)
            }
        })?;
    if u64::try_from(read).unwrap_or(u64::MAX) > MAX_PEM_FILE_LEN {
        return Err(KeyRingError::FileTooLarge {
            path: path.to_path_buf(),
            max: MAX_PEM_FILE_LEN,
        });
    }
    Ok(text)
}

/// Finds the first PEM block whose label is one of `labels` (text around it, e.g. openssl's "Bag Attributes"
/// or a following chain, is ignored) and returns its label and decoded DER (in a zeroizing buffer).
fn decode_pem(text: &str, labels: &[&str]) -> Result<(String, Zeroizing<Vec<u8>>), String> {
    const BEGIN: &str = "-----BEGIN ";
    let mut rest = text;
    let mut seen: Option<String> = None;
    while let Some(start) = rest.find(BEGIN) {
        let block = rest.get(start..).unwrap_or_default();
        let after_begin = block.get(BEGIN.len()..).unwrap_or_default();
        let Some(label_end) = after_begin.find("-----") else {
            break;
        };
        let label = after_begin.get(..label_end).unwrap_or_default();
        let end_marker = format!("-----END {label}-----");
        let Some(end) = block.find(&end_marker) else {
            return Err(format!("PEM block \"{label}\" has no END line"));
        };
        if labels.contains(&label) {
            let pem = block.get(..end + end_marker.len()).unwrap_or_default();
            return match pem_rfc7468::decode_vec(pem.as_bytes()) {
                Ok((_, der)) => Ok((label.to_owned(), Zeroizing::new(der))),
                Err(e) => Err(format!("malformed PEM ({e})")),
            };
        }
        seen.get_or_insert_with(|| label.to_owned());
        rest = block.get(end + end_marker.len()..).unwrap_or_default();
    }
    match seen {
        Some(label) if label == "ENCRYPTED PRIVATE KEY" => {
            Err("encrypted private keys are not supported; store it unencrypted with tight file permissions".into())
        }
        Some(label) => Err(format!(
            "PEM block \"{label}\" found where {} was expected",
            labels.join(" or ")
        )),
        None => Err(format!("no PEM block ({} expected)", labels.join(" or "))),
    }
}

/// Wraps a PKCS#1 RSAPrivateKey into a PKCS#8 PrivateKeyInfo (aws-lc-rs reads PKCS#8 only).
fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> der::Result<Zeroizing<Vec<u8>>> {
    let version = 0u8;
    let algorithm = AlgorithmIdentifierRef {
        oid: RSA_ENCRYPTION,
        parameters: Some(der::asn1::AnyRef::NULL),
    };
    let private_key = OctetStringRef::new(pkcs1)?;
    let body_len =
        (version.encoded_len()? + algorithm.encoded_len()?)? + private_key.encoded_len()?;
    let header = Header::new(Tag::Sequence, body_len?)?;
    let total: usize = (header.encoded_len()? + body_len?)?.try_into()?;
    // Sized up front so the buffer never reallocates (a reallocation would leave an unzeroized copy).
    let mut out = Zeroizing::new(Vec::with_capacity(total));
    header.encode_to_vec(&mut out)?;
    version.encode_to_vec(&mut out)?;
    algorithm.encode_to_vec(&mut out)?;
    private_key.encode_to_vec(&mut out)?;
    Ok(out)
}

/// Size in bits of the modulus of a DER RSAPublicKey.
fn rsa_modulus_bits(rsa_public_key: &[u8]) -> Option<usize> {
    let mut reader = SliceReader::new(rsa_public_key).ok()?;
    let modulus = reader
        .sequence(|seq| {
            let modulus = UintRef::decode(seq)?;
            let _exponent = UintRef::decode(seq)?;
            Ok(modulus)
        })
        .ok()?;
    let bytes = modulus.as_bytes();
    let first = *bytes.first()?;
    Some((bytes.len() - 1) * 8 + (8 - first.leading_zeros() as usize))
}

/// The certificate's subjectKeyIdentifier extension, or RFC 5280 method 1 (SHA-1 of the public key) if absent.
fn subject_key_id(cert: &Certificate, public_key: &[u8]) -> Result<Vec<u8>, String> {
    let extension = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|ext| ext.extn_id == ID_CE_SUBJECT_KEY_IDENTIFIER);
    match extension {
        Some(ext) => SubjectKeyIdentifier::from_der(ext.extn_value.as_bytes())
            .map(|ski| ski.0.as_bytes().to_vec())
            .map_err(|e| format!("malformed subjectKeyIdentifier ({e})")),
        None => Ok(
            digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, public_key)
                .as_ref()
                .to_vec(),
        ),
    }
}

/// Decryption works with an expired certificate, but TSH will refuse to encrypt to it: say so at start-up.
fn warn_if_outside_validity(name: &str, cert: &Certificate) {
    let Ok(now) = SystemTime::now().duration_since(UNIX_EPOCH) else {
        return;
    };
    let validity = &cert.tbs_certificate.validity;
    if now > validity.not_after.to_unix_duration() {
        tracing::warn!(key = name, not_after = %validity.not_after, "issuer encryption certificate has expired");
    } else if now < validity.not_before.to_unix_duration() {
        tracing::warn!(key = name, not_before = %validity.not_before, "issuer encryption certificate is not yet valid");
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn key_ring_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<KeyRing>();
    }

    #[test]
    fn pem_decoding_skips_unrelated_blocks_and_reports_what_it_found() {
        let der = [0x30, 0x03, 0x02, 0x01, 0x05];
        let block = |label: &str| {
            pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, &der).expect("encode")
        };
        let text = format!(
            "Bag Attributes\n{}{}",
            block("EC PARAMETERS"),
            block("PRIVATE KEY")
        );
        let (label, decoded) = decode_pem(&text, &["RSA PRIVATE KEY", "PRIVATE KEY"]).expect("pem");
        assert_eq!(label, "PRIVATE KEY");
        assert_eq!(decoded.as_slice(), der.as_slice());

        let encrypted = block("ENCRYPTED PRIVATE KEY");
        let err = decode_pem(&encrypted, &["PRIVATE KEY"]).expect_err("encrypted key");
        assert!(
            err.contains("encrypted private keys are not supported"),
            "{err}"
        );

        let err = decode_pem("not pem at all", &["CERTIFICATE"]).expect_err("no pem");
        assert!(err.contains("no PEM block"), "{err}");

        let err = decode_pem("-----BEGIN CERTIFICATE-----\nAAAA\n", &["CERTIFICATE"])
            .expect_err("no end line");
        assert!(err.contains("no END line"), "{err}");
    }

    #[test]
    fn modulus_size_is_counted_in_significant_bits() {
        // SEQUENCE { INTEGER 0x00FF.. (leading zero for sign), INTEGER 3 }: a 16-bit modulus 0xFFFF.
        let key = [0x30, 0x08, 0x02, 0x03, 0x00, 0xFF, 0xFF, 0x02, 0x01, 0x03];
        assert_eq!(rsa_modulus_bits(&key), Some(16));
        let key = [0x30, 0x07, 0x02, 0x02, 0x01, 0x00, 0x02, 0x01, 0x03];
        assert_eq!(rsa_modulus_bits(&key), Some(9));
        assert_eq!(rsa_modulus_bits(&[0x30, 0x00]), None);
    }
}
