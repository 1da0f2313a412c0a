#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer) of the CMS/BER parser, the callback wire parsing and the
# rules-file parser, on the stable toolchain: the targets in fuzz/ are built with rustc's
# sanitizer-coverage flags (what cargo-fuzz passes, minus the nightly-only sanitizers) for the
# host target, so build scripts and proc-macros stay uninstrumented.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 60 s, every target
#
# Corpora: fuzz/corpus/<target>/ (committed seeds; new inputs found are kept in
# target/fuzz-corpus/<target>/, not committed). A crash leaves its input in
# target/fuzz-artifacts/<target>/ and fails the script: turn it into a regression test named
# after it (tests/api/fuzz_regressions.rs or the parser's unit tests).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(cms_envelope callback_body rules_file)
fi

host="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
export CARGO_TARGET_DIR="$PWD/target/fuzz-build"

echo "== building fuzz targets (release, instrumented, $host)"
cargo build --manifest-path fuzz/Cargo.toml --release --target "$host" --bins

failed=0
for t in "${targets[@]}"; do
  corpus="target/fuzz-corpus/$t"
  artifacts="target/fuzz-artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=("-dict=fuzz/dict/$t.dict")
  echo "== fuzzing $t for ${seconds}s"
  if ! "$CARGO_TARGET_DIR/$host/release/$t" "$corpus" "fuzz/corpus/$t" \
      -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" 2>"target/fuzz-$t.log"; then
    echo "!! $t found a crash; input and log:"
    ls -l "$artifacts"
    tail -40 "target/fuzz-$t.log"
    failed=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb|cov:" "target/fuzz-$t.log" | tail -3
  fi
done
exit "$failed"
