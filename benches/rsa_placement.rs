//! Benchmark (issue 15 item 2): where the RSA private operation of a callback should run. The
//! service opens card data on its async workers (one per core, like actix's); the alternative is
//! to hand each decryption to a blocking pool and await it. Both are run here, in the same
//! process and minute, with one worker per core each opening sealed envelopes back to back, and
//! the envelopes per second of each, and their ratio per back-to-back pair, are printed. Run
//! with `cargo bench --bench rsa_placement` (release build; about 15 s).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tsh_issuer::crypto::seal::{KeyTransport, Recipient};
use tsh_issuer::crypto::KeyRing;

const RUN: Duration = Duration::from_secs(1);
/// Alternations of the two placements: the machine's load changes during a run, so each pair is
/// taken back to back and the median of the per-pair ratios is what is reported.
const PAIRS: usize = 7;

fn envelopes() -> (Arc<KeyRing>, Arc<Vec<String>>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let keys = KeyRing::load_dir(&root.join("fixtures/dev-keys")).expect("dev keys");
    let pem = std::fs::read_to_string(root.join("fixtures/dev-keys/issuer-dev.crt")).expect("cert");
    let recipient = Recipient::from_pem(&pem).expect("certificate");
    let sealed = (0..64)
        .map(|i| {
            let transport = if i % 2 == 0 {
                KeyTransport::OaepSha256
            } else {
                KeyTransport::Pkcs1v15
            };
            let clear = format!(r#"{{"fpan":"4111111111111111","exp":"12{i:02}"}}"#);
            recipient
                .seal_base64(clear.as_bytes(), transport)
                .expect("seal")
        })
        .collect();
    (Arc::new(keys), Arc::new(sealed))
}

/// One single-threaded runtime per core, each opening envelopes for `RUN`; `pooled` awaits each
/// decryption on the blocking pool of a shared runtime instead of doing it in place.
fn run(keys: &Arc<KeyRing>, sealed: &Arc<Vec<String>>, pooled: bool) -> f64 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let pool = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(cores)
        .build()
        .expect("pool runtime");
    let pool_handle = pool.handle().clone();
    let started = Instant::now();
    let workers: Vec<_> = (0..cores)
        .map(|w| {
            let (keys, sealed, pool) = (keys.clone(), sealed.clone(), pool_handle.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("worker runtime");
                rt.block_on(async move {
                    let mut opened = 0u64;
                    while started.elapsed() < RUN {
                        let envelope = sealed[(opened as usize + w) % sealed.len()].clone();
                        let ok = if pooled {
                            let keys = keys.clone();
                            pool.spawn_blocking(move || keys.decrypt_envelope(&envelope).is_ok())
                                .await
                                .unwrap_or(false)
                        } else {
                            keys.decrypt_envelope(&envelope).is_ok()
                        };
                        assert!(ok, "a sealed envelope failed to open");
                        opened += 1;
                    }
                    opened
                })
            })
        })
        .collect();
    let opened: u64 = workers.into_iter().map(|w| w.join().expect("worker")).sum();
    opened as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let (keys, sealed) = envelopes();
    let mut pairs: Vec<(f64, f64)> = (0..PAIRS)
        .map(|_| (run(&keys, &sealed, false), run(&keys, &sealed, true)))
        .collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ratio = median(pairs.iter().map(|(i, p)| p / i).collect());
    let inline = median(pairs.iter().map(|(i, _)| *i).collect());
    let pooled = median(pairs.iter().map(|(_, p)| *p).collect());
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    println!("rsa_placement: envelopes opened per second, one worker per core, {PAIRS} pairs of {RUN:?} runs");
    println!("  in place on the async workers: median {inline:.0}/s");
    println!("  awaited on a blocking pool:    median {pooled:.0}/s");
    println!("  pool / in place, median of the pairs: {ratio:.3}");
    println!(
        "  pairs (in place, pool): {}",
        pairs
            .iter()
            .map(|(i, p)| format!("({i:.0}, {p:.0})"))
            .collect::<Vec<_>>()
            .join(" ")
    );
}
