#!/usr/bin/env bash
# Load benchmark: redemptions and lookups against the release binary with wrk.
#   benches/load.sh [sqlite|postgres] [connections] [seconds]
# Needs wrk (apt-get install wrk), python3, a release build (cargo build --release), and for
# postgres a server at $KINDPAKKET_TEST_POSTGRES (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=${1:-sqlite}
CONNS=${2:-64}
SECS=${3:-15}
BIN=${BIN:-target/release/kindpakket}
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if [ "$BACKEND" = postgres ]; then
  ADMIN=${KINDPAKKET_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}
  DB="${ADMIN%/*}/kp_bench_$$"
else
  DB="sqlite://$WORK/kindpakket.db"
fi
export KINDPAKKET_DATABASE=$DB KINDPAKKET_KEYS=$WORK/keys KINDPAKKET_LISTEN=127.0.0.1:$PORT RUST_LOG=warn
echo "bench-wachtwoord-1" | "$BIN" user add --username bench-admin --role admin >/dev/null
"$BIN" serve > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; [ "$BACKEND" = postgres ] && psql "$ADMIN" -qc "DROP DATABASE IF EXISTS kp_bench_$$ WITH (FORCE)" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
# A voucher worth € 100.000 so the run never runs out of balance.
read -r BEARER KP_TOKEN < <(python3 - "$PORT" "$BIN" <<'PY'
import json, subprocess, sys, urllib.request, os
port, binary = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}/api/v1"
def call(path, body, token=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
        headers={"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"{}")
admin = call("/login", {"username": "bench-admin", "password": "bench-wachtwoord-1"})["token"]
fund = call("/funds", {"name": "Bench", "sponsor": "Bench", "valid_from": "2020-01-01", "valid_until": "2099-12-31",
    "categories": ["sport"], "amount_per_child_cents": 10_000_000}, admin)["id"]
call(f"/funds/{fund}/deposits", {"amount_cents": 10_000_000, "reference": "bench"}, admin)
hh = call("/households", {"reference": "BENCH", "parent_name": "Bench", "children": [{"first_name": "B", "birth_date": "2015-01-01"}]}, admin)
voucher = call(f"/funds/{fund}/vouchers", {"child_id": hh["children"][0]["id"]}, admin)
provider = call("/providers", {"name": "Bench club", "kvk": "12345678", "iban": "NL91ABNA0417164300", "categories": ["sport"]}, admin)["id"]
call(f"/funds/{fund}/providers/{provider}", {"categories": ["sport"]}, admin)
subprocess.run([binary, "user", "add", "--username", "bench-kassa", "--role", "cashier", "--provider", provider],
    input="bench-wachtwoord-1\n", text=True, check=True, capture_output=True)
cashier = call("/login", {"username": "bench-kassa", "password": "bench-wachtwoord-1"})["token"]
print(cashier, voucher["token"])
PY
)
export BEARER KP_TOKEN
echo "== $BACKEND: redemptions, $CONNS connections, ${SECS}s"
wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s benches/redeem.lua "http://127.0.0.1:$PORT/api/v1/redemptions"
echo "== $BACKEND: redemptions, 1 connection (unloaded latency), ${SECS}s"
wrk -t1 -c1 -d"${SECS}s" --latency -s benches/redeem.lua "http://127.0.0.1:$PORT/api/v1/redemptions"
echo "== $BACKEND: lookups, $CONNS connections, ${SECS}s"
wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s benches/lookup.lua "http://127.0.0.1:$PORT/api/v1/vouchers/lookup"
kill -TERM $SERVER; wait $SERVER || true
echo "== verify after the run"
"$BIN" verify --database "$DB" | cut -c1-160
