//! Console sessions without server-side session state: the cookie carries who signed in, their
//! role at the time, and the expiry, MAC'ed (HMAC-SHA-256) under a key derived from
//! `crypto.fingerprint_key`, so every instance sharing the configuration accepts it. CSRF tokens
//! are MACs of the session id (or, before sign-in, of a random nonce cookie).
//!
//! Must not: hold the staff bearer token (only its configured name) or anything a browser could
//! alter without the MAC failing.

use aws_lc_rs::{constant_time, hmac, rand};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::config::StaffRole;

/// The session cookie; scoped to `/console`.
pub const SESSION_COOKIE: &str = "tsh_console_session";
/// A random nonce set with the sign-in form: the login CSRF token is bound to it.
pub const LOGIN_COOKIE: &str = "tsh_console_login";

/// Domain-separation labels: a MAC made for one purpose never verifies for another.
const KEY_LABEL: &[u8] = b"tsh-issuer console session key v1";
const SESSION_LABEL: &[u8] = b"session\0";
const CSRF_LABEL: &[u8] = b"csrf\0";
const LOGIN_LABEL: &[u8] = b"login-csrf\0";

/// The signed-in staff member as the cookie states it (verified by MAC, then re-checked against
/// the configured staff tokens on every request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Random, 128 bits (hex): names the session in the audit trail and for sign-out.
    pub sid: String,
    /// The staff token's configured name.
    pub who: String,
    pub role: String,
    /// Issued and expiry times, Unix seconds.
    pub iat: u64,
    pub exp: u64,
}

impl Session {
    /// A new session for `who`, valid `ttl_secs` from `now`.
    pub fn new(who: &str, role: StaffRole, now: u64, ttl_secs: u64) -> Session {
        Session {
            sid: random_hex(),
            who: who.to_owned(),
            role: role.as_str().to_owned(),
            iat: now,
            exp: now.saturating_add(ttl_secs),
        }
    }

    pub fn is_expired(&self, now: u64) -> bool {
        self.exp <= now
    }
}

/// Why a presented cookie was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieError {
    /// Not of our format, or its MAC does not verify: someone altered it.
    Tampered,
}

/// The MAC key for cookies and CSRF tokens.
pub struct SessionKeys {
    key: hmac::Key,
}

impl SessionKeys {
    /// Derives the console key from the fingerprint key (HMAC with a fixed label: one-way, and
    /// distinct from every fingerprint, which are MACs of other domains under the parent key).
    pub fn derive(fingerprint_key: &[u8]) -> SessionKeys {
        let parent = hmac::Key::new(hmac::HMAC_SHA256, fingerprint_key);
        let derived = hmac::sign(&parent, KEY_LABEL);
        SessionKeys {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    fn tag(&self, label: &[u8], data: &[u8]) -> hmac::Tag {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(label);
        context.update(data);
        context.sign()
    }

    /// `base64url(json) "." base64url(mac)`.
    pub fn seal(&self, session: &Session) -> String {
        let json = serde_json::to_vec(session).unwrap_or_default();
        let body = URL_SAFE_NO_PAD.encode(json);
        let mac = self.tag(SESSION_LABEL, body.as_bytes());
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()))
    }

    /// Verifies the MAC first, then decodes; any failure is [`CookieError::Tampered`].
    pub fn open(&self, cookie: &str) -> Result<Session, CookieError> {
        let (body, mac) = cookie.split_once('.').ok_or(CookieError::Tampered)?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| CookieError::Tampered)?;
        let expected = self.tag(SESSION_LABEL, body.as_bytes());
        constant_time::verify_slices_are_equal(expected.as_ref(), &mac)
            .map_err(|_| CookieError::Tampered)?;
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| CookieError::Tampered)?;
        serde_json::from_slice(&json).map_err(|_| CookieError::Tampered)
    }

    /// The CSRF token of every form of a session.
    pub fn csrf_token(&self, session: &Session) -> String {
        URL_SAFE_NO_PAD.encode(self.tag(CSRF_LABEL, session.sid.as_bytes()).as_ref())
    }

    pub fn csrf_ok(&self, session: &Session, presented: &str) -> bool {
        let expected = self.csrf_token(session);
        constant_time::verify_slices_are_equal(expected.as_bytes(), presented.as_bytes()).is_ok()
    }

    /// The sign-in form's CSRF token, bound to the login nonce cookie.
    pub fn login_token(&self, nonce: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.tag(LOGIN_LABEL, nonce.as_bytes()).as_ref())
    }

    pub fn login_token_ok(&self, nonce: &str, presented: &str) -> bool {
        let expected = self.login_token(nonce);
        !nonce.is_empty()
            && constant_time::verify_slices_are_equal(expected.as_bytes(), presented.as_bytes())
                .is_ok()
    }
}

/// 128 random bits as hex (session ids, login nonces).
pub fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    // The system RNG failing is not recoverable in any useful way; an all-zero id would still be
    // MAC'ed, and a sign-out of it revokes only itself.
    if rand::fill(&mut bytes).is_err() {
        tracing::error!("system random number generator failed");
    }
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SessionKeys {
        SessionKeys::derive(b"a test fingerprint key of 32 bytes!")
    }

    #[test]
    fn a_sealed_session_opens_and_any_altered_byte_is_refused() {
        let keys = keys();
        let session = Session::new("alice", StaffRole::Viewer, 1_000, 60);
        let cookie = keys.seal(&session);
        assert_eq!(keys.open(&cookie), Ok(session.clone()));
        for i in 0..cookie.len() {
            let mut bytes = cookie.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(bytes).unwrap();
            if altered != cookie {
                assert_eq!(keys.open(&altered), Err(CookieError::Tampered), "byte {i}");
            }
        }
        let other = SessionKeys::derive(b"another fingerprint key, 32 bytes+");
        assert_eq!(other.open(&cookie), Err(CookieError::Tampered));
        assert_eq!(keys.open(""), Err(CookieError::Tampered));
        assert_eq!(keys.open("."), Err(CookieError::Tampered));
    }

    #[test]
    fn a_role_upgrade_in_the_cookie_breaks_the_mac() {
        let keys = keys();
        let session = Session::new("vera", StaffRole::Viewer, 1_000, 60);
        let cookie = keys.seal(&session);
        let (body, mac) = cookie.split_once('.').unwrap();
        let json = String::from_utf8(URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap();
        let forged = URL_SAFE_NO_PAD.encode(json.replace("viewer", "operator"));
        assert_eq!(
            keys.open(&format!("{forged}.{mac}")),
            Err(CookieError::Tampered)
        );
    }

    #[test]
    fn csrf_tokens_are_bound_to_their_session_and_purpose() {
        let keys = keys();
        let a = Session::new("alice", StaffRole::Operator, 1_000, 60);
        let b = Session::new("alice", StaffRole::Operator, 1_000, 60);
        let token = keys.csrf_token(&a);
        assert!(keys.csrf_ok(&a, &token));
        assert!(!keys.csrf_ok(&b, &token));
        assert!(!keys.csrf_ok(&a, ""));
        assert!(
            !keys.login_token_ok(&a.sid, &token),
            "a session token is no login token"
        );
        let nonce = random_hex();
        assert!(keys.login_token_ok(&nonce, &keys.login_token(&nonce)));
        assert!(!keys.login_token_ok("", &keys.login_token("")));
    }

    #[test]
    fn expiry_is_exclusive() {
        let session = Session::new("alice", StaffRole::Viewer, 1_000, 60);
        assert!(!session.is_expired(1_059));
        assert!(session.is_expired(1_060));
    }
}
