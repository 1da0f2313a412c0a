//! Tests of the key ring and envelope decryption against the openssl-made fixtures (`fixtures/dev-keys/`,
//! `fixtures/cms/`, see `scripts/make-dev-keys.sh` and `scripts/make-cms-vectors.sh`), plus hostile inputs.
//!
//! Owns: the expected outcome of every CMS vector (`CMS_CASES`) and the key-directory error cases.
//! Must not: depend on anything outside `crate::crypto` (it also runs in an isolated scratch crate).

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::{DecryptError, KeyRing, KeyRingError};

/// The crate root holding `fixtures/`: derived from this file's path, so it works both when compiled as part of
/// tsh-issuer (relative `file!()`, resolved against `CARGO_MANIFEST_DIR`) and when included by absolute path
/// from another crate.
fn crate_root() -> PathBuf {
    let this_file = Path::new(file!());
    // src/crypto/tests.rs → three levels up.
    let root = this_file.ancestors().nth(3).unwrap_or(Path::new(""));
    if this_file.is_absolute() {
        root.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(root)
    }
}

fn dev_keys_dir() -> PathBuf {
    crate_root().join("fixtures/dev-keys")
}

fn cms_dir() -> PathBuf {
    crate_root().join("fixtures/cms")
}

fn dev_ring() -> KeyRing {
    let dir = dev_keys_dir();
    KeyRing::load_dir(&dir).unwrap_or_else(|e| panic!("loading {}: {e}", dir.display()))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

enum Expect {
    Plaintext,
    Error(DecryptError),
}

/// Expected outcome of each `fixtures/cms/<case>.b64`; `Plaintext` means "equals `<case>.json`".
const CMS_CASES: &[(&str, Expect)] = &[
    ("01-pkcs1-aes256", Expect::Plaintext),
    ("02-oaep-sha256-aes256", Expect::Plaintext),
    ("03-oaep-sha256-rotation-4096", Expect::Plaintext),
    ("04-pkcs1-ski", Expect::Plaintext),
    ("05-oaep-sha256-ski-rotation", Expect::Plaintext),
    ("06-pkcs1-aes128", Expect::Plaintext),
    ("07-oaep-sha256-aes192", Expect::Plaintext),
    ("08-oaep-sha1-defaults", Expect::Plaintext),
    ("09-ber-indefinite-length", Expect::Plaintext),
    ("10-two-recipients", Expect::Plaintext),
    ("11-bare-enveloped-data", Expect::Plaintext),
    (
        "20-other-recipient",
        Expect::Error(DecryptError::NoMatchingRecipient { recipients: 1 }),
    ),
    (
        "21-truncated",
        Expect::Error(DecryptError::Der {
            context: "BER/DER encoding",
        }),
    ),
    (
        "22-corrupted-content",
        Expect::Error(DecryptError::ContentDecrypt),
    ),
    (
        "23-corrupted-key-oaep",
        Expect::Error(DecryptError::KeyUnwrap),
    ),
    // RFC 3218: a failed PKCS#1 v1.5 unwrap must look like a content failure.
    (
        "24-corrupted-key-pkcs1",
        Expect::Error(DecryptError::ContentDecrypt),
    ),
    (
        "25-oaep-sha384",
        Expect::Error(DecryptError::UnsupportedKeyTransport {
            algorithm: "RSAES-OAEP with SHA-384",
        }),
    ),
    (
        "26-oaep-sha256-mgf1-sha1",
        Expect::Error(DecryptError::UnsupportedKeyTransport {
            algorithm: "RSAES-OAEP whose MGF1 hash differs from its hash",
        }),
    ),
    (
        "27-des3-content",
        Expect::Error(DecryptError::UnsupportedContentCipher {
            algorithm: "des-ede3-cbc (3DES)",
        }),
    ),
    (
        "28-not-enveloped-data",
        Expect::Error(DecryptError::NotEnvelopedData { found: "data" }),
    ),
];

#[test]
fn every_cms_vector_gives_its_expected_outcome() {
    let ring = dev_ring();
    for (case, expect) in CMS_CASES {
        let b64_path = cms_dir().join(format!("{case}.b64"));
        let envelope = read(&b64_path);
        let result = ring.decrypt_envelope(&envelope);
        match expect {
            Expect::Plaintext => {
                let expected = read(&cms_dir().join(format!("{case}.json")));
                match result {
                    Ok(plaintext) => assert_eq!(
                        String::from_utf8_lossy(&plaintext),
                        expected,
                        "fixture {}",
                        b64_path.display()
                    ),
                    Err(e) => panic!(
                        "fixture {}: expected plaintext, got {e:?}",
                        b64_path.display()
                    ),
                }
            }
            Expect::Error(expected) => match result {
                Ok(_) => panic!(
                    "fixture {}: expected {expected:?}, got plaintext",
                    b64_path.display()
                ),
                Err(e) => assert_eq!(&e, expected, "fixture {}", b64_path.display()),
            },
        }
    }
}

#[test]
fn every_cms_fixture_has_an_expected_outcome() {
    let mut on_disk: Vec<String> = fs::read_dir(cms_dir())
        .expect("fixtures/cms")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".b64").map(str::to_owned)
        })
        .collect();
    on_disk.sort();
    let mut in_table: Vec<String> = CMS_CASES
        .iter()
        .map(|(case, _)| (*case).to_owned())
        .collect();
    in_table.sort();
    assert_eq!(on_disk, in_table, "fixtures/cms/*.b64 and CMS_CASES differ");
}

