//! Opening a CMS EnvelopedData (RFC 5652 §6) addressed to one of the key ring's keys (spec §2).
//!
//! Owns: base64 decoding with its size limit, ContentInfo/EnvelopedData parsing, recipient selection, the
//! key-transport algorithms (RSAES-PKCS1-v1_5; RSAES-OAEP with SHA-256/MGF1-SHA-256 or the SHA-1 defaults), the
//! content ciphers (AES-128/192/256-CBC, PKCS#7 padding) and [`DecryptError`].
//!
//! Must not: panic on any input, put input or output bytes in an error, or leave the content-encryption key or
//! the plaintext in memory it does not zeroize. Loading keys is `keyring.rs`'s job; this file only uses them.
//!
//! PKCS#1 v1.5 and Bleichenbacher: a failed or wrong-length PKCS#1 v1.5 key unwrap is *not* reported as such.
//! As RFC 3218 §2.3.2 recommends, decryption carries on with a random content key and the failure surfaces as
//! [`DecryptError::ContentDecrypt`], exactly like a corrupted content. Callers must still answer every
//! `DecryptError` the same way to TSH (spec: 400 / 166).

use aws_lc_rs::cipher::{
    self, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey, AES_128_KEY_LEN,
    AES_192_KEY_LEN, AES_256_KEY_LEN, AES_CBC_IV_LEN,
};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{
    OaepAlgorithm, OaepPrivateDecryptingKey, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey,
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256,
};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use cms::content_info::ContentInfo;
use cms::enveloped_data::{EnvelopedData, KeyTransRecipientInfo, RecipientInfo};
use der::asn1::{ContextSpecific, ObjectIdentifier, OctetString};
use der::{Decode, DecodeValue, FixedTag, Header, Reader, Tag, TagNumber};
use x509_cert::spki::AlgorithmIdentifierOwned;
use zeroize::Zeroizing;

use super::ber;
use super::keyring::LoadedKey;

/// Longest base64 envelope accepted, checked before decoding (spec: `cipheredCardInfo` ≤ 8196 chars).
pub(crate) const MAX_ENVELOPE_BASE64_LEN: usize = 16 * 1024;

/// Why an envelope could not be opened. No variant carries input bytes, plaintext or key material: the
/// `&'static str` fields come from this module's own vocabulary.
///
/// A failed RSAES-PKCS1-v1_5 unwrap is reported as [`DecryptError::ContentDecrypt`], never
/// [`DecryptError::KeyUnwrap`] (RFC 3218 §2.3.2, against Bleichenbacher-style oracles).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The base64 text is longer than [`KeyRing::MAX_ENVELOPE_BASE64_LEN`](super::KeyRing::MAX_ENVELOPE_BASE64_LEN).
    #[error("envelope is {len} bytes long, more than the {max} accepted")]
    TooLarge { len: usize, max: usize },
    /// Empty (or whitespace-only) input.
    #[error("envelope is empty")]
    Empty,
    /// Not base64 (standard or URL-safe alphabet, padding optional).
    #[error("envelope is not valid base64")]
    Base64,
    /// Not a well-formed BER/DER CMS structure.
    #[error("envelope is not a well-formed CMS structure ({context})")]
    Der { context: &'static str },
    /// A well-formed ContentInfo of another content type.
    #[error("CMS content type is {found}, not envelopedData")]
    NotEnvelopedData { found: &'static str },
    /// No key-transport recipient names a certificate of the key ring.
    #[error("none of the envelope's {recipients} recipient(s) is a loaded issuer certificate")]
    NoMatchingRecipient { recipients: usize },
    /// The recipient is ours but its key-encryption algorithm is not accepted.
    #[error("unsupported key transport: {algorithm}")]
    UnsupportedKeyTransport { algorithm: &'static str },
    /// The content-encryption algorithm (or its parameters) is not accepted.
    #[error("unsupported content encryption: {algorithm}")]
    UnsupportedContentCipher { algorithm: &'static str },
    /// The RSA key unwrap failed (OAEP), or the encrypted key has the wrong size for our key.
    #[error("the content-encryption key could not be unwrapped")]
    KeyUnwrap,
    /// The content did not decrypt (bad padding, wrong length), including a failed PKCS#1 v1.5 unwrap.
    #[error("the encrypted content could not be decrypted")]
    ContentDecrypt,
}

const ID_ENVELOPED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.3");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_RSAES_OAEP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.7");
const ID_MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
const ID_P_SPECIFIED: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.9");
const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const ID_AES128_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.2");
const ID_AES192_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.22");
const ID_AES256_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.42");
const ID_DES_EDE3_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.3.7");

/// Standard or URL-safe alphabet; padding optional (`Indifferent`), so both padded and bare input decode.
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes, parses and decrypts `b64` with the first of `keys` named by a key-transport recipient.
pub(crate) fn open(keys: &[LoadedKey], b64: &str) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    let der = decode_base64(b64)?;
    let der = ber::to_der(&der).map_err(|_| DecryptError::Der {
        context: "BER/DER encoding",
    })?;
    let enveloped = parse_enveloped_data(&der)?;

    let recipient_count = enveloped.recip_infos.0.len();
    let (recipient, key) = enveloped
        .recip_infos
        .0
        .iter()
        .filter_map(|info| match info {
            RecipientInfo::Ktri(ktri) => Some(ktri),
            _ => None,
        })
        .find_map(|ktri| {
            keys.iter()
                .find(|key| key.is_named_by(&ktri.rid))
                .map(|key| (ktri, key))
        })
        .ok_or(DecryptError::NoMatchingRecipient {
            recipients: recipient_count,
        })?;

    // Check everything that needs no private-key operation first.
    let content = &enveloped.encrypted_content;
    let cipher = content_cipher(&content.content_enc_alg)?;
    let ciphertext = content
        .encrypted_content
        .as_ref()
        .ok_or(DecryptError::Der {
            context: "encryptedContent is absent (detached content is not supported)",
        })?
        .as_bytes();
    let transport = key_transport(&recipient.key_enc_alg)?;

    let (content_key, unwrap_failed) =
        unwrap_content_key(recipient, &key.key, &transport, cipher.key_len)?;
    let plaintext = decrypt_content(&cipher, &content_key, ciphertext);
    if unwrap_failed {
        return Err(DecryptError::ContentDecrypt);
    }
    plaintext
}

fn decode_base64(b64: &str) -> Result<Vec<u8>, DecryptError> {
    if b64.len() > MAX_ENVELOPE_BASE64_LEN {
        return Err(DecryptError::TooLarge {
            len: b64.len(),
            max: MAX_ENVELOPE_BASE64_LEN,
        });
    }
    // Tolerate line breaks (MIME/PEM-style wrapping) and surrounding blanks.
    let compact: Vec<u8> = b64.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return Err(DecryptError::Empty);
    }
    let url_safe = compact.iter().any(|&b| b == b'-' || b == b'_');
    let engine = if url_safe {
        &URL_SAFE_LENIENT
    } else {
        &STANDARD_LENIENT
    };
    engine.decode(&compact).map_err(|_| DecryptError::Base64)
}

