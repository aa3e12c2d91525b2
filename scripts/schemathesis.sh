#!/usr/bin/env bash
# Schemathesis against kindpakket's served OpenAPI document, once per role.
#
#   scripts/schemathesis.sh target/release/kindpakket
#
# Starts `kindpakket serve --demo` on a free loopback port in a temporary directory, waits for
# /readyz, logs in as every demo user, then runs schemathesis with every check and every phase
# (examples, coverage, fuzzing, stateful) as: anonymous (no token), beheerder (admin),
# medewerker (staff), financien (finance), accountant (auditor), voorzitter-vv
# (provider_manager) and kassa-vv (cashier). Left out are only the operations that end
# sessions: `logout` (the run's own), and `revoke_sessions`, `disable_user`, `reset_two_factor`,
# `unlock_two_factor` and `reset_password`, which, fed real user ids by the stateful phase, would end the sessions the
# later roles' runs use. tests/hardening.rs covers them. Prints a summary and exits non-zero if any role had a failure
# (or schemathesis could not run). The server is stopped on exit, whatever happens.
#
# Needs: bash, Python 3.11+ (schemathesis 4 needs it; python3, else python3.13/3.12/3.11) with pip or venv. Installs schemathesis==$ST_VERSION into a
# private virtualenv (default ~/.cache/kindpakket-schemathesis-$ST_VERSION) unless that version
# is already importable there. On Debian, `python3 -m venv` needs the python3-venv package; as
# root the script installs it with apt-get, otherwise it falls back to `pip install --user`.
#
# Settings (environment):
#   KP_ST_MAX_EXAMPLES  test cases per operation and phase (default 20)
#   KP_ST_SEED          hypothesis seed (default 1; runs with one seed are repeatable, apart
#                       from ids the server makes up)
#   KP_ST_ROLES         roles to run (default: "anon beheerder medewerker financien accountant
#                       voorzitter-vv kassa-vv")
#   KP_ST_TIMEOUT       seconds one role may take before it is stopped and counted failed (600)
#   KP_ST_STRICT=1      without tests/schemathesis/schemathesis.toml (which says which answers
#                       to a schema-valid request are still correct: 422 for a rule, 400 for the
#                       few constraints a JSON schema cannot state)
#   KP_ST_OUT           directory for logs and reports (default: a new temporary directory)
#   KP_ST_VENV          virtualenv directory (see above)
#   KP_ST_KEEP_SERVER=1 leave the temp dir (database, keys, server log) in place
set -uo pipefail

ST_VERSION=4.32.5
BIN=${1:?usage: scripts/schemathesis.sh /path/to/kindpakket}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
[ -x "$BIN" ] || { echo "schemathesis.sh: $BIN is not an executable" >&2; exit 2; }

MAX_EXAMPLES=${KP_ST_MAX_EXAMPLES:-20}
SEED=${KP_ST_SEED:-1}
ROLES=${KP_ST_ROLES:-"anon beheerder medewerker financien accountant voorzitter-vv kassa-vv"}
ROLE_TIMEOUT=${KP_ST_TIMEOUT:-600}
VENV=${KP_ST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/kindpakket-schemathesis-$ST_VERSION}
PASSWORD=demo-wachtwoord

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kp-schemathesis.XXXXXX")
OUT=${KP_ST_OUT:-$WORK/out}
mkdir -p "$OUT"
SERVER_PID=

