//! `store stats`: where a store's bytes go. Per tree (sled) the entries and the logical bytes of
//! their keys and values, beside the bytes the store's files take on disk, so encoding size and
//! the engine's own space amplification (sled keeps stale page versions in its log until it
//! cleans a segment; node headers; the page snapshot) can be told apart. Read-only; it walks every
//! entry, so it takes seconds on a large store.

use std::fmt::Write as _;
use std::path::Path;

/// One tree's (or table's) logical size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeSpace {
    pub name: &'static str,
    pub entries: u64,
    pub key_bytes: u64,
    pub value_bytes: u64,
}

/// A whole store's space report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceReport {
    pub trees: Vec<TreeSpace>,
    /// Apparent size of every file under the store directory.
    pub file_bytes: u64,
    /// Blocks actually allocated to them (sparse regions excluded).
    pub allocated_bytes: u64,
    /// Tokens in the store (the per-token column divides by this).
    pub tokens: u64,
}

impl SpaceReport {
    /// Keys plus values over every tree.
    pub fn logical_bytes(&self) -> u64 {
        self.trees.iter().map(|t| t.key_bytes + t.value_bytes).sum()
    }

    /// A plain-text table for operators (no record content, only sizes).
    pub fn render(&self) -> String {
        let per_token = |bytes: u64| match self.tokens {
            0 => "-".to_owned(),
            n => format!("{:.0}", bytes as f64 / n as f64),
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<40} {:>10} {:>13} {:>14} {:>9}",
            "tree", "entries", "key bytes", "value bytes", "B/token"
        );
        for t in self.trees.iter().filter(|t| t.entries > 0) {
            let _ = writeln!(
                out,
                "{:<40} {:>10} {:>13} {:>14} {:>9}",
                t.name,
                t.entries,
                t.key_bytes,
                t.value_bytes,
                per_token(t.key_bytes + t.value_bytes)
            );
        }
        let logical = self.logical_bytes();
        let ratio = |bytes: u64| match logical {
            0 => "-".to_owned(),
            l => format!("{:.2}", bytes as f64 / l as f64),
        };
        let _ = writeln!(
            out,
            "tokens {}; logical (keys + values) {} bytes = {} B/token",
            self.tokens,
            logical,
            per_token(logical)
        );
        let _ = writeln!(
            out,
            "on disk: files {} bytes = {} B/token ({}x logical); allocated {} bytes = {} B/token ({}x logical)",
            self.file_bytes,
            per_token(self.file_bytes),
            ratio(self.file_bytes),
            self.allocated_bytes,
            per_token(self.allocated_bytes),
            ratio(self.allocated_bytes)
        );
        out
    }
}

/// Apparent and allocated bytes of every file under `dir` (recursively).
pub fn directory_bytes(dir: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut totals = (0, 0);
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            let (apparent, allocated) = directory_bytes(&entry.path())?;
            totals.0 += apparent;
            totals.1 += allocated;
        } else {
            totals.0 += meta.len();
            totals.1 += meta.blocks() * 512;
        }
    }
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_divides_by_the_token_count_and_names_the_amplification() {
        let report = SpaceReport {
            trees: vec![
                TreeSpace {
                    name: "virtualcardid_token",
                    entries: 2,
                    key_bytes: 20,
                    value_bytes: 180,
                },
                TreeSpace {
                    name: "meta",
                    entries: 0,
                    key_bytes: 0,
                    value_bytes: 0,
                },
            ],
            file_bytes: 800,
            allocated_bytes: 4096,
            tokens: 2,
        };
        let text = report.render();
        assert!(text.contains("virtualcardid_token"), "{text}");
        assert!(!text.contains("meta"), "empty trees are left out: {text}");
        assert!(text.contains("= 100 B/token"), "{text}");
        assert!(
            text.contains("files 800 bytes = 400 B/token (4.00x logical)"),
            "{text}"
        );
    }
}
