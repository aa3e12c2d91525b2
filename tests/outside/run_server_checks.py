#!/usr/bin/env python3
"""Runs the outside checks (kpcheck.py) against the real binary on SQLite and on PostgreSQL.

For each backend: start `kindpakket serve` on a fresh database and a free port, run
`kpcheck.py verify-checkpoint` against it, stop it with SIGTERM (it must exit cleanly), then run
`kpcheck.py smoke`, which starts its own server, and a crash check: kill -9 the server while
eight cashiers redeem, restart it, and check every acknowledged redemption with kpcheck's own
proof code. PostgreSQL uses a fresh database on the server in
KINDPAKKET_TEST_POSTGRES (switch off with KINDPAKKET_TEST_POSTGRES=off).
"""
import argparse, os, signal, socket, subprocess, sys, tempfile, time, uuid, urllib.request


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait_healthy(url, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def check_backend(name, binary, kpcheck, database, smoke):
    failures = []
    work = tempfile.mkdtemp(prefix=f"kp-outside-{name}-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, KINDPAKKET_DATABASE=database, KINDPAKKET_KEYS=os.path.join(work, "keys"),
               KINDPAKKET_LISTEN=f"127.0.0.1:{port}", RUST_LOG="warn")
    log = open(os.path.join(work, "server.log"), "wb")
    proc = subprocess.Popen([binary, "serve"], env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT)
    try:
        if not wait_healthy(url, proc):
            failures.append(f"{name}: server did not become healthy; log in {work}/server.log")
            return failures
        r = subprocess.run([sys.executable, kpcheck, "verify-checkpoint", url], capture_output=True, text=True)
        print(f"[{name}] kpcheck verify-checkpoint: rc={r.returncode} {r.stdout.strip()[:200]}")
        if r.returncode != 0:
            failures.append(f"{name}: verify-checkpoint failed: {r.stdout}{r.stderr}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(20)
            if rc != 0:
                failures.append(f"{name}: server exited with {rc} after SIGTERM")
        except subprocess.TimeoutExpired:
            proc.kill()
            failures.append(f"{name}: server did not stop within 20 s of SIGTERM")
    if smoke:
        smoke_db = database if name == "sqlite" else database + "_smoke"
        args = [sys.executable, kpcheck, "smoke", "--bin", binary]
        if name != "sqlite":
            args += ["--database", smoke_db]
        r = subprocess.run(args, capture_output=True, text=True)
        print(f"[{name}] kpcheck smoke: rc={r.returncode}\n{r.stdout[-3000:]}")
        if r.returncode != 0:
            failures.append(f"{name}: smoke failed: {r.stdout[-2000:]}{r.stderr[-2000:]}")
    return failures


def crash_check(name, binary, kpcheck, database):
    """Kill -9 the server while cashiers redeem, restart it, and check that every acknowledged
    redemption is still on the ledger (its receipt verifies against the new checkpoint through a
    consistency proof) and that `kindpakket verify` passes."""
    import base64, hashlib, importlib.util, json, threading, requests
    spec = importlib.util.spec_from_file_location("kpcheck", kpcheck)
    kp = importlib.util.module_from_spec(spec); spec.loader.exec_module(kp)
    failures = []
    work = tempfile.mkdtemp(prefix=f"kp-crash-{name}-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, KINDPAKKET_DATABASE=database, KINDPAKKET_KEYS=os.path.join(work, "keys"),
               KINDPAKKET_LISTEN=f"127.0.0.1:{port}", RUST_LOG="warn")
    subprocess.run([binary, "user", "add", "--username", "beheer", "--role", "admin"], env=env, cwd=work,
                   input="beheer-wachtwoord-1\n", text=True, check=True, capture_output=True)
    def start():
        log = open(os.path.join(work, "server.log"), "ab")
        p = subprocess.Popen([binary, "serve"], env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT)
        if not wait_healthy(url, p):
            raise RuntimeError(f"{name}: server did not start; see {work}/server.log")
        return p
    proc = start()
    api = kp.Api(url).login("beheer", "beheer-wachtwoord-1")
    class Sink:  # setup_world's checks; a failure here is a failure of the crash check
        def __init__(self): self.failed = []
        def expect(self, r, status, what):
            if r.status_code != status: self.failed.append(f"{what}: {r.status_code} {r.text[:200]}")
        def ok(self, cond, what):
            if not cond: self.failed.append(what)
    sink = Sink()
    srv = kp.Server(binary, database, workdir=work)
    srv.env, srv.url = env, url
    w = kp.setup_world(srv, api, sink)
    failures += [f"{name} crash setup: {f}" for f in sink.failed]
    token = w["vouchers"][0]["token"]
    acked, lock, stop = [], threading.Lock(), threading.Event()
    bearer = w["cashier"].s.headers["Authorization"].split(" ", 1)[1]
    def cashier():
        s = kp.Api(url, bearer)
        while not stop.is_set():
            r = s.call("POST", "/redemptions", json={"token": token, "amount_cents": 10, "category": "sport",
                       "description": "crash"}, headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=5)
            if r.status_code == 201:
                with lock: acked.append(r.json())
    threads = [threading.Thread(target=cashier) for _ in range(8)]
    for t in threads: t.start()
    time.sleep(1.5)
    proc.send_signal(signal.SIGKILL); proc.wait()
    stop.set()
    for t in threads: t.join()
    proc = start()
    try:
        vkeys = kp.fetch_vkeys(url)
        _, size, root = kp.fetch_checkpoint(url, vkeys)
        for red in acked:
            idx, hashes, cp = kp.parse_tlog_proof(red["receipt"])
            _, old_size, old_root = kp.parse_checkpoint(kp.verify_note(cp, vkeys))
            e = kp.fetch_entries(url, idx, idx + 1)
            if not e or not kp.verify_inclusion(idx, old_size, kp.leaf_hash(base64.b64decode(e[0]["entry_b64"])), hashes, old_root):
                failures.append(f"{name}: acknowledged redemption {idx} is not on the ledger after the crash")
                continue
            r = requests.get(url + f"/api/v1/ledger/proof/consistency?from={old_size}&to={size}", timeout=10).json()
            if not kp.verify_consistency(old_size, size, old_root, root, [base64.b64decode(h) for h in r["hashes"]]):
                failures.append(f"{name}: the checkpoint after the crash is not consistent with receipt {idx}")
        bal = api.call("GET", f"/vouchers/{w['vouchers'][0]['id']}").json().get("balance_cents")
        if bal is None or bal > 25000 - 10 * len(acked):
            failures.append(f"{name}: balance {bal} does not account for {len(acked)} acknowledged redemptions")
        print(f"[{name}] crash check: {len(acked)} acknowledged redemptions before kill -9, all on the ledger after restart; size {size}")
        # The public audit, as anyone could run it against the live service.
        r = subprocess.run([binary, "verify", "--public", url], capture_output=True, text=True)
        print(f"[{name}] verify --public: {r.stdout.strip()[:120]}")
        if r.returncode != 0 or not r.stdout.startswith("ok, public audit"):
            failures.append(f"{name}: public audit of the live service failed: {r.stdout}{r.stderr}")
        # Nothing of the token is on the public ledger: not its voucher id, signature or hash.
        raw = base64.b32decode(token[4:] + "=" * (-len(token[4:]) % 8))
        forbidden = [raw[5:21], raw[27:91], hashlib.sha256(raw).digest(), hashlib.sha256(token.encode()).digest()]
        entries = []
        for start in range(0, size, 1000):
            entries += kp.fetch_entries(url, start, min(size, start + 1000))
        blobs = [base64.b64decode(e["entry_b64"]) for e in entries]
        views = [json.dumps(e) for e in entries]
        texts = [x.hex() for x in forbidden] + [str(uuid.UUID(bytes=raw[5:21]))]
        if len(blobs) != size:
            failures.append(f"{name}: fetched {len(blobs)} public entries, expected {size}")
        if any(f in b for b in blobs for f in forbidden) or any(t in v for v in views for t in texts):
            failures.append(f"{name}: a public entry carries the token's voucher id, signature or hash")
        else:
            print(f"[{name}] privacy: none of {len(blobs)} public entries carries anything of the token")
    finally:
        proc.send_signal(signal.SIGTERM); proc.wait(20)
    r = subprocess.run([binary, "verify", "--database", database], env=env, capture_output=True, text=True)
    print(f"[{name}] verify after crash: {r.stdout.strip()[:100]}")
    if r.returncode != 0 or not r.stdout.startswith("ok, full audit"):
        failures.append(f"{name}: verify after crash failed: {r.stdout}{r.stderr}")
    if not acked:
        failures.append(f"{name}: no redemption was acknowledged before the kill; the check proved nothing")
    return failures


def drop_pg(admin_url, dbname):
    try:
        subprocess.run(["psql", admin_url, "-qc", f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)"],
                       capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--kpcheck", required=True)
    ap.add_argument("--smoke", action="store_true", help="also run kpcheck smoke")
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    failures = []
    work = tempfile.mkdtemp(prefix="kp-outside-")
    failures += check_backend("sqlite", binary, a.kpcheck, f"sqlite://{work}/kindpakket.db", a.smoke)
    failures += crash_check("sqlite", binary, a.kpcheck, f"sqlite://{work}/crash.db")
    admin = os.environ.get("KINDPAKKET_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
    if admin != "off":
        dbname = f"kp_outside_{uuid.uuid4().hex[:12]}"
        base = admin.rsplit("/", 1)[0]
        try:
            failures += check_backend("postgres", binary, a.kpcheck, f"{base}/{dbname}", a.smoke)
            failures += crash_check("postgres", binary, a.kpcheck, f"{base}/{dbname}_crash")
        finally:
            drop_pg(admin, dbname)
            drop_pg(admin, dbname + "_smoke")
            drop_pg(admin, dbname + "_crash")
    for f in failures:
        print("FAIL:", f)
    print("outside checks:", "ok" if not failures else f"{len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