/// A ContentInfo wrapping an EnvelopedData, or (tolerated) a bare EnvelopedData.
fn parse_enveloped_data(der: &[u8]) -> Result<EnvelopedData, DecryptError> {
    match ContentInfo::from_der(der) {
        Ok(info) if info.content_type == ID_ENVELOPED_DATA => info
            .content
            .decode_as::<EnvelopedData>()
            .map_err(|_| DecryptError::Der {
                context: "EnvelopedData",
            }),
        Ok(info) => Err(DecryptError::NotEnvelopedData {
            found: content_type_name(&info.content_type),
        }),
        Err(_) => EnvelopedData::from_der(der).map_err(|_| DecryptError::Der {
            context: "ContentInfo or EnvelopedData",
        }),
    }
}

fn content_type_name(oid: &ObjectIdentifier) -> &'static str {
    match oid.to_string().as_str() {
        "1.2.840.113549.1.7.1" => "data",
        "1.2.840.113549.1.7.2" => "signedData",
        "1.2.840.113549.1.7.5" => "digestedData",
        "1.2.840.113549.1.7.6" => "encryptedData",
        "1.2.840.113549.1.9.16.1.2" => "authenticatedData",
        "1.2.840.113549.1.9.16.1.23" => "authEnvelopedData",
        _ => "an unknown type",
    }
}

/// An accepted content cipher: AES-CBC with a key length and the envelope's IV.
struct ContentCipher {
    algorithm: &'static cipher::Algorithm,
    key_len: usize,
    iv: [u8; AES_CBC_IV_LEN],
}

fn content_cipher(alg: &AlgorithmIdentifierOwned) -> Result<ContentCipher, DecryptError> {
    let (algorithm, key_len) = if alg.oid == ID_AES256_CBC {
        (&cipher::AES_256, AES_256_KEY_LEN)
    } else if alg.oid == ID_AES192_CBC {
        (&cipher::AES_192, AES_192_KEY_LEN)
    } else if alg.oid == ID_AES128_CBC {
        (&cipher::AES_128, AES_128_KEY_LEN)
    } else if alg.oid == ID_DES_EDE3_CBC {
        return Err(DecryptError::UnsupportedContentCipher {
            algorithm: "des-ede3-cbc (3DES)",
        });
    } else {
        return Err(DecryptError::UnsupportedContentCipher {
            algorithm: "an algorithm other than AES-CBC",
        });
    };
    let iv = alg
        .parameters
        .as_ref()
        .and_then(|params| params.decode_as::<OctetString>().ok())
        .and_then(|iv| <[u8; AES_CBC_IV_LEN]>::try_from(iv.as_bytes()).ok())
        .ok_or(DecryptError::UnsupportedContentCipher {
            algorithm: "AES-CBC without a 16-byte IV parameter",
        })?;
    Ok(ContentCipher {
        algorithm,
        key_len,
        iv,
    })
}

