//! Use cases behind the callbacks and the staff API. Each function takes already-parsed wire types,
//! applies domain logic and the rules, writes through the [`Store`], and returns either a response
//! value or a [`Refusal`] that the HTTP layer turns into the contract's error shape.

pub mod audit;
pub mod card_data;
pub mod cards;
pub mod digitization;
pub mod eligibility;
pub mod error;
pub mod events;
pub mod facts;
pub mod idv;
pub mod lifecycle;
pub mod lineage;
pub mod otp;
pub mod rules_admin;
pub mod rules_state;
pub mod search;
pub mod staff_actions;
pub mod staff_queries;
pub mod standin;
pub mod velocity;

use std::sync::Arc;

pub use error::Refusal;

use crate::config::Settings;
use crate::crypto::{CvvVerifier, Fingerprinter, KeyRing};
use crate::otp::OtpGateway;
use crate::rules::RuleSet;
use crate::store::Store;
use crate::tsh_client::TshClient;
use rules_state::{RulesPair, RulesState};

/// Everything a use case needs, shared by all workers.
pub struct Services {
    pub settings: Settings,
    pub store: Store,
    pub keys: KeyRing,
    pub fingerprints: Fingerprinter,
    pub cvv: CvvVerifier,
    pub rules: RulesState,
    pub otp_gateway: OtpGateway,
    /// The client for TSH's inbound API (issuer-initiated lifecycle).
    pub tsh: TshClient,
}

/// The per-call context taken from the headers.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub correlation_id: String,
}

impl Services {
    /// One argument per shared service; built once, in `startup::build_services`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        settings: Settings,
        store: Store,
        keys: KeyRing,
        fingerprints: Fingerprinter,
        cvv: CvvVerifier,
        rules: RulesState,
        otp_gateway: OtpGateway,
        tsh: TshClient,
    ) -> Services {
        Services {
            settings,
            store,
            keys,
            fingerprints,
            cvv,
            rules,
            otp_gateway,
            tsh,
        }
    }

    /// The live rule set in force now.
    pub fn rules(&self) -> Arc<RuleSet> {
        self.rules.snapshot().live.clone()
    }

    /// Live and shadow rules as one snapshot: a decision uses one pair throughout, so a reload
    /// can never mix two versions within one decision.
    pub fn rules_pair(&self) -> Arc<RulesPair> {
        self.rules.snapshot()
    }
}

/// Checks an identifier field: present when required, 1..=max characters, printable (no control
/// characters: ids become store keys and log fields).
pub(crate) fn check_id<'a>(
    field: &str,
    value: Option<&'a str>,
    max_len: usize,
    required: bool,
) -> Result<Option<&'a str>, Refusal> {
    let value = value.map(str::trim).filter(|v| !v.is_empty());
    match value {
        None if required => Err(Refusal::InvalidParameter(format!("{field} is required"))),
        None => Ok(None),
        Some(v) if v.chars().count() > max_len => Err(Refusal::InvalidParameter(format!(
            "{field} must be at most {max_len} characters"
        ))),
        Some(v) if v.chars().any(char::is_control) => Err(Refusal::InvalidParameter(format!(
            "{field} contains control characters"
        ))),
        Some(v) => Ok(Some(v)),
    }
}

/// Checks the original-token attributes (contract §4) and refuses malformed ones, naming the field
/// and never the value: the token number must be 12 to 19 digits; identifiers are printable and
/// bounded (tolerantly: the contract's 11-digit requestor id and 32-character reference id are
/// accepted up to 32 and 64 characters, since they are only compared).
pub(crate) fn check_original_token(
    wire: &crate::contract::original_token::OriginalTokenWire,
) -> Result<(), Refusal> {
    if let Some(field) = wire.wrong_type.first() {
        return Err(Refusal::InvalidParameter(format!(
            "{field} must be a string"
        )));
    }
    if let Some(token) = &wire.token {
        if crate::domain::Pan::parse_token(token.expose()).is_err() {
            return Err(Refusal::InvalidParameter(
                "originalToken must be 12 to 19 digits".to_owned(),
            ));
        }
    }
    check_id(
        "originalTokenRequestorId",
        wire.requestor_id.as_deref(),
        32,
        false,
    )?;
    check_id(
        "originalTokenReferenceID",
        wire.reference_id.as_deref(),
        64,
        false,
    )?;
    check_id(
        "originalTokenAssuranceLevel",
        wire.assurance_level.as_deref(),
        32,
        false,
    )?;
    Ok(())
}

/// Checks ([`check_original_token`]), fingerprints and masks an original token (token-for-token)
/// for storage. `Ok(None)` when the request carries no original-token attribute.
pub(crate) fn original_token_record(
    fingerprints: &Fingerprinter,
    wire: &crate::contract::original_token::OriginalTokenWire,
) -> Result<Option<crate::domain::OriginalToken>, Refusal> {
    check_original_token(wire)?;
    if wire.is_empty() {
        return Ok(None);
    }
    let token = wire
        .token
        .as_ref()
        .and_then(|t| crate::domain::Pan::parse_token(t.expose()).ok());
    Ok(Some(crate::domain::OriginalToken {
        token_fingerprint: token
            .as_ref()
            .map(|t| fingerprints.fingerprint("token", t.expose().as_bytes())),
        token_masked: token.as_ref().map(|t| t.masked()),
        token_last4: token.as_ref().map(|t| t.last4().to_owned()),
        token_requestor_id: wire.requestor_id.clone(),
        token_reference_id: wire.reference_id.clone(),
        assurance_level: wire.assurance_level.clone(),
    }))
}
