// The office pages /beheer, as beheerder (admin). DEPENDS ON PAGES THAT MAY NOT EXIST YET: the
// fund page reached from /beheer by the fund's name, with a button "Tegoeden uitgeven…" (vouchers
// for every child of the fund that has none: a summary with a count) and a form that approves a
// provider (select provider_id, category checkboxes, button "Goedkeuren").
// The data it needs is made through the API first: a new household with a child (so issuing has
// something to do) and a new, not yet approved provider.

import { randomBytes } from 'node:crypto';
import { Api, dutchIban } from '../lib/api.mjs';
import { clickAndWait, expect, login, mainText, pathOf, textOutsideSelects } from '../lib/harness.mjs';
import { DEMO_PASSWORD } from '../lib/server.mjs';

const FUND = /Kindpakket Westerkwartier/;
const COUNT = /(\d+)\s+(?:nieuwe\s+)?(?:tegoeden|tegoed|vouchers?|kinderen|kind)\b|(?:tegoeden|vouchers?|kinderen)\b[^\d.]{0,40}?(\d+)/i;

export async function run(t) {
  const admin = await t.step('log in to the JSON API as beheerder', () => Api.login(t.url, 'beheerder', DEMO_PASSWORD));
  const suffix = randomBytes(3).toString('hex').toUpperCase();
  const year = new Date().getFullYear();

  const household = await t.step('through the API: a new household with a child without a voucher', async () => {
    const r = await admin.call('POST', '/households', {
      reference: `BROWSER-${suffix}`,
      parent_name: 'Test Ouder',
      children: [{ first_name: 'Mila', birth_date: `${year - 10}-05-01` }],
    });
    expect(r.status === 201 || r.status === 200, () => `POST /households: ${r.status} ${r.text.slice(0, 200)}`);
    return r.json.household?.id ?? r.json.id;
  });

  const providerName = `Schaakclub De Toren ${suffix}`;
  await t.step('through the API: a new provider, not approved for the fund', async () => {
    const r = await admin.call('POST', '/providers', {
      name: providerName, kvk: String(10_000_000 + Math.floor(Math.random() * 89_999_999)), iban: dutchIban(), categories: ['cultuur'],
    });
    expect(r.status === 201 || r.status === 200, () => `POST /providers: ${r.status} ${r.text.slice(0, 200)}`);
  });

  const page = await t.newPage();
  await t.step('log in as beheerder: /beheer', async () => {
    await login(page, t.url, 'beheerder');
    const r = await page.goto(`${t.url}/beheer`);
    expect(r && r.status() === 200 && pathOf(page) === '/beheer', () => `/beheer: status ${r && r.status()} at ${pathOf(page)}`);
  });
  await t.checkPage(page, 'beheer');

  const fundUrl = await t.step('the fund page, by the fund\'s name', async () => {
    const link = page.getByRole('link', { name: FUND }).first();
    expect(await link.count(), 'no link "Kindpakket Westerkwartier …" on /beheer');
    const r = await clickAndWait(page, link);
    expect(r && r.status() === 200, () => `the fund page answered ${r && r.status()}`);
    return page.url();
  });
  await t.checkPage(page, 'beheer-regeling');

  await t.step('"Tegoeden uitgeven": a summary with a count; the new child has a voucher', async () => {
    const button = page.getByRole('button', { name: /Tegoeden uitgeven/ });
    expect(await button.count(), 'no button "Tegoeden uitgeven" on the fund page');
    await clickAndWait(page, button.first());
    // A confirmation page may ask first.
    const again = page.getByRole('button', { name: /Tegoeden uitgeven|Bevestig|^\s*Ja/ });
    if (!COUNT.test(await mainText(page)) && await again.count()) {
      await t.checkPage(page, 'beheer-uitgeven-bevestigen');
      await clickAndWait(page, again.first());
    }
    const m = COUNT.exec(await mainText(page));
    expect(m, 'no summary with a count (e.g. "1 tegoed uitgegeven") after issuing');
    t.log(`summary: "${m[0]}"`);
    const h = await admin.call('GET', `/households/${household}`);
    expect(h.status === 200, () => `GET /households/${household}: ${h.status}`);
    expect((h.json.vouchers || []).length >= 1, () => `the new child has no voucher after issuing: ${h.text.slice(0, 300)}`);
  });
  await t.checkPage(page, 'beheer-uitgegeven');

  await t.step('approve the new provider for cultuur: select provider_id, checkbox, "Goedkeuren"', async () => {
    await page.goto(fundUrl);
    const select = page.locator('select[name=provider_id]');
    expect(await select.count() === 1, 'no (single) select[name=provider_id] on the fund page');
    const options = await select.locator('option').evaluateAll((os) => os.map((o) => ({ value: o.value, text: o.textContent.trim() })));
    const o = options.find((x) => x.text.includes(providerName));
    expect(o, () => `the new provider is not offered: ${JSON.stringify(options.map((x) => x.text))}`);
    await select.selectOption(o.value);
    const form = page.locator('form').filter({ has: select });
    const box = form.locator('input[type=checkbox][value=cultuur]');
    expect(await box.count(), 'no checkbox value=cultuur in the approval form');
    await box.check();
    const r = await clickAndWait(page, form.getByRole('button', { name: /Goedkeuren/ }));
    expect(r && r.status() < 400, () => `Goedkeuren answered ${r && r.status()}`);
  });
  await t.checkPage(page, 'beheer-goedgekeurd');

  await t.step('the fund page lists the provider as approved', async () => {
    await page.goto(fundUrl);
    expect((await textOutsideSelects(page)).includes(providerName), 'the fund page does not list the new provider (outside the select)');
  });
}
