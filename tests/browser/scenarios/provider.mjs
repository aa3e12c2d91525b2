// The club's page /aanbieder, as voorzitter-vv (provider_manager of VV Zuidhorn): it lists the
// club's redemptions, among them the € 12,50 of the kassa scenario (made here through the API
// when that scenario did not run); one is reversed with a reason through "Terugboeken" and is then
// marked "Teruggeboekt", and the API sees the money back on the voucher.

import { Api } from '../lib/api.mjs';
import { clickAndWait, expect, formatMoney, login, mainText, moneyRe, pathOf } from '../lib/harness.mjs';
import { DEMO_PASSWORD } from '../lib/server.mjs';

const CONFIRM = /^\s*(Ja|Bevestig|Terugboeken bevestigen|Ja, terugboeken)/i;

export async function run(t) {
  const { token } = t.server;
  const cents = t.state.redemption?.cents ?? 1250;
  const cashier = await t.step('a redemption of VV Zuidhorn exists', async () => {
    const cashier = await Api.login(t.url, 'kassa-vv', DEMO_PASSWORD);
    if (t.state.redemption) {
      t.log('made by the kassa scenario');
    } else {
      await cashier.redeem(token, cents, 'sport', 'browser test (provider scenario)');
      t.state.redemption = { cents, balance: await cashier.balance(token) };
      t.log('made through the API');
    }
    return cashier;
  });
  const before = await cashier.balance(token);

  const page = await t.newPage();
  await t.step('log in as voorzitter-vv: /aanbieder lists the redemption', async () => {
    await login(page, t.url, 'voorzitter-vv');
    const r = await page.goto(`${t.url}/aanbieder`);
    expect(r && r.status() === 200 && pathOf(page) === '/aanbieder', () => `/aanbieder: status ${r && r.status()} at ${pathOf(page)}`);
    expect(moneyRe(cents).test(await mainText(page)), () => `/aanbieder does not list ${formatMoney(cents)}`);
  });
  await t.checkPage(page, 'aanbieder');

  await t.step('reverse it with a reason: "Terugboeken"', async () => {
    // The innermost row/block that shows the amount and has the button (or a link to a page
    // that asks for the reason).
    const button = page.locator('a, button').filter({ hasText: /Terugboeken/ });
    const rows = page.locator('tr, li, article, section, div, form')
      .filter({ hasText: moneyRe(cents) }).filter({ has: button });
    expect(await rows.count(), () => `no row with ${formatMoney(cents)} and a button or link "Terugboeken"`);
    const row = rows.last();
    const reason = row.locator('[name=reason]');
    if (await reason.count()) await reason.first().fill('Dubbel geboekt (browsertest)');
    await clickAndWait(page, row.locator('a, button').filter({ hasText: /Terugboeken/ }).first());
    // A separate page may ask for the reason, or for a confirmation.
    const reason2 = page.locator('[name=reason]');
    if (await reason2.count() && !(await reason2.first().inputValue())) {
      await reason2.first().fill('Dubbel geboekt (browsertest)');
      await clickAndWait(page, page.getByRole('button', { name: /Terugboeken/ }).first());
    }
    const confirm = page.getByRole('button', { name: CONFIRM });
    if (await confirm.count()) {
      await t.checkPage(page, 'aanbieder-terugboeken-bevestigen');
      await clickAndWait(page, confirm.first());
    }
  });

  await t.step('the redemption is marked "Teruggeboekt" and the money is back on the voucher', async () => {
    let text = await mainText(page);
    if (!/Teruggeboekt/i.test(text)) {
      await page.goto(`${t.url}/aanbieder`);
      text = await mainText(page);
    }
    expect(/Teruggeboekt/i.test(text), 'no "Teruggeboekt" after the reversal');
    const after = await cashier.balance(token);
    expect(after === before + cents, () => `the API balance is ${formatMoney(after)}, expected ${formatMoney(before + cents)}`);
  });
  await t.checkPage(page, 'aanbieder-teruggeboekt');
}
