//! `tsh-sim record`: scenario runs become replay fixtures that pass on a fresh service.

use tsh_issuer::sim::record::write_fixtures;
use tsh_issuer::sim::runner::{fresh_seed, run_scenario, Target, TargetOptions};
use tsh_issuer::sim::scenario;

use crate::fixtures_replay::{cases_under, replay_cases};
use crate::helpers::*;

#[actix_web::test]
async fn recorded_scenarios_replay_as_fixtures() {
    let app = spawn_app().await;
    let cert =
        std::fs::read_to_string(repo_root().join("fixtures/dev-keys/issuer-dev.crt")).unwrap();
    let mut options = TargetOptions::local(&app.address, cert);
    options.gateway_url = None;
    let target = Target::new(options).unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut recorded = 0;
    for name in ["green", "red", "token-for-token", "stand-in", "lifecycle"] {
        let file = repo_root().join(format!("fixtures/scenarios/{name}.toml"));
        let scenario = scenario::load_file(&file).unwrap_or_else(|e| panic!("{e}"));
        let report = run_scenario(&target, &scenario, fresh_seed()).await;
        assert!(report.passed(), "{report}");
        recorded += write_fixtures(&report, out.path()).unwrap().len();
    }
    let cases = cases_under(out.path());
    assert_eq!(cases.len(), recorded);
    assert!(recorded >= 8, "only {recorded} fixtures recorded");
    for case in &cases {
        let text = std::fs::read_to_string(case.join("request.json")).unwrap();
        let request: serde_json::Value = serde_json::from_str(&text).unwrap();
        if let Some(card) = request["body"].get("cipheredCardInfo") {
            assert!(
                card.get("$seal").is_some(),
                "ciphertext recorded in {}",
                case.display()
            );
        }
    }
    let failures = replay_cases(&cases).await;
    assert!(
        failures.is_empty(),
        "recorded fixtures do not replay:\n{}",
        failures.join("\n")
    );
}
