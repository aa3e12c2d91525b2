// Every page, as the role that uses it: axe-core (no serious or critical violation) and
// screenshots at 360 and 1280 px, for the pages the other scenarios do not reach. Read-only
// where it can be; the pages that only appear after an action (an error next to a field, the
// confirm step of an erasure) are reached by that action on data made for it.

import { clickAndWait, expect, login, pathOf } from '../lib/harness.mjs';

/** Goes to a path, expects 200 (or the given status), and runs the page checks. */
async function visit(t, page, path, name, status = 200) {
  const r = await page.goto(`${t.url}${path}`);
  expect(r && r.status() === status, () => `${path}: ${r && r.status()} (expected ${status})`);
  await t.checkPage(page, name);
}

export async function run(t) {
  const anon = await t.newPage();
  await t.step('pages for everyone: start, accessibility, an unknown page', async () => {
    await visit(t, anon, '/', 'start');
    await visit(t, anon, '/toegankelijkheid', 'toegankelijkheid');
    await visit(t, anon, '/bestaat-niet', 'niet-gevonden', 404);
  });

  const staff = await t.newPage();
  const ids = await t.step('Leergeld: households, a household, a voucher, erasure, providers, next year', async () => {
    await login(staff, t.url, 'medewerker');
    await visit(t, staff, '/beheer/gezinnen', 'beheer-gezinnen');
    await staff.locator('input[name=q]').fill('Noor');
    await clickAndWait(staff, staff.getByRole('button', { name: 'Zoeken' }));
    expect(!staff.url().includes('Noor'), () => `a name in the address: ${staff.url()}`);
    await t.checkPage(staff, 'beheer-gezinnen-zoeken');
    const link = staff.locator('a[href^="/beheer/gezinnen/"]').first();
    expect(await link.count(), 'searching "Noor" finds no household');
    await clickAndWait(staff, link);
    const household = pathOf(staff);
    await t.checkPage(staff, 'beheer-gezin');
    const voucher = staff.locator('a[href^="/beheer/tegoeden/"]').first();
    expect(await voucher.count(), 'the household page links no voucher');
    await clickAndWait(staff, voucher);
    await t.checkPage(staff, 'beheer-tegoed');
    await visit(t, staff, `${household}/wissen`, 'beheer-wissen');
    await visit(t, staff, '/beheer/aanbieders', 'beheer-aanbieders');
    await visit(t, staff, `${household}/wijzigen`, 'beheer-gezin-wijzigen');
    await visit(t, staff, '/tweestaps', 'tweestaps');
    await clickAndWait(staff, staff.getByRole('button', { name: 'Instellen' }));
    expect(await staff.locator('.kp-qr svg').count() === 1, 'no QR code to set up the app');
    await t.checkPage(staff, 'tweestaps-qr');
    // A household form with a child without a birth date: the error on the page.
    await staff.goto(`${t.url}/beheer/gezinnen`);
    await staff.locator('input[name=reference]').fill(`TOUR-${Date.now()}`);
    await staff.locator('input[name=parent_name]').fill('Test Ouder');
    await staff.locator('input[name=child_name]').first().fill('Mila');
    await clickAndWait(staff, staff.getByRole('button', { name: 'Gezin toevoegen' }));
    expect(/geboortedatum/i.test(await staff.locator('main').innerText()), 'no message about the missing birth date');
    await t.checkPage(staff, 'beheer-gezinnen-fout');
    await staff.goto(`${t.url}/beheer`);
    const fund = staff.locator('a[href^="/beheer/regelingen/"]').first();
    await clickAndWait(staff, fund);
    return { fund: pathOf(staff) };
  });

  const admin = await t.newPage();
  await t.step('admin: overview with the new-fund form, next year\'s fund form, letters', async () => {
    await login(admin, t.url, 'beheerder');
    await visit(t, admin, '/beheer', 'beheer-admin');
    await visit(t, admin, `${ids.fund}/nieuw-jaar`, 'beheer-nieuw-jaar');
    await visit(t, admin, `${ids.fund}/brieven`, 'beheer-brieven');
  });

  const manager = await t.newPage();
  await t.step('provider manager: the cashiers page', async () => {
    await login(manager, t.url, 'voorzitter-vv');
    await visit(t, manager, '/aanbieder/kassa-medewerkers', 'aanbieder-kassa-medewerkers');
    // A too-short password: the error on the page.
    await manager.locator('input[name=username]').last().fill(`kassa-tour-${Date.now()}`);
    await manager.locator('#new-password').fill('kort');
    await manager.locator('#new-password').evaluate((e) => e.removeAttribute('minlength'));
    await clickAndWait(manager, manager.getByRole('button', { name: 'Toevoegen' }));
    expect(/10 tot 1000 tekens/.test(await manager.locator('main').innerText()), 'no message about the short password');
    await t.checkPage(manager, 'aanbieder-kassa-medewerkers-fout');
    // The question before a cashier is removed (answered "Nee").
    await manager.goto(`${t.url}/aanbieder/kassa-medewerkers`);
    await clickAndWait(manager, manager.getByRole('button', { name: /verwijderen$/ }).first());
    expect(/verwijderen\?/.test(await manager.locator('h1').innerText()), 'no question before removing a cashier');
    await t.checkPage(manager, 'aanbieder-verwijderen');
    // The reversal form of a payment (not sent).
    await manager.goto(`${t.url}/aanbieder`);
    const reverse = manager.locator('a[href^="/aanbieder/terugboeken/"]').first();
    if (await reverse.count()) {
      await clickAndWait(manager, reverse);
      await t.checkPage(manager, 'aanbieder-terugboeken');
    } else {
      t.note('no payment to open the reversal form of (run with the kassa scenario)');
    }
  });

  const auditor = await t.newPage();
  await t.step('auditor: reads the fund page, gets no action forms', async () => {
    await login(auditor, t.url, 'accountant');
    await visit(t, auditor, ids.fund, 'beheer-regeling-accountant');
    const buttons = await auditor.getByRole('button', { name: /uitgeven|Storting|Goedkeuren/ }).count();
    expect(buttons === 0, `the auditor sees ${buttons} action button(s)`);
  });
}
