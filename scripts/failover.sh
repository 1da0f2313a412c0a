#!/usr/bin/env bash
# Failover, shown (issue 9): a throw-away PostgreSQL cluster, two tsh-issuer instances on one
# database, and `tsh-sim load` spreading sessions over both — a request that fails or times out
# is retried on the other instance with the same x-correlation-id, as TSH does. Mid-run one
# instance is killed with kill -9. At the end it prints and checks:
#   1. every 200 the simulator saw is in the database (enrolment, decision, token);
#   2. no correlation id has two issuer decisions (a retried digitization is recorded once);
#   3. the survivor kept serving (200s from it after the kill, and it is still ready).
# Exits 1 if a check fails. Loopback only; the cluster, the instances and the temporary directory
# are stopped and removed on exit.
#
# Needs Debian's postgresql package (initdb, pg_ctl, createdb, psql under
# /usr/lib/postgresql/*/bin); run as root, the cluster runs as the postgres user.
#
# Environment (defaults in brackets):
#   FAILOVER_RATE       sessions/s offered [80]
#   FAILOVER_SECS       seconds of load [15]
#   FAILOVER_KILL_AT    seconds into the load when instance A is killed [5]
#   FAILOVER_PROFILE    cargo profile of the binaries: debug or release [debug]
#   FAILOVER_SKIP_BUILD 1 to use existing binaries [0]
set -euo pipefail
cd "$(dirname "$0")/.."

RATE=${FAILOVER_RATE:-80}
SECS=${FAILOVER_SECS:-15}
KILL_AT=${FAILOVER_KILL_AT:-5}
PROFILE=${FAILOVER_PROFILE:-debug}

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
  echo "failover: PostgreSQL is not installed (apt-get install postgresql)" >&2
  exit 2
fi
if [ "${FAILOVER_SKIP_BUILD:-0}" != 1 ]; then
  echo "failover: building the binaries ($PROFILE)..." >&2
  if [ "$PROFILE" = release ]; then cargo build --release --quiet --bins; else cargo build --quiet --bins; fi
fi
ISSUER=$PWD/target/$PROFILE/tsh-issuer
SIM=$PWD/target/$PROFILE/tsh-sim

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tsh-failover.XXXXXX")
chmod 755 "$WORK"
AS_PG=()
if [ "$(id -u)" = 0 ]; then
  AS_PG=(runuser -u postgres --)
  chown postgres: "$WORK"
