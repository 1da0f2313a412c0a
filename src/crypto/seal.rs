//! CMS EnvelopedData *encryption* (the TSH side of contract §2): used by the simulator and the
//! tests to produce `cipheredCardInfo` exactly as TSH does — AES-256-CBC content encryption, the
//! content key wrapped for the issuer certificate with RSAES-OAEP (SHA-256, MGF1-SHA-256) or
//! RSAES-PKCS1-v1_5, recipient named by issuer and serial number.
//!
//! Independent of our decryptor on purpose: it shares no code with `envelope.rs` beyond the
//! RustCrypto ASN.1 types, and the decryptor is additionally tested against vectors made by the
//! `openssl cms` CLI (`scripts/make-cms-vectors.sh`).

use aws_lc_rs::cipher::{PaddedBlockEncryptingKey, UnboundCipherKey, AES_256};
use aws_lc_rs::rsa::{
    OaepPublicEncryptingKey, Pkcs1PublicEncryptingKey, PublicEncryptingKey, OAEP_SHA256_MGF1SHA256,
};
use base64::Engine;
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::enveloped_data::{
    EncryptedContentInfo, EnvelopedData, KeyTransRecipientInfo, RecipientIdentifier, RecipientInfo,
    RecipientInfos,
};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, DecodePem, Encode};
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use zeroize::Zeroizing;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_ENVELOPED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.3");
const ID_AES256_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.42");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_RSAES_OAEP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.7");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");

/// RSA key transport used to wrap the content key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTransport {
    /// RSAES-OAEP with SHA-256 and MGF1-SHA-256 (recommended).
    OaepSha256,
    /// RSAES-PKCS1-v1_5 (Thales' legacy default).
    Pkcs1v15,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("recipient certificate is not a valid X.509 certificate")]
    Certificate,
    #[error("recipient certificate does not hold a usable RSA public key")]
    PublicKey,
    #[error("encryption failed")]
    Encrypt,
    #[error("could not encode the envelope")]
    Encode,
}

/// An issuer certificate to encrypt card data for.
pub struct Recipient {
    certificate: Certificate,
    public_key: PublicEncryptingKey,
}

impl Recipient {
    pub fn from_pem(pem: &str) -> Result<Recipient, SealError> {
        let certificate =
            Certificate::from_pem(pem.as_bytes()).map_err(|_| SealError::Certificate)?;
        Self::from_certificate(certificate)
    }

    pub fn from_der(der_bytes: &[u8]) -> Result<Recipient, SealError> {
        let certificate = Certificate::from_der(der_bytes).map_err(|_| SealError::Certificate)?;
        Self::from_certificate(certificate)
    }

