// The kassa with the keyboard alone, as a volunteer with a Bluetooth keyboard or a screen
// reader would: Tab from the top of the page to the code field (every focused element shows a
// focus outline), type the code, Enter; the amount field has the focus, type, Enter; Tab to
// "Bevestig betaling", Enter; the receipt.

import { Api } from '../lib/api.mjs';
import { expect, login, mainText } from '../lib/harness.mjs';
import { DEMO_PASSWORD } from '../lib/server.mjs';

/** Presses Tab until `selector` has the focus (at most `max` times); checks each focus is visible. */
async function tabTo(page, selector, max = 25) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const state = await page.evaluate((sel) => {
      const el = document.activeElement;
      if (!el || el === document.body) return { here: false, visible: true };
      const s = getComputedStyle(el);
      const visible = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
      return { here: el.matches(sel), visible, what: `${el.tagName} ${el.getAttribute('name') || el.textContent.trim().slice(0, 30)}` };
    }, selector);
    if (!state.visible) throw new Error(`no visible focus on ${state.what}`);
    if (state.here) return i + 1;
  }
  throw new Error(`${selector} not reached with ${max} presses of Tab`);
}

export async function run(t) {
  const { token } = t.server;
  const api = await Api.login(t.url, 'kassa-vv', DEMO_PASSWORD);
  const before = await api.balance(token);
  const page = await t.newPage();
  await t.step('log in and open /kassa', async () => {
    await login(page, t.url, 'kassa-vv');
    await page.goto(`${t.url}/kassa`);
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
  });
  await t.step('Tab to the code field, type it, Enter: the result', async () => {
    const n = await tabTo(page, 'input[name=token]');
    t.log(`code field after ${n} Tab(s)`);
    await page.keyboard.type(token);
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    expect(/kan gebruikt worden/.test(await mainText(page)), 'no green result after Enter');
  });
  await t.step('the amount field has the focus: type 1,00, Enter: the confirmation', async () => {
    const focused = await page.evaluate(() => document.activeElement && document.activeElement.getAttribute('name'));
    expect(focused === 'amount', () => `the focus is on ${focused}, not on the amount`);
    await page.keyboard.type('1,00');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    expect(/Bevestig de betaling/.test(await mainText(page)), 'no confirmation after Enter');
  });
  await t.step('Tab to "Bevestig betaling", Enter: the receipt; booked once', async () => {
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await tabTo(page, 'button[type=submit]:not([name])');
    const label = await page.evaluate(() => document.activeElement.textContent.trim());
    if (!/Bevestig betaling/.test(label)) {
      // The header's log-out button comes first: go on to the next submit button.
      await tabTo(page, 'main button[type=submit]');
    }
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    expect(/Betaald/.test(await mainText(page)), 'no receipt after Enter');
    expect(await api.balance(token) === before - 100, 'the balance did not drop by € 1,00 exactly once');
  });
}