cleanup() {
  local rc=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  if [ "${KP_ST_KEEP_SERVER:-0}" = 1 ]; then
    echo "schemathesis.sh: server files in $WORK/srv, logs and reports in $OUT" >&2
  elif [ -n "${KP_ST_OUT:-}" ]; then
    rm -rf "$WORK"
    echo "schemathesis.sh: logs and reports in $OUT" >&2
  elif [ "$rc" -eq 0 ]; then
    rm -rf "$WORK"
  else
    rm -rf "$WORK/srv" "$WORK/st"
    echo "schemathesis.sh: logs and reports in $OUT" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- schemathesis, pinned -------------------------------------------------------------------
PY=
for p in python3 python3.13 python3.12 python3.11; do
  if command -v "$p" >/dev/null && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || { echo "schemathesis.sh: Python 3.11 or newer is needed (schemathesis $ST_VERSION)" >&2; exit 2; }
st_ok() { "$1" -c "import importlib.metadata as m, sys; sys.exit(m.version('schemathesis') != '$ST_VERSION')" 2>/dev/null; }
ST_PY=
if [ -x "$VENV/bin/python" ] && st_ok "$VENV/bin/python"; then
  ST_PY=$VENV/bin/python
else
  if ! "$PY" -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "schemathesis.sh: installing python3-venv" >&2
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip) >/dev/null 2>&1
      "$PY" -m venv "$VENV" >/dev/null 2>&1 || rm -rf "$VENV"
    fi
  fi
  if [ -x "$VENV/bin/python" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION" || { echo "schemathesis.sh: pip install schemathesis==$ST_VERSION failed" >&2; exit 2; }
    ST_PY=$VENV/bin/python
  else
    echo "schemathesis.sh: no venv; installing schemathesis==$ST_VERSION with pip --user" >&2
    "$PY" -m pip install --quiet --user --disable-pip-version-check "schemathesis==$ST_VERSION" 2>/dev/null \
      || "$PY" -m pip install --quiet --user --break-system-packages --disable-pip-version-check "schemathesis==$ST_VERSION" \
      || { echo "schemathesis.sh: could not install schemathesis==$ST_VERSION" >&2; exit 2; }
    ST_PY=$PY
  fi
  st_ok "$ST_PY" || { echo "schemathesis.sh: schemathesis $ST_VERSION is not importable with $ST_PY" >&2; exit 2; }
fi
echo "schemathesis $("$ST_PY" -c 'import importlib.metadata as m; print(m.version("schemathesis"))') ($ST_PY)"

# --- config and hooks (tests/schemathesis/) ---------------------------------------------------
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/schemathesis
CONFIG_ARGS=(--config-file "$HERE/schemathesis.toml")
[ "${KP_ST_STRICT:-0}" = 1 ] && CONFIG_ARGS=()

# --- the server ------------------------------------------------------------------------------
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
BASE=http://127.0.0.1:$PORT
mkdir -p "$WORK/srv"
(cd "$WORK/srv" && exec "$BIN" serve --demo --listen "127.0.0.1:$PORT" \
    --database "sqlite://$WORK/srv/kp.db" --keys "$WORK/srv/keys") > "$OUT/server.log" 2>&1 &
SERVER_PID=$!

"$PY" - "$BASE" "$SERVER_PID" <<'EOF' || { echo "schemathesis.sh: the server did not become ready; its log:" >&2; tail -n 40 "$OUT/server.log" >&2; exit 2; }
import os, sys, time, urllib.request
base, pid = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 60
while time.time() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("server exited")
    try:
        with urllib.request.urlopen(base + "/readyz", timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.2)
sys.exit("timeout")
EOF
echo "server ready on $BASE (pid $SERVER_PID)"

# Log in before any run: the runs fuzz /api/v1/login too, and failed logins from this address
# are rate-limited.
declare -A TOKEN
for r in $ROLES; do
  [ "$r" = anon ] && continue
  t=$("$PY" - "$BASE" "$r" "$PASSWORD" <<'EOF'
import json, sys, urllib.request
base, user, pw = sys.argv[1:]
req = urllib.request.Request(base + "/api/v1/login", data=json.dumps({"username": user, "password": pw}).encode(),
                             headers={"Content-Type": "application/json"}, method="POST")
with urllib.request.urlopen(req, timeout=10) as r:
    print(json.load(r)["token"])
EOF
  ) || { echo "schemathesis.sh: login as $r failed" >&2; exit 2; }
  TOKEN[$r]=$t
done

# --- the runs --------------------------------------------------------------------------------
declare -A RC WALL
overall=0
for r in $ROLES; do
  args=(run "$BASE/api/openapi.json"
        --checks all --phases examples,coverage,fuzzing,stateful
        --exclude-operation-id logout --exclude-operation-id revoke_sessions
        --exclude-operation-id disable_user --exclude-operation-id reset_password
        --exclude-operation-id reset_two_factor --exclude-operation-id unlock_two_factor
        --max-examples "$MAX_EXAMPLES" --seed "$SEED" --generation-database none
        --workers 1 --continue-on-failure --request-timeout 30
        --no-color --output-sanitize false --output-truncate true
        --report json,ndjson,junit --report-dir "$OUT/$r")
  [ "$r" != anon ] && args+=(-H "Authorization: Bearer ${TOKEN[$r]}")
  echo
  echo "=== schemathesis as $r"
  start=$(date +%s)
  PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=kp_hooks \
    bash -c 'cd "$0" && exec "$@"' "$WORK" timeout --kill-after=10 "$ROLE_TIMEOUT" "$ST_PY" -m schemathesis.cli ${CONFIG_ARGS[@]+"${CONFIG_ARGS[@]}"} "${args[@]}" > "$OUT/$r.log" 2>&1
  RC[$r]=$?
  WALL[$r]=$(( $(date +%s) - start ))
  tail -n 4 "$OUT/$r.log" | sed '/^$/d'
  [ "${RC[$r]}" -eq 0 ] || overall=1
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "schemathesis.sh: the server died during the $r run; log tail:" >&2; tail -n 40 "$OUT/server.log" >&2; overall=1; break; }
done

