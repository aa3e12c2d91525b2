// A small client of the JSON API (/api/v1), used beside the pages as an independent witness:
// balances are read through POST /vouchers/lookup rather than from the page under test, and
// the data a scenario needs (a redemption, a new household or provider) is made through it.

import { randomUUID } from 'node:crypto';

export class Api {
  constructor(url, bearer = null) {
    this.url = url;
    this.bearer = bearer;
  }

  /** Logs in; returns a new Api with the session's bearer token. */
  static async login(url, username, password) {
    const r = await new Api(url).call('POST', '/login', { username, password });
    if (r.status !== 200) throw new Error(`API log-in of ${username}: ${r.status} ${r.text.slice(0, 200)}`);
    return new Api(url, r.json.token);
  }

  /** { status, text, json (or null), headers }. */
  async call(method, path, body, headers = {}) {
    const h = { ...headers };
    if (this.bearer) h.Authorization = `Bearer ${this.bearer}`;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    const r = await fetch(`${this.url}/api/v1${path}`, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, text, json, headers: r.headers };
  }

  /** Checks a token for the caller's club (a cashier): the Lookup object. */
  async lookup(token) {
    const r = await this.call('POST', '/vouchers/lookup', { token });
    if (r.status !== 200) throw new Error(`lookup: ${r.status} ${r.text.slice(0, 200)}`);
    return r.json;
  }

  /** The voucher's balance in cents as a cashier's lookup reports it. */
  async balance(token) {
    const l = await this.lookup(token);
    if (typeof l.balance_cents !== 'number') throw new Error(`lookup gave no balance: ${JSON.stringify(l)}`);
    return l.balance_cents;
  }

  /** Redeems (a cashier); returns the Redemption object. */
  async redeem(token, amountCents, category, description = 'browser test') {
    const r = await this.call('POST', '/redemptions',
      { token, amount_cents: amountCents, category, description },
      { 'Idempotency-Key': randomUUID() });
    if (r.status !== 201) throw new Error(`redemption: ${r.status} ${r.text.slice(0, 200)}`);
    return r.json;
  }
}

/** A valid Dutch IBAN for bank code `bank` and a 10-digit account number (ISO 13616 check). */
export function dutchIban(bank = 'INGB', account = String(Math.floor(Math.random() * 1e10)).padStart(10, '0')) {
  const bban = bank + account;
  const digits = (bban + 'NL00').replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  const check = 98n - (BigInt(digits) % 97n);
  return `NL${String(check).padStart(2, '0')}${bban}`;
}