#[test]
fn decryption_errors_never_show_card_data_or_input() {
    let ring = dev_ring();
    for (case, expect) in CMS_CASES {
        if let Expect::Error(_) = expect {
            let envelope = read(&cms_dir().join(format!("{case}.b64")));
            let shown = ring
                .decrypt_envelope(&envelope)
                .expect_err("error case")
                .to_string();
            assert!(!shown.contains("4111"), "{case}: {shown}");
            assert!(
                !shown.contains(envelope.get(..12).unwrap_or_default()),
                "{case}: {shown}"
            );
        }
    }
}

/// Case 01 re-encoded the ways senders get base64 "almost right".
#[test]
fn base64_variants_of_a_valid_envelope_decrypt() {
    let ring = dev_ring();
    let envelope = read(&cms_dir().join("01-pkcs1-aes256.b64"));
    let expected = read(&cms_dir().join("01-pkcs1-aes256.json"));
    let der = base64::engine::general_purpose::STANDARD
        .decode(envelope.trim())
        .expect("fixture base64");

    let wrapped_crlf = envelope
        .trim()
        .as_bytes()
        .chunks(64)
        .map(|line| String::from_utf8_lossy(line).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n");
    let variants = [
        (
            "surrounding whitespace",
            format!("  \n{}\n\t ", envelope.trim()),
        ),
        ("wrapped at 64 with CRLF", wrapped_crlf),
        (
            "standard alphabet without padding",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(&der),
        ),
        (
            "URL-safe alphabet with padding",
            base64::engine::general_purpose::URL_SAFE.encode(&der),
        ),
        (
            "URL-safe alphabet without padding",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&der),
        ),
    ];
    for (name, variant) in variants {
        let plaintext = ring
            .decrypt_envelope(&variant)
            .unwrap_or_else(|e| panic!("variant {name}: {e:?}"));
        assert_eq!(
            String::from_utf8_lossy(&plaintext),
            expected,
            "variant {name}"
        );
    }
}