# --- summary ---------------------------------------------------------------------------------
echo
echo "=== summary (schemathesis $ST_VERSION, max-examples $MAX_EXAMPLES, seed $SEED; reports in $OUT)"
for r in $ROLES; do
  [ -n "${RC[$r]:-}" ] || continue
  case ${RC[$r]} in 0) s=ok ;; 1) s=FAILURES ;; 124|137) s=TIMEOUT ;; *) s="ERROR (exit ${RC[$r]})" ;; esac
  printf '  %-14s %-10s %4ss\n' "$r" "$s" "${WALL[$r]}"
done
"$PY" - "$OUT" $ROLES <<'EOF'
import base64, glob, json, re, sys
out, roles = sys.argv[1], sys.argv[2:]
def text(b):
    if isinstance(b, dict) and "$base64" in b:
        try: return base64.b64decode(b["$base64"]).decode("utf-8", "replace")
        except Exception: return "<bytes>"
    return "" if b is None else (b if isinstance(b, str) else json.dumps(b))
groups = {}
for role in roles:
    for f in glob.glob(f"{out}/{role}/ndjson-*.ndjson"):
        for line in open(f, encoding="utf-8"):
            sf = json.loads(line).get("ScenarioFinished")
            if not sf: continue
            rec = sf.get("recorder", {})
            for cid, checks in rec.get("checks", {}).items():
                for c in checks:
                    if c.get("status") != "failure": continue
                    fail = (c.get("failure_info") or {}).get("failure", {})
                    it = rec.get("interactions", {}).get(cid) or {}
                    req, resp = it.get("request") or {}, it.get("response") or {}
                    body = text(resp.get("content"))
                    m = re.search(r'"code":"([a-z_]+)"', body)
                    err = m.group(1) if m else ""
                    field = re.search(r'"message":"[^"]*?\'([^\']{1,60})\'', body)
                    if err == "invalid_field" and field:
                        err += f" ({field.group(1)})"
                    key = (fail.get("operation", "?"), c["name"], fail.get("code", ""), resp.get("status_code"), err)
                    g = groups.setdefault(key, {"roles": set(), "phases": set(), "example": None})
                    g["roles"].add(role); g["phases"].add(sf.get("phase", ""))
                    if g["example"] is None:
                        hdrs = {k: v for k, v in (req.get("headers") or {}).items() if k.lower() in ("idempotency-key", "content-type")}
                        g["example"] = (req.get("method"), req.get("uri"), hdrs, text(req.get("body"))[:200], body[:200], (fail.get("message") or "").splitlines()[-1:])
if groups:
    print(f"\n{len(groups)} distinct failures (operation | check | status error-code | roles | phases):")
    for key in sorted(groups, key=lambda k: (k[0], k[1], str(k[3]), k[4])):
        op, check, code, status, err = key
        g = groups[key]
        print(f"- {op} | {check} ({code}) | {status} {err} | {','.join(r for r in roles if r in g['roles'])} | {','.join(sorted(g['phases']))}")
        m, uri, hdrs, rb, body, msg = g["example"]
        print(f"    {m} {uri}  headers={hdrs} body={rb!s}")
        print(f"    -> {body}  {msg[0] if msg else ''}")
EOF
if [ "$overall" -ne 0 ]; then
  echo
  echo "schemathesis found failures (full logs: $OUT/<role>.log, replay: st replay <id>)"
fi
exit "$overall"
