// /inloggen: a form with username, password and a hidden CSRF token; a wrong password shows an
// error on the page; the right one logs kassa-vv in at /kassa; "Uitloggen" (a POST form) logs
// out, after which /kassa is closed again.

import { clickAndWait, expect, login, mainText, pathOf, submitOf } from '../lib/harness.mjs';

const ERROR_TEXT = /onjuist|verkeerd|klopt niet|ongeldig|mislukt|niet juist|niet herkend|niet gelukt|fout/i;

export async function run(t) {
  const page = await t.newPage();

  await t.step('/inloggen has inputs username, password and a hidden csrf_token', async () => {
    const r = await page.goto(`${t.url}/inloggen`);
    expect(r && r.status() === 200, () => `status ${r && r.status()}`);
    expect(await page.locator('form input[name=username]').count() === 1, 'no (single) input name=username in a form');
    expect(await page.locator('form input[name=password][type=password]').count() === 1, 'no (single) input name=password type=password in a form');
    const csrf = page.locator('form:has(input[name=password]) input[type=hidden][name=csrf_token]');
    expect(await csrf.count() === 1, 'no hidden csrf_token in the log-in form');
    expect((await csrf.getAttribute('value') || '').length >= 16, 'the csrf_token is empty or short');
    const method = (await page.locator('form:has(input[name=password])').getAttribute('method') || '').toLowerCase();
    expect(method === 'post', () => `the log-in form's method is "${method}", expected post`);
  });
  await t.checkPage(page, 'inloggen');

  await t.step('a wrong password shows an error on the page', async () => {
    await page.locator('input[name=username]').fill('kassa-vv');
    await page.locator('input[name=password]').fill('fout-wachtwoord');
    const r = await clickAndWait(page, submitOf(page, page.locator('input[name=password]')));
    expect(r && [200, 401].includes(r.status()), () => `status ${r && r.status()}, expected 401 or 200`);
    expect(await page.locator('input[name=password]').count(), 'after a wrong password the log-in form is gone');
    const alert = page.locator('[role=alert], .utrecht-alert, [aria-live], .kp-error, .utrecht-form-field-error-message');
    const alertText = (await alert.count()) ? await alert.allInnerTexts() : [];
    const text = await mainText(page);
    expect(alertText.some((s) => s.trim()) || ERROR_TEXT.test(text), 'no error message after a wrong password');
    t.log(`status ${r.status()}; message: ${(alertText.find((s) => s.trim()) || text.match(ERROR_TEXT)?.[0] || '').trim().slice(0, 120)}`);
  });
  await t.checkPage(page, 'inloggen-fout');

  await t.step('the right password logs kassa-vv in at /kassa', async () => {
    const r = await login(page, t.url, 'kassa-vv');
    expect(r && r.status() === 200, () => `status ${r && r.status()} after logging in`);
    expect(pathOf(page) === '/kassa', () => `after logging in the page is ${pathOf(page)}, expected /kassa`);
  });
  await t.checkPage(page, 'kassa');

  await t.step('"Uitloggen" is a button in a POST form and logs out', async () => {
    // Exactly "Uitloggen" (a second button "Overal uitloggen" may stand beside it).
    const button = page.getByRole('button', { name: 'Uitloggen', exact: true });
    expect(await button.count() === 1, 'no (single) button "Uitloggen"');
    const method = await button.evaluate((b) => (b.form ? b.form.method : ''));
    expect(method === 'post', () => `the Uitloggen button's form method is "${method}", expected post`);
    const r = await clickAndWait(page, button);
    expect(r && r.status() < 400, () => `status ${r && r.status()} after Uitloggen`);
    t.log(`after Uitloggen: ${pathOf(page)}`);
  });

  await t.step('after logging out /kassa is closed (log-in page or 401/403)', async () => {
    const r = await page.goto(`${t.url}/kassa`);
    const closed = pathOf(page) === '/inloggen' || [401, 403].includes(r && r.status());
    expect(closed, () => `/kassa after logging out: status ${r && r.status()} at ${pathOf(page)}`);
    expect(await page.locator('input[name=token]').count() === 0, 'the till form is still shown after logging out');
  });
}
