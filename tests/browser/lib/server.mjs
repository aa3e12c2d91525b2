// Starts the release binary with demo data on a fresh database, as
// tests/outside/run_server_checks.py does: a fresh temporary directory as working directory
// (keys in <dir>/keys through KINDPAKKET_KEYS), a free port on 127.0.0.1, RUST_LOG=warn, and a
// fresh database: sqlite://<dir>/kindpakket.db, or a new database named kp_browser_<random> on
// the PostgreSQL server of KINDPAKKET_TEST_POSTGRES (the binary creates a missing PostgreSQL
// database itself; it is dropped with psql afterwards, as the Python script does).
//
// `serve --demo` prints the demo log-ins, a sample voucher token and the parent's personal link
// on stdout before it listens; those two lines are parsed here.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const DEMO_PASSWORD = 'demo-wachtwoord';
export const DEFAULT_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';

/** A free TCP port on 127.0.0.1 (as free_port() in run_server_checks.py). */
export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Drops a PostgreSQL database with psql, ignoring every error (as drop_pg()). */
function dropPg(adminUrl, dbname) {
  spawnSync('psql', [adminUrl, '-qc', `DROP DATABASE IF EXISTS ${dbname} WITH (FORCE)`], {
    stdio: 'ignore',
    timeout: 30_000,
  });
}

/**
 * Starts `BIN serve --demo --listen 127.0.0.1:PORT --database URL` and waits until
 * GET /readyz answers 200 and the demo token and parent link have been printed.
 * Returns { url, token, parentPath, work, database, stop(), stderr(), stdout() }.
 * stop() sends SIGTERM and resolves to a list of problems (empty when it exited cleanly).
 */
export async function startServer({ bin = 'target/release/kindpakket', backend = 'sqlite', timeoutMs = 90_000 } = {}) {
  const binary = resolve(bin);
  const work = mkdtempSync(join(tmpdir(), `kp-browser-${backend}-`));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let database;
  let cleanup = () => {};
  if (backend === 'sqlite') {
    database = `sqlite://${work}/kindpakket.db`;
  } else if (backend === 'postgres') {
    const admin = process.env.KINDPAKKET_TEST_POSTGRES || DEFAULT_POSTGRES;
    if (admin === 'off') throw new Error('KINDPAKKET_TEST_POSTGRES=off: PostgreSQL is switched off');
    const dbname = `kp_browser_${randomBytes(6).toString('hex')}`;
    database = `${admin.slice(0, admin.lastIndexOf('/'))}/${dbname}`;
    cleanup = () => dropPg(admin, dbname);
  } else {
    throw new Error(`unknown backend ${backend} (sqlite or postgres)`);
  }

  const env = {
    ...process.env,
    KINDPAKKET_DATABASE: database,
    KINDPAKKET_KEYS: join(work, 'keys'),
    KINDPAKKET_LISTEN: `127.0.0.1:${port}`,
    RUST_LOG: process.env.RUST_LOG || 'warn',
  };
  const proc = spawn(binary, ['serve', '--demo', '--listen', `127.0.0.1:${port}`, '--database', database], {
    cwd: work,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const log = createWriteStream(join(work, 'server.log'));
  proc.stdout.on('data', (d) => { out += d; log.write(d); });
  proc.stderr.on('data', (d) => { err += d; log.write(d); });
  let exited = null;
  const exitedP = new Promise((r) => proc.on('exit', (code, signal) => { exited = { code, signal }; r(exited); }));
  proc.on('error', (e) => { err += `\nspawn error: ${e.message}`; });

  const server = {
    url, work, database, backend, proc, token: null, parentPath: null,
    stdout: () => out,
    stderr: () => err,
    async stop() {
      const problems = [];
      if (exited === null) {
        proc.kill('SIGTERM');
        const t = await Promise.race([exitedP, sleep(20_000).then(() => null)]);
        if (t === null) {
          proc.kill('SIGKILL');
          await exitedP;
          problems.push('server did not stop within 20 s of SIGTERM');
        }
      }
      if (exited && exited.code !== 0) {
        problems.push(`server exited with ${exited.code ?? exited.signal} after SIGTERM`);
      }
      log.end();
      cleanup();
      return problems;
    },
  };

  // Wait for /readyz = 200 and the two demo lines (printed before the server listens).
  const deadline = Date.now() + timeoutMs;
  let ready = false;
  while (Date.now() < deadline) {
    if (exited !== null) break;
    try {
      const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (r.status === 200) ready = true;
    } catch { /* not listening yet */ }
    const tok = /^Voorbeeldcode \(voucher van Noor\): (KP1:\S+)\s*$/m.exec(out);
    const link = /^Persoonlijke link van de ouder: \S*?(\/tegoed\/\S+)\s*$/m.exec(out);
    if (tok) server.token = tok[1];
    if (link) server.parentPath = link[1];
    if (ready && server.token && server.parentPath) return server;
    // The demo's last line is printed: a missing token or link will not come any more.
    if (ready && /^Inloggen via de API/m.test(out)) break;
    await sleep(ready ? 50 : 200);
  }
  const why = exited !== null
    ? `server exited early (${exited.code ?? exited.signal})`
    : !ready ? `GET ${url}/readyz did not answer 200 within ${timeoutMs / 1000} s`
      : 'the demo token or parent link was not printed on stdout';
  await server.stop();
  throw new Error(`${why}\n--- stdout ---\n${out.slice(-3000)}\n--- stderr ---\n${err.slice(-5000)}\n(log in ${work}/server.log)`);
}