fi
A_PID=""
B_PID=""
LOAD_PID=""
PG_STARTED=0
cleanup() {
  for pid in "$LOAD_PID" "$A_PID" "$B_PID"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  done
  wait 2>/dev/null || true
  if [ "$PG_STARTED" = 1 ]; then
    "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A free loopback port (bound and released; PostgreSQL takes it right after).
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
echo "failover: PostgreSQL cluster on 127.0.0.1:$PORT" >&2
"${AS_PG[@]}" "$PG_BIN/initdb" -D "$WORK/pg" -U postgres --auth=trust -E UTF8 >/dev/null
"${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w \
  -o "-p $PORT -k $WORK -c listen_addresses=127.0.0.1" start >/dev/null
PG_STARTED=1
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres tsh
DB_URL="postgres://postgres@127.0.0.1:$PORT/tsh"
psql() { "$PG_BIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d tsh "$@"; }

# Starts one instance; prints its URL.
start_instance() { # name
  local log=$WORK/$1.log
  TSH_ISSUER__SERVER__BIND=127.0.0.1:0 TSH_ISSUER__SERVER__WORKERS=2 \
    TSH_ISSUER__STORE__BACKEND=postgres TSH_ISSUER__STORE__URL="$DB_URL" \
    TSH_ISSUER__OTP__WEBHOOK_URL=http://127.0.0.1:9/otp \
    "$ISSUER" serve >"$log" 2>&1 &
  echo $! >"$WORK/$1.pid"
  for _ in $(seq 1 300); do
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -1 || true)
    if [ -n "$url" ]; then echo "$url"; return 0; fi
    sleep 0.05
  done
  echo "failover: instance $1 did not start:" >&2
  cat "$log" >&2
  exit 2
}
A_URL=$(start_instance a); A_PID=$(cat "$WORK/a.pid")
B_URL=$(start_instance b); B_PID=$(cat "$WORK/b.pid")
echo "failover: instance A $A_URL (pid $A_PID), instance B $B_URL (pid $B_PID)"

ACKS=$WORK/acks.jsonl
: >"$ACKS"
"$SIM" load --url "$A_URL" --url "$B_URL" --rate "$RATE" --duration "$SECS" --cards 20 \
  --timeout-ms 3000 --mix eligibility=1,digitization=2,notify=2 --acks "$ACKS" \
  >"$WORK/load.log" 2>&1 &
LOAD_PID=$!
sleep "$KILL_AT"
KILL_MS=$(date +%s%3N)
kill -9 "$A_PID"
wait "$A_PID" 2>/dev/null || true
echo "failover: kill -9 instance A at ${KILL_AT}s into the load"
wait "$LOAD_PID" || true
LOAD_PID=""
cat "$WORK/load.log"

# The acks as rows: operation, correlation id, virtual card id, instance, time.
sed -n 's/.*"at_ms":\([0-9]*\).*"correlation_id":"\([^"]*\)".*"operation":"\([^"]*\)".*"url":"\([^"]*\)".*"virtual_card_id":\("\([^"]*\)"\|null\).*/\3,\2,\6,\4,\1/p' \
  "$ACKS" >"$WORK/acks.csv"
checks=$(psql <<SQL
CREATE TEMP TABLE acks (op text, cid text, vcid text, url text, at_ms bigint);
\\copy acks FROM '$WORK/acks.csv' WITH (FORMAT csv)
SELECT count(*) FROM acks;
SELECT count(*) FROM acks a WHERE a.op = 'checkCardEligibility'
  AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.correlation_id = a.cid);
SELECT count(*) FROM acks a WHERE a.op = 'requestCardDigitization'
  AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.doc::jsonb->>'correlation_id' = a.cid);
SELECT count(*) FROM acks a WHERE a.op = 'notifyVirtualCardChange'
  AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.virtual_card_id = a.vcid);
SELECT count(*) FROM (SELECT doc::jsonb->>'correlation_id' FROM decisions
  WHERE doc::jsonb->>'decided_by' = 'issuer' GROUP BY 1 HAVING count(*) > 1) twice;
SELECT count(*) FROM acks WHERE url = '$B_URL' AND at_ms > $KILL_MS;
SELECT count(*) FROM decisions;
SQL
)
read -r acks lost_elig lost_dec lost_tok doubles survivor_after decisions <<<"$(echo "$checks" | tr '\n' ' ')"
retried=$(grep -o 'failover: [0-9]* request' "$WORK/load.log" | grep -o '[0-9]*' || echo 0)
ready=$(curl -s -o /dev/null -w '%{http_code}' "$B_URL/health/ready")

echo
echo "failover report"
echo "  200 answers seen by the simulator:          $acks ($retried request(s) retried on the other instance)"
echo "  of them missing in the database:            enrolments $lost_elig, decisions $lost_dec, tokens $lost_tok"
echo "  correlation ids with two issuer decisions:  $doubles (of $decisions decisions)"
echo "  200s from the survivor after the kill:      $survivor_after; /health/ready now $ready"
failed=0
[ "$acks" -gt 0 ] || { echo "FAIL: the simulator saw no 200"; failed=1; }
[ $((lost_elig + lost_dec + lost_tok)) -eq 0 ] || { echo "FAIL: acknowledged answers are missing"; failed=1; }
[ "$doubles" -eq 0 ] || { echo "FAIL: a correlation id has two decisions"; failed=1; }
[ "$survivor_after" -gt 0 ] && [ "$ready" = 200 ] || { echo "FAIL: the survivor stopped serving"; failed=1; }
if [ "$failed" = 0 ]; then echo "failover: all checks passed"; fi
exit "$failed"
