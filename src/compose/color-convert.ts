import { i420FrameBytes } from '../core/frame.js';

// BT.709 limited range, fixed point (x 2^16), matching rgbToYuv/yuvToRgb in core/frame.ts.
const KY = [0.2126 * 219 / 255, 0.7152 * 219 / 255, 0.0722 * 219 / 255].map((k) => Math.round(k * 65536));
const KU = [-0.1146 * 224 / 255, -0.3854 * 224 / 255, 0.5 * 224 / 255].map((k) => Math.round(k * 65536));
const KV = [0.5 * 224 / 255, -0.4542 * 224 / 255, -0.0458 * 224 / 255].map((k) => Math.round(k * 65536));

/**
 * Interleaved 8-bit RGB (3 bytes a pixel) to an I420 frame. Width and height must be even;
 * chroma is the mean of each 2x2 block.
 */
export function rgbToI420(rgb: Uint8Array, width: number, height: number, out = new Uint8Array(i420FrameBytes(width, height))): Uint8Array {
  if (width % 2 || height % 2) throw new Error(`I420 needs even sides, got ${width}x${height}`);
  const [yr, yg, yb] = KY as [number, number, number];
  const [ur, ug, ub] = KU as [number, number, number];
  const [vr, vg, vb] = KV as [number, number, number];
  const cw = width >> 1;
  const uBase = width * height;
  const vBase = uBase + cw * (height >> 1);
  for (let y = 0; y < height; y += 2) {
    for (let x = 0; x < width; x += 2) {
      let rs = 0, gs = 0, bs = 0;
      for (let dy = 0; dy < 2; dy++) {
        const row = (y + dy) * width + x;
        for (let dx = 0; dx < 2; dx++) {
          const p = (row + dx) * 3;
          const r = rgb[p]!, g = rgb[p + 1]!, b = rgb[p + 2]!;
          rs += r; gs += g; bs += b;
          out[row + dx] = (16 * 65536 + yr * r + yg * g + yb * b + 32768) >> 16;
        }
      }
      const c = (y >> 1) * cw + (x >> 1);
      // Sums of four pixels: divide by 4 inside the shift.
      out[uBase + c] = (128 * 262144 + ur * rs + ug * gs + ub * bs + 131072) >> 18;
      out[vBase + c] = (128 * 262144 + vr * rs + vg * gs + vb * bs + 131072) >> 18;
    }
  }
  return out;
}

/** An I420 frame to interleaved 8-bit RGB (3 bytes a pixel), clamped. */
export function i420ToRgb(data: Uint8Array, width: number, height: number, out = new Uint8Array(width * height * 3)): Uint8Array {
  const cw = width >> 1;
  const uBase = width * height;
  const vBase = uBase + cw * (height >> 1);
  const ky = Math.round((255 / 219) * 65536);
  const rv = Math.round(1.5748 * (255 / 224) * 65536);
  const gu = Math.round(0.1873 * (255 / 224) * 65536);
  const gv = Math.round(0.4681 * (255 / 224) * 65536);
  const bu = Math.round(1.8556 * (255 / 224) * 65536);
  for (let y = 0; y < height; y++) {
    const crow = (y >> 1) * cw;
    for (let x = 0; x < width; x++) {
      const c = crow + (x >> 1);
      const yy = (data[y * width + x]! - 16) * ky;
      const u = data[uBase + c]! - 128;
      const v = data[vBase + c]! - 128;
      const p = (y * width + x) * 3;
      out[p] = clampByte((yy + rv * v + 32768) >> 16);
      out[p + 1] = clampByte((yy - gu * u - gv * v + 32768) >> 16);
      out[p + 2] = clampByte((yy + bu * u + 32768) >> 16);
    }
  }
  return out;
}

function clampByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}