/// The accepted key-transport algorithms.
enum KeyTransport {
    Pkcs1v15,
    Oaep {
        algorithm: &'static OaepAlgorithm,
        label: Vec<u8>,
    },
}

fn key_transport(alg: &AlgorithmIdentifierOwned) -> Result<KeyTransport, DecryptError> {
    if alg.oid == RSA_ENCRYPTION {
        return match &alg.parameters {
            None => Ok(KeyTransport::Pkcs1v15),
            Some(params) if params.is_null() => Ok(KeyTransport::Pkcs1v15),
            Some(_) => Err(DecryptError::UnsupportedKeyTransport {
                algorithm: "rsaEncryption with parameters",
            }),
        };
    }
    if alg.oid != ID_RSAES_OAEP {
        return Err(DecryptError::UnsupportedKeyTransport {
            algorithm: "an algorithm other than RSAES-PKCS1-v1_5 or RSAES-OAEP",
        });
    }
    // RFC 4055: absent parameters (or an empty SEQUENCE) mean the SHA-1 defaults.
    let params = match &alg.parameters {
        None => OaepParams::default(),
        Some(any) => any
            .decode_as::<OaepParams>()
            .map_err(|_| DecryptError::Der {
                context: "RSAES-OAEP-params",
            })?,
    };
    let hash = hash_name(&params.hash)?;
    if params.mgf.oid != ID_MGF1 {
        return Err(DecryptError::UnsupportedKeyTransport {
            algorithm: "RSAES-OAEP with a mask generation function other than MGF1",
        });
    }
    let mgf_hash = params
        .mgf
        .parameters
        .as_ref()
        .and_then(|any| any.decode_as::<AlgorithmIdentifierOwned>().ok())
        .ok_or(DecryptError::Der {
            context: "RSAES-OAEP MGF1 parameters",
        })?;
    let mgf_hash = hash_name(&mgf_hash)?;
    let algorithm = match (hash, mgf_hash) {
        (Hash::Sha256, Hash::Sha256) => &OAEP_SHA256_MGF1SHA256,
        (Hash::Sha1, Hash::Sha1) => &OAEP_SHA1_MGF1SHA1,
        (Hash::Sha384, _) | (_, Hash::Sha384) => {
            return Err(DecryptError::UnsupportedKeyTransport {
                algorithm: "RSAES-OAEP with SHA-384",
            })
        }
        (Hash::Sha512, _) | (_, Hash::Sha512) => {
            return Err(DecryptError::UnsupportedKeyTransport {
                algorithm: "RSAES-OAEP with SHA-512",
            })
        }
        _ => {
            return Err(DecryptError::UnsupportedKeyTransport {
                algorithm: "RSAES-OAEP whose MGF1 hash differs from its hash",
            })
        }
    };
    let label = match params.p_source {
        None => Vec::new(),
        Some(source) if source.oid == ID_P_SPECIFIED => source
            .parameters
            .as_ref()
            .map(|any| any.decode_as::<OctetString>())
            .transpose()
            .map_err(|_| DecryptError::Der {
                context: "RSAES-OAEP pSpecified label",
            })?
            .map(OctetString::into_bytes)
            .unwrap_or_default(),
        Some(_) => {
            return Err(DecryptError::UnsupportedKeyTransport {
                algorithm: "RSAES-OAEP with a pSourceAlgorithm other than pSpecified",
            })
        }
    };
    Ok(KeyTransport::Oaep { algorithm, label })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

fn hash_name(alg: &AlgorithmIdentifierOwned) -> Result<Hash, DecryptError> {
    // Hash parameters are absent or NULL (RFC 4055 §2.1 allows both).
    if alg.parameters.as_ref().is_some_and(|p| !p.is_null()) {
        return Err(DecryptError::UnsupportedKeyTransport {
            algorithm: "RSAES-OAEP with hash parameters",
        });
    }
    if alg.oid == ID_SHA256 {
        Ok(Hash::Sha256)
    } else if alg.oid == ID_SHA1 {
        Ok(Hash::Sha1)
    } else if alg.oid == ID_SHA384 {
        Ok(Hash::Sha384)
    } else if alg.oid == ID_SHA512 {
        Ok(Hash::Sha512)
    } else {
        Err(DecryptError::UnsupportedKeyTransport {
            algorithm: "RSAES-OAEP with an unknown hash",
        })
    }
}

/// RSAES-OAEP-params (RFC 4055 §4.1); every field has a default.
struct OaepParams {
    hash: AlgorithmIdentifierOwned,
    mgf: AlgorithmIdentifierOwned,
    p_source: Option<AlgorithmIdentifierOwned>,
}

impl Default for OaepParams {
    fn default() -> Self {
        let sha1 = AlgorithmIdentifierOwned {
            oid: ID_SHA1,
            parameters: None,
        };
        let mgf1_sha1 = der::Any::encode_from(&sha1).ok();
        OaepParams {
            hash: sha1,
            mgf: AlgorithmIdentifierOwned {
                oid: ID_MGF1,
                parameters: mgf1_sha1,
            },
            p_source: None,
        }
    }
}

impl FixedTag for OaepParams {
    const TAG: Tag = Tag::Sequence;
}

impl<'a> DecodeValue<'a> for OaepParams {
    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        reader.read_nested(header.length, |reader| {
            let defaults = OaepParams::default();
            let hash = ContextSpecific::<AlgorithmIdentifierOwned>::decode_explicit(
                reader,
                TagNumber::N0,
            )?
            .map_or(defaults.hash, |field| field.value);
            let mgf = ContextSpecific::<AlgorithmIdentifierOwned>::decode_explicit(
                reader,
                TagNumber::N1,
            )?
            .map_or(defaults.mgf, |field| field.value);
            let p_source = ContextSpecific::<AlgorithmIdentifierOwned>::decode_explicit(
                reader,
                TagNumber::N2,
            )?
            .map(|field| field.value);
            Ok(OaepParams {
                hash,
                mgf,
                p_source,
            })
        })
    }
}

