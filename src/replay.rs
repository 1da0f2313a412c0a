//! Replay / backtest: re-evaluates recorded decisions (their stored facts) under a candidate rules
//! file and reports what would change. Pure over its inputs: the CLI feeds it decisions read from
//! a store copy or an export file (`GET /api/v1/decisions/export`, `tsh-issuer store export`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::decision::LevelOfTrust;
use crate::domain::{DecidedBy, DecisionRecord};
use crate::rules::{FactValue, Outcome, RuleSet, TraceEntry};

/// One decision whose outcome changes under the candidate rules.
#[derive(Debug, Clone, Serialize)]
pub struct ChangedDecision {
    pub decision_id: String,
    pub correlation_id: String,
    pub created_time: String,
    pub old_level_of_trust: LevelOfTrust,
    pub new_level_of_trust: LevelOfTrust,
    pub old_rule: Option<String>,
    pub new_rule: Option<String>,
    pub old_trace: Vec<TraceEntry>,
    pub new_trace: Vec<TraceEntry>,
}

/// The backtest result.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    pub candidate_version: String,
    /// Issuer decisions re-evaluated (network stand-ins have no facts of ours and are skipped).
    pub replayed: usize,
    pub skipped: usize,
    pub unchanged: usize,
    pub changed: usize,
    /// Counts by outcome, before and after.
    pub old_counts: BTreeMap<String, usize>,
    pub new_counts: BTreeMap<String, usize>,
    /// `old→new` pairs, e.g. `green→red`.
    pub transitions: BTreeMap<String, usize>,
    pub changes: Vec<ChangedDecision>,
}

/// Re-evaluates one decision's facts, with the same yellow safety net as the live service:
/// without a step-up method, yellow becomes red.
fn evaluate(
    candidate: &RuleSet,
    decision: &DecisionRecord,
) -> (LevelOfTrust, Option<String>, Vec<TraceEntry>) {
    let evaluation = candidate.evaluate(&decision.facts);
    let mut outcome = evaluation.outcome;
    let has_stepup = matches!(
        decision.facts.get("card.has_stepup_method"),
        Some(FactValue::Bool(true))
    );
    if outcome == Outcome::Yellow && !has_stepup {
        outcome = Outcome::Red;
    }
    (
        LevelOfTrust::from(outcome),
        evaluation.decided_by_rule,
        evaluation.trace,
    )
}

/// Replays `decisions` (any order; reported oldest first) created at or after `since`.
pub fn replay<'a>(
    candidate: &RuleSet,
    decisions: impl IntoIterator<Item = &'a DecisionRecord>,
    since: Option<&str>,
    mut progress: impl FnMut(usize),
) -> ReplayReport {
    let mut report = ReplayReport {
        candidate_version: candidate.version().to_owned(),
        replayed: 0,
        skipped: 0,
        unchanged: 0,
        changed: 0,
        old_counts: BTreeMap::new(),
        new_counts: BTreeMap::new(),
        transitions: BTreeMap::new(),
        changes: Vec::new(),
    };
    let since = since.and_then(crate::domain::time::parse_rfc3339);
    for (seen, decision) in decisions.into_iter().enumerate() {
        progress(seen + 1);
        let too_old = since.is_some_and(|s| {
            crate::domain::time::parse_rfc3339(&decision.created_time).is_none_or(|t| t < s)
        });
        if decision.decided_by != DecidedBy::Issuer || decision.facts.is_empty() || too_old {
            report.skipped += 1;
            continue;
        }
        report.replayed += 1;
        let (new_level, new_rule, new_trace) = evaluate(candidate, decision);
        let old = decision.level_of_trust.as_str().to_owned();
        let new = new_level.as_str().to_owned();
        *report.old_counts.entry(old.clone()).or_insert(0) += 1;
        *report.new_counts.entry(new.clone()).or_insert(0) += 1;
        *report
            .transitions
            .entry(format!("{old}→{new}"))
            .or_insert(0) += 1;
        if new_level == decision.level_of_trust {
            report.unchanged += 1;
        } else {
            report.changed += 1;
            report.changes.push(ChangedDecision {
                decision_id: decision.decision_id.clone(),
                correlation_id: decision.correlation_id.clone(),
                created_time: decision.created_time.clone(),
                old_level_of_trust: decision.level_of_trust,
                new_level_of_trust: new_level,
                old_rule: decision.decided_by_rule.clone(),
                new_rule,
                old_trace: decision.rules.clone(),
                new_trace,
            });
        }
    }
    report
        .changes
        .sort_by(|a, b| a.decision_id.cmp(&b.decision_id));
    report
}

fn trace_lines(trace: &[TraceEntry]) -> String {
    trace
        .iter()
        .filter(|t| t.matched)
        .map(|t| format!("      {} [{}]: {}", t.rule_id, t.effect, t.explanation))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A human report: counts old vs new, then every changed decision with both traces.
pub fn render(report: &ReplayReport) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "candidate rules {}\nreplayed {} decisions ({} skipped: network stand-ins, no facts, or before --since)\n",
        report.candidate_version, report.replayed, report.skipped
    ));
    out.push_str(&format!(
        "unchanged {}, changed {}\n\n",
        report.unchanged, report.changed
    ));
    out.push_str("outcome      old     new\n");
    for level in ["green", "yellow", "red"] {
        out.push_str(&format!(
            "{level:<10} {:>5}   {:>5}\n",
            report.old_counts.get(level).unwrap_or(&0),
            report.new_counts.get(level).unwrap_or(&0)
        ));
    }
    if !report.transitions.is_empty() {
        out.push_str("\nold→new\n");
        for (pair, n) in &report.transitions {
            out.push_str(&format!("  {pair:<16} {n}\n"));
        }
    }
    for change in &report.changes {
        out.push_str(&format!(
            "\n{} (correlation {}, {}): {} → {}\n    old ({}):\n{}\n    new ({}):\n{}\n",
            change.decision_id,
            change.correlation_id,
            change.created_time,
            change.old_level_of_trust.as_str(),
            change.new_level_of_trust.as_str(),
            change.old_rule.as_deref().unwrap_or("default"),
            trace_lines(&change.old_trace),
            change.new_rule.as_deref().unwrap_or("default"),
            trace_lines(&change.new_trace),
        ));
    }
    out
}

