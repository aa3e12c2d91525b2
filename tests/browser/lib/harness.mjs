// The small test runner the scenarios use: named steps (the failing one is reported), soft
// failures that let a scenario go on (accessibility, screenshots, script errors), the per-page
// checks (axe + screenshots) and helpers for forms, money and log-in.

import { join } from 'node:path';
import { assertAccessible } from './axe.mjs';
import { noHorizontalScroll, screenshots, slug } from './shots.mjs';
import { DEMO_PASSWORD } from './server.mjs';

export class Failure extends Error {}

/** Throws a Failure with `msg` unless `cond`. */
export function expect(cond, msg) {
  if (!cond) throw new Failure(typeof msg === 'function' ? msg() : msg);
}

/** Everything a scenario gets: the server, the browser, shared state and the report. */
export class Scenario {
  constructor(name, env) {
    this.name = name;
    this.env = env; // { server, browser, backend, shotsDir, state, visited, chromium, log }
    this.failures = [];
    this.notes = [];
    this.current = '(start)';
    this.contexts = [];
    this.pages = [];
  }

  get url() { return this.env.server.url; }
  get server() { return this.env.server; }
  get state() { return this.env.state; }

  log(msg) { this.env.log(`    ${msg}`); }

  /** A note for the report that is no failure. */
  note(msg) { this.notes.push(msg); this.log(`note: ${msg}`); }

  /** Runs one named step; a throw ends the scenario with this step named. */
  async step(label, fn) {
    this.current = label;
    const t0 = Date.now();
    this.env.log(`  - ${label}`);
    const result = await fn();
    this.env.log(`    ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return result;
  }

  /** A failure that does not stop the scenario. */
  soft(msg) {
    const m = `${this.name} › ${this.current}: ${msg}`;
    this.failures.push(m);
    this.env.log(`    FAIL (continuing): ${msg.split('\n')[0]}`);
  }

  /** A new page in a fresh context (own cookies); page errors become soft failures. */
  async newPage({ browser = this.env.browser, ...contextOptions } = {}) {
    const context = await browser.newContext({ locale: 'nl-NL', viewport: { width: 1280, height: 800 }, ...contextOptions });
    context.setDefaultTimeout(15_000);
    context.setDefaultNavigationTimeout(30_000);
    this.contexts.push(context);
    const page = await context.newPage();
    this.pages.push(page);
    page.on('pageerror', (e) => this.soft(`uncaught script error on ${page.url()}: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      // Something the page's own policy blocked is a bug of the page; other errors are noted.
      if (/Content Security Policy/i.test(m.text())) this.soft(`blocked by CSP on ${page.url()}: ${m.text().slice(0, 300)}`);
      else this.note(`console error on ${page.url()}: ${m.text().slice(0, 300)}`);
    });
    // A page's own style sheet, script, image or font that does not load is a bug of the page.
    page.on('response', (r) => {
      const type = r.request().resourceType();
      if (r.status() >= 400 && ['stylesheet', 'script', 'image', 'font', 'media'].includes(type)
          && r.url().startsWith(this.env.server.url)) {
        this.soft(`${type} ${r.url()} answered ${r.status()} on ${page.url()}`);
      }
    });
    page.on('dialog', (d) => { this.note(`dialog "${d.message()}" accepted`); d.accept().catch(() => {}); });
    return page;
  }

  /**
   * The checks every visited page gets, once per page name and backend: no serious or critical
   * axe violation, and full-page screenshots at 360 and 1280 px.
   */
  async checkPage(page, name) {
    if (this.env.visited.has(name)) return;
    this.env.visited.add(name);
    try {
      await assertAccessible(page, `${name} (${page.url()})`);
    } catch (e) {
      this.soft(e.message);
    }
    // A phone of 320 px: the page never scrolls sideways (wide tables scroll inside their box).
    try {
      const { ok, scrollWidth } = await noHorizontalScroll(page, 320);
      if (!ok) this.soft(`${name} is ${scrollWidth} px wide at 320 px (${page.url()})`);
    } catch (e) {
      this.soft(`320 px check of ${name}: ${e.message}`);
    }
    try {
      await screenshots(page, { dir: this.env.shotsDir, backend: this.env.backend, name });
    } catch (e) {
      this.soft(`screenshots of ${name}: ${e.message}`);
    }
  }

  /** After a failure: a screenshot of every open page, for the report. */
  async failureShots() {
    const files = [];
    for (const [i, page] of this.pages.entries()) {
      if (page.isClosed()) continue;
      const path = join(this.env.shotsDir, `${this.env.backend}-FAILED-${slug(this.name)}-${i}.png`);
      try {
        await page.screenshot({ path, fullPage: true, scale: 'css', timeout: 10_000 });
        files.push(`${path} (${page.url()})`);
      } catch { /* page gone */ }
    }
    return files;
  }

  async close() {
    for (const c of this.contexts) await c.close().catch(() => {});
    this.contexts = [];
  }
}

// ---- pages and forms ------------------------------------------------------------------------

/** Path of the page's current URL. */
export const pathOf = (page) => new URL(page.url()).pathname;