/// Returns the content-encryption key and whether it is a random stand-in for a failed PKCS#1 v1.5 unwrap.
fn unwrap_content_key(
    recipient: &KeyTransRecipientInfo,
    key: &PrivateDecryptingKey,
    transport: &KeyTransport,
    key_len: usize,
) -> Result<(Zeroizing<Vec<u8>>, bool), DecryptError> {
    let wrapped = recipient.enc_key.as_bytes();
    // The size of the RSA ciphertext is public: a mismatch is not an oracle.
    if wrapped.len() != key.key_size_bytes() {
        return Err(DecryptError::KeyUnwrap);
    }
    let mut buffer = Zeroizing::new(vec![0u8; key.key_size_bytes()]);
    match transport {
        KeyTransport::Oaep { algorithm, label } => {
            let oaep =
                OaepPrivateDecryptingKey::new(key.clone()).map_err(|_| DecryptError::KeyUnwrap)?;
            let label = (!label.is_empty()).then_some(label.as_slice());
            let unwrapped = oaep
                .decrypt(algorithm, wrapped, &mut buffer, label)
                .map_err(|_| DecryptError::KeyUnwrap)?;
            if unwrapped.len() != key_len {
                return Err(DecryptError::KeyUnwrap);
            }
            Ok((Zeroizing::new(unwrapped.to_vec()), false))
        }
        KeyTransport::Pkcs1v15 => {
            // RFC 3218 §2.3.2: draw the stand-in key before knowing whether it is needed.
            let mut stand_in = Zeroizing::new(vec![0u8; key_len]);
            aws_lc_rs::rand::fill(&mut stand_in).map_err(|_| DecryptError::KeyUnwrap)?;
            let pkcs1 =
                Pkcs1PrivateDecryptingKey::new(key.clone()).map_err(|_| DecryptError::KeyUnwrap)?;
            match pkcs1.decrypt(wrapped, &mut buffer) {
                Ok(unwrapped) if unwrapped.len() == key_len => {
                    Ok((Zeroizing::new(unwrapped.to_vec()), false))
                }
                _ => Ok((stand_in, true)),
            }
        }
    }
}

fn decrypt_content(
    cipher: &ContentCipher,
    content_key: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    let key = UnboundCipherKey::new(cipher.algorithm, content_key)
        .map_err(|_| DecryptError::KeyUnwrap)?;
    let key = PaddedBlockDecryptingKey::cbc_pkcs7(key).map_err(|_| DecryptError::KeyUnwrap)?;
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    let plaintext_len = key
        .decrypt(
            &mut buffer,
            DecryptionContext::Iv128(FixedLength::from(cipher.iv)),
        )
        .map_err(|_| DecryptError::ContentDecrypt)?
        .len();
    buffer.truncate(plaintext_len);
    Ok(buffer)
}
