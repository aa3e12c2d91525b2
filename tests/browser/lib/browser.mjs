// Launching Debian's Chromium through playwright-core (no browser download: `npx playwright
// install` needs the Playwright CDN). Each context gets a fresh profile and its own cookies.

import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const DEFAULT_CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// No sandbox (tests run as root in CI containers), no GPU, and nothing that talks to the
// network on its own (QUIC, component updates, sync, first-run pages).
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Launches headless Chromium. With `fakeCamera` (a .y4m file) the browser has a camera that
 * shows that file and grants camera access without asking.
 */
export async function launch({ executablePath = DEFAULT_CHROMIUM, fakeCamera = null, headless = true } = {}) {
  if (!existsSync(executablePath)) {
    throw new Error(`no Chromium at ${executablePath} (apt-get install chromium, or set CHROMIUM)`);
  }
  const args = [...CHROMIUM_ARGS];
  if (fakeCamera) {
    args.push(
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-video-capture=${fakeCamera}`,
    );
  }
  return chromium.launch({ executablePath, args, headless, timeout: 60_000 });
}
