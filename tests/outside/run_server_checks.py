#!/usr/bin/env python3
"""Runs the outside checks (kpcheck.py) against the real binary on SQLite and on PostgreSQL.

For each backend: start `kindpakket serve` on a fresh database and a free port, run
`kpcheck.py verify-checkpoint` against it, stop it with SIGTERM (it must exit cleanly), then run
`kpcheck.py smoke`, which starts its own server. PostgreSQL uses a fresh database on the server in
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
    admin = os.environ.get("KINDPAKKET_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
    if admin != "off":
        dbname = f"kp_outside_{uuid.uuid4().hex[:12]}"
        base = admin.rsplit("/", 1)[0]
        try:
            failures += check_backend("postgres", binary, a.kpcheck, f"{base}/{dbname}", a.smoke)
        finally:
            drop_pg(admin, dbname)
            drop_pg(admin, dbname + "_smoke")
    for f in failures:
        print("FAIL:", f)
    print("outside checks:", "ok" if not failures else f"{len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
