// Decoding QR codes from PNG images (screenshots) with jsQR, an implementation independent of
// the server's own QR encoder (the qrcode crate) and decoder (rqrr).

import jsQR from 'jsqr';
import { PNG } from 'pngjs';

/** The text of the QR code in a PNG buffer; throws when no code is found. */
export function decodeQrPng(buffer) {
  const png = PNG.sync.read(buffer);
  const data = new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length);
  // Dark-on-light first (as printed), then inverted as a fallback.
  const code = jsQR(data, png.width, png.height, { inversionAttempts: 'attemptBoth' });
  if (!code) throw new Error(`no QR code found in the ${png.width}x${png.height} image`);
  return code.data;
}

/** Screenshots an element (e.g. `.kp-qr svg`) and decodes its QR code: { text, png }. */
export async function decodeQrElement(locator) {
  const png = await locator.screenshot({ animations: 'disabled' });
  return { text: decodeQrPng(png), png };
}
