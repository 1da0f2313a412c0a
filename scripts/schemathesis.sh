#!/usr/bin/env bash
# HTTP-level fuzzing from the OpenAPI document (issue 13 item 12): schemathesis (PyPI) generates
# requests for every documented operation — the callbacks with valid headers, the staff API with
# the dev operator token — and checks that no answer is a 5xx and that every answer (status,
# content type, body) matches the document. Not a test (not in `cargo test`): run it by hand
# after changing an endpoint or a wire type.
#
# What it does: installs schemathesis into a throw-away venv if missing, builds the service and
# tsh-sim (debug: overflow checks and debug assertions on, so arithmetic bugs panic instead of
# wrapping), starts tsh-sim (as TSH and the OTP gateway) and the service on free loopback ports
# with a temporary store and the dev config, seeds one card and one token whose ids schemathesis
# uses part of the time, runs schemathesis, prints a summary (schemathesis's own, plus any panic
# in the service log), and stops and removes everything on exit. Exit status: non-zero when schemathesis found a
# failure or the service logged a panic.
#
# Environment (defaults in brackets):
#   ST_MAX_TIME      seconds of the whole schemathesis run [120]
#   ST_MAX_EXAMPLES  test cases per operation and phase [100]
#   ST_SEED          random seed, to replay a run [random]
#   ST_VENV          where schemathesis is installed [target/schemathesis-venv]
#   ST_VERSION       the pip requirement [schemathesis>=4.3,<5]
#   ST_EXTRA         extra arguments for `st run` (e.g. "--include-tag staff") [none]
#   ST_SKIP_BUILD    1 to use the existing target/debug binaries [0]
#   ST_KEEP          1 to keep the temporary directory (service and tsh-sim logs, reports) [0]
#   ST_KNOWN_IDS_PROBABILITY  how often a card / token / session id is the seeded one [0.5]
# Needs: python3 (with venv), curl, cargo; network to PyPI only on the first run.
set -euo pipefail

cd "$(dirname "$0")/.."
MAX_TIME=${ST_MAX_TIME:-120}
MAX_EXAMPLES=${ST_MAX_EXAMPLES:-100}
VENV=${ST_VENV:-target/schemathesis-venv}
VERSION=${ST_VERSION:-"schemathesis>=4.3,<5"}
STAFF_TOKEN=dev-operator-token
ISSUER_ID=ISSUERDEV1

if [ ! -x "$VENV/bin/st" ]; then
    echo "== installing $VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "$VERSION"
fi
ST_BIN="$(cd "$VENV" && pwd)/bin/st"
echo "== $("$ST_BIN" --version)"

