//! The event feed's signature header (service-interface.md): `x-tsh-issuer-signature:
//! t=<unix seconds>,v1=<hex HMAC-SHA-256 of "<t>.<body>" under events.secret>`.
//!
//! Owns signing (the delivery worker) and verifying (the simulator's receiver, and any receiver
//! written in Rust). Verification compares in constant time and accepts several `v1` values, so a
//! receiver can check during a key rotation. Must not log the secret or the body.

use aws_lc_rs::hmac;

pub const HEADER: &str = "x-tsh-issuer-signature";

fn key(secret: &[u8]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret)
}

fn signed_payload(t: u64, body: &[u8]) -> Vec<u8> {
    let mut payload = format!("{t}.").into_bytes();
    payload.extend_from_slice(body);
    payload
}

/// The header value for `body` sent at Unix time `t`.
pub fn sign(secret: &[u8], t: u64, body: &[u8]) -> String {
    let tag = hmac::sign(&key(secret), &signed_payload(t, body));
    format!("t={t},v1={}", hex::encode(tag.as_ref()))
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the signature header is missing or has no t= and v1= parts")]
    Malformed,
    #[error("the signature is {age} s away from now, more than the {tolerance} s tolerated")]
    Stale { age: u64, tolerance: u64 },
    #[error("no v1 signature matches the body under this secret")]
    Mismatch,
}

/// Checks a header against the body; `tolerance_secs` bounds how far `t` may be from `now`
/// (replay protection). Returns `t`.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: u64,
    tolerance_secs: u64,
) -> Result<u64, VerifyError> {
    let mut t = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<u64>().ok(),
            Some(("v1", value)) => candidates.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let t = t.ok_or(VerifyError::Malformed)?;
    if candidates.is_empty() {
        return Err(VerifyError::Malformed);
    }
    let age = now.abs_diff(t);
    if age > tolerance_secs {
        return Err(VerifyError::Stale {
            age,
            tolerance: tolerance_secs,
        });
    }
    let payload = signed_payload(t, body);
    let key = key(secret);
    if candidates
        .iter()
        .any(|tag| hmac::verify(&key, &payload, tag).is_ok())
    {
        Ok(t)
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn signature_is_hmac_sha256_of_t_dot_body_as_an_independent_computation_says() {
        let header = sign(SECRET, 1_700_000_000, br#"{"id":"evt-1"}"#);
        // Independent computation of the same tag with a one-shot HMAC.
        let expected = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, SECRET),
            br#"1700000000.{"id":"evt-1"}"#,
        );
        assert_eq!(
            header,
            format!("t=1700000000,v1={}", hex::encode(expected.as_ref()))
        );
    }

    #[test]
    fn verify_accepts_the_right_body_and_refuses_everything_else() {
        let body = br#"{"id":"evt-1"}"#;
        let header = sign(SECRET, 1000, body);
        assert_eq!(verify(SECRET, &header, body, 1010, 300), Ok(1000));
        assert_eq!(
            verify(SECRET, &header, br#"{"id":"evt-2"}"#, 1010, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(
                b"another-secret-of-32-bytes-long!",
                &header,
                body,
                1010,
                300
            ),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, &header, body, 2000, 300),
            Err(VerifyError::Stale {
                age: 1000,
                tolerance: 300
            })
        );
        for bad in ["", "t=1000", "v1=00", "t=x,v1=00", "garbage"] {
            assert_eq!(
                verify(SECRET, bad, body, 1000, 300),
                Err(VerifyError::Malformed),
                "{bad:?}"
            );
        }
        // Rotation: a second v1 under the new key is enough.
        let other = sign(b"the-next-secret-also-32-bytes-ok", 1000, body);
        let both = format!("{header},{}", other.split_once(',').unwrap().1);
        assert_eq!(
            verify(b"the-next-secret-also-32-bytes-ok", &both, body, 1000, 300),
            Ok(1000)
        );
    }
}
