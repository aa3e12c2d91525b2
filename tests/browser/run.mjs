#!/usr/bin/env node
// The web pages in headless Chromium, on one backend:
//
//   node tests/browser/run.mjs --bin target/release/kindpakket --backend sqlite|postgres
//        [--only parent,kassa] [--chromium /usr/bin/chromium] [--screenshots DIR]
//
// Starts `kindpakket serve --demo` on a fresh database (lib/server.mjs), runs the scenarios in
// order in Debian's Chromium and exits non-zero when any step fails, naming the scenario and
// step. Every page visited is checked with axe (no serious or critical violation) and
// screenshotted at 360 and 1280 px into target/screenshots/<backend>-<page>-<width>.png.
// Scenarios share what they learn (the parent page's QR screenshot, the redemption made at the
// till) but each can run alone: --only provider makes its own redemption through the API.

import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_CHROMIUM, launch } from './lib/browser.mjs';
import { Scenario } from './lib/harness.mjs';
import { startServer } from './lib/server.mjs';

// name → module; run in this order.
const SCENARIOS = {
  harness: './scenarios/harness.mjs', // the tools, through the JSON API (no pages needed)
  parent: './scenarios/parent.mjs', // /tegoed/{link}, the letter, a wrong link
  login: './scenarios/login.mjs', // /inloggen, wrong and right password, Uitloggen
  kassa: './scenarios/kassa.mjs', // the till, typed code: check, amount, confirm, receipt, resubmit
  camera: './scenarios/camera.mjs', // the till with a (fake) camera
  keyboard: './scenarios/keyboard.mjs', // the till with the keyboard alone
  provider: './scenarios/provider.mjs', // /aanbieder: the club's redemptions, a reversal
  beheer: './scenarios/beheer.mjs', // /beheer: issue vouchers for a fund, approve a provider
  tour: './scenarios/tour.mjs', // every other page, as its role: axe and screenshots
};

// Defaults are relative to the checkout, wherever this is started from.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const { values: opt } = parseArgs({
  options: {
    bin: { type: 'string', default: resolve(ROOT, 'target/release/kindpakket') },
    backend: { type: 'string', default: 'sqlite' },
    only: { type: 'string' },
    chromium: { type: 'string', default: DEFAULT_CHROMIUM },
    screenshots: { type: 'string', default: resolve(ROOT, 'target/screenshots') },
    headed: { type: 'boolean', default: false },
  },
});

const only = opt.only ? opt.only.split(',').map((s) => s.trim()).filter(Boolean) : Object.keys(SCENARIOS);
const unknown = only.filter((n) => !SCENARIOS[n]);
if (unknown.length) {
  console.error(`unknown scenario(s): ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  process.exit(2);
}
if (!['sqlite', 'postgres'].includes(opt.backend)) {
  console.error(`--backend must be sqlite or postgres, not ${opt.backend}`);
  process.exit(2);
}

const log = (m) => console.log(`[browser ${opt.backend}] ${m}`);
const shotsDir = resolve(opt.screenshots);
mkdirSync(shotsDir, { recursive: true });

const failures = [];
const started = Date.now();
let server = null;
let browser = null;
try {
  log(`starting ${opt.bin} serve --demo on ${opt.backend}`);
  server = await startServer({ bin: opt.bin, backend: opt.backend });
  log(`server at ${server.url} (work dir ${server.work}); demo token ${server.token.slice(0, 12)}…, parent link ${server.parentPath.slice(0, 16)}…`);
  browser = await launch({ executablePath: opt.chromium, headless: !opt.headed });
  log(`Chromium ${browser.version()} at ${opt.chromium}`);
  const env = { server, browser, backend: opt.backend, shotsDir, state: {}, visited: new Set(), chromium: opt.chromium, log };
  for (const name of only) {
    const mod = await import(SCENARIOS[name]);
    const t = new Scenario(name, env);
    log(`scenario ${name}`);
    try {
      await mod.run(t);
    } catch (e) {
      const msg = String(e.message).replace(/\u001b\[[0-9;]*m/g, ''); // Playwright's colours
      t.failures.push(`${name} › ${t.current}: ${msg}`);
      log(`  FAILED at step "${t.current}": ${msg.split('\n')[0]}`);
      for (const f of await t.failureShots()) log(`    screenshot: ${f}`);
    } finally {
      await t.close();
    }
    failures.push(...t.failures);
    log(`scenario ${name}: ${t.failures.length ? `${t.failures.length} failure(s)` : 'ok'}`);
  }
} catch (e) {
  failures.push(`setup: ${e.message}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server) {
    const problems = await server.stop();
    failures.push(...problems.map((p) => `server: ${p}`));
    if (failures.length) {
      console.log(`--- server stderr (last 5000 characters; full log in ${server.work}/server.log) ---`);
      console.log(server.stderr().slice(-5000) || '(empty)');
    }
  }
}

for (const f of failures) console.log(`FAIL: ${f}`);
log(`${only.join(', ')}: ${failures.length ? `${failures.length} failure(s)` : 'ok'} in ${((Date.now() - started) / 1000).toFixed(0)} s; screenshots in ${shotsDir}`);
process.exit(failures.length ? 1 : 0);