if [ "${ST_SKIP_BUILD:-0}" != 1 ]; then
    cargo build --quiet --bin tsh-issuer --bin tsh-sim
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tsh-issuer-schemathesis.XXXXXX")
SERVICE_PID=
SIM_PID=
cleanup() {
    for pid in $SERVICE_PID $SIM_PID; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "${ST_KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT=$(free_port)
SIM_PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
SIM="http://127.0.0.1:$SIM_PORT"
# tsh-sim plays TSH (staff actions reach it; it refuses cards and tokens it never learnt, which
# the service answers with a documented 502) and the OTP gateway; nothing leaves the machine.
target/debug/tsh-sim serve --bind "127.0.0.1:$SIM_PORT" --issuer-url "$BASE" >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
TSH_ISSUER_ENV=local \
TSH_ISSUER__SERVER__BIND="127.0.0.1:$PORT" \
TSH_ISSUER__STORE__PATH="$WORK/store" \
TSH_ISSUER__OTP__WEBHOOK_URL="$SIM/otp" \
TSH_ISSUER__TSH__BASE_URL="$SIM/gtep/igwapi/v2.0" \
TSH_ISSUER__LOG__FORMAT=json \
    target/debug/tsh-issuer serve >"$WORK/service.log" 2>&1 &
SERVICE_PID=$!

for _ in $(seq 1 300); do
    if curl -fsS "$BASE/health/ready" >/dev/null 2>&1 && curl -fsS "$SIM/otp/mode" >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$SERVICE_PID" 2>/dev/null; then
        echo "the service did not start:"; cat "$WORK/service.log"; exit 1
    fi
    sleep 0.1
done
curl -fsS "$BASE/health/ready" >/dev/null

# Seed data, so that generated requests can meet a real card, token and session too: the dev card
# 4111… (upserted again from fixtures/dev-cards.json, which tells its reference) and one ACTIVE
# token on it. Schemathesis draws those identifiers from dictionaries part of the time
# (ST_KNOWN_IDS_PROBABILITY) and random values otherwise.
CARD_BODY=$(python3 -c 'import json; print(json.dumps([c for c in json.load(open("fixtures/dev-cards.json")) if c["pan"] == "4111111111111111"][0]))')
CARD_REF=$(curl -fsS -X POST "$BASE/api/v1/cards" -H "Authorization: Bearer $STAFF_TOKEN" \
    -H 'Content-Type: application/json' -d "$CARD_BODY" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["issuer_card_ref_id"])')
TOKEN_ID=VC-schemathesis-1
SESSION_ID=schemathesis-seed
curl -fsS -o /dev/null -X POST "$BASE/issuer/igwapi/v2.0/notifyVirtualCardChange" \
    -H 'Content-Type: application/json' -H "x-issuer-id: $ISSUER_ID" -H "x-correlation-id: $SESSION_ID" \
    -d "{\"issuerCardRefId\": \"$CARD_REF\", \"virtualCardId\": \"$TOKEN_ID\", \"walletProviderId\": \"WP-ST\", \"action\": \"ACTIVATE\"}"
P=${ST_KNOWN_IDS_PROBABILITY:-0.5}
cat >"$WORK/schemathesis.toml" <<TOML
[dictionaries]
cards = { values = ["$CARD_REF"] }
tokens = { values = ["$TOKEN_ID"] }
sessions = { values = ["$SESSION_ID"] }

[parameters]
"path.issuer_card_ref_id" = { dictionary = "cards", probability = $P }
"path.virtual_card_id" = { dictionary = "tokens", probability = $P }
"path.correlation_id" = { dictionary = "sessions", probability = $P }
"body.issuerCardRefId" = { dictionary = "cards", probability = $P }
"body.virtualCardId" = { dictionary = "tokens", probability = $P }
"body.virtual_card_id" = { dictionary = "tokens", probability = $P }

# Staff actions go through TSH: its refusal or absence is a documented 502 / 503 / 504, not a
# fault of ours (a 500 still fails).
[[operations]]
include-operation-id = ["createTokenTransition", "blockCard", "unblockCard", "replaceCard"]
checks.not_a_server_error.expected-statuses = ["2XX", "3XX", "4XX", "502", "503", "504"]
TOML

echo "== schemathesis against $BASE/api/openapi.json for up to ${MAX_TIME}s"
set +e
# -H values replace the generated ones: random x-issuer-id values would only ever meet 113.
# Run from the temporary directory: schemathesis keeps a cache in its working directory.
# shellcheck disable=SC2086
(cd "$WORK" && "$ST_BIN" --config-file "$WORK/schemathesis.toml" run "$BASE/api/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --header "Authorization: Bearer $STAFF_TOKEN" \
    --header "x-issuer-id: $ISSUER_ID" \
    --header "x-correlation-id: schemathesis-run" \
    --phases examples,coverage,fuzzing \
    --max-time "$MAX_TIME" \
    --max-examples "$MAX_EXAMPLES" \
    --request-timeout 10 \
    --generation-database none \
    --report junit --report-dir "$WORK/report" \
    --no-color \
    ${ST_SEED:+--seed "$ST_SEED"} \
    ${ST_EXTRA:-})
ST_STATUS=$?
set -e

PANICS=$(grep -c 'panicked' "$WORK/service.log" || true)
SERVER_ERRORS=$(grep -c '"status":5[0-9][0-9]' "$WORK/service.log" || true)
INTERNAL_ERRORS=$(grep -c '"status":500' "$WORK/service.log" || true)
echo
echo "== summary"
echo "schemathesis exit status: $ST_STATUS (0 = every check passed)"
echo "panics in the service log: $PANICS"
echo "5xx answers logged by the service: $SERVER_ERRORS, of which 500: $INTERNAL_ERRORS (502-504: TSH refused or absent, expected)"
JUNIT=$(ls "$WORK"/report/junit*.xml 2>/dev/null | head -1 || true)
if [ -n "$JUNIT" ]; then
    python3 - "$JUNIT" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
tests = sum(int(s.get("tests", 0)) for s in suites)
failures = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
print(f"operations tested: {tests}, with a failure: {failures}")
PY
fi
if [ "$PANICS" != 0 ]; then
    grep 'panicked' "$WORK/service.log" | head -5
fi
[ "$ST_STATUS" = 0 ] && [ "$PANICS" = 0 ] && [ "$INTERNAL_ERRORS" = 0 ]