/**
 * Clicks something that submits a form or follows a link and waits for the new page to load.
 * Returns the navigation's final response (after redirects), or null.
 */
export async function clickAndWait(page, locator, { timeout = 20_000 } = {}) {
  const nav = page.waitForNavigation({ timeout, waitUntil: 'load' });
  await locator.click({ timeout });
  return nav;
}

/** The submit button of the form holding `field` (a locator of one of its inputs). */
export function submitOf(page, field) {
  return page.locator('form').filter({ has: field })
    .locator('button[type=submit], input[type=submit], button:not([type])').first();
}

/** The visible text of <main>, or of <body> when there is no <main>. */
export async function mainText(page) {
  const main = page.locator('main');
  return (await main.count()) ? main.first().innerText() : page.locator('body').innerText();
}

/** The text of <main> (or <body>) without <select> option lists, spaces collapsed. */
export async function textOutsideSelects(page) {
  return page.evaluate(() => {
    const root = (document.querySelector('main') || document.body).cloneNode(true);
    root.querySelectorAll('select, option, datalist').forEach((e) => e.remove());
    return root.textContent.replace(/\s+/g, ' ');
  });
}

/** Logs in through /inloggen; returns the final response. */
export async function login(page, url, username, password = DEMO_PASSWORD) {
  const r = await page.goto(`${url}/inloggen`);
  expect(r && r.status() === 200, () => `GET /inloggen answered ${r && r.status()}`);
  await page.locator('input[name=username]').fill(username);
  await page.locator('input[name=password]').fill(password);
  return clickAndWait(page, submitOf(page, page.locator('input[name=password]')));
}

// ---- money ----------------------------------------------------------------------------------

/** An amount as the pages write it: € 1.234,50 (the space may be a no-break space). */
export const MONEY_RE = /€\s?\d{1,3}(?:\.\d{3})*,\d{2}/;

/** Cents of "€ 1.234,50". */
export function parseMoney(text) {
  const m = /€\s?(\d{1,3}(?:\.\d{3})*),(\d{2})/.exec(text);
  if (!m) throw new Failure(`no amount in "${text}"`);
  return Number(m[1].replace(/\./g, '')) * 100 + Number(m[2]);
}

/** "€ 1.234,50" for 123450 cents. */
export function formatMoney(cents) {
  const euros = String(Math.floor(cents / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, '.');
  return `€ ${euros},${String(cents % 100).padStart(2, '0')}`;
}

/** A RegExp matching `cents` as the pages may write it (any or no space after €). */
export function moneyRe(cents) {
  const [euros, c] = formatMoney(cents).slice(2).split(',');
  return new RegExp(`€\\s?${euros.replace(/\./g, '\\.?')},${c}(?!\\d)`);
}

/**
 * The first amount in <main> and how its box looks: { text, green, why }. "Green" is a class
 * such as ok/success/valid/geldig on the element or an ancestor, or a green background, border
 * or text colour there.
 */
export async function firstAmountAndColour(page) {
  return page.evaluate((src) => {
    const re = new RegExp(src);
    const root = document.querySelector('main') || document.body;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    let node = null;
    // The amount may be split over elements (€ in one span): look at whole elements too.
    while (walker.nextNode()) { if (re.test(walker.currentNode.textContent)) { node = walker.currentNode.parentElement; break; } }
    if (!node) {
      for (const el of root.querySelectorAll('*')) {
        if (re.test(el.textContent) && ![...el.children].some((c) => re.test(c.textContent))) { node = el; break; }
      }
    }
    if (!node) return null;
    const text = re.exec(node.textContent)[0];
    const greenish = (c) => {
      const m = /rgba?\((\d+),\s*(\d+),\s*(\d+)(?:,\s*([\d.]+))?\)/.exec(c);
      if (!m || (m[4] !== undefined && Number(m[4]) === 0)) return false;
      const [r, g, b] = [m[1], m[2], m[3]].map(Number);
      return g > r + 30 && g >= b;
    };
    for (let el = node, depth = 0; el && el !== document.body && depth < 8; el = el.parentElement, depth++) {
      const cls = `${el.className || ''} ${el.getAttribute('data-status') || ''} ${el.getAttribute('data-result') || ''}`;
      if (/\b(ok|success|succes|valid|geldig|green|groen)\b|--(ok|success|valid)/i.test(cls)) {
        return { text, green: true, why: `class "${cls.trim()}" on <${el.tagName.toLowerCase()}>` };
      }
      const s = getComputedStyle(el);
      for (const [prop, v] of [['background-color', s.backgroundColor], ['border-left-color', s.borderLeftWidth !== '0px' ? s.borderLeftColor : ''],
        ['border-top-color', s.borderTopWidth !== '0px' ? s.borderTopColor : ''], ['color', s.color]]) {
        if (v && greenish(v)) return { text, green: true, why: `${prop} ${v} on <${el.tagName.toLowerCase()} class="${el.className}">` };
      }
    }
    return { text, green: false, why: 'no ok/success class and no green colour on the amount or its boxes' };
  }, MONEY_RE.source);
}
