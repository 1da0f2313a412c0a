//! tsh-issuer: the card issuer's backend for Thales TSH classic tokenization.
//!
//! Data flows one way: `http` (routes, headers, error shape) → `contract` (tolerant wire types) →
//! `service` (use cases) → `domain` + `rules` (pure) → `store` (the only place that knows sled).
#![forbid(unsafe_code)]

pub mod background;
pub mod cli;
pub mod config;
pub mod console;
pub mod contract;
pub mod crypto;
pub mod domain;
pub mod events;
pub mod http;
pub mod json;
pub mod metrics;
pub mod otp;
pub mod replay;
pub mod rules;
pub mod service;
pub mod signals;
pub mod sim;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod tsh_client;
