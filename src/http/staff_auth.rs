//! Who is calling the staff API: the bearer token is matched against `staff.bootstrap_token`
//! (operator, audited as `bootstrap`) and the SHA-256 hashes of `staff.tokens`. Comparisons are
//! constant-time over SHA-256 digests and visit every configured token, so timing says nothing
//! about which token (or how much of one) matched.
//!
//! Handlers ask for the caller with an extractor naming the role they need — [`Viewer`] or
//! [`Operator`] — so authentication and the role check happen before the handler body runs and
//! a refusal (401 / 403) has one shape everywhere.

use std::future::{ready, Ready};
use std::marker::PhantomData;

use actix_web::{web, FromRequest, HttpRequest, ResponseError};
use aws_lc_rs::digest;

use super::error::StaffError;
use crate::config::{StaffRole, StaffSettings};
use crate::domain::AuditOutcome;
use crate::service::audit::{self, Actor, AuditDraft};
use crate::service::Services;

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

/// The bearer token of the `Authorization` header, if it holds one. A repeated header is no
/// token at all (which one would we believe?).
fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let mut values = req
        .headers()
        .get_all(actix_web::http::header::AUTHORIZATION);
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let (scheme, token) = value.to_str().ok()?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The staff member behind the request's bearer token, if it names one.
pub fn caller(req: &HttpRequest, svc: &Services) -> Option<Actor> {
    identify(bearer_token(req)?, &svc.settings.staff)
}

/// The caller of a staff request, checked against the role it needs.
pub fn authenticate(req: &HttpRequest, needed: StaffRole) -> Result<Actor, StaffError> {
    let svc = req
        .app_data::<web::Data<Services>>()
        .ok_or_else(|| StaffError::internal("the services are not registered"))?;
    let actor = caller(req, svc).ok_or(StaffError::Unauthorized)?;
    if actor.role < needed {
        return Err(StaffError::Forbidden);
    }
    Ok(actor)
}

/// The role a [`Staff`] extractor requires.
pub trait RequiredRole {
    const ROLE: StaffRole;
}

/// Marker: the viewer role (reads).
pub struct ViewerRole;
/// Marker: the operator role (writes; operators can read too).
pub struct OperatorRole;

impl RequiredRole for ViewerRole {
    const ROLE: StaffRole = StaffRole::Viewer;
}

impl RequiredRole for OperatorRole {
    const ROLE: StaffRole = StaffRole::Operator;
}

/// An authenticated staff member holding at least role `R`.
pub struct Staff<R> {
    pub actor: Actor,
    role: PhantomData<R>,
}

/// A caller allowed to read.
pub type Viewer = Staff<ViewerRole>;
/// A caller allowed to act.
pub type Operator = Staff<OperatorRole>;
/// Any known staff member: a write handler takes this and asks for the operator role itself
/// ([`Staff::require_operator`]), so that a viewer's attempt is audited.
pub type Caller = Staff<ViewerRole>;

impl Caller {
    /// The caller, when it holds the operator role; otherwise the attempt is audited as
    /// `refused` (403) under `what` and `target`, as every refused write attempt is. (A missing
    /// or unknown token never gets this far: auditing it would let anyone grow the trail.)
    pub async fn require_operator(
        self,
        svc: &Services,
        what: &'static str,
        target: &str,
    ) -> Result<Actor, StaffError> {
        if self.actor.role >= StaffRole::Operator {
            return Ok(self.actor);
        }
        let refusal = StaffError::Forbidden;
        let status = refusal.status_code().as_u16();
        let draft = AuditDraft::new(&self.actor, what, target, AuditOutcome::Refused, status)
            .detail("refused: this token lacks the operator role");
        audit::record_or_log(&svc.store, draft).await;
        Err(refusal)
    }
}

impl<R: RequiredRole> FromRequest for Staff<R> {
    type Error = StaffError;
    type Future = Ready<Result<Self, StaffError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(authenticate(req, R::ROLE).map(|actor| Staff {
            actor,
            role: PhantomData,
        }))
    }
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
