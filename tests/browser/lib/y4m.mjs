// A fake camera for Chromium: a YUV4MPEG2 file (what --use-file-for-fake-video-capture reads)
// showing a QR code held still in front of the lens.
//
// Frame: 640x480, 4:2:0 with JPEG (full-range) chroma siting, progressive, square pixels. The
// luma plane is the PNG in grey (alpha over white), scaled with area averaging so that it fills
// `fraction` of the frame's height, centred on white, which gives the quiet zone. The default
// 0.6 keeps the code inside the central square of 2/3 of the height that qr-scanner looks at by
// default. U and V are 128 (no colour). Chromium loops the file, so a few identical frames do.

import { writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';

export const Y4M_WIDTH = 640;
export const Y4M_HEIGHT = 480;

/** The header line, e.g. "YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg\n". */
export function y4mHeader(width = Y4M_WIDTH, height = Y4M_HEIGHT, fps = 30) {
  return `YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`;
}

/** The luma plane (width*height bytes) of one frame showing the PNG centred on white. */
export function lumaFromPng(pngBuffer, { width = Y4M_WIDTH, height = Y4M_HEIGHT, fraction = 0.6 } = {}) {
  const png = PNG.sync.read(pngBuffer);
  // Grey value of every source pixel (BT.601 weights), alpha composed over white.
  const grey = new Float64Array(png.width * png.height);
  for (let i = 0; i < grey.length; i++) {
    const r = png.data[4 * i], g = png.data[4 * i + 1], b = png.data[4 * i + 2], a = png.data[4 * i + 3] / 255;
    grey[i] = (0.299 * r + 0.587 * g + 0.114 * b) * a + 255 * (1 - a);
  }
  const side = Math.floor(Math.min(width, height) * fraction);
  const scale = Math.min(side / png.width, side / png.height);
  const w = Math.max(1, Math.round(png.width * scale));
  const h = Math.max(1, Math.round(png.height * scale));
  const x0 = Math.floor((width - w) / 2);
  const y0 = Math.floor((height - h) / 2);
  const y = Buffer.alloc(width * height, 255);
  for (let dy = 0; dy < h; dy++) {
    // Source rows [sy0, sy1) cover this destination row (area average, no smearing).
    const sy0 = (dy * png.height) / h, sy1 = ((dy + 1) * png.height) / h;
    for (let dx = 0; dx < w; dx++) {
      const sx0 = (dx * png.width) / w, sx1 = ((dx + 1) * png.width) / w;
      let sum = 0, area = 0;
      for (let sy = Math.floor(sy0); sy < Math.ceil(sy1); sy++) {
        const wy = Math.min(sy + 1, sy1) - Math.max(sy, sy0);
        for (let sx = Math.floor(sx0); sx < Math.ceil(sx1); sx++) {
          const wx = Math.min(sx + 1, sx1) - Math.max(sx, sx0);
          sum += grey[sy * png.width + sx] * wx * wy;
          area += wx * wy;
        }
      }
      y[(y0 + dy) * width + x0 + dx] = Math.round(sum / area);
    }
  }
  return y;
}

/** The whole Y4M file as a Buffer: header, then `frames` times "FRAME\n" + Y + U + V. */
export function y4mFromPng(pngBuffer, { width = Y4M_WIDTH, height = Y4M_HEIGHT, fps = 30, frames = 30, fraction = 0.6 } = {}) {
  if (width % 2 || height % 2) throw new Error('4:2:0 needs an even width and height');
  const luma = lumaFromPng(pngBuffer, { width, height, fraction });
  const chroma = Buffer.alloc((width / 2) * (height / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), luma, chroma]);
  return Buffer.concat([Buffer.from(y4mHeader(width, height, fps)), ...Array(frames).fill(frame)]);
}

/** Writes the Y4M file for a PNG; returns the path. */
export function writeY4m(path, pngBuffer, options) {
  writeFileSync(path, y4mFromPng(pngBuffer, options));
  return path;
}
