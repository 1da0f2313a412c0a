#!/usr/bin/env bash
# The project's benchmark (not a test): builds release, starts tsh-issuer (release) on a temporary
# store and a free loopback port with `tsh-sim serve` as its OTP gateway / TSH, searches for the
# saturation rate (increasing open-model session rates until p99 or errors pass a threshold), then
# runs at 50 % of saturation, and prints ONE table. Everything is stopped and removed on exit.
#
# Environment (defaults in brackets):
#   BENCH_RATES        session rates tried, in order ["25 50 100 200 400 800 1600 3200 6400"]
#   BENCH_STEP_SECS    seconds per search step [4]
#   BENCH_FINAL_SECS   seconds of the run at 50 % of saturation [15]
#   BENCH_P99_MS       a step saturates when its p99 exceeds this [50]
#   BENCH_MAX_ERR_PCT  ... or its errors exceed this percentage of requests [1]
#   BENCH_MIX          session mix ["eligibility=1,digitization=1,otp=0,notify=1"]
#   BENCH_CARDS        fresh cards created per run [100]
#   BENCH_SKIP_BUILD   1 to use the existing target/release binaries [0]
set -euo pipefail

cd "$(dirname "$0")/.."
RATES=${BENCH_RATES:-"25 50 100 200 400 800 1600 3200 6400"}
STEP_SECS=${BENCH_STEP_SECS:-4}
FINAL_SECS=${BENCH_FINAL_SECS:-15}
P99_MS=${BENCH_P99_MS:-50}
MAX_ERR_PCT=${BENCH_MAX_ERR_PCT:-1}
MIX=${BENCH_MIX:-"eligibility=1,digitization=1,otp=0,notify=1"}
CARDS=${BENCH_CARDS:-100}

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  echo "bench: building release binaries..." >&2
  cargo build --release --quiet --bins
fi
ISSUER=target/release/tsh-issuer
SIM=target/release/tsh-sim

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tsh-bench.XXXXXX")
ISSUER_PID=""
SIM_PID=""
cleanup() {
  for pid in "$ISSUER_PID" "$SIM_PID"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + RANDOM % 30000))
}

wait_for() { # url, what, log
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "bench: $2 did not come up; its log:" >&2
  cat "$3" >&2
  exit 2
}

SIM_PORT=$(free_port)
ISSUER_PORT=$(free_port)
SIM_URL="http://127.0.0.1:$SIM_PORT"
URL="http://127.0.0.1:$ISSUER_PORT"

"$SIM" serve --bind "127.0.0.1:$SIM_PORT" --issuer-url "$URL" >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
wait_for "$SIM_URL/otp/mode" "tsh-sim serve" "$WORK/sim.log"

TSH_ISSUER__SERVER__BIND="127.0.0.1:$ISSUER_PORT" \
TSH_ISSUER__STORE__PATH="$WORK/store" \
TSH_ISSUER__OTP__WEBHOOK_URL="$SIM_URL/otp" \
TSH_ISSUER__TSH__BASE_URL="$SIM_URL/gtep/igwapi/v2.0" \
RUST_LOG=${RUST_LOG:-warn} \
  "$ISSUER" serve >"$WORK/issuer.log" 2>&1 &
ISSUER_PID=$!
wait_for "$URL/health/ready" "tsh-issuer" "$WORK/issuer.log"

# One load run; prints its summary lines (overall first, then per operation).
load() { # rate, seconds
  "$SIM" load --url "$URL" --rate "$1" --duration "$2" --mix "$MIX" --cards "$CARDS" \
    --summary-only || true
}
field() { # line, key
  sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"
}

ROWS=()
row() { # label, summary line
  ROWS+=("$(printf '%-44s %9s %9s %8s %6s %8s %8s %8s %8s %9s' "$1" \
    "$(field "$2" offered)" "$(field "$2" achieved)" "$(field "$2" requests)" "$(field "$2" errors)" \
    "$(field "$2" p50_ms)" "$(field "$2" p90_ms)" "$(field "$2" p99_ms)" "$(field "$2" p999_ms)" \
    "$(field "$2" max_ms)")")
}

SATURATION=""
verdict=ok
for rate in $RATES; do
  echo "bench: search step ${rate} sessions/s for ${STEP_SECS}s..." >&2
  out=$(load "$rate" "$STEP_SECS")
  line=$(grep '^summary:' <<<"$out" || true)
  if [ -z "$line" ]; then
    echo "bench: the load run at $rate/s did not report:" >&2
    echo "$out" >&2
    verdict=failed
    break
  fi
  p99=$(field "$line" p99_ms)
  errors=$(field "$line" errors)
  requests=$(field "$line" requests)
  offered=$(field "$line" offered)
  achieved=$(field "$line" achieved)
  verdict=$(awk -v p99="$p99" -v lim="$P99_MS" -v e="$errors" -v r="$requests" -v pct="$MAX_ERR_PCT" \
    -v o="$offered" -v a="$achieved" \
    'BEGIN { if (p99 > lim || (r > 0 && 100 * e / r > pct) || a < 0.9 * o) print "saturated"; else print "ok" }')
  row "search ${rate}/s: $verdict" "$line"
  if [ "$verdict" != ok ]; then break; fi
  SATURATION=$rate
done

SAT_LABEL="${SATURATION:-not found}/s"
if [ -n "$SATURATION" ] && [ "$verdict" = ok ]; then
  SAT_LABEL=">= ${SATURATION}/s (every rate tried passed; add higher BENCH_RATES)"
fi
if [ -z "$SATURATION" ]; then
  echo "bench: even the first rate saturated (p99 > ${P99_MS} ms or errors > ${MAX_ERR_PCT}%); lower BENCH_RATES" >&2
  FINAL_RATE=$(awk -v r="${RATES%% *}" 'BEGIN { print r / 2 }')
else
  FINAL_RATE=$(awk -v r="$SATURATION" 'BEGIN { print r / 2 }')
fi
echo "bench: run at 50% of saturation (${FINAL_RATE} sessions/s) for ${FINAL_SECS}s..." >&2
out=$(load "$FINAL_RATE" "$FINAL_SECS")
while IFS= read -r line; do
  case "$line" in
    summary:*) row "50% (${FINAL_RATE}/s): all" "$line" ;;
    summary\[*)
      op=${line#summary[}
      op=${op%%]*}
      row "50% (${FINAL_RATE}/s): $op" "$line"
      ;;
  esac
done <<<"$out"

echo
echo "tsh-issuer benchmark · $(nproc 2>/dev/null || echo ?) CPU(s) · mix $MIX · p99 limit ${P99_MS} ms, errors ${MAX_ERR_PCT}% · saturation (last rate passing) ${SAT_LABEL}"
echo "latency from each request's intended start (open model), ms; rates in sessions/s (offered, achieved)"
printf '%-44s %9s %9s %8s %6s %8s %8s %8s %8s %9s\n' run offered achieved requests errors p50 p90 p99 p99.9 max
for r in "${ROWS[@]}"; do echo "$r"; done
