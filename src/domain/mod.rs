//! Domain types: what a card, a token, a decision and an enrolment are, independent of HTTP and storage.
//!
//! Nothing here does I/O. Sensitive values (PAN, CVV, OTP, token numbers) only exist as [`Pan`] /
//! [`Secret`] in memory; what is persisted are fingerprints and masked forms.

pub mod audit;
pub mod callbacks;
pub mod card;
pub mod card_data;
pub mod decision;
pub mod enrollment;
pub mod event;
pub mod ids;
pub mod idv;
pub mod lineage;
pub mod original_token;
pub mod pan;
pub mod reconciliation;
pub mod secret;
pub mod signals;
pub mod time;
pub mod token;
pub mod token_sync;
pub mod tsh_operation;

pub use audit::{AuditEntry, AuditOutcome};
pub use card::{CardRecord, CardStatus, Expiry};
pub use decision::{DecidedBy, DecisionRecord};
pub use enrollment::{
    EligibilityRecord, Enrollment, EnrollmentNote, NotificationRef, OtpSendRecord,
};
pub use event::{EventStatus, OutboxEvent};
pub use idv::{IdvMethod, IdvMethodType};
pub use original_token::OriginalToken;
pub use pan::{Pan, PanError};
pub use reconciliation::{
    Drift, DriftAction, ReconcileFailure, ReconcileStatus, ReconciliationReport,
};
pub use secret::Secret;
pub use token::{
    LifecycleAction, NotificationOutcome, TokenError, TokenRecord, TokenRequestorInfo, TokenState,
    Transition,
};
pub use token_sync::{Suspicion, TokenSync};
pub use tsh_operation::{
    OperationConfirmation, OperationExpiry, OperationStatus, SkippedToken, TokenOutcome,
    TshOperation,
};
