// The till /kassa with a typed code, as kassa-vv (VV Zuidhorn, sport): check the demo token,
// enter € 12,50 for sport, confirm, and get a receipt with the new balance, a receipt number and
// a link to verify it. Then every way a browser sends the payment again (reload of the receipt,
// back to the confirmation and pressing again, the same form posted twice) must book it once.
// "12.50" with a dot is accepted; "abc" is refused next to the amount field, and books nothing.
// Balances are also read through the JSON API, independently of the pages under test.

import { Api } from '../lib/api.mjs';
import {
  clickAndWait, expect, firstAmountAndColour, formatMoney, login, mainText, moneyRe, parseMoney, pathOf,
} from '../lib/harness.mjs';
import { DEMO_PASSWORD } from '../lib/server.mjs';
import { noHorizontalScroll } from '../lib/shots.mjs';

const AMOUNT = 1250;

/** Chooses `cat` in <select name=category> (by value or visible text), or a radio button. */
async function chooseCategory(page, cat) {
  const select = page.locator('select[name=category]');
  if (await select.count()) {
    const options = await select.locator('option').evaluateAll((os) => os.map((o) => ({ value: o.value, text: o.textContent.trim() })));
    const o = options.find((x) => x.value === cat) || options.find((x) => x.text.toLowerCase() === cat);
    expect(o, () => `no option ${cat} in select[name=category]: ${JSON.stringify(options)}`);
    await select.selectOption(o.value);
    return;
  }
  const radio = page.locator(`input[type=radio][name=category][value="${cat}"]`);
  if (await radio.count()) { await radio.check(); return; }
  const hidden = page.locator('input[type=hidden][name=category]');
  expect(await hidden.count() && (await hidden.getAttribute('value')) === cat, `no select[name=category] with ${cat} on the result page`);
}

/** /kassa → type the token → "Controleer": the result page's first amount in cents. */
async function checkToken(page, url, token) {
  const r = await page.goto(`${url}/kassa`);
  expect(r && r.status() === 200 && pathOf(page) === '/kassa', () => `/kassa: status ${r && r.status()} at ${pathOf(page)}`);
  await page.locator('input[name=token]').fill(token);
  const r2 = await clickAndWait(page, page.getByRole('button', { name: /Controleer/ }));
  expect(r2 && r2.status() === 200, () => `status ${r2 && r2.status()} after Controleer`);
  const amount = await firstAmountAndColour(page);
  expect(amount, 'no amount on the result page');
  return { cents: parseMoney(amount.text), ...amount };
}

/** On the result page: amount and category, "Verder"; returns the response. */
async function enterAmount(page, amountText, category = 'sport', note = null) {
  const field = page.locator('input[name=amount]');
  expect(await field.count() === 1, 'no (single) input name=amount on the result page');
  await field.fill(amountText);
  await chooseCategory(page, category);
  // The browser's own checks (pattern, required) would keep a bad amount from the server and
  // show no message of the page's: switch them off for this form, as an old browser would.
  if (!(await field.evaluate((f) => f.checkValidity()))) {
    await field.evaluate((f) => { f.form.noValidate = true; });
    note?.(`the browser itself refuses amount "${amountText}" (pattern/required); posted without its check`);
  }
  return clickAndWait(page, page.getByRole('button', { name: /^\s*Verder/ }));
}