/// Reads decisions from an NDJSON export (one decision per line).
pub fn read_export(text: &str) -> Result<Vec<DecisionRecord>, String> {
    if is_store_export(text) {
        return read_store_export(text);
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

/// True when `text` is a whole-store export (`tsh-issuer store export`), whose first line is
/// its header.
fn is_store_export(text: &str) -> bool {
    let first = text.lines().next().unwrap_or_default();
    serde_json::from_str::<crate::store::transfer::Header>(first)
        .is_ok_and(|h| h.format == crate::store::transfer::FORMAT)
}

/// The decisions of a whole-store export (they are written oldest first).
fn read_store_export(text: &str) -> Result<Vec<DecisionRecord>, String> {
    use crate::store::transfer::{Record, Row};
    let mut decisions = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        if row.table == "decisionid_decision" {
            if let Record::Decision(d) =
                Record::from_row(&row).map_err(|e| format!("line {}: {e}", i + 1))?
            {
                decisions.push(d);
            }
        }
    }
    Ok(decisions)
}

/// Writes decisions as NDJSON, oldest first.
pub fn write_export(decisions: &[DecisionRecord]) -> Result<String, String> {
    let mut out = String::new();
    for d in decisions {
        out.push_str(&serde_json::to_string(d).map_err(|e| e.to_string())?);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Facts;

    fn decision(id: &str, level: LevelOfTrust, capture: &str) -> DecisionRecord {
        let mut facts = Facts::new();
        facts
            .set_str("capture_method", capture)
            .set_str("card.status", "ACTIVE")
            .set_str("card.product_id", "P")
            .set_bool("card.has_stepup_method", true);
        DecisionRecord {
            decision_id: id.to_owned(),
            correlation_id: format!("c-{id}"),
            issuer_card_ref_id: None,
            virtual_card_id: None,
            level_of_trust: level,
            decided_by: DecidedBy::Issuer,
            reason: String::new(),
            decided_by_rule: None,
            rules: Vec::new(),
            rules_version: None,
            facts,
            idv_methods: Vec::new(),
            capture_method: Some(capture.to_owned()),
            token_for_token: false,
            original_token: None,
            network_decision: None,
            shadow: None,
            review: None,
            created_time: "2026-11-20T10:00:00Z".to_owned(),
        }
    }

    const STRICT: &str = "version = 1\n[defaults]\noutcome = \"red\"\nreason = \"strict\"\n[[rule]]\nid = \"bank-app\"\nstage = \"decide\"\noutcome = \"green\"\nreason = \"bank app\"\nwhen = { fact = \"capture_method\", eq = \"BANK_APP\" }\n";

    #[test]
    fn a_stricter_candidate_reports_exactly_the_changed_decisions() {
        let candidate = RuleSet::from_toml_str(STRICT, "strict").unwrap();
        let mut standin = decision("0000000000000004", LevelOfTrust::Green, "MANUAL");
        standin.decided_by = DecidedBy::Network;
        let recorded = [
            decision("0000000000000001", LevelOfTrust::Green, "BANK_APP"),
            decision("0000000000000002", LevelOfTrust::Green, "ON_FILE"),
            decision("0000000000000003", LevelOfTrust::Red, "CAMERA"),
            standin,
        ];
        let mut ticks = 0;
        let report = replay(&candidate, &recorded, None, |n| ticks = n);
        assert_eq!(ticks, 4);
        assert_eq!(
            (
                report.replayed,
                report.skipped,
                report.unchanged,
                report.changed
            ),
            (3, 1, 2, 1)
        );
        assert_eq!(report.changes[0].decision_id, "0000000000000002");
        assert_eq!(report.changes[0].new_level_of_trust, LevelOfTrust::Red);
        assert_eq!(report.transitions.get("green→red"), Some(&1));
        assert_eq!(report.old_counts.get("green"), Some(&2));
        assert_eq!(report.new_counts.get("red"), Some(&2));
        let text = render(&report);
        assert!(
            text.contains("0000000000000002") && text.contains("green → red"),
            "{text}"
        );
    }

    #[test]
    fn since_filters_older_decisions_and_exports_round_trip() {
        let candidate = RuleSet::from_toml_str(STRICT, "strict").unwrap();
        let recorded = vec![decision("0000000000000001", LevelOfTrust::Green, "ON_FILE")];
        let report = replay(&candidate, &recorded, Some("2026-11-21T00:00:00Z"), |_| {});
        assert_eq!((report.replayed, report.skipped), (0, 1));
        let text = write_export(&recorded).unwrap();
        assert_eq!(read_export(&text).unwrap(), recorded);
        assert!(read_export("{not json}\n")
            .unwrap_err()
            .starts_with("line 1"));
    }
}
