import type { SquareCrop } from '../render/onnx/face-crop.js';
import { PASTE_ELLIPSE } from '../render/onnx/paste-back.js';

/** Share of the ellipse radius over which the model output fades into the frame. */
const FEATHER = 0.4;
/** Largest per-pixel difference that counts as a lighting change when matching colour. */
const MAX_LIGHTING_STEP = 24;

/**
 * Pastes a model output (3 planes of size x size floats in 0..1, `order` giving which plane
 * is red, green, blue) into a packed RGB frame over a square face crop: inside the
 * feathered lower-face ellipse only, with the output's mean colour in the feather ring
 * matched to the frame's per channel. Only the ellipse's pixels are touched, so the cost
 * is that of the mouth region, not of the frame.
 */
export function pasteIntoRgb(
  output: Float32Array, offset: number, size: number, order: 'bgr' | 'rgb', crop: SquareCrop,
  frame: Uint8Array, width: number, height: number,
): void {
  const plane = size * size;
  const planes = order === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  const ecx = crop.x + PASTE_ELLIPSE.cx * crop.side;
  const ecy = crop.y + PASTE_ELLIPSE.cy * crop.side;
  const rx = PASTE_ELLIPSE.rx * crop.side;
  const ry = PASTE_ELLIPSE.ry * crop.side;
  const x0 = Math.max(0, Math.floor(ecx - rx));
  const x1 = Math.min(width, Math.ceil(ecx + rx) + 1);
  const y0 = Math.max(0, Math.floor(ecy - ry));
  const y1 = Math.min(height, Math.ceil(ecy + ry) + 1);
  if (x1 <= x0 || y1 <= y0) return;
  const toModel = size / crop.side;
  const inner = (1 - FEATHER) ** 2;
  // Colour match: mean frame-minus-output difference per channel in the feather ring.
  const shift = [0, 0, 0];
  for (let c = 0; c < 3; c++) {
    const base = offset + planes[c]! * plane;
    let sum = 0;
    let n = 0;
    for (let y = y0; y < y1; y += 2) {
      const ny = ((y - ecy) / ry) ** 2;
      const my = (y + 0.5 - crop.y) * toModel - 0.5;
      for (let x = x0; x < x1; x += 2) {
        const r2 = ((x - ecx) / rx) ** 2 + ny;
        if (r2 < inner || r2 >= 1) continue;
        const d = frame[(y * width + x) * 3 + c]! - 255 * sample(output, base, size, (x + 0.5 - crop.x) * toModel - 0.5, my);
        if (d > MAX_LIGHTING_STEP || d < -MAX_LIGHTING_STEP) continue;
        sum += d;
        n++;
      }
    }
    shift[c] = n ? sum / n : 0;
  }
  const [br, bg, bb] = [offset + planes[0]! * plane, offset + planes[1]! * plane, offset + planes[2]! * plane];
  const [sr, sg, sb] = shift as [number, number, number];
  for (let y = y0; y < y1; y++) {
    const ny = ((y - ecy) / ry) ** 2;
    const my = (y + 0.5 - crop.y) * toModel - 0.5;
    for (let x = x0; x < x1; x++) {
      const r2 = ((x - ecx) / rx) ** 2 + ny;
      if (r2 >= 1) continue;
      const t = r2 <= inner ? 1 : smooth((1 - Math.sqrt(r2)) / FEATHER);
      const mx = (x + 0.5 - crop.x) * toModel - 0.5;
      const p = (y * width + x) * 3;
      frame[p] = blend(frame[p]!, 255 * sample(output, br, size, mx, my) + sr, t);
      frame[p + 1] = blend(frame[p + 1]!, 255 * sample(output, bg, size, mx, my) + sg, t);
      frame[p + 2] = blend(frame[p + 2]!, 255 * sample(output, bb, size, mx, my) + sb, t);
    }
  }
}

function blend(bg: number, v: number, t: number): number {
  const out = bg + (v - bg) * t;
  return out < 0 ? 0 : out > 255 ? 255 : out + 0.5;
}

/** Bilinear sample of one float plane (clamped to 0..1 and to the plane's edges). */
function sample(data: Float32Array, base: number, s: number, x: number, y: number): number {
  const cx = x < 0 ? 0 : x > s - 1 ? s - 1 : x;
  const cy = y < 0 ? 0 : y > s - 1 ? s - 1 : y;
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const x1 = x0 + 1 < s ? x0 + 1 : x0;
  const y1 = y0 + 1 < s ? y0 + 1 : y0;
  const fx = cx - x0;
  const fy = cy - y0;
  const a = data[base + y0 * s + x0]!;
  const b = data[base + y0 * s + x1]!;
  const c = data[base + y1 * s + x0]!;
  const d = data[base + y1 * s + x1]!;
  const v = a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

function smooth(t: number): number {
  return t * t * (3 - 2 * t);
}
