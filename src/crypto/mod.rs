//! Card data cryptography (spec §2): everything that touches issuer keys or card secrets in clear.
//!
//! Owns:
//! - [`KeyRing`] (`keyring.rs`): the issuer's RSA decryption keys, loaded from `NAME.crt` + `NAME.key` PEM pairs,
//!   and the decryption of `cipheredCardInfo` / `authenticationValue` (CMS EnvelopedData, `envelope.rs`, with
//!   BER tolerance in `ber.rs`);
//! - [`Fingerprinter`] (`fingerprint.rs`): keyed HMAC-SHA-256 fingerprints of PANs, tokens and card references;
//! - [`CvvVerifier`] (`cvv.rs`): the Visa CVV method with CVK-A/CVK-B, used to check CVV2;
//! - [`seal`] (`seal.rs`): the TSH side, CMS EnvelopedData *encryption*, for the simulator and tests.
//!
//! Must not: log, persist or format secrets (plaintext, PANs, keys, CVVs). Errors say *what* failed, never with
//! which bytes; every `Debug` of a key holder is redacted; decrypted data and keys are zeroized when dropped.
//! This module is self-contained (no `crate::` paths outside `crate::crypto`) so it can be tested on its own.

mod ber;
mod cvv;
mod envelope;
mod fingerprint;
mod keyring;
pub mod seal;

#[cfg(test)]
mod tests;

pub use cvv::{CvvInputError, CvvKeyError, CvvVerifier};
pub use fingerprint::{FingerprintKeyError, Fingerprinter};
pub use keyring::{DecryptError, KeyRing, KeyRingError};
