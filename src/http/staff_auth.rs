//! Who is calling the staff API: the bearer token is matched against `staff.bootstrap_token`
//! (operator, audited as `bootstrap`) and the SHA-256 hashes of `staff.tokens`. Comparisons are
//! constant-time over SHA-256 digests and visit every configured token, so timing says nothing
//! about which token (or how much of one) matched.

use aws_lc_rs::digest;

use crate::config::{StaffRole, StaffSettings};
use crate::service::audit::Actor;

/// The audit name of `staff.bootstrap_token`.
pub const BOOTSTRAP_NAME: &str = "bootstrap";

fn same_digest(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The staff member a presented bearer token belongs to, if any.
pub fn identify(presented: &str, staff: &StaffSettings) -> Option<Actor> {
    let presented_digest = digest::digest(&digest::SHA256, presented.as_bytes());
    let presented_digest = presented_digest.as_ref();
    let mut found: Option<Actor> = None;
    if let Some(bootstrap) = &staff.bootstrap_token {
        let expected = digest::digest(&digest::SHA256, bootstrap.as_bytes());
        if same_digest(presented_digest, expected.as_ref()) {
            found = Some(Actor {
                name: BOOTSTRAP_NAME.to_owned(),
                role: StaffRole::Operator,
            });
        }
    }
    for token in &staff.tokens {
        if same_digest(presented_digest, &token.sha256) && found.is_none() {
            found = Some(Actor {
                name: token.name.clone(),
                role: token.role,
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StaffToken;

    fn sha(text: &str) -> [u8; 32] {
        digest::digest(&digest::SHA256, text.as_bytes())
            .as_ref()
            .try_into()
            .unwrap()
    }

    #[test]
    fn tokens_are_recognised_by_their_hash_with_their_role() {
        let staff = StaffSettings {
            bootstrap_token: Some("bootstrap-token-value".into()),
            tokens: vec![
                StaffToken {
                    name: "alice".into(),
                    sha256: sha("alice-secret"),
                    role: StaffRole::Viewer,
                },
                StaffToken {
                    name: "bob".into(),
                    sha256: sha("bob-secret"),
                    role: StaffRole::Operator,
                },
            ],
        };
        let who = |t: &str| identify(t, &staff).map(|a| (a.name, a.role));
        assert_eq!(
            who("alice-secret"),
            Some(("alice".into(), StaffRole::Viewer))
        );
        assert_eq!(who("bob-secret"), Some(("bob".into(), StaffRole::Operator)));
        assert_eq!(
            who("bootstrap-token-value"),
            Some(("bootstrap".into(), StaffRole::Operator))
        );
        assert_eq!(who("alice-secre"), None);
        assert_eq!(who(""), None);
    }
}
