#!/usr/bin/env bash
# Crash harness for the embedded store (issue 9): acknowledged means durable, under kill -9.
# ROUNDS times: start tsh-issuer on one sled store, drive it with `tsh-sim load` (eligibility,
# digitization and notification sessions; every 200 the simulator sees is appended to an acks
# file), kill -9 the service at a random moment, then restart it on the same store and check that
# every 200 observed before the kill is there (enrolment, decision, token). Prints a summary line;
# exits 1 if anything acknowledged was lost.
#
# Loopback only, bounded (ROUNDS × a few seconds), and everything it started is stopped and its
# temporary directory removed on exit.
#
# Environment (defaults in brackets):
#   CRASH_ROUNDS      kills [50]
#   CRASH_RATE        sessions/s offered during each round [60]
#   CRASH_MIN_MS      earliest kill after the load starts, ms [300]
#   CRASH_MAX_MS      latest kill, ms [1500]
#   CRASH_PROFILE     cargo profile of the binaries: debug or release [debug]
#   CRASH_SKIP_BUILD  1 to use existing binaries [0]
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${CRASH_ROUNDS:-50}
RATE=${CRASH_RATE:-60}
MIN_MS=${CRASH_MIN_MS:-300}
MAX_MS=${CRASH_MAX_MS:-1500}
PROFILE=${CRASH_PROFILE:-debug}
STAFF=dev-operator-token

if [ "${CRASH_SKIP_BUILD:-0}" != 1 ]; then
  echo "crash-sled: building the binaries ($PROFILE)..." >&2
  if [ "$PROFILE" = release ]; then cargo build --release --quiet --bins; else cargo build --quiet --bins; fi
fi
ISSUER=target/$PROFILE/tsh-issuer
SIM=target/$PROFILE/tsh-sim

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tsh-crash.XXXXXX")
SERVICE_PID=""
LOAD_PID=""
cleanup() {
  for pid in "$LOAD_PID" "$SERVICE_PID"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

STORE=$WORK/store
# Starts the service on $STORE; sets SERVICE_PID and URL.
start_service() {
  local log=$WORK/service.log
  : >"$log"
  TSH_ISSUER__SERVER__BIND=127.0.0.1:0 TSH_ISSUER__STORE__PATH="$STORE" \
    TSH_ISSUER__SERVER__WORKERS=2 TSH_ISSUER__OTP__WEBHOOK_URL=http://127.0.0.1:9/otp \
    "$ISSUER" serve >"$log" 2>&1 &
  SERVICE_PID=$!
  for _ in $(seq 1 300); do
    URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -1 || true)
    if [ -n "$URL" ]; then return 0; fi
    if ! kill -0 "$SERVICE_PID" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "crash-sled: the service did not start:" >&2
  cat "$log" >&2
  exit 2
}

# One JSON field of an ack line (the simulator writes flat objects with string values).
field() { # line name
  printf '%s' "$1" | sed -n "s/.*\"$2\":\"\\([^\"]*\\)\".*/\\1/p"
}

# Checks every ack of a file against the running service; prints one line per loss.
verify() { # acks-file → number of losses on stdout's last line
  local lost=0 line op cid vcid path status
  while IFS= read -r line; do
    op=$(field "$line" operation)
    cid=$(field "$line" correlation_id)
    case "$op" in
      notifyVirtualCardChange) vcid=$(field "$line" virtual_card_id); path="/api/v1/tokens/$vcid" ;;
      checkCardEligibility|requestCardDigitization) path="/api/v1/enrollments/$cid" ;;
      *) continue ;;
    esac
    status=$(curl -s -o "$WORK/answer.json" -w '%{http_code}' -H "Authorization: Bearer $STAFF" "$URL$path")
    if [ "$status" != 200 ]; then
      echo "LOST: $op $cid (GET $path answered $status)" >&2
      lost=$((lost + 1))
    elif [ "$op" = requestCardDigitization ] && ! grep -q '"level_of_trust"' "$WORK/answer.json"; then
      echo "LOST: the decision of $cid" >&2
      lost=$((lost + 1))
    fi
  done <"$1"
  echo "$lost"
}

total_acks=0
total_lost=0
started=$(date +%s)
start_service
for round in $(seq 1 "$ROUNDS"); do
  acks=$WORK/acks-$round.jsonl
  : >"$acks"
  "$SIM" load --url "$URL" --rate "$RATE" --duration 5 --cards 4 --timeout-ms 2000 \
    --mix eligibility=1,digitization=2,notify=2 --acks "$acks" --summary-only \
    >"$WORK/load.log" 2>&1 &
  LOAD_PID=$!
  delay_ms=$((MIN_MS + RANDOM % (MAX_MS - MIN_MS + 1)))
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  kill -9 "$SERVICE_PID"
  wait "$SERVICE_PID" 2>/dev/null || true
  # Whatever the simulator saw answered 200 is now in the acks file: the service is gone.
  kill -9 "$LOAD_PID" 2>/dev/null || true
  wait "$LOAD_PID" 2>/dev/null || true
  LOAD_PID=""
  start_service
  n=$(wc -l <"$acks")
  lost=$(verify "$acks" | tail -1)
  total_acks=$((total_acks + n))
  total_lost=$((total_lost + lost))
  printf 'round %2d: killed after %4d ms, %3d acknowledged, %d lost\n' "$round" "$delay_ms" "$n" "$lost"
done
elapsed=$(($(date +%s) - started))
echo "crash-sled: $ROUNDS kill -9 rounds in ${elapsed}s: $total_acks acknowledged answers checked after restart, $total_lost lost"
[ "$total_lost" -eq 0 ]