#[test]
fn hostile_inputs_are_errors_not_panics() {
    let ring = dev_ring();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    // ContentInfo { signedData, [0] { SEQUENCE {} } }
    let signed_data = [
        0x30, 0x0F, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02, 0xA0, 0x02,
        0x30, 0x00,
    ];
    let max = KeyRing::MAX_ENVELOPE_BASE64_LEN;
    let cases: Vec<(&str, String, DecryptError)> = vec![
        ("empty string", String::new(), DecryptError::Empty),
        ("only whitespace", " \r\n\t".into(), DecryptError::Empty),
        (
            "garbage base64",
            "!!! not base64 !!!".into(),
            DecryptError::Base64,
        ),
        ("mixed alphabets", "ab+c-def".into(), DecryptError::Base64),
        ("impossible length", "A".into(), DecryptError::Base64),
        (
            "base64 of text",
            b64(b"this is not DER at all"),
            DecryptError::Der {
                context: "BER/DER encoding",
            },
        ),
        (
            "base64 of an empty SEQUENCE",
            b64(&[0x30, 0x00]),
            DecryptError::Der {
                context: "ContentInfo or EnvelopedData",
            },
        ),
        (
            "a ContentInfo of another content type",
            b64(&signed_data),
            DecryptError::NotEnvelopedData {
                found: "signedData",
            },
        ),
        (
            "one character over the limit",
            "A".repeat(max + 1),
            DecryptError::TooLarge { len: max + 1, max },
        ),
        (
            "a megabyte",
            "A".repeat(1024 * 1024),
            DecryptError::TooLarge {
                len: 1024 * 1024,
                max,
            },
        ),
        (
            "exactly the limit is decoded (and is not DER)",
            "A".repeat(max),
            DecryptError::Der {
                context: "BER/DER encoding",
            },
        ),
    ];
    for (name, input, expected) in cases {
        assert_eq!(ring.decrypt_envelope(&input), Err(expected), "case: {name}");
    }
}

#[test]
fn every_truncation_of_a_valid_envelope_is_refused() {
    let ring = dev_ring();
    let der = base64::engine::general_purpose::STANDARD
        .decode(read(&cms_dir().join("02-oaep-sha256-aes256.b64")).trim())
        .expect("fixture base64");
    for len in 0..der.len() {
        let input =
            base64::engine::general_purpose::STANDARD.encode(der.get(..len).unwrap_or_default());
        assert!(
            ring.decrypt_envelope(&input).is_err(),
            "truncated to {len} of {} bytes",
            der.len()
        );
    }
}

#[test]
fn every_single_byte_corruption_is_handled_without_panicking() {
    let ring = dev_ring();
    for case in ["02-oaep-sha256-aes256", "09-ber-indefinite-length"] {
        let der = base64::engine::general_purpose::STANDARD
            .decode(read(&cms_dir().join(format!("{case}.b64"))).trim())
            .expect("fixture base64");
        let mut accepted = 0;
        for position in 0..der.len() {
            let mut mutated = der.clone();
            if let Some(byte) = mutated.get_mut(position) {
                *byte ^= 0xFF;
            }
            let input = base64::engine::general_purpose::STANDARD.encode(&mutated);
            // CBC has no integrity and some fields (e.g. the inner content type) are not used: a flipped IV,
            // ciphertext or content-type byte can still give plaintext. What must never happen is a panic.
            if ring.decrypt_envelope(&input).is_ok() {
                accepted += 1;
            }
        }
        // IV, a few ciphertext blocks and the inner content type: well under a quarter of the envelope.
        assert!(
            accepted < der.len() / 4,
            "{case}: {accepted} of {} corruptions accepted",
            der.len()
        );
    }
}

#[test]
fn a_corrupted_iv_changes_the_first_block_only() {
    let ring = dev_ring();
    let expected = read(&cms_dir().join("02-oaep-sha256-aes256.json"));
    let der = base64::engine::general_purpose::STANDARD
        .decode(read(&cms_dir().join("02-oaep-sha256-aes256.b64")).trim())
        .expect("fixture base64");
    // The IV is the 16-byte OCTET STRING right after the aes256-CBC OID (06 09 60 86 48 01 65 03 04 01 2A).
    let oid = [
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2A, 0x04, 0x10,
    ];
    let iv_start = der
        .windows(oid.len())
        .position(|w| w == oid)
        .expect("aes256-CBC with IV")
        + oid.len();
    let mut mutated = der.clone();
    if let Some(byte) = mutated.get_mut(iv_start) {
        *byte ^= 0x01;
    }
    let plaintext = ring
        .decrypt_envelope(&base64::engine::general_purpose::STANDARD.encode(&mutated))
        .expect("CBC has no integrity");
    assert_eq!(plaintext.len(), expected.len());
    assert_eq!(plaintext.first().map(|b| b ^ 0x01), expected.bytes().next());
    assert_eq!(plaintext.get(1..), expected.as_bytes().get(1..));
}