export async function run(t) {
  const { token } = t.server;
  const page = await t.newPage();
  const { api, before } = await t.step('the balance before, through the JSON API (a second session of kassa-vv)', async () => {
    const a = await Api.login(t.url, 'kassa-vv', DEMO_PASSWORD);
    return { api: a, before: await a.balance(token) };
  });

  await t.step('log in as kassa-vv: /kassa', async () => {
    await login(page, t.url, 'kassa-vv');
    expect(pathOf(page) === '/kassa', () => `after logging in the page is ${pathOf(page)}, expected /kassa`);
  });
  await t.checkPage(page, 'kassa');

  await t.step('/kassa does not scroll sideways at 320 px', async () => {
    const { ok, scrollWidth } = await noHorizontalScroll(page, 320);
    expect(ok, () => `at 320 px the page is ${scrollWidth} px wide`);
  });

  const start = await t.step('typed token, "Controleer": a green result with the balance', async () => {
    const res = await checkToken(page, t.url, token);
    t.log(`result shows ${res.text} (${res.why}); the API says ${formatMoney(before)}`);
    expect(res.cents === before, () => `the result page shows ${res.text}, the API's balance is ${formatMoney(before)}`);
    if (!res.green) t.soft(`the result is not marked green: ${res.why}`);
    return res.cents;
  });
  await t.checkPage(page, 'kassa-resultaat');

  await t.step('amount "12,50", category sport, "Verder": the confirmation repeats € 12,50 and VV Zuidhorn', async () => {
    const r = await enterAmount(page, '12,50');
    expect(r && r.status() === 200, () => `status ${r && r.status()} after Verder`);
    const text = await mainText(page);
    expect(moneyRe(AMOUNT).test(text), 'the confirmation does not show € 12,50');
    expect(text.includes('VV Zuidhorn'), 'the confirmation does not name VV Zuidhorn');
    expect(await page.getByRole('button', { name: /Bevestig betaling/ }).count() === 1, 'no button "Bevestig betaling"');
  });
  await t.checkPage(page, 'kassa-bevestigen');

  let confirmPost = null;
  const receiptUrl = await t.step('"Bevestig betaling": the receipt shows € 12,50, the new balance, a number and a check link', async () => {
    const posted = page.waitForRequest((q) => q.method() === 'POST' && q.isNavigationRequest());
    const r = await clickAndWait(page, page.getByRole('button', { name: /Bevestig betaling/ }));
    const q = await posted;
    confirmPost = { url: q.url(), data: q.postData(), type: q.headers()['content-type'] };
    expect(r && r.status() < 400, () => `status ${r && r.status()} after Bevestig betaling`);
    const text = await mainText(page);
    expect(moneyRe(AMOUNT).test(text), 'the receipt does not show € 12,50');
    expect(moneyRe(start - AMOUNT).test(text), () => `the receipt does not show the remaining balance ${formatMoney(start - AMOUNT)}`);
    const byId = page.locator('#bonnummer');
    const number = (await byId.count()) ? [(await byId.innerText()).trim()]
      : /(?:nummer|nr\.?|#)\s*:?\s*[A-Z0-9-]*\d/i.exec(text);
    expect(number && /\d/.test(number[0]), 'no receipt number (#bonnummer, or e.g. "Bonnummer 12") on the receipt');
    t.log(`receipt number: ${number[0]}`);
    const link = page.locator('main a[href]').filter({ hasText: /controle|controleer|verifi|echt|bewijs/i })
      .or(page.locator('main a[href*="controle"], main a[href*="verif"], main a[href*="bewijs"], main a[href*="receipt"]'));
    expect(await link.count(), 'no link to verify the receipt');
    // The proof may be a download rather than a page: fetched with the page's cookies.
    const href = await link.first().getAttribute('href');
    const proof = await page.request.get(new URL(href, page.url()).toString());
    const body = await proof.text();
    expect(proof.status() === 200 && body.length > 0, () => `the receipt's check link ${href} answers ${proof.status()} (${body.length} bytes)`);
    t.log(`check link ${href}: ${proof.headers()['content-type']}, ${body.length} bytes`);
    expect(await api.balance(token) === before - AMOUNT, 'the API balance did not drop by € 12,50');
    return page.url();
  });
  await t.checkPage(page, 'kassa-bon');
  t.state.redemption = { cents: AMOUNT, balance: before - AMOUNT };

  await t.step('reload the receipt page (posts again when the receipt answers the POST itself)', async () => {
    const r = await page.reload();
    t.log(`reload: status ${r && r.status()} at ${pathOf(page)}`);
    expect(r && r.status() < 500, () => `reload answered ${r && r.status()}`);
  });

  await t.step('back to the confirmation and press "Bevestig betaling" again', async () => {
    const r = await page.goBack().catch((e) => { t.note(`goBack: ${e.message.split('\n')[0]}`); return null; });
    const again = page.getByRole('button', { name: /Bevestig betaling/ });
    if (await again.count()) {
      const r2 = await clickAndWait(page, again);
      t.log(`pressed again: status ${r2 && r2.status()} at ${pathOf(page)}`);
      expect(r2 && r2.status() < 500, () => `pressing again answered ${r2 && r2.status()}`);
    } else {
      t.note(`going back showed no confirmation to press again (status ${r && r.status()}, ${page.url()}); the next step posts the form again itself`);
    }
  });

  await t.step('the same confirmation form posted a second time (as a double click does)', async () => {
    expect(confirmPost, 'the confirmation POST was not seen');
    const r = await page.request.fetch(confirmPost.url, {
      method: 'POST',
      headers: { 'Content-Type': confirmPost.type || 'application/x-www-form-urlencoded', Origin: t.url, Referer: receiptUrl },
      data: confirmPost.data || '',
      maxRedirects: 0,
    });
    t.log(`second post: status ${r.status()}`);
    expect(r.status() < 500, () => `posting again answered ${r.status()}`);
  });

  await t.step('the balance dropped exactly once: /kassa and the API agree', async () => {
    const api1 = await api.balance(token);
    expect(api1 === before - AMOUNT, () => `the API balance is ${formatMoney(api1)}, expected ${formatMoney(before - AMOUNT)} (booked ${Math.round((before - api1) / AMOUNT)} times)`);
    const res = await checkToken(page, t.url, token);
    expect(res.cents === before - AMOUNT, () => `/kassa shows ${res.text}, expected ${formatMoney(before - AMOUNT)}`);
  });

  await t.step('"12.50" with a dot is accepted (confirmation shows € 12,50; not confirmed)', async () => {
    await checkToken(page, t.url, token);
    const r = await enterAmount(page, '12.50');
    expect(r && r.status() === 200, () => `status ${r && r.status()} after Verder`);
    expect(moneyRe(AMOUNT).test(await mainText(page)), 'the confirmation does not show € 12,50 for "12.50"');
    expect(await page.getByRole('button', { name: /Bevestig betaling/ }).count() === 1, '"12.50" did not lead to the confirmation');
  });

  await t.step('"abc" is refused next to the amount field and books nothing', async () => {
    await checkToken(page, t.url, token);
    // What the field is described by before the error (e.g. "Bijvoorbeeld 12,50") is no error.
    const described = async () => {
      const ids = (await page.locator('input[name=amount]').getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
      return Promise.all(ids.map(async (id) => (await page.locator(`[id="${id}"]`).allInnerTexts()).join(' ').trim()));
    };
    const helpBefore = new Set(await described());
    const r = await enterAmount(page, 'abc', 'sport', (m) => t.note(m));
    expect(r && r.status() < 500, () => `status ${r && r.status()} after Verder`);
    expect(await page.getByRole('button', { name: /Bevestig betaling/ }).count() === 0, '"abc" led to the confirmation');
    const field = page.locator('input[name=amount]');
    expect(await field.count() === 1, 'after "abc" the amount field is gone');
    expect(await field.getAttribute('aria-invalid') === 'true', 'the amount field is not aria-invalid="true"');
    const messages = (await described()).filter((s) => s && !helpBefore.has(s));
    expect(messages.length, () => `the amount field's aria-describedby points at no new message (before: ${JSON.stringify([...helpBefore])})`);
    t.log(`message: ${messages.join(' / ').slice(0, 150)}`);
    expect(await api.balance(token) === before - AMOUNT, 'the balance changed after "abc"');
  });
  await t.checkPage(page, 'kassa-bedrag-fout');
}
