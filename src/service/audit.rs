//! The staff audit trail: who did what, when, to what, and how it ended. Every staff write goes
//! through here (successes, TSH failures and refusals alike). Append-only by construction: the
//! store offers `append_audit` and nothing that updates or deletes an entry.

use crate::config::StaffRole;
use crate::domain::time::now_rfc3339;
use crate::domain::{AuditEntry, AuditOutcome};
use crate::store::{Store, StoreError, Tx, TxError};

/// The authenticated staff member behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The staff token's configured name (`bootstrap` for `staff.bootstrap_token`).
    pub name: String,
    pub role: StaffRole,
}

/// An audit entry before it gets its id and time.
#[derive(Debug, Clone)]
pub struct AuditDraft {
    pub who: String,
    pub role: String,
    pub what: &'static str,
    pub target: String,
    pub outcome: AuditOutcome,
    pub http_status: u16,
    pub correlation_id: Option<String>,
    pub detail: Option<String>,
}

impl AuditDraft {
    pub fn new(
        actor: &Actor,
        what: &'static str,
        target: impl Into<String>,
        outcome: AuditOutcome,
        http_status: u16,
    ) -> AuditDraft {
        AuditDraft {
            who: actor.name.clone(),
            role: actor.role.as_str().to_owned(),
            what,
            target: redact_card_numbers(&target.into()),
            outcome,
            http_status,
            correlation_id: None,
            detail: None,
        }
    }

    pub fn correlation_id(mut self, correlation_id: impl Into<String>) -> AuditDraft {
        self.correlation_id = Some(correlation_id.into());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> AuditDraft {
        let detail: String = detail.into();
        // Bounded and single-line: it ends up in a list staff read.
        let single_line: String = detail
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(500)
            .collect();
        self.detail = Some(redact_card_numbers(&single_line));
        self
    }
}

/// Masks anything in audit text that could be a card or token number: a free-standing group of 12 to
/// 19 digits (spaces or dashes between them allowed) keeps its first 6 and last 4 digits, the masked
/// form staff see elsewhere. "Free-standing" means not glued to letters, so our own identifiers
/// (`ICR` + hex, TSH's virtual card ids) pass unchanged while a PAN pasted into a path or a field
/// the audit names never reaches the append-only trail.
pub fn redact_card_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let glued_before = i > 0 && chars[i - 1].is_alphanumeric();
        if !chars[i].is_ascii_digit() || glued_before {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let end = number_group_end(&chars, i);
        let group = &chars[i..end];
        let digits: String = group.iter().filter(|c| c.is_ascii_digit()).collect();
        let glued_after = chars.get(end).is_some_and(|c| c.is_alphanumeric());
        if (12..=19).contains(&digits.len()) && !glued_after {
            out.push_str(&digits[..6]);
            out.push_str(&"*".repeat(digits.len() - 10));
            out.push_str(&digits[digits.len() - 4..]);
        } else {
            out.extend(group);
        }
        i = end;
    }
    out
}

/// The end of a run of digits where single spaces or dashes may separate digit groups.
fn number_group_end(chars: &[char], start: usize) -> usize {
    let mut end = start;
    while end < chars.len() {
        let separator_before_digit =
            matches!(chars[end], ' ' | '-') && chars.get(end + 1).is_some_and(char::is_ascii_digit);
        if !chars[end].is_ascii_digit() && !separator_before_digit {
            break;
        }
        end += 1;
    }
    end
}

/// Appends an entry inside a transaction (atomically with the write it describes).
pub fn append_in_tx(tx: &dyn Tx, draft: &AuditDraft, now: &str) -> Result<AuditEntry, TxError> {
    let id = tx.next_id()?;
    let entry = AuditEntry {
        audit_id: format!("{id:016x}"),
        who: draft.who.clone(),
        role: draft.role.clone(),
        what: draft.what.to_owned(),
        target: draft.target.clone(),
        outcome: draft.outcome,
        http_status: draft.http_status,
        correlation_id: draft.correlation_id.clone(),
        detail: draft.detail.clone(),
        created_time: now.to_owned(),
    };
    tx.append_audit(&entry)?;
    Ok(entry)
}

/// Appends an entry on its own, durable on return.
pub async fn record(store: &Store, draft: AuditDraft) -> Result<AuditEntry, StoreError> {
    let entry = store
        .write(move |tx| append_in_tx(tx, &draft, &now_rfc3339()))
        .await?;
    tracing::info!(
        who = %entry.who,
        what = %entry.what,
        target = %entry.target,
        outcome = entry.outcome.as_str(),
        "staff action audited"
    );
    Ok(entry)
}

/// Like [`record`], for paths where the answer is already decided: a failure to audit is logged
/// loudly (the action's own result still stands).
pub async fn record_or_log(store: &Store, draft: AuditDraft) {
    if let Err(e) = record(store, draft).await {
        tracing::error!(error = %e, "could not append to the audit trail");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_text_masks_free_standing_card_numbers_but_keeps_identifiers() {
        let cases = [
            ("card:4111111111111111", "card:411111******1111"),
            ("card:4111 1111 1111 1111", "card:411111******1111"),
            ("state 4111-1111-1111-1111 x", "state 411111******1111 x"),
            ("token:DNITHE000000000001", "token:DNITHE000000000001"),
            (
                "card:ICR9254fb75513350c15900a17925744fd7a090cfeb",
                "card:ICR9254fb75513350c15900a17925744fd7a090cfeb",
            ),
            ("reason_code=15 count 12345", "reason_code=15 count 12345"),
            ("1234567890123456789012", "1234567890123456789012"),
        ];
        for (raw, expected) in cases {
            assert_eq!(redact_card_numbers(raw), expected, "case {raw:?}");
        }
    }

    #[test]
    fn drafts_never_carry_a_card_number_in_target_or_detail() {
        let actor = Actor {
            name: "alice".into(),
            role: StaffRole::Operator,
        };
        let draft = AuditDraft::new(
            &actor,
            "card.block",
            "card:4111111111111111",
            AuditOutcome::Refused,
            404,
        )
        .detail("refused: exp 4111111111111111");
        assert!(!draft.target.contains("4111111111111111"), "{draft:?}");
        assert!(!draft.detail.unwrap().contains("4111111111111111"));
    }
}