#[test]
fn dev_key_directory_loads_both_rotation_keys() {
    let ring = dev_ring();
    assert_eq!(ring.names(), vec!["issuer-dev", "issuer-dev-2026b"]);
    assert_eq!(ring.len(), 2);
    assert!(!ring.is_empty());
    let fingerprints = ring.certificate_fingerprints();
    assert_eq!(fingerprints.len(), 2);
    for (name, sha256) in &fingerprints {
        assert_eq!(sha256.len(), 64, "{name}");
        assert!(sha256.chars().all(|c| c.is_ascii_hexdigit()), "{name}");
    }
    assert_ne!(fingerprints[0].1, fingerprints[1].1);
    let shown = format!("{ring:?}");
    assert!(shown.contains("issuer-dev-2026b (RSA 4096"), "{shown}");
    assert!(!shown.contains("PRIVATE"), "{shown}");
}

/// Builds a key directory in a temp dir from `(target name, source path)` copies.
fn key_dir(files: &[(&str, PathBuf)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, source) in files {
        fs::copy(source, dir.path().join(name))
            .unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
    }
    dir
}

fn dev(file: &str) -> PathBuf {
    dev_keys_dir().join(file)
}

fn cms(file: &str) -> PathBuf {
    cms_dir().join(file)
}

#[test]
fn a_ring_without_the_new_key_cannot_open_envelopes_for_it() {
    let dir = key_dir(&[
        ("issuer-dev.crt", dev("issuer-dev.crt")),
        ("issuer-dev.key", dev("issuer-dev.key")),
    ]);
    let ring = KeyRing::load_dir(dir.path()).expect("one pair");
    assert_eq!(ring.names(), vec!["issuer-dev"]);
    let envelope = read(&cms("03-oaep-sha256-rotation-4096.b64"));
    assert_eq!(
        ring.decrypt_envelope(&envelope),
        Err(DecryptError::NoMatchingRecipient { recipients: 1 })
    );
    let envelope = read(&cms("02-oaep-sha256-aes256.b64"));
    assert!(ring.decrypt_envelope(&envelope).is_ok());
}

#[test]
fn unrelated_and_hidden_files_are_ignored() {
    let dir = key_dir(&[
        ("issuer-dev.crt", dev("issuer-dev.crt")),
        ("issuer-dev.key", dev("issuer-dev.key")),
        ("README.md", dev("README.md")),
        (".orphan.crt", dev("issuer-dev-2026b.crt")),
    ]);
    fs::create_dir(dir.path().join("..data")).expect("mkdir");
    let ring = KeyRing::load_dir(dir.path()).expect("one pair");
    assert_eq!(ring.names(), vec!["issuer-dev"]);
}

