//! The outbound event feed's records (service-interface.md "Outbound event feed"): one
//! [`OutboxEvent`] per token state change, decision and stand-in, written in the same store
//! transaction as the change it reports, then delivered by `crate::events`.
//!
//! Owns what an event says (`type`, `data`) and its delivery bookkeeping (status, attempts, next
//! attempt). Must not: carry card data — events are built from transitions and decisions only, and
//! a decision's facts, trace and original token number are left out.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::domain::decision::{DecidedBy, DecisionRecord};
use crate::domain::token::Transition;

pub const TOKEN_STATE_CHANGED: &str = "token.state_changed";
pub const DECISION_CREATED: &str = "decision.created";
pub const STANDIN_RECORDED: &str = "standin.recorded";

/// Where an event stands in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Waiting for (another) delivery attempt.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// `events.max_attempts` reached without a 2xx; `POST /api/v1/events/{id}/resend` re-queues it.
    Failed,
}

impl EventStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            EventStatus::Pending => "pending",
            EventStatus::Delivered => "delivered",
            EventStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<EventStatus> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "pending" => Some(EventStatus::Pending),
            "delivered" => Some(EventStatus::Delivered),
            "failed" => Some(EventStatus::Failed),
            _ => None,
        }
    }
}

/// One event in the outbox (tree `eventseq_event`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEvent {
    /// `evt-` + 16 hex digits of a store-wide monotonic sequence: string order is creation order.
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// Events with the same key are delivered one after the other, oldest first (`token:<vcid>`,
    /// or `enrollment:<correlation id>` for a decision that names no token).
    pub ordering_key: String,
    pub created_time: String,
    pub data: Value,
    pub status: EventStatus,
    #[serde(default)]
    pub attempts: u32,
    /// Unix milliseconds before which no attempt is made (backoff).
    #[serde(default)]
    pub next_attempt_at_ms: u64,
    #[serde(default)]
    pub last_attempt_time: Option<String>,
    /// The receiver's HTTP status on the last attempt, if it answered.
    #[serde(default)]
    pub last_status: Option<u16>,
    /// Why the last attempt failed (transport error or status); never the body.
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub delivered_time: Option<String>,
    /// How many times staff re-queued it (`POST /api/v1/events/{id}/resend`; `attempts` restarts).
    #[serde(default)]
    pub resends: u32,
}

/// `evt-` + 16 hex digits.
pub fn event_id(sequence: u64) -> String {
    format!("evt-{sequence:016x}")
}

/// The sequence number inside an event id (None for anything else).
pub fn event_sequence(id: &str) -> Option<u64> {
    let hex = id.strip_prefix("evt-")?;
    (hex.len() == 16)
        .then(|| u64::from_str_radix(hex, 16).ok())
        .flatten()
}

impl OutboxEvent {
    fn new(sequence: u64, event_type: &str, ordering_key: String, now: &str, data: Value) -> Self {
        OutboxEvent {
            id: event_id(sequence),
            event_type: event_type.to_owned(),
            ordering_key,
            created_time: now.to_owned(),
            data,
            status: EventStatus::Pending,
            attempts: 0,
            next_attempt_at_ms: 0,
            last_attempt_time: None,
            last_status: None,
            last_error: None,
            delivered_time: None,
            resends: 0,
        }
    }

    /// Re-queues the event for delivery now (staff resend): a delivered or failed event is sent
    /// again with the same id, so the receiver can recognise it.
    pub fn requeue(&mut self) {
        self.status = EventStatus::Pending;
        self.attempts = 0;
        self.next_attempt_at_ms = 0;
        self.resends = self.resends.saturating_add(1);
    }

    /// `token.state_changed` for a recorded transition.
    pub fn state_changed(sequence: u64, transition: &Transition) -> OutboxEvent {
        let data = json!({
            "virtual_card_id": transition.virtual_card_id,
            "from_state": transition.from_state.map(|s| s.as_str()),
            "state": transition.state.as_str(),
            "type": transition.transition_type,
            "action": transition.action,
            "channel": transition.channel,
            "source": transition.source,
            "reason_code": transition.reason_code,
            "reason": transition.reason,
            "correlation_id": transition.correlation_id,
            "created_time": transition.created_time,
        });
        OutboxEvent::new(
            sequence,
            TOKEN_STATE_CHANGED,
            format!("token:{}", transition.virtual_card_id),
            &transition.created_time,
            data,
        )
    }

