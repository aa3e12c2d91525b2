// Accessibility check with axe-core. The pages send a strict Content-Security-Policy
// (script-src 'self'), which blocks an inline <script> (page.addScriptTag with content) and
// eval(); Playwright's page.evaluate(string) runs through the DevTools protocol, which CSP does
// not govern, so axe is injected that way and the page's own policy stays in force.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Impacts that fail the check; minor and moderate ones are only counted. */
export const FAILING_IMPACTS = new Set(['serious', 'critical']);

/** Runs axe on the page; returns { failing, minor } lists of violations. */
export async function runAxe(page) {
  const loaded = await page.evaluate('typeof window.axe === "object" && typeof window.axe.run === "function"');
  if (!loaded) {
    // A script, not a function: evaluated as the page's own code would be, defining window.axe.
    await page.evaluate(`${AXE_SOURCE}\n;undefined`);
  }
  const violations = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
    }));
  });
  return {
    failing: violations.filter((v) => FAILING_IMPACTS.has(v.impact)),
    minor: violations.filter((v) => !FAILING_IMPACTS.has(v.impact)),
  };
}

/** One readable block per violation: id, impact, help and the failing nodes' targets. */
export function formatViolations(list) {
  return list
    .map((v) => `  ${v.id} [${v.impact}] ${v.help} (${v.helpUrl})\n` +
      v.nodes.map((n) => `      ${n.target}${n.summary ? `\n        ${n.summary.replace(/\n/g, '\n        ')}` : ''}`).join('\n'))
    .join('\n');
}

/** Throws when axe finds a serious or critical violation. */
export async function assertAccessible(page, what = page.url()) {
  const { failing, minor } = await runAxe(page);
  if (failing.length) {
    throw new Error(`axe: ${failing.length} serious/critical violation(s) on ${what}:\n${formatViolations(failing)}`);
  }
  return { minor };
}
