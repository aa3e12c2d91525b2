// The tools themselves, through the JSON API only (so it runs before any page exists): the
// server's QR code of the demo voucher, rendered by Chromium, decodes with jsQR to the demo
// token; the Y4M writer makes a file of it; and Chromium's fake camera showing that file lets the
// vendored qr-scanner read the token under a strict Content-Security-Policy. When this fails,
// the camera scenario's failure says nothing about the pages.

import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Api } from '../lib/api.mjs';
import { launch } from '../lib/browser.mjs';
import { expect } from '../lib/harness.mjs';
import { decodeQrElement } from '../lib/qr.mjs';
import { DEMO_PASSWORD } from '../lib/server.mjs';
import { writeY4m, y4mHeader } from '../lib/y4m.mjs';

const VENDOR = fileURLToPath(new URL('../../../web/vendor/', import.meta.url));

// A policy as strict as the pages' own is expected to be: scripts from the site only, the
// scanner's worker from a blob: URL.
const CSP = "default-src 'self'; script-src 'self'; worker-src blob:; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'";

const PAGE = `<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>scanner</title></head>
<body><video id="v" muted playsinline></video><output id="out"></output>
<script type="module" src="scan.js"></script></body></html>`;

const SCAN_JS = `import QrScanner from './qr-scanner.min.js';
const out = document.getElementById('out');
const scanner = new QrScanner(document.getElementById('v'), (r) => { out.textContent = r.data; scanner.stop(); },
  { returnDetailedScanResult: true });
scanner.start().catch((e) => { out.dataset.error = String(e); });`;

export async function run(t) {
  const { token } = t.server;
  const [cashier, staff] = await t.step('log in to the JSON API as kassa-vv and medewerker', () => Promise.all([
    Api.login(t.url, 'kassa-vv', DEMO_PASSWORD), Api.login(t.url, 'medewerker', DEMO_PASSWORD)]));

  const lookup = await t.step('the demo token is valid at VV Zuidhorn', async () => {
    const l = await cashier.lookup(token);
    expect(l.valid && typeof l.balance_cents === 'number', () => `lookup: ${JSON.stringify(l)}`);
    t.log(`balance ${l.balance_cents} cents`);
    return l;
  });

  const png = await t.step('the API\'s QR SVG, rendered by Chromium, decodes with jsQR to the demo token', async () => {
    const r = await staff.call('GET', `/vouchers/${lookup.voucher_id}/qr.svg`);
    expect(r.status === 200 && r.text.includes('<svg'), () => `GET qr.svg: ${r.status} ${r.text.slice(0, 200)}`);
    const page = await t.newPage({ deviceScaleFactor: 2 });
    await page.setContent(`<!doctype html><body style="margin:20px;background:#fff"><div id="qr" style="width:228px">${r.text}</div></body>`);
    await page.addStyleTag({ content: '#qr svg { width: 100%; height: auto; display: block }' });
    const { text, png: shot } = await decodeQrElement(page.locator('#qr svg'));
    expect(text === token, () => `decoded ${JSON.stringify(text)}, expected the demo token`);
    return shot;
  });

  const y4m = await t.step('the Y4M writer makes a well-formed file of it', () => {
    const file = join(t.server.work, 'harness-qr.y4m');
    writeY4m(file, png, { frames: 30 });
    const data = readFileSync(file);
    const header = y4mHeader();
    const frame = 6 + (640 * 480 * 3) / 2;
    expect(data.subarray(0, header.length).toString() === header, 'wrong Y4M header');
    expect(data.length === header.length + 30 * frame, () => `size ${data.length}, expected ${header.length + 30 * frame}`);
    for (let i = 0; i < 30; i++) {
      expect(data.subarray(header.length + i * frame, header.length + i * frame + 6).toString() === 'FRAME\n', `frame ${i} has no FRAME header`);
    }
    return file;
  });

  await t.step('Chromium\'s fake camera shows it to the vendored qr-scanner (strict CSP), which reads the token', async () => {
    const dir = readdirSync(VENDOR).find((d) => d.startsWith('qr-scanner-'));
    expect(dir, `no qr-scanner-* directory in ${VENDOR}`);
    const browser = await launch({ executablePath: t.env.chromium, fakeCamera: y4m });
    try {
      const page = await t.newPage({ browser, permissions: ['camera'] });
      const files = {
        'page.html': ['text/html; charset=utf-8', PAGE],
        'scan.js': ['text/javascript', SCAN_JS],
        'qr-scanner.min.js': ['text/javascript', readFileSync(join(VENDOR, dir, 'qr-scanner.min.js'))],
        'qr-scanner-worker.min.js': ['text/javascript', readFileSync(join(VENDOR, dir, 'qr-scanner-worker.min.js'))],
      };
      // Answered by the browser itself, on the server's origin (a secure context: 127.0.0.1).
      await page.route(`${t.url}/__kp_harness__/**`, (route) => {
        const name = new URL(route.request().url()).pathname.split('/').pop();
        const f = files[name];
        if (!f) return route.fulfill({ status: 404, body: 'not found' });
        return route.fulfill({ status: 200, contentType: f[0], body: f[1], headers: { 'Content-Security-Policy': CSP } });
      });
      await page.goto(`${t.url}/__kp_harness__/page.html`);
      let got = null;
      for (const deadline = Date.now() + 15_000; Date.now() < deadline && !got;) {
        got = await page.evaluate(() => {
          const o = document.getElementById('out');
          return o.dataset.error ? `error: ${o.dataset.error}` : o.textContent || null;
        });
        if (!got) await page.waitForTimeout(250);
      }
      expect(got === token, () => `the scanner read ${JSON.stringify(got)} in 15 s, expected the demo token`);
    } finally {
      await browser.close();
      rmSync(y4m, { force: true }); // 14 MB
    }
  });
}