    fn from_certificate(certificate: Certificate) -> Result<Recipient, SealError> {
        let spki = certificate
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|_| SealError::PublicKey)?;
        let public_key = PublicEncryptingKey::from_der(&spki).map_err(|_| SealError::PublicKey)?;
        Ok(Recipient {
            certificate,
            public_key,
        })
    }

    /// Encrypts `plaintext` into base64 of a DER CMS ContentInfo(EnvelopedData).
    pub fn seal_base64(
        &self,
        plaintext: &[u8],
        transport: KeyTransport,
    ) -> Result<String, SealError> {
        let der_bytes = self.seal_der(plaintext, transport)?;
        Ok(base64::engine::general_purpose::STANDARD.encode(der_bytes))
    }

    pub fn seal_der(
        &self,
        plaintext: &[u8],
        transport: KeyTransport,
    ) -> Result<Vec<u8>, SealError> {
        let mut content_key = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(content_key.as_mut()).map_err(|_| SealError::Encrypt)?;

        let key = UnboundCipherKey::new(&AES_256, content_key.as_ref())
            .map_err(|_| SealError::Encrypt)?;
        let encrypting =
            PaddedBlockEncryptingKey::cbc_pkcs7(key).map_err(|_| SealError::Encrypt)?;
        let mut ciphertext = plaintext.to_vec();
        let context = encrypting
            .encrypt(&mut ciphertext)
            .map_err(|_| SealError::Encrypt)?;
        let iv: &[u8] = (&context).try_into().map_err(|_| SealError::Encrypt)?;

        let (wrapped, key_enc_alg) = match transport {
            KeyTransport::OaepSha256 => {
                let oaep = OaepPublicEncryptingKey::new(self.public_key.clone())
                    .map_err(|_| SealError::PublicKey)?;
                let mut out = vec![0u8; oaep.ciphertext_size()];
                let wrapped = oaep
                    .encrypt(
                        &OAEP_SHA256_MGF1SHA256,
                        content_key.as_ref(),
                        &mut out,
                        None,
                    )
                    .map_err(|_| SealError::Encrypt)?
                    .to_vec();
                (wrapped, oaep_sha256_algorithm()?)
            }
            KeyTransport::Pkcs1v15 => {
                let pkcs1 = Pkcs1PublicEncryptingKey::new(self.public_key.clone())
                    .map_err(|_| SealError::PublicKey)?;
                let mut out = vec![0u8; pkcs1.ciphertext_size()];
                let wrapped = pkcs1
                    .encrypt(content_key.as_ref(), &mut out)
                    .map_err(|_| SealError::Encrypt)?
                    .to_vec();
                let alg = AlgorithmIdentifierOwned {
                    oid: RSA_ENCRYPTION,
                    parameters: Some(Any::null()),
                };
                (wrapped, alg)
            }
        };

        let tbs = &self.certificate.tbs_certificate;
        let recipient = KeyTransRecipientInfo {
            version: CmsVersion::V0,
            rid: RecipientIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: tbs.issuer.clone(),
                serial_number: tbs.serial_number.clone(),
            }),
            key_enc_alg,
            enc_key: OctetString::new(wrapped).map_err(|_| SealError::Encode)?,
        };
        let mut infos = SetOfVec::new();
        infos
            .insert(RecipientInfo::Ktri(recipient))
            .map_err(|_| SealError::Encode)?;
        let enveloped = EnvelopedData {
            version: CmsVersion::V0,
            originator_info: None,
            recip_infos: RecipientInfos(infos),
            encrypted_content: EncryptedContentInfo {
                content_type: ID_DATA,
                content_enc_alg: AlgorithmIdentifierOwned {
                    oid: ID_AES256_CBC,
                    parameters: Some(
                        Any::encode_from(
                            &OctetString::new(iv.to_vec()).map_err(|_| SealError::Encode)?,
                        )
                        .map_err(|_| SealError::Encode)?,
                    ),
                },
                encrypted_content: Some(
                    OctetString::new(ciphertext).map_err(|_| SealError::Encode)?,
                ),
            },
            unprotected_attrs: None,
        };
        let content = Any::encode_from(&enveloped).map_err(|_| SealError::Encode)?;
        ContentInfo {
            content_type: ID_ENVELOPED_DATA,
            content,
        }
        .to_der()
        .map_err(|_| SealError::Encode)
    }
}

/// `RSAES-OAEP-params` with SHA-256 and MGF1(SHA-256), parameters of `id-RSAES-OAEP` (RFC 4055).
fn oaep_sha256_algorithm() -> Result<AlgorithmIdentifierOwned, SealError> {
    #[derive(der::Sequence)]
    struct OaepParams {
        #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
        hash: AlgorithmIdentifierOwned,
        #[asn1(context_specific = "1", tag_mode = "EXPLICIT")]
        mask_gen: AlgorithmIdentifierOwned,
    }
    let sha256 = AlgorithmIdentifierOwned {
        oid: ID_SHA256,
        parameters: Some(Any::null()),
    };
    let params = OaepParams {
        hash: sha256.clone(),
        mask_gen: AlgorithmIdentifierOwned {
            oid: ID_MGF1,
            parameters: Some(Any::encode_from(&sha256).map_err(|_| SealError::Encode)?),
        },
    };
    Ok(AlgorithmIdentifierOwned {
        oid: ID_RSAES_OAEP,
        parameters: Some(Any::encode_from(&params).map_err(|_| SealError::Encode)?),
    })
}
