//! The integration-test crate: spawns the real application on port 0 with a temporary sled store
//! and a mock OTP gateway, then drives it over HTTP like TSH and issuer staff would.

mod helpers;

mod bad_input;
mod browser;
mod card_data_hygiene;
mod cli;
mod console;
mod console_pages;
mod digitization;
mod durability;
mod eligibility;
mod events;
mod fixtures_replay;
mod hardening;
mod lifecycle_sync;
mod mock_tsh;
mod notifications;
mod observability;
mod openapi;
mod original_death;
mod otp;
mod pending_ops;
mod pg_cluster;
mod postgres;
mod reconcile;
mod reconcile_cli;
mod restart;
mod rules_admin;
mod shutdown;
mod sim;
mod sim_frontdoors;
mod sim_load;
mod sim_record;
mod sim_tsh;
mod staff;
mod staff_actions;
mod standin;
mod store_conformance;
mod store_transfer;
mod tls;
mod token_for_token;
mod velocity;
