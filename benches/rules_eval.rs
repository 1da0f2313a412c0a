//! Benchmark: evaluating a 200-rule set on one request's facts (issue: "stays in the microseconds").
//! Run with `cargo bench --bench rules_eval`; the figure is quoted in README.md.

use std::fmt::Write;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use tsh_issuer::rules::{Facts, RuleSet};

/// 200 rules in the shapes staff write: BIN ranges, requestor lists, score bands, reason codes.
fn two_hundred_rules() -> String {
    let mut text =
        String::from("version = 1\n[defaults]\noutcome = \"red\"\nreason = \"default\"\n");
    for i in 0..100 {
        let _ = write!(
            text,
            "[[rule]]\nid = \"bin-{i}\"\nstage = \"decide\"\noutcome = \"green\"\nreason = \"bin {i}\"\nwhen.all = [ {{ fact = \"card.bin\", starts_with = \"9{i:03}\" }}, {{ fact = \"capture_method\", in = [\"BANK_APP\", \"ON_FILE\"] }} ]\n"
        );
    }
    for i in 0..60 {
        let _ = write!(
            text,
            "[[rule]]\nid = \"requestor-{i}\"\nstage = \"decide\"\noutcome = \"yellow\"\nreason = \"requestor {i}\"\nwhen.any = [ {{ fact = \"token_requestor.id\", in = [\"4001{i:07}\", \"4002{i:07}\"] }}, {{ fact = \"scoring.reason_codes\", contains = \"R{i}\" }} ]\n"
        );
    }
    for i in 0..40 {
        let _ = write!(
            text,
            "[[rule]]\nid = \"score-{i}\"\nstage = \"adjust\"\noutcome = \"yellow\"\nreason = \"score band {i}\"\nwhen.all = [ {{ fact = \"scoring.device_score\", between = [{lo}, {hi}] }}, {{ not = {{ fact = \"wallet_provider_id\", eq = \"W{i}\" }} }} ]\n",
            lo = 100 + i,
            hi = 101 + i
        );
    }
    text
}

fn facts() -> Facts {
    let mut facts = Facts::new();
    facts
        .set_str("capture_method", "BANK_APP")
        .set_str("card.bin", "411111")
        .set_str("card.status", "ACTIVE")
        .set_bool("card.has_stepup_method", true)
        .set_str("token_requestor.id", "40010030273")
        .set_str("wallet_provider_id", "APPLE_PAY")
        .set_num("scoring.device_score", 4.0)
        .set_list(
            "scoring.reason_codes",
            vec!["A1".to_owned(), "B2".to_owned()],
        );
    facts
}

fn bench(c: &mut Criterion) {
    let rules = RuleSet::from_toml_str(&two_hundred_rules(), "bench").expect("bench rules compile");
    assert_eq!(rules.len(), 200);
    let facts = facts();
    c.bench_function("evaluate 200 rules", |b| {
        b.iter(|| black_box(rules.evaluate(black_box(&facts))))
    });
    let shipped = RuleSet::from_toml_str(include_str!("../config/rules.toml"), "shipped")
        .expect("shipped rules");
    c.bench_function("evaluate the shipped rules", |b| {
        b.iter(|| black_box(shipped.evaluate(black_box(&facts))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