    /// `decision.created` (our rules) or `standin.recorded` (the network decided without us).
    pub fn decision(sequence: u64, decision: &DecisionRecord) -> OutboxEvent {
        let mut data = json!({
            "decision_id": decision.decision_id,
            "correlation_id": decision.correlation_id,
            "issuer_card_ref_id": decision.issuer_card_ref_id,
            "virtual_card_id": decision.virtual_card_id,
            "level_of_trust": decision.level_of_trust.as_str(),
            "decided_by": match decision.decided_by {
                DecidedBy::Issuer => "issuer",
                DecidedBy::Network => "network",
            },
            "reason": decision.reason,
            "decided_by_rule": decision.decided_by_rule,
            "rules_version": decision.rules_version,
            "capture_method": decision.capture_method,
            "token_for_token": decision.token_for_token,
            "created_time": decision.created_time,
        });
        if let Some(original) = &decision.original_token {
            // Identifiers only: the original token's number (even masked) stays out of events.
            data["original_token"] = json!({
                "token_reference_id": original.token_reference_id,
                "token_requestor_id": original.token_requestor_id,
                "assurance_level": original.assurance_level,
            });
        }
        let event_type = match decision.decided_by {
            DecidedBy::Issuer => DECISION_CREATED,
            DecidedBy::Network => {
                data["network_decision"] = json!(decision.network_decision);
                if let Some(review) = &decision.review {
                    data["review"] = json!({
                        "our_level_of_trust": review.our_level_of_trust.as_str(),
                        "decided_by_rule": review.decided_by_rule,
                        "mismatch": review.mismatch,
                    });
                }
                STANDIN_RECORDED
            }
        };
        let ordering_key = match &decision.virtual_card_id {
            Some(vcid) => format!("token:{vcid}"),
            None => format!("enrollment:{}", decision.correlation_id),
        };
        OutboxEvent::new(
            sequence,
            event_type,
            ordering_key,
            &decision.created_time,
            data,
        )
    }

    /// The body POSTed to the receiver: `{"id", "type", "created_time", "data"}`.
    pub fn body(&self) -> Vec<u8> {
        let body = json!({
            "id": self.id,
            "type": self.event_type,
            "created_time": self.created_time,
            "data": self.data,
        });
        body.to_string().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TokenState;

    #[test]
    fn event_ids_sort_in_creation_order_and_parse_back() {
        assert_eq!(event_id(1), "evt-0000000000000001");
        assert!(event_id(9) < event_id(10));
        assert_eq!(event_sequence(&event_id(0xabc)), Some(0xabc));
        for bad in [
            "",
            "evt-",
            "evt-12",
            "EVT-0000000000000001",
            "evt-000000000000000g",
        ] {
            assert_eq!(event_sequence(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_transition_becomes_a_state_changed_event_keyed_by_token() {
        let transition = Transition {
            virtual_card_id: "VC-1".into(),
            from_state: Some(TokenState::Active),
            state: TokenState::Suspended,
            transition_type: "state.suspended".into(),
            action: "SUSPEND".into(),
            channel: "API".into(),
            source: None,
            reason_code: Some("06".into()),
            reason: None,
            correlation_id: "c-1".into(),
            created_time: "2026-01-01T00:00:00Z".into(),
        };
        let event = OutboxEvent::state_changed(7, &transition);
        assert_eq!(event.ordering_key, "token:VC-1");
        assert_eq!(event.status, EventStatus::Pending);
        let body: Value = serde_json::from_slice(&event.body()).unwrap();
        assert_eq!(body["id"], "evt-0000000000000007");
        assert_eq!(body["type"], "token.state_changed");
        assert_eq!(body["data"]["from_state"], "ACTIVE");
        assert_eq!(body["data"]["state"], "SUSPENDED");
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["created_time", "data", "id", "type"]);
    }
}
