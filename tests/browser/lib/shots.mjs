// Full-page screenshots at a phone width (360 px) and a desktop width (1280 px), into
// target/screenshots/<backend>-<name>-<width>.png, for a person to look through; the viewport is
// set back afterwards. Screenshots are taken in CSS pixels whatever the context's scale factor.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const WIDTHS = [360, 1280];

/** A file-name-safe version of a page name. */
export function slug(name) {
  return String(name).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'page';
}

/** Screenshots the page at each width; returns the files written. */
export async function screenshots(page, { dir, backend, name, widths = WIDTHS }) {
  mkdirSync(dir, { recursive: true });
  const before = page.viewportSize();
  const files = [];
  try {
    for (const width of widths) {
      await page.setViewportSize({ width, height: before?.height ?? 800 });
      const path = join(dir, `${backend}-${slug(name)}-${width}.png`);
      await page.screenshot({ path, fullPage: true, scale: 'css', animations: 'disabled' });
      files.push(path);
    }
  } finally {
    if (before) await page.setViewportSize(before);
  }
  return files;
}

/** True when the page does not scroll sideways at `width` CSS pixels. */
export async function noHorizontalScroll(page, width) {
  const before = page.viewportSize();
  await page.setViewportSize({ width, height: before?.height ?? 800 });
  try {
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    return { ok: scrollWidth <= width, scrollWidth };
  } finally {
    if (before) await page.setViewportSize(before);
  }
}
