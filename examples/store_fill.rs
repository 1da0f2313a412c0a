//! Benchmark helper (not a test): fills a sled store offline with N tokens as the service would
//! hold them after N digitizations and activations — cards (two tokens each), tokens with their
//! index entries and decision summary (without the rule trace, which the service keeps with the
//! decision record only), one transition each — through the service's own `Tx` methods in bulk
//! batches (`Store::bulk_load_blocking`), then flushes once and reopens the store once (timed:
//! sled replays its whole log on that first open). scripts/bench.sh uses it for the 1 M-token
//! figures.
//!
//! `cargo run --release --example store_fill -- --store DIR --tokens N [--rules FILE]
//! [--sample FILE] [--cache-mb MB] [--batch TOKENS]` (FILE: up to 1000 of the virtual card ids,
//! one a line, for lookups; MB: sled's page cache while filling, default 1024: the fill is
//! offline; TOKENS per bulk batch, default 20 000)

use std::path::PathBuf;

use tsh_issuer::domain::decision::{DecisionSummary, LevelOfTrust};
use tsh_issuer::domain::token::{TokenNumberInfo, TokenRequestorInfo};
use tsh_issuer::domain::{
    CardRecord, CardStatus, DecidedBy, Expiry, TokenRecord, TokenState, Transition,
};
use tsh_issuer::rules::Facts;
use tsh_issuer::store::Store;

/// Tokens per bulk batch by default: large enough to amortise, small enough to buffer (≈ 40 MB).
const BATCH: u64 = 20_000;
const NOW: &str = "2026-01-01T00:00:00Z";

struct Args {
    store: PathBuf,
    tokens: u64,
    rules: PathBuf,
    sample: Option<PathBuf>,
    cache_mb: u64,
    batch: u64,
}

fn args() -> Result<Args, String> {
    let mut store = None;
    let mut tokens = 1_000_000;
    let mut rules = PathBuf::from("config/rules.toml");
    let mut sample = None;
    let mut cache_mb = 1024;
    let mut batch = BATCH;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--store" => store = Some(PathBuf::from(value)),
            "--tokens" => tokens = value.parse().map_err(|_| "--tokens: a number")?,
            "--rules" => rules = PathBuf::from(value),
            "--sample" => sample = Some(PathBuf::from(value)),
            "--cache-mb" => cache_mb = value.parse().map_err(|_| "--cache-mb: a number")?,
            "--batch" => batch = value.parse().map_err(|_| "--batch: a number")?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    let store = store.ok_or("--store DIR is required")?;
    Ok(Args {
        store,
        tokens,
        rules,
        sample,
        cache_mb,
        batch: batch.max(1),
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

/// The length of a record as JSON.
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
    let store = Store::open_sled_with_cache(&args.store, args.cache_mb * 1024 * 1024)
        .map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let mut done = 0;
    while done < args.tokens {
        let upto = (done + args.batch).min(args.tokens);
        // The service's own `Tx` methods (records and index entries), buffered and applied as
        // one batch per tree: see `Store::bulk_load_blocking`.
        store
            .bulk_load_blocking(|tx| {
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
    drop(store);
    // sled writes its page snapshot when it opens a store, after replaying the log written since
    // the last one: the first open after a fill replays all of it. Done here, timed, so that the
    // service's start measures a restart.
    let reopening = std::time::Instant::now();
    drop(Store::open_sled(&args.store).map_err(|e| e.to_string())?);
    let reopen_secs = reopening.elapsed().as_secs_f64();
    // The JSON size of one record of each kind (export format; sled stores them compact).
    let sample_card = card(0);
    let sample_token = token(0, &sample_card, &decision);
    println!(
        "filled tokens={} cards={} secs={secs:.1} reopen_secs={reopen_secs:.1} \
         json_token_bytes={} json_card_bytes={} json_transition_bytes={}",
        args.tokens,
        args.tokens.div_ceil(2),
        json_len(&sample_token),
        json_len(&sample_card),
        json_len(&transition(&sample_token)),
    );
    Ok(())
}
