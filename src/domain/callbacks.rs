//! What each TSH callback asks and answers, in domain terms. The contract layer builds every input
//! from its wire type (one `TryFrom` per callback, in `contract/`), so validation happens once, at
//! the edge; the use cases in `service/` read only these types and return the outputs below, which
//! the contract layer turns back into wire responses.

use super::decision::LevelOfTrust;
use super::ids::{CardRef, OtpMethodId, VirtualCardId, WalletProviderId, WalletRef};
use super::idv::IdvMethod;
use super::signals::Signals;
use super::{LifecycleAction, Secret, TokenRequestorInfo};

/// Card data sealed for the issuer (`cipheredCardInfo`, `authenticationValue`): a CMS
/// EnvelopedData as received, opened only by the use case that needs it.
#[derive(Clone)]
pub struct SealedCardData(String);

impl SealedCardData {
    /// `None` when `raw` is blank.
    pub fn new(raw: &str) -> Option<SealedCardData> {
        (!raw.trim().is_empty()).then(|| SealedCardData(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SealedCardData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedCardData({} chars)", self.0.len())
    }
}

/// How a request names its card: by card data (which wins) or by our reference.
#[derive(Debug, Clone)]
pub enum CardLocator {
    CardData(SealedCardData),
    Reference(CardRef),
}

/// The token-for-token attributes of the original token, as the request gives them.
#[derive(Debug, Default, Clone)]
pub struct OriginalTokenClaim {
    pub token: Option<Secret>,
    pub requestor_id: Option<String>,
    pub reference_id: Option<String>,
    pub assurance_level: Option<String>,
}

impl OriginalTokenClaim {
    pub fn is_empty(&self) -> bool {
        self.token.is_none()
            && self.requestor_id.is_none()
            && self.reference_id.is_none()
            && self.assurance_level.is_none()
    }
}

/// A whole request body in a canonical form (keys ordered), kept only to fingerprint the message
/// for duplicate detection. It may hold a token number: a [`Secret`], never printed or stored.
#[derive(Debug, Clone)]
pub struct MessageBody(pub Secret);

/// `checkCardEligibility`.
#[derive(Debug, Clone)]
pub struct EligibilityInput {
    pub card: CardLocator,
    pub wallet_provider_id: Option<WalletProviderId>,
    pub token_requestor: Option<TokenRequestorInfo>,
    /// Upper case.
    pub capture_method: Option<String>,
    pub original_token: OriginalTokenClaim,
}

/// A card that may be digitized, and its product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eligible {
    pub issuer_card_ref_id: String,
    pub product_id: String,
}

/// `requestCardDigitization`.
#[derive(Debug, Clone)]
pub struct DigitizationInput {
    /// Informational: the card data decides which card this is.
    pub card_ref: Option<CardRef>,
    pub wallet_provider_id: Option<WalletProviderId>,
    pub card_data: SealedCardData,
    pub authentication_value: Option<SealedCardData>,
    pub token_requestor: Option<TokenRequestorInfo>,
    pub cvv_validated: Option<bool>,
    pub tnc_accepted: Option<bool>,
    /// Upper case.
    pub capture_method: Option<String>,
    pub signals: Signals,
    pub original_token: OriginalTokenClaim,
    /// The request as received: a retry of the same request gets the decision recorded for it.
    pub message: MessageBody,
}

/// The issuer's answer to a digitization: the step-up methods come with a yellow only.
#[derive(Debug, Clone, PartialEq)]
pub struct DigitizationDecision {
    pub level_of_trust: LevelOfTrust,
    pub idv_methods: Option<Vec<IdvMethod>>,
}

/// `sendOTP`.
#[derive(Debug, Clone)]
pub struct OtpInput {
    pub card_ref: CardRef,
    pub otp: Secret,
    pub method_id: Option<OtpMethodId>,
    pub expiration_date: Option<String>,
}

/// The wallet-side attributes a lifecycle notification may carry.
#[derive(Debug, Clone, Default)]
pub struct WalletAttributes {
    pub token_storage_id: Option<WalletRef>,
    pub wallet_card_ref_id: Option<WalletRef>,
    pub wallet_virtual_card_id: Option<WalletRef>,
    pub device_binding_reference: Option<WalletRef>,
    pub is_primary: Option<bool>,
}

/// `notifyVirtualCardChange`.
#[derive(Debug, Clone)]
pub struct NotificationInput {
    pub card_ref: CardRef,
    pub virtual_card_id: VirtualCardId,
    pub wallet_provider_id: WalletProviderId,
    pub wallet: WalletAttributes,
    /// An absent action reads as an unknown one: recorded, no state change.
    pub action: LifecycleAction,
    pub source: Option<String>,
    pub error_code: Option<i64>,
    pub reason: Option<String>,
    pub reason_code: Option<String>,
    pub token_requestor: Option<TokenRequestorInfo>,
    /// The token's own number (from `tokenInfo`), fingerprinted and masked before storage.
    pub token_number: Option<Secret>,
    /// The token's own reference id (from `tokenInfo`): how a later token-for-token request names
    /// it as original.
    pub token_reference_id: Option<String>,
    pub original_token: OriginalTokenClaim,
    pub message: MessageBody,
}

/// `notifyStandInProcess`.
#[derive(Debug, Clone)]
pub struct StandInInput {
    pub card: CardLocator,
    pub virtual_card_id: Option<VirtualCardId>,
    pub wallet_provider_id: Option<WalletProviderId>,
    /// The network's decision as sent (`levelOfTrust`, `standInDecision` or `decision`).
    pub network_decision: Option<String>,
    /// Printable, at most 256 characters.
    pub reason: Option<String>,
    pub token_requestor: Option<TokenRequestorInfo>,
    /// Upper case.
    pub capture_method: Option<String>,
    pub original_token: OriginalTokenClaim,
    pub message: MessageBody,
}

/// `getIDnVMethodList`: the card, named directly, through one of its tokens, or both (at least
/// one of the two is present).
#[derive(Debug, Clone)]
pub struct IdvMethodListInput {
    pub card_ref: Option<CardRef>,
    pub virtual_card_id: Option<VirtualCardId>,
}
