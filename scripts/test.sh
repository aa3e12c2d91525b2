#!/usr/bin/env bash
# The whole test suite, on SQLite and on PostgreSQL:
#   1. unit, property and integration tests (cargo test): every storage test runs on both
#      backends; PostgreSQL is the server in KINDPAKKET_TEST_POSTGRES
#      (default postgres://postgres@127.0.0.1:5432/postgres);
#   2. the independent Python check of the ledger-format test vectors;
#   3. the outside checks against the release binary, on SQLite and on a fresh PostgreSQL
#      database: kpcheck.py verify-checkpoint and smoke, a clean SIGTERM, and a kill -9 under
#      load after which every acknowledged redemption must still be on the ledger;
#   4. the web pages in headless Chromium (tests/browser/run.mjs), on SQLite and on PostgreSQL:
#      every page as every role, axe-core on each, QR codes decoded with jsQR, the till with a
#      fake camera, screenshots in target/screenshots/;
#   5. schemathesis against the served OpenAPI document, every check, as every role
#      (scripts/schemathesis.sh; it installs its pinned version in a virtualenv);
#   6. the shape of the code: no import cycles between files, data flowing one way, no role
#      check, store or SQL in the HTTP layer (scripts/check_layers.py).
set -euo pipefail
cd "$(dirname "$0")/.."

export KINDPAKKET_TEST_POSTGRES="${KINDPAKKET_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}"
if [ "$KINDPAKKET_TEST_POSTGRES" = off ]; then
  echo "warning: PostgreSQL tests are switched off (KINDPAKKET_TEST_POSTGRES=off)" >&2
fi

# kpcheck: the team's shared copy when it is next to this checkout, else the vendored one.
KPCHECK="${KPCHECK:-../shared/tools/kpcheck.py}"
[ -f "$KPCHECK" ] || KPCHECK=tests/outside/kpcheck.py

python3 -c 'import requests, cryptography' 2>/dev/null || {
  echo "installing the Python packages the outside checks need (requests, cryptography)" >&2
  python3 -m pip install --quiet requests cryptography
}
# pyotp: the independent TOTP implementation the two-factor tests compute their codes with.
python3 -c 'import pyotp' 2>/dev/null || {
  echo "installing pyotp==2.9.0 (independent TOTP codes for the two-factor tests)" >&2
  python3 -m pip install --quiet pyotp==2.9.0
}

# One optimised build serves both the tests and the outside checks (the release profile keeps
# overflow checks on, as in production).
echo "== the shape of the code ($(date +%T))"
python3 scripts/check_layers.py

echo "== cargo test (SQLite and PostgreSQL) ($(date +%T))"
cargo test --release --all-targets

echo "== ledger-format vectors, checked by an independent Python implementation ($(date +%T))"
python3 tests/vectors/verify_vectors.py

echo "== outside checks against the release binary ($(date +%T))"
# `cargo test --all-targets` has just built the binary (the integration tests run it); a
# separate `cargo build` would compile most dependencies again with other features.
BIN=target/release/kindpakket
[ -x "$BIN" ] || cargo build --release --bin kindpakket
python3 tests/outside/run_server_checks.py --bin "$BIN" --kpcheck "$KPCHECK" --smoke

echo "== web pages in headless Chromium ($(date +%T))"
# playwright-core (no browser download) drives Debian's Chromium (/usr/bin/chromium, or
# CHROMIUM=...; .ci/run installs it) against `serve --demo` on a fresh database: the parent's
# page and letter (QR codes decoded with jsQR), log-in, the till typed and with a fake camera,
# a club's reversal, the office pages; axe-core on every page (no serious or critical
# violation) and screenshots at 360 and 1280 px. The npm packages are pinned by
# tests/browser/package-lock.json and installed once into tests/browser/node_modules.
[ -d tests/browser/node_modules ] || {
  echo "installing the browser tests' npm packages (npm ci from tests/browser/package-lock.json)" >&2
  npm ci --prefix tests/browser --no-audit --no-fund
}
node tests/browser/run.mjs --bin "$BIN" --backend sqlite
if [ "$KINDPAKKET_TEST_POSTGRES" != off ]; then
  node tests/browser/run.mjs --bin "$BIN" --backend postgres
fi

echo "== schemathesis against the served OpenAPI document, as every role ($(date +%T))"
scripts/schemathesis.sh "$BIN"
