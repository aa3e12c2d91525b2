// The till with a camera: a second Chromium whose fake camera shows the parent page's QR code
// (a Y4M file made from its screenshot). kassa-vv presses the button "Scan…" on /kassa; within
// 15 s the page's scanner must put the demo token in the `token` field, or go on to the result
// page by itself. When it only fills the field, "Controleer" must then show the result.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from '../lib/browser.mjs';
import { clickAndWait, expect, firstAmountAndColour, login, pathOf } from '../lib/harness.mjs';
import { decodeQrElement } from '../lib/qr.mjs';
import { writeY4m } from '../lib/y4m.mjs';

export async function run(t) {
  const { token } = t.server;

  const png = await t.step('the parent page\'s QR code as a picture', async () => {
    if (t.state.qrPng) return t.state.qrPng;
    const page = await t.newPage({ deviceScaleFactor: 2 });
    const r = await page.goto(`${t.url}${t.server.parentPath}`);
    expect(r && r.status() === 200, () => `the parent page answered ${r && r.status()}`);
    const { text, png: shot } = await decodeQrElement(page.locator('.kp-qr svg').first());
    expect(text === token, 'the parent page\'s QR code does not read as the demo token');
    return shot;
  });

  const y4m = join(t.server.work, 'camera-qr.y4m');
  writeY4m(y4m, png);
  const browser = await launch({ executablePath: t.env.chromium, fakeCamera: y4m });
  try {
    const page = await t.newPage({ browser, permissions: ['camera'] });

    await t.step('log in as kassa-vv: /kassa has a button "Scan…"', async () => {
      await login(page, t.url, 'kassa-vv');
      expect(pathOf(page) === '/kassa', () => `after logging in the page is ${pathOf(page)}, expected /kassa`);
      expect(await page.getByRole('button', { name: /^Scan/ }).count(), 'no button whose name starts with "Scan"');
    });

    const how = await t.step('press "Scan…": within 15 s the token is filled in (or the result is shown)', async () => {
      await page.getByRole('button', { name: /^Scan/ }).first().click();
      await page.waitForTimeout(1500); // the camera starts
      await t.checkPage(page, 'kassa-scanner');
      const look = () => page.evaluate((tok) => {
        if (document.querySelector('input[name=amount]')) return 'result';
        const f = document.querySelector('input[name=token]');
        return f && f.value.trim() === tok ? 'filled' : null;
      }, token).catch(() => null); // navigating: look again
      let state = null;
      for (const deadline = Date.now() + 15_000; Date.now() < deadline && !state;) {
        state = await look();
        if (!state) await page.waitForTimeout(250);
      }
      // Filled in: the page may be submitting it by itself; give that 5 s to arrive.
      for (const deadline = Date.now() + 5_000; state === 'filled' && Date.now() < deadline;) {
        await page.waitForTimeout(250);
        state = (await look()) || 'filled';
      }
      const value = await page.locator('input[name=token]').inputValue().catch(() => '(no field)');
      expect(state, () => `after 15 s the token field holds ${JSON.stringify(value.slice(0, 40))} and no result page is shown`);
      t.log(state === 'filled' ? 'the scanner filled in the token' : 'the scanner went on to the result page itself');
      return state;
    });

    await t.step('the scanned code gives the result with the balance', async () => {
      if (how === 'filled') {
        const r = await clickAndWait(page, page.getByRole('button', { name: /Controleer/ }));
        expect(r && r.status() === 200, () => `status ${r && r.status()} after Controleer`);
      } else {
        await page.waitForLoadState('load');
      }
      const amount = await firstAmountAndColour(page);
      expect(amount, 'no amount on the result page after scanning');
      expect(await page.locator('input[name=amount]').count() === 1, 'no amount field on the result page after scanning');
      t.log(`result after scanning: ${amount.text}`);
    });
  } finally {
    await browser.close();
    rmSync(y4m, { force: true }); // 14 MB
  }
}
