#!/usr/bin/env bash
# Repeatable profile of the service (not a test): runs the release tsh-issuer under
# valgrind --tool=callgrind on a temporary store, drives N sessions of one kind through
# `tsh-sim load` at a low rate, stops the service and prints instructions per session and the
# functions with the most inclusive instructions. Instruction counts do not depend on what else
# the machine is doing, unlike times on a shared machine.
#
#   scripts/profile.sh [MIX] [SESSIONS]     e.g. scripts/profile.sh digitization=1 200
# Needs valgrind (apt-get install valgrind) and `cargo build --release --bins` done.
set -euo pipefail
cd "$(dirname "$0")/.."
MIX=${1:-digitization=1}
SESSIONS=${2:-200}
RATE=${PROFILE_RATE:-10}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tsh-profile.XXXXXX")
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill "$PID"; wait "$PID" || true; fi
  if [ -n "${PROFILE_KEEP:-}" ]; then cp "$WORK/callgrind.out" "$PROFILE_KEEP"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
TSH_ISSUER__SERVER__BIND="127.0.0.1:$PORT" TSH_ISSUER__SERVER__WORKERS=1 \
TSH_ISSUER__STORE__PATH="$WORK/store" RUST_LOG=warn \
  valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" \
  target/release/tsh-issuer serve >"$WORK/issuer.log" 2>&1 &
PID=$!
for _ in $(seq 1 600); do curl -fsS -o /dev/null "$URL/health/ready" 2>/dev/null && break; sleep 0.1; done
# Cards are created first; the instructions of startup and card creation are in the total too,
# so a run with SESSIONS=0 gives the fixed part to subtract.
target/release/tsh-sim load --url "$URL" --mix "$MIX" --rate "$RATE" \
  --duration "$(( (SESSIONS + RATE - 1) / RATE ))" --cards 20 --summary-only >&2 || true
kill -INT "$PID"; wait "$PID" || true; PID=""
TOTAL=$(callgrind_annotate "$WORK/callgrind.out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
echo "mix $MIX · $SESSIONS sessions · $TOTAL instructions in all (startup included)"
callgrind_annotate --inclusive=yes "$WORK/callgrind.out" 2>/dev/null | sed -n '1,/^-- Auto/p' \
  | grep -E '^ *[0-9,]+ ' | head -"${PROFILE_TOP:-45}"
