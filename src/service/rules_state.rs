//! The rule sets in force (live + optional shadow) and their reload. A reload compiles both files
//! first and swaps them in one step; an invalid file keeps the previous rules and is reported.
//! A decision takes one [`RulesPair`] snapshot, so it can never mix two versions.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;

use crate::domain::time::now_rfc3339;
use crate::rules::RuleSet;

/// Loads and compiles a rules file; the version is the SHA-256 of exactly the compiled text.
pub fn load_rules(path: &Path) -> Result<RuleSet, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    RuleSet::from_toml_str(&text, hex::encode(digest.as_ref()))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Live and shadow rules taken together.
pub struct RulesPair {
    pub live: Arc<RuleSet>,
    pub shadow: Option<Arc<RuleSet>>,
}

/// What staff see about the rules in force.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RulesStatus {
    pub live_version: String,
    pub live_rules: usize,
    pub shadow_version: Option<String>,
    pub shadow_rules: Option<usize>,
    pub loaded_time: String,
    pub reloads: u64,
    pub last_reload_error: Option<String>,
    pub last_reload_attempt_time: Option<String>,
}

struct Meta {
    loaded_time: String,
    reloads: u64,
    last_error: Option<String>,
    last_attempt: Option<String>,
}

pub struct RulesState {
    pair: RwLock<Arc<RulesPair>>,
    meta: Mutex<Meta>,
    live_path: PathBuf,
    shadow_path: Option<PathBuf>,
}

impl RulesState {
    pub fn new(
        live: RuleSet,
        shadow: Option<RuleSet>,
        live_path: PathBuf,
        shadow_path: Option<PathBuf>,
    ) -> RulesState {
        RulesState {
            pair: RwLock::new(Arc::new(RulesPair {
                live: Arc::new(live),
                shadow: shadow.map(Arc::new),
            })),
            meta: Mutex::new(Meta {
                loaded_time: now_rfc3339(),
                reloads: 0,
                last_error: None,
                last_attempt: None,
            }),
            live_path,
            shadow_path,
        }
    }

    pub fn snapshot(&self) -> Arc<RulesPair> {
        match self.pair.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn swap(&self, pair: RulesPair) {
        let new = Arc::new(pair);
        match self.pair.write() {
            Ok(mut guard) => *guard = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }

    /// Replaces the live rules directly (tests, tools).
    pub fn replace_live(&self, rules: RuleSet) {
        let shadow = self.snapshot().shadow.clone();
        self.swap(RulesPair {
            live: Arc::new(rules),
            shadow,
        });
    }

    /// Re-reads both files. All or nothing: on any error the rules in force stay.
    pub fn reload(&self) -> Result<RulesStatus, String> {
        let attempt = now_rfc3339();
        let result = load_rules(&self.live_path).and_then(|live| {
            let shadow = match &self.shadow_path {
                Some(path) => Some(load_rules(path).map_err(|e| format!("shadow rules: {e}"))?),
                None => None,
            };
            Ok((live, shadow))
        });
        let mut meta = match self.meta.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        meta.last_attempt = Some(attempt.clone());
        match result {
            Ok((live, shadow)) => {
                self.swap(RulesPair {
                    live: Arc::new(live),
                    shadow: shadow.map(Arc::new),
                });
                meta.loaded_time = attempt;
                meta.reloads += 1;
                meta.last_error = None;
                drop(meta);
                Ok(self.status())
            }
            Err(e) => {
                meta.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    pub fn status(&self) -> RulesStatus {
        let pair = self.snapshot();
        let meta = match self.meta.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        RulesStatus {
            live_version: pair.live.version().to_owned(),
            live_rules: pair.live.len(),
            shadow_version: pair.shadow.as_ref().map(|s| s.version().to_owned()),
            shadow_rules: pair.shadow.as_ref().map(|s| s.len()),
            loaded_time: meta.loaded_time.clone(),
            reloads: meta.reloads,
            last_reload_error: meta.last_error.clone(),
            last_reload_attempt_time: meta.last_attempt.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "version = 1\n[defaults]\noutcome = \"red\"\nreason = \"default\"\n[[rule]]\nid = \"bank-app\"\nstage = \"decide\"\noutcome = \"green\"\nreason = \"bank app\"\nwhen.all = [ { fact = \"capture_method\", eq = \"BANK_APP\" } ]\n";

    #[test]
    fn an_invalid_file_keeps_the_previous_rules_and_reports_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.toml");
        std::fs::write(&path, GOOD).unwrap();
        let state = RulesState::new(load_rules(&path).unwrap(), None, path.clone(), None);
        let before = state.snapshot().live.version().to_owned();

        std::fs::write(&path, GOOD.replace("capture_method", "capture_methd")).unwrap();
        let err = state.reload().unwrap_err();
        assert!(
            err.contains("bank-app") && err.contains("capture_methd"),
            "{err}"
        );
        assert_eq!(state.snapshot().live.version(), before);
        assert_eq!(
            state.status().last_reload_error.as_deref(),
            Some(err.as_str())
        );

        std::fs::write(&path, GOOD.replace("bank app", "the bank's own app")).unwrap();
        let status = state.reload().unwrap();
        assert_ne!(status.live_version, before);
        assert_eq!(status.reloads, 1);
        assert!(status.last_reload_error.is_none());
    }

    #[test]
    fn a_broken_shadow_file_blocks_the_whole_reload() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live.toml");
        let shadow = dir.path().join("shadow.toml");
        std::fs::write(&live, GOOD).unwrap();
        std::fs::write(&shadow, GOOD).unwrap();
        let state = RulesState::new(
            load_rules(&live).unwrap(),
            Some(load_rules(&shadow).unwrap()),
            live.clone(),
            Some(shadow.clone()),
        );
        let before = state.snapshot().live.version().to_owned();
        std::fs::write(&live, GOOD.replace("bank app", "changed")).unwrap();
        std::fs::write(&shadow, "not toml [").unwrap();
        assert!(state.reload().unwrap_err().starts_with("shadow rules:"));
        assert_eq!(
            state.snapshot().live.version(),
            before,
            "live must not change when shadow fails"
        );
    }
}
