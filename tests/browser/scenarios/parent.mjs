// The parent's page /tegoed/{link}: Dutch, not indexed, no referrer leaking the link, the
// child's name and balance, and a QR code that decodes (with jsQR, not the server's decoder) to
// the demo voucher's token; the printable letter /tegoed/{link}/brief with a QR code of 30–35 mm
// on paper; and a wrong link answering a Dutch 404 page with a phone number, not JSON.

import { expect, MONEY_RE, mainText } from '../lib/harness.mjs';
import { decodeQrElement } from '../lib/qr.mjs';

// 30–35 mm at 96 CSS px per inch.
const MM = 96 / 25.4;
const QR_MIN_PX = Math.floor(30 * MM); // 113
const QR_MAX_PX = Math.ceil(35 * MM); // 133 (35 mm is 132.3 px)

/** A Dutch phone number in the text, or a tel: link. */
async function phoneNumber(page, text) {
  const tel = await page.locator('a[href^="tel:"]').count();
  // 050 123 4567, 0594-123456, 14 0594, +31 50 123 4567, (050) 123 45 67
  const m = /(?:\+31|\(?0\d{1,3}\)?|\b14)[\s-]?\d[\d\s-]{4,}\d/.exec(text);
  return tel ? 'a tel: link' : m && m[0].replace(/\D/g, '').length >= 6 ? m[0] : null;
}

export async function run(t) {
  const { token, parentPath } = t.server;
  // Scale 2, as a phone: the QR screenshots are sharper (and feed the camera scenario).
  const page = await t.newPage({ deviceScaleFactor: 2 });

  await t.step(`GET ${parentPath.slice(0, 16)}…: Dutch, no-referrer, noindex`, async () => {
    const r = await page.goto(`${t.url}${parentPath}`);
    expect(r && r.status() === 200, () => `status ${r && r.status()}`);
    const h = r.headers();
    expect((h['referrer-policy'] || '').split(',').map((s) => s.trim()).includes('no-referrer'),
      () => `referrer-policy is ${JSON.stringify(h['referrer-policy'])}, expected no-referrer`);
    expect(/noindex/i.test(h['x-robots-tag'] || ''), () => `x-robots-tag is ${JSON.stringify(h['x-robots-tag'])}, expected noindex`);
    const lang = await page.locator('html').getAttribute('lang');
    expect(lang === 'nl', () => `<html lang="${lang}">, expected nl`);
  });

  await t.step('the page names Noor and shows a balance', async () => {
    const text = await mainText(page);
    expect(text.includes('Noor'), 'the text "Noor" is not on the page');
    const m = MONEY_RE.exec(text);
    expect(m, 'no amount like € 250,00 on the page');
    t.log(`first amount ${m[0]}`);
  });
  await t.checkPage(page, 'tegoed');

  await t.step('the first QR code (.kp-qr svg) decodes to the demo token', async () => {
    const qr = page.locator('.kp-qr svg').first();
    expect(await qr.count(), 'no .kp-qr svg on the page');
    const { text, png } = await decodeQrElement(qr);
    expect(text === token, () => `the QR code reads ${JSON.stringify(text.slice(0, 40))}…, expected the demo token`);
    t.state.qrPng = png; // for the camera scenario
  });

  await t.step('the letter /brief: its QR code (.kp-letter__qr svg) decodes to the demo token', async () => {
    const r = await page.goto(`${t.url}${parentPath}/brief`);
    expect(r && r.status() === 200, () => `status ${r && r.status()}`);
    const qr = page.locator('.kp-letter__qr svg').first();
    expect(await qr.count(), 'no .kp-letter__qr svg on the letter');
    const { text } = await decodeQrElement(qr);
    expect(text === token, () => `the letter's QR code reads ${JSON.stringify(text.slice(0, 40))}…, expected the demo token`);
  });
  await t.checkPage(page, 'brief');

  await t.step(`printed, the letter's QR code is 30–35 mm (${QR_MIN_PX}–${QR_MAX_PX} CSS px) wide`, async () => {
    await page.emulateMedia({ media: 'print' });
    try {
      const box = await page.locator('.kp-letter__qr svg').first().boundingBox();
      const outer = await page.locator('.kp-letter__qr').first().boundingBox();
      expect(box, 'the QR code is not displayed in print');
      const mm = (px) => `${(px / MM).toFixed(1)} mm`;
      t.log(`svg ${box.width.toFixed(1)}x${box.height.toFixed(1)} px (${mm(box.width)}); .kp-letter__qr ${outer ? `${outer.width.toFixed(1)} px` : '-'}`);
      expect(box.width >= QR_MIN_PX && box.width <= QR_MAX_PX,
        () => `in print the QR code is ${box.width.toFixed(1)} px = ${mm(box.width)} wide, expected 30–35 mm`);
      expect(Math.abs(box.width - box.height) < 1, () => `the QR code is not square in print: ${box.width}x${box.height}`);
    } finally {
      await page.emulateMedia({ media: 'screen' });
    }
  });

  await t.step('a wrong link /tegoed/abc answers 404 with a Dutch HTML page with a phone number', async () => {
    const r = await page.goto(`${t.url}/tegoed/abc`);
    expect(r && r.status() === 404, () => `status ${r && r.status()}, expected 404`);
    const type = r.headers()['content-type'] || '';
    expect(/^text\/html/.test(type), () => `content-type ${type}, expected text/html`);
    const body = await r.text();
    let json = true;
    try { JSON.parse(body); } catch { json = false; }
    expect(!json && !/^\s*[[{]/.test(body), 'the 404 answer is JSON');
    expect(await page.locator('html').getAttribute('lang') === 'nl', 'the 404 page is not lang="nl"');
    const phone = await phoneNumber(page, await page.locator('body').innerText());
    expect(phone, 'the 404 page mentions no phone number');
    t.log(`phone: ${phone}`);
  });
  await t.checkPage(page, 'tegoed-404');
}