#[test]
fn bad_key_directories_are_refused_with_the_file_and_reason() {
    let garbage = {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("garbage.pem");
        fs::write(
            &path,
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let key = dir.path().join("garbage-key.pem");
        fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
        )
        .expect("write");
        (dir, path, key)
    };
    /// (case name, files of the key directory, expected error, text the error must mention)
    type Case = (
        &'static str,
        Vec<(&'static str, PathBuf)>,
        fn(&KeyRingError) -> bool,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "empty directory",
            vec![],
            |e| matches!(e, KeyRingError::Empty { .. }),
            "holds no",
        ),
        (
            "only unrelated files",
            vec![("README.md", dev("README.md"))],
            |e| matches!(e, KeyRingError::Empty { .. }),
            "holds no",
        ),
        (
            "certificate without key",
            vec![
                ("issuer-dev.crt", dev("issuer-dev.crt")),
                ("issuer-dev.key", dev("issuer-dev.key")),
                ("lonely.crt", dev("issuer-dev-2026b.crt")),
            ],
            |e| matches!(e, KeyRingError::MissingKey { .. }),
            "lonely.key",
        ),
        (
            "key without certificate",
            vec![("lonely.key", dev("issuer-dev.key"))],
            |e| matches!(e, KeyRingError::MissingCertificate { .. }),
            "lonely.crt",
        ),
        (
            "key of another certificate",
            vec![
                ("mixed.crt", dev("issuer-dev.crt")),
                ("mixed.key", cms("other-recipient.key")),
            ],
            |e| matches!(e, KeyRingError::KeyMismatch { .. }),
            "mixed.key",
        ),
        (
            "RSA 1024",
            vec![
                ("small.crt", cms("bad-keys/rsa-1024.crt")),
                ("small.key", cms("bad-keys/rsa-1024.key")),
            ],
            |e| matches!(e, KeyRingError::UnsupportedKeySize { bits: 1024, .. }),
            "small.crt",
        ),
        (
            "RSA 8192",
            vec![
                ("big.crt", cms("bad-keys/rsa-8192.crt")),
                ("big.key", cms("bad-keys/rsa-8192.key")),
            ],
            |e| matches!(e, KeyRingError::UnsupportedKeySize { bits: 8192, .. }),
            "big.crt",
        ),
        (
            "unparsable certificate",
            vec![
                ("broken.crt", garbage.1.clone()),
                ("broken.key", dev("issuer-dev.key")),
            ],
            |e| matches!(e, KeyRingError::InvalidCertificate { .. }),
            "broken.crt",
        ),
        (
            "certificate file holding a key",
            vec![
                ("swapped.crt", dev("issuer-dev.key")),
                ("swapped.key", dev("issuer-dev.key")),
            ],
            |e| matches!(e, KeyRingError::InvalidCertificate { .. }),
            "swapped.crt",
        ),
        (
            "unparsable key",
            vec![
                ("broken.crt", dev("issuer-dev.crt")),
                ("broken.key", garbage.2.clone()),
            ],
            |e| matches!(e, KeyRingError::InvalidKey { .. }),
            "broken.key",
        ),
        (
            "key file holding a certificate",
            vec![
                ("swapped.crt", dev("issuer-dev.crt")),
                ("swapped.key", dev("issuer-dev.crt")),
            ],
            |e| matches!(e, KeyRingError::InvalidKey { .. }),
            "swapped.key",
        ),
        (
            "the same certificate twice",
            vec![
                ("a.crt", dev("issuer-dev.crt")),
                ("a.key", dev("issuer-dev.key")),
                ("b.crt", dev("issuer-dev.crt")),
                ("b.key", dev("issuer-dev.key")),
            ],
            |e| matches!(e, KeyRingError::DuplicateCertificate { .. }),
            "b.crt",
        ),
    ];
    for (name, files, check, mentions) in cases {
        let dir = key_dir(&files);
        let err = KeyRing::load_dir(dir.path()).expect_err(name);
        assert!(check(&err), "case {name}: got {err:?}");
        let shown = err.to_string();
        assert!(
            shown.contains(mentions),
            "case {name}: {shown:?} should mention {mentions}"
        );
        assert!(
            !shown.contains("MII"),
            "case {name}: {shown:?} shows base64 key material"
        );
    }
}

#[test]
fn a_missing_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-dir");
    let err = KeyRing::load_dir(&missing).expect_err("missing dir");
    assert!(matches!(err, KeyRingError::ReadDir { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-dir"), "{err}");
}

#[test]
fn an_encrypted_private_key_is_refused_with_advice() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::copy(dev("issuer-dev.crt"), dir.path().join("enc.crt")).expect("copy");
    fs::write(
        dir.path().join("enc.key"),
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nbm90IGEga2V5\n-----END ENCRYPTED PRIVATE KEY-----\n",
    )
    .expect("write");
    let err = KeyRing::load_dir(dir.path()).expect_err("encrypted key");
    assert!(matches!(err, KeyRingError::InvalidKey { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("encrypted private keys are not supported"),
        "{err}"
    );
}
