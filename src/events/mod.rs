//! The outbound event feed (service-interface.md "Outbound event feed"): the bank's own systems
//! learn every token state change, decision and stand-in without polling.
//!
//! The outbox is written by the store in the same transaction as each change (`store::eventing`,
//! event content in `domain::event`); this module delivers it: [`worker`] (signed POSTs, retries
//! with backoff and jitter, in order per token), [`schedule`] (its pure decisions) and
//! [`signature`] (the `x-tsh-issuer-signature` header, also used by the simulator's receiver).

pub mod schedule;
pub mod signature;
pub mod worker;

pub use worker::EventFeed;
