//! Use cases behind the callbacks and the staff API. Each callback's use case takes its validated
//! domain input (`domain::callbacks`, built from the wire type by the contract layer), reads as a
//! list of named steps (open card data → find the card → evaluate → record → answer), writes
//! through the [`Store`], and returns a domain answer or a [`Refusal`] that the HTTP layer turns
//! into the contract's error shape. Nothing here sees a wire type or raw JSON.

pub mod audit;
pub mod card_close;
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
pub mod pending_ops;
pub mod reconcile;
pub mod rules_admin;
pub mod rules_state;
pub mod search;
pub mod staff_actions;
pub mod staff_queries;
pub mod standin;
pub mod state_checks;
pub mod sync_worker;
pub mod token_sync_views;
pub mod tsh_word;
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
    /// Follow-up work after an answer (TSH calls) and the loops beside the server, drained on
    /// shutdown.
    pub background: crate::background::Background,
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
            background: crate::background::Background::new(),
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

/// Fingerprints and masks an original token (token-for-token) for storage; its attributes were
/// checked at the edge (`contract::original_token::claim`). `None` without any attribute.
pub(crate) fn original_token_record(
    fingerprints: &Fingerprinter,
    wire: &crate::domain::callbacks::OriginalTokenClaim,
) -> Option<crate::domain::OriginalToken> {
    if wire.is_empty() {
        return None;
    }
    let token = wire
        .token
        .as_ref()
        .and_then(|t| crate::domain::Pan::parse_token(t.expose()).ok());
    Some(crate::domain::OriginalToken {
        token_fingerprint: token
            .as_ref()
            .map(|t| fingerprints.fingerprint("token", t.expose().as_bytes())),
        token_masked: token.as_ref().map(|t| t.masked()),
        token_last4: token.as_ref().map(|t| t.last4().to_owned()),
        token_requestor_id: wire.requestor_id.clone(),
        token_reference_id: wire.reference_id.clone(),
        assurance_level: wire.assurance_level.clone(),
    })
}
