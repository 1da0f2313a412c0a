#!/usr/bin/env bash
# One command for a newcomer: builds the two binaries, starts tsh-issuer on a temporary store with
# `tsh-sim serve` as its OTP gateway and TSH, plays every scenario of fixtures/scenarios (green,
# yellow with OTP, red, token-for-token, stand-in, lifecycle, faults) step by step, then suspends
# and resumes a token from the staff API through the simulator's TSH. Everything runs on loopback
# and is stopped and removed on exit. Exit code: the scenarios' (0 = every expectation met).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet --bins
ISSUER=target/release/tsh-issuer
SIM=target/release/tsh-sim

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tsh-demo.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
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
  echo "demo: $2 did not come up; its log:" >&2
  cat "$3" >&2
  exit 2
}

SIM_URL="http://127.0.0.1:$(free_port)"
URL="http://127.0.0.1:$(free_port)"
"$SIM" serve --bind "${SIM_URL#http://}" --issuer-url "$URL" --tsh-key fixtures/tsh-dev >"$WORK/sim.log" 2>&1 &
PIDS+=($!)
wait_for "$SIM_URL/otp/mode" "tsh-sim serve" "$WORK/sim.log"

TSH_ISSUER__SERVER__BIND="${URL#http://}" \
TSH_ISSUER__STORE__PATH="$WORK/store" \
TSH_ISSUER__OTP__WEBHOOK_URL="$SIM_URL/otp" \
TSH_ISSUER__TSH__BASE_URL="$SIM_URL/gtep/igwapi/v2.0" \
  "$ISSUER" serve >"$WORK/issuer.log" 2>&1 &
PIDS+=($!)
wait_for "$URL/health/ready" "tsh-issuer" "$WORK/issuer.log"
echo "demo: tsh-issuer on $URL, tsh-sim (OTP gateway + TSH) on $SIM_URL"
echo

status=0
"$SIM" run --all --url "$URL" --gateway "$SIM_URL" || status=$?

echo "demo: the staff API asks TSH (the simulator) to suspend, then resume, the token VC-demo"
AUTH='Authorization: Bearer dev-operator-token'
REF=$(curl -fsS -H "$AUTH" -H 'content-type: application/json' "$URL/api/v1/cards" \
  -d '{"pan":"4111111111111111","exp":"1230","status":"ACTIVE"}' | sed -n 's/.*"issuer_card_ref_id":"\([^"]*\)".*/\1/p')
curl -fsS -o /dev/null -H 'content-type: application/json' -H 'x-correlation-id: demo-activate' -H 'x-issuer-id: ISSUERDEV1' \
  "$URL/issuer/igwapi/v2.0/notifyVirtualCardChange" \
  -d "{\"issuerCardRefId\":\"$REF\",\"virtualCardId\":\"VC-demo\",\"walletProviderId\":\"APPLE_PAY\",\"action\":\"ACTIVATE\"}"
curl -fsS -o /dev/null -H 'content-type: application/json' "$SIM_URL/tsh/tokens" \
  -d "{\"issuer_card_ref_id\":\"$REF\",\"virtual_card_id\":\"VC-demo\",\"state\":\"ACTIVE\"}"
for state in SUSPENDED ACTIVE; do
  curl -fsS -o /dev/null -H "$AUTH" -H 'content-type: application/json' "$URL/api/v1/tokentransitions" \
    -d "{\"virtual_card_id\":\"VC-demo\",\"state\":\"$state\",\"reason_code\":\"01\",\"reason\":\"demo\"}"
  for _ in $(seq 1 50); do
    now=$(curl -fsS -H "$AUTH" "$URL/api/v1/tokens/VC-demo" | sed -n 's/.*"state":"\([A-Z_]*\)".*/\1/p')
    [ "$now" = "$state" ] && break
    sleep 0.1
  done
  echo "  requested $state -> token is now $now"
  [ "$now" = "$state" ] || status=1
done
echo
curl -fsS -H "$AUTH" "$URL/api/v1/tokens/VC-demo/transitions" | python3 -m json.tool 2>/dev/null | head -40 || true
exit "$status"
