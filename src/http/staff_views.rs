//! What staff see (service-interface.md shapes, snake_case). Explicit view types, so a field added
//! to a stored record is never exposed by accident; card and token numbers appear only masked.

use serde::Serialize;

use crate::domain::decision::{DecisionSummary, LevelOfTrust, ShadowOutcome, StandInReview};
use crate::domain::lineage::OriginalDeath;
use crate::domain::token::TokenError;
use crate::domain::{
    DecidedBy, DecisionRecord, EligibilityRecord, Enrollment, IdvMethod, NotificationRef,
    OriginalToken, OtpSendRecord, TokenRecord, TokenRequestorInfo,
};
use crate::rules::TraceEntry;
use crate::service::lineage::Lineage;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OriginalTokenView {
    pub token_masked: Option<String>,
    pub token_last4: Option<String>,
    pub token_requestor_id: Option<String>,
    pub token_reference_id: Option<String>,
    pub assurance_level: Option<String>,
}

impl From<&OriginalToken> for OriginalTokenView {
    fn from(o: &OriginalToken) -> Self {
        OriginalTokenView {
            token_masked: o.token_masked.clone(),
            token_last4: o.token_last4.clone(),
            token_requestor_id: o.token_requestor_id.clone(),
            token_reference_id: o.token_reference_id.clone(),
            assurance_level: o.assurance_level.clone(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenDecisionView {
    pub decision_id: String,
    pub level_of_trust: LevelOfTrust,
    pub decided_by: DecidedBy,
    pub reason: String,
    pub rules: Vec<TraceEntry>,
    pub created_time: String,
}

impl From<&DecisionSummary> for TokenDecisionView {
    fn from(d: &DecisionSummary) -> Self {
        TokenDecisionView {
            decision_id: d.decision_id.clone(),
            level_of_trust: d.level_of_trust,
            decided_by: d.decided_by,
            reason: d.reason.clone(),
            rules: d.rules.clone(),
            created_time: d.created_time.clone(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub virtual_card_id: String,
    pub issuer_card_ref_id: String,
    pub state: &'static str,
    pub wallet_provider_id: Option<String>,
    pub token_requestor: Option<TokenRequestorInfo>,
    pub capture_method: Option<String>,
    pub token_for_token: bool,
    pub token_masked: Option<String>,
    pub token_last4: Option<String>,
    /// The token's own reference id (what a token-for-token request names it by).
    pub token_reference_id: Option<String>,
    pub token_storage_id: Option<String>,
    pub wallet_card_ref_id: Option<String>,
    pub wallet_virtual_card_id: Option<String>,
    pub is_primary: Option<bool>,
    pub device_binding_reference: Option<String>,
    pub correlation_id: Option<String>,
    pub decision: Option<TokenDecisionView>,
    pub original_token: Option<OriginalTokenView>,
    /// Lineage: the token this one was made from (token-for-token), when it is one of ours.
    pub original_virtual_card_id: Option<String>,
    /// Set when an ancestor was suspended or deleted (`token_for_token.on_original_death`).
    pub original_death: Option<OriginalDeathView>,
    pub last_error: Option<TokenError>,
    pub created_time: String,
    pub last_modified_time: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OriginalDeathView {
    pub original_virtual_card_id: String,
    pub original_state: &'static str,
    pub policy: &'static str,
    pub reason: String,
    pub correlation_id: String,
    pub created_time: String,
}

impl From<&OriginalDeath> for OriginalDeathView {
    fn from(d: &OriginalDeath) -> Self {
        OriginalDeathView {
            original_virtual_card_id: d.original_virtual_card_id.clone(),
            original_state: d.original_state.as_str(),
            policy: d.policy.as_str(),
            reason: d.reason.clone(),
            correlation_id: d.correlation_id.clone(),
            created_time: d.created_time.clone(),
        }
    }
}

/// One token of a lineage: its generation relative to the token asked about (-1 its original,
/// -2 the original's original, 1 a token made from it, …) and the token as listed elsewhere.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LineageTokenView {
    pub generation: i64,
    #[serde(flatten)]
    pub token: TokenView,
}

/// `GET /api/v1/tokens/{virtual_card_id}/lineage`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LineageView {
    pub virtual_card_id: String,
    pub token: TokenView,
    /// Nearest first: the original, then its original, …
    pub ancestors: Vec<LineageTokenView>,
    /// Breadth first; each names its parent in `original_virtual_card_id`.
    pub descendants: Vec<LineageTokenView>,
    /// True when a bound (64 ancestors, 1000 descendants) cut the lists short.
    pub is_truncated: bool,
}

impl From<&Lineage> for LineageView {
    fn from(l: &Lineage) -> Self {
        let generation = |g: usize| i64::try_from(g).unwrap_or(i64::MAX);
        LineageView {
            virtual_card_id: l.token.virtual_card_id.clone(),
            token: TokenView::from(&l.token),
            ancestors: l
                .ancestors
                .iter()
                .enumerate()
                .map(|(i, t)| LineageTokenView {
                    generation: -generation(i + 1),
                    token: TokenView::from(t),
                })
                .collect(),
            descendants: l
                .descendants
                .iter()
                .map(|(t, g)| LineageTokenView {
                    generation: generation(*g),
                    token: TokenView::from(t),
                })
                .collect(),
            is_truncated: l.truncated,
        }
    }
}

impl From<&TokenRecord> for TokenView {
    fn from(t: &TokenRecord) -> Self {
        TokenView {
            virtual_card_id: t.virtual_card_id.clone(),
            issuer_card_ref_id: t.issuer_card_ref_id.clone(),
            state: t.state.as_str(),
            wallet_provider_id: t.wallet_provider_id.clone(),
            token_requestor: t.token_requestor.clone(),
            capture_method: t.capture_method.clone(),
            token_for_token: t.capture_method.as_deref() == Some("TOKEN"),
            token_masked: t.token_number.as_ref().map(|n| n.token_masked.clone()),
            token_last4: t.token_number.as_ref().map(|n| n.token_last4.clone()),
            token_reference_id: t.token_reference_id.clone(),
            token_storage_id: t.token_storage_id.clone(),
            wallet_card_ref_id: t.wallet_card_ref_id.clone(),
            wallet_virtual_card_id: t.wallet_virtual_card_id.clone(),
            is_primary: t.is_primary,
            device_binding_reference: t.device_binding_reference.clone(),
            correlation_id: t.correlation_id.clone(),
            decision: t.decision.as_ref().map(TokenDecisionView::from),
            original_token: t.original_token.as_ref().map(OriginalTokenView::from),
            original_virtual_card_id: t.original_virtual_card_id.clone(),
            original_death: t.original_death.as_ref().map(OriginalDeathView::from),
            last_error: t.last_error.clone(),
            created_time: t.created_time.clone(),
            last_modified_time: t.last_modified_time.clone(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnrollmentDecisionView {
    pub decision_id: String,
    pub level_of_trust: LevelOfTrust,
    pub decided_by: DecidedBy,
    pub reason: String,
    pub decided_by_rule: Option<String>,
    pub rules: Vec<TraceEntry>,
    pub rules_version: Option<String>,
    pub idv_methods: Vec<IdvMethod>,
    pub network_decision: Option<String>,
    pub review: Option<StandInReview>,
    pub shadow: Option<ShadowOutcome>,
    pub virtual_card_id: Option<String>,
    pub created_time: String,
}

impl From<&DecisionRecord> for EnrollmentDecisionView {
    fn from(d: &DecisionRecord) -> Self {
        EnrollmentDecisionView {
            decision_id: d.decision_id.clone(),
            level_of_trust: d.level_of_trust,
            decided_by: d.decided_by,
            reason: d.reason.clone(),
            decided_by_rule: d.decided_by_rule.clone(),
            rules: d.rules.clone(),
            rules_version: d.rules_version.clone(),
            idv_methods: d.idv_methods.clone(),
            network_decision: d.network_decision.clone(),
            review: d.review.clone(),
            shadow: d.shadow.clone(),
            virtual_card_id: d.virtual_card_id.clone(),
            created_time: d.created_time.clone(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnrollmentView {
    pub correlation_id: String,
    pub issuer_card_ref_id: Option<String>,
    pub capture_method: Option<String>,
    pub token_for_token: bool,
    pub wallet_provider_id: Option<String>,
    pub token_requestor: Option<TokenRequestorInfo>,
    pub eligibility: Option<EligibilityRecord>,
    pub decisions: Vec<EnrollmentDecisionView>,
    pub idv_methods: Vec<IdvMethod>,
    pub otp_sends: Vec<OtpSendRecord>,
    pub notifications: Vec<NotificationRef>,
    pub original_token: Option<OriginalTokenView>,
    pub virtual_card_ids: Vec<String>,
    pub created_time: String,
    pub last_modified_time: String,
}

impl EnrollmentView {
    pub fn of(e: &Enrollment, decisions: &[DecisionRecord]) -> EnrollmentView {
        EnrollmentView {
            correlation_id: e.correlation_id.clone(),
            issuer_card_ref_id: e.issuer_card_ref_id.clone(),
            capture_method: e.capture_method.clone(),
            token_for_token: e.token_for_token,
            wallet_provider_id: e.wallet_provider_id.clone(),
            token_requestor: e.token_requestor.clone(),
            eligibility: e.eligibility.clone(),
            decisions: decisions.iter().map(EnrollmentDecisionView::from).collect(),
            idv_methods: e.idv_methods.clone(),
            otp_sends: e.otp_sends.clone(),
            notifications: e.notifications.clone(),
            original_token: e.original_token.as_ref().map(OriginalTokenView::from),
            virtual_card_ids: e.virtual_card_ids.clone(),
            created_time: e.created_time.clone(),
            last_modified_time: e.last_modified_time.clone(),
        }
    }
}

/// A decision as listed by `GET /api/v1/decisions`: everything recorded, including the facts
/// (which never contain card data); the original token only in its masked view.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DecisionView {
    pub decision_id: String,
    pub correlation_id: String,
    pub issuer_card_ref_id: Option<String>,
    pub virtual_card_id: Option<String>,
    pub level_of_trust: LevelOfTrust,
    pub decided_by: DecidedBy,
    pub reason: String,
    pub decided_by_rule: Option<String>,
    pub rules: Vec<TraceEntry>,
    pub rules_version: Option<String>,
    /// Fact name → value (a bool, a number, a text or a list of texts); see docs/rules.md.
    #[schema(value_type = Object)]
    pub facts: crate::rules::Facts,
    pub idv_methods: Vec<IdvMethod>,
    pub capture_method: Option<String>,
    pub token_for_token: bool,
    pub original_token: Option<OriginalTokenView>,
    pub network_decision: Option<String>,
    pub shadow: Option<ShadowOutcome>,
    pub review: Option<StandInReview>,
    pub created_time: String,
}

impl From<&DecisionRecord> for DecisionView {
    fn from(d: &DecisionRecord) -> Self {
        DecisionView {
            decision_id: d.decision_id.clone(),
            correlation_id: d.correlation_id.clone(),
            issuer_card_ref_id: d.issuer_card_ref_id.clone(),
            virtual_card_id: d.virtual_card_id.clone(),
            level_of_trust: d.level_of_trust,
            decided_by: d.decided_by,
            reason: d.reason.clone(),
            decided_by_rule: d.decided_by_rule.clone(),
            rules: d.rules.clone(),
            rules_version: d.rules_version.clone(),
            facts: d.facts.clone(),
            idv_methods: d.idv_methods.clone(),
            capture_method: d.capture_method.clone(),
            token_for_token: d.token_for_token,
            original_token: d.original_token.as_ref().map(OriginalTokenView::from),
            network_decision: d.network_decision.clone(),
            shadow: d.shadow.clone(),
            review: d.review.clone(),
            created_time: d.created_time.clone(),
        }
    }
}
