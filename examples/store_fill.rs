//! Benchmark helper (not a test): fills a sled store offline with N tokens as the service would
//! hold them after N digitizations and activations — cards (two tokens each), tokens with their
//! index entries and decision summary (without the rule trace, which the service keeps with the
//! decision record only), one transition each — in large batches, then flushes once. scripts/bench.sh uses it for the 1 M-token figures.
//!
//! `cargo run --release --example store_fill -- --store DIR --tokens N [--rules FILE]
//! [--sample FILE]` (FILE: up to 1000 of the virtual card ids, one a line, for lookups)

use std::path::PathBuf;

use tsh_issuer::domain::decision::{DecisionSummary, LevelOfTrust};
use tsh_issuer::domain::token::{TokenNumberInfo, TokenRequestorInfo};
use tsh_issuer::domain::{
    CardRecord, CardStatus, DecidedBy, Expiry, TokenRecord, TokenState, Transition,
};
use tsh_issuer::rules::Facts;
use tsh_issuer::store::Store;

const BATCH: u64 = 2_000;
const NOW: &str = "2026-01-01T00:00:00Z";

struct Args {
    store: PathBuf,
    tokens: u64,
    rules: PathBuf,
    sample: Option<PathBuf>,
}

fn args() -> Result<Args, String> {
    let mut store = None;
    let mut tokens = 1_000_000;
    let mut rules = PathBuf::from("config/rules.toml");
    let mut sample = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--store" => store = Some(PathBuf::from(value)),
            "--tokens" => tokens = value.parse().map_err(|_| "--tokens: a number")?,
            "--rules" => rules = PathBuf::from(value),
            "--sample" => sample = Some(PathBuf::from(value)),
            other => return Err(format!("unknown option {other}")),
        }
    }
    let store = store.ok_or("--store DIR is required")?;
    Ok(Args {
        store,
        tokens,
        rules,
        sample,
    })
}

fn hex_id(prefix: &str, n: u64, width: usize) -> String {
    // Spread like an HMAC would: consecutive ids land far apart in the key space.
    let mixed = n.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) ^ n;
    let hex = format!("{mixed:016x}{n:016x}{mixed:016x}");
    format!("{prefix}{}", &hex[..width])
}

fn card(n: u64) -> CardRecord {
    CardRecord {
        issuer_card_ref_id: hex_id("ICR", n, 40),
        pan_fingerprint: format!("{}{}", hex_id("", n, 32), hex_id("", n + 7, 32)),
        pan_masked: format!("411111******{:04}", n % 10_000),
        bin: "411111".to_owned(),
        last4: format!("{:04}", n % 10_000),
        exp: Expiry::parse_mmyy("1230").expect("valid expiry"),
        status: CardStatus::Active,
        product_id: Some("VISA-CLASSIC".to_owned()),
        cardholder_name: Some("A CARDHOLDER".to_owned()),
        phone: Some("+33612345678".to_owned()),
        email: Some("cardholder@example.com".to_owned()),
        created_time: NOW.to_owned(),
        last_modified_time: NOW.to_owned(),
    }
}

fn token(n: u64, card: &CardRecord, decision: &DecisionSummary) -> TokenRecord {
    TokenRecord {
        virtual_card_id: hex_id("V-", n, 32),
        issuer_card_ref_id: card.issuer_card_ref_id.clone(),
        state: TokenState::Active,
        wallet_provider_id: Some("APPLE".to_owned()),
        token_requestor: Some(TokenRequestorInfo {
            id: Some("40010030273".to_owned()),
            name: Some("APPLE_PAY".to_owned()),
            wallet_id: None,
            merchant_id: None,
        }),
        capture_method: Some("BANK_APP".to_owned()),
        token_storage_id: Some(hex_id("DEV", n, 24)),
        wallet_card_ref_id: Some(hex_id("WCR", n, 24)),
        wallet_virtual_card_id: None,
        is_primary: Some(true),
        device_binding_reference: None,
        token_number: Some(TokenNumberInfo {
            token_fingerprint: hex_id("", n + 3, 48),
            token_masked: format!("489537******{:04}", n % 10_000),
            token_last4: format!("{:04}", n % 10_000),
        }),
        correlation_id: Some(hex_id("c-", n, 32)),
        decision: Some(DecisionSummary {
            decision_id: format!("{:016x}", n + 1),
            ..decision.clone()
        }),
        original_token: None,
        token_reference_id: Some(hex_id("DNITHE", n, 32)),
        original_virtual_card_id: None,
        original_death: None,
        last_error: None,
        activated_time: Some(NOW.to_owned()),
        created_time: NOW.to_owned(),
        last_modified_time: NOW.to_owned(),
    }
}

fn transition(token: &TokenRecord) -> Transition {
    Transition {
        virtual_card_id: token.virtual_card_id.clone(),
        from_state: None,
        state: TokenState::Active,
        transition_type: "state.activated".to_owned(),
        action: "ACTIVATE".to_owned(),
        channel: "TSH".to_owned(),
        source: None,
        reason_code: None,
        reason: None,
        correlation_id: token.correlation_id.clone().unwrap_or_default(),
        created_time: NOW.to_owned(),
    }
}

/// The decision summary a green BANK_APP digitization gets from the rules file.
fn decision_template(rules: &std::path::Path) -> Result<DecisionSummary, String> {
    let rules = tsh_issuer::startup::load_rules(rules)?;
    let mut facts = Facts::new();
    facts
        .set_str("capture_method", "BANK_APP")
        .set_str("card.status", "ACTIVE")
        .set_bool("card.has_product", true);
    let evaluation = rules.evaluate(&facts);
    Ok(DecisionSummary {
        decision_id: String::new(),
        level_of_trust: LevelOfTrust::Green,
        decided_by: DecidedBy::Issuer,
        reason: evaluation.reason,
        rules: Vec::new(),
        created_time: NOW.to_owned(),
    })
}

/// The length of a record in the sled backend's encoding (JSON).
fn json_len<T: serde::Serialize>(value: &T) -> usize {
    serde_json::to_vec(value).map_or(0, |v| v.len())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("store_fill: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args = args()?;
    let decision = decision_template(&args.rules)?;
    let store = Store::open_sled(&args.store).map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let mut done = 0;
    while done < args.tokens {
        let upto = (done + BATCH).min(args.tokens);
        store
            .transact_blocking(|tx| {
                for n in done..upto {
                    let card = card(n / 2);
                    if n % 2 == 0 {
                        tx.put_card(&card)?;
                    }
                    let token = token(n, &card, &decision);
                    tx.put_token(&token)?;
                    tx.append_transition(&transition(&token))?;
                }
                Ok(())
            })
            .map_err(|e| e.to_string())?;
        done = upto;
    }
    store.flush_blocking().map_err(|e| e.to_string())?;
    if let Some(path) = &args.sample {
        let step = (args.tokens / 1000).max(1);
        let ids: Vec<String> = (0..args.tokens)
            .step_by(step as usize)
            .map(|n| hex_id("V-", n, 32))
            .collect();
        std::fs::write(path, ids.join("\n")).map_err(|e| e.to_string())?;
    }
    let secs = started.elapsed().as_secs_f64();
    // The encoded size of one record of each kind, for the bytes-per-token estimate.
    let sample_card = card(0);
    let sample_token = token(0, &sample_card, &decision);
    println!(
        "filled tokens={} cards={} secs={secs:.1} token_bytes={} card_bytes={} transition_bytes={}",
        args.tokens,
        args.tokens.div_ceil(2),
        json_len(&sample_token),
        json_len(&sample_card),
        json_len(&transition(&sample_token)),
    );
    Ok(())
}
