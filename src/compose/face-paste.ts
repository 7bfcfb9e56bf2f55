import { smoothstep } from '../render/pixel-math.js';
import { windowExtreme } from './window-extremes.js';
import type { Similarity } from './similarity.js';

/** What to paste from a donor frame into a background frame. */
export interface FacePaste {
  /** Maps output (background) luma pixels to donor luma pixels. */
  readonly toSource: Similarity;
  /** Polygons (x,y pairs in output luma pixels) whose intersection is the pasted area. */
  readonly polygons: readonly (readonly number[])[];
  /** The paste keeps to the half-plane of points p with (p - (x, y)) . (nx, ny) >= 0. */
  readonly clip: { readonly x: number; readonly y: number; readonly nx: number; readonly ny: number };
  /** Width of the fade inside the area's border, luma pixels. */
  readonly feather: number;
  /**
   * Where the donor is shown as it is, whatever it holds (lips, teeth, the dark of an open
   * mouth): an ellipse (centre, radii along the head's own right and down, `nx, ny` being
   * down). Beyond it, a donor pixel far from the background's (after the membrane) is not
   * speech but something else the donor shows there (its window behind a blurred jaw
   * line, a highlight its lighting puts on a cheek), and the background's pixel shows.
   */
  readonly mouthZone?: { readonly cx: number; readonly cy: number; readonly rx: number; readonly ry: number; readonly nx: number; readonly ny: number };
}

/** A donor/background difference beyond this at the border is a different object (a boom, a frame), not lighting. */
const OUTLIER = [28, 14, 14] as const;
/** Outside the mouth zone, donor/background differences fade out of the paste between these levels (Y, U, V). */
const OUTSIDE_ZONE_FADE = [[30, 60], [12, 24], [12, 24]] as const;

/**
 * Pastes the donor's face into the background, seamlessly: the donor is resampled through
 * the similarity (bilinear), only inside all the polygons (the face within its jaw contour, as
 * the background and the donor each show it) and
 * the clip half-plane, fading over `feather` pixels inside that border, never outside it.
 * The donor's colour is corrected by a membrane: the background-minus-donor difference
 * along the border, interpolated smoothly over the inside (pull-push), which is what
 * gradient-domain (Poisson) blending adds to the donor; border pixels where the two differ
 * by more than lighting does (another object) do not steer it.
 */
export function pasteFace(src: Uint8Array, dst: Uint8Array, width: number, height: number, paste: FacePaste): void {
  const cw = width >> 1;
  const ch = height >> 1;
  pastePlane(src, dst, 0, width, height, 1, paste, OUTLIER[0], OUTSIDE_ZONE_FADE[0]);
  pastePlane(src, dst, width * height, cw, ch, 2, paste, OUTLIER[1], OUTSIDE_ZONE_FADE[1]);
  pastePlane(src, dst, width * height + cw * ch, cw, ch, 2, paste, OUTLIER[2], OUTSIDE_ZONE_FADE[2]);
}

function pastePlane(src: Uint8Array, dst: Uint8Array, base: number, pw: number, ph: number, s: number, paste: FacePaste, outlier: number, fade: readonly [number, number]): void {
  // Plane coordinates: a plane pixel (x, y) is centred at luma (s x + (s - 1) / 2, s y + (s - 1) / 2).
  const toPlane = (v: number) => (v - (s - 1) / 2) / s;
  const polygons = paste.polygons.map((p) => p.map(toPlane));
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const p of polygons) {
    for (let i = 0; i + 1 < p.length; i += 2) {
      x0 = Math.min(x0, p[i]!);
      x1 = Math.max(x1, p[i]!);
      y0 = Math.min(y0, p[i + 1]!);
      y1 = Math.max(y1, p[i + 1]!);
    }
  }
  const bx0 = Math.max(0, Math.floor(x0) - 1);
  const by0 = Math.max(0, Math.floor(y0) - 1);
  const bx1 = Math.min(pw, Math.ceil(x1) + 2);
  const by1 = Math.min(ph, Math.ceil(y1) + 2);
  const bw = bx1 - bx0;
  const bh = by1 - by0;
  if (bw < 3 || bh < 3) return;
  const inside = rasterize(polygons, bx0, by0, bw, bh);
  const clip = paste.clip;
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const lx = (bx0 + x) * s + (s - 1) / 2;
      const ly = (by0 + y) * s + (s - 1) / 2;
      if ((lx - clip.x) * clip.nx + (ly - clip.y) * clip.ny < 0) inside[y * bw + x] = 0;
    }
  }
  const r = Math.max(1, Math.round(paste.feather / s / 2));
  // Erode by r (what a box of radius r around it sees as fully inside), then blur by r:
  // the alpha is 1 deep inside and reaches 0 at the border, never beyond it.
  const eroded = boxBlur(inside, bw, bh, r).map((v) => (v > 0.999 ? 1 : 0));
  const alpha = boxBlur(Float32Array.from(eroded), bw, bh, r);
  const t = paste.toSource;
  const warped = new Float32Array(bw * bh);
  const diff = new Float32Array(bw * bh);
  const weight = new Float32Array(bw * bh);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const k = y * bw + x;
      if (inside[k] === 0) continue;
      const lx = (bx0 + x) * s + (s - 1) / 2;
      const ly = (by0 + y) * s + (s - 1) / 2;
      const w = sample(src, base, pw, ph, toPlane(t.a * lx - t.b * ly + t.tx), toPlane(t.b * lx + t.a * ly + t.ty));
      warped[k] = w;
      if (alpha[k]! < 0.5) {
        const d = dst[base + (by0 + y) * pw + bx0 + x]! - w;
        if (d <= outlier && d >= -outlier) {
          diff[k] = d;
          weight[k] = 1;
        }
      }
    }
  }
  const membrane = pullPush(diff, weight, bw, bh);
  const zone = paste.mouthZone;
  // How much of the donor shows at each pixel beyond the mouth zone, smoothed over the
  // feather so that where it changes no contour is drawn.
  let shown: Float32Array | undefined;
  if (zone) {
    const raw = new Float32Array(bw * bh).fill(1);
    for (let y = 0; y < bh; y++) {
      for (let x = 0; x < bw; x++) {
        const k = y * bw + x;
        if (alpha[k]! <= 0) continue;
        const dx = (bx0 + x) * s + (s - 1) / 2 - zone.cx;
        const dy = (by0 + y) * s + (s - 1) / 2 - zone.cy;
        const across = (dx * zone.ny - dy * zone.nx) / zone.rx;
        const down = (dx * zone.nx + dy * zone.ny) / zone.ry;
        const inZone = 1 - smoothstep(1, 1.25, Math.sqrt(across * across + down * down));
        const delta = Math.abs(warped[k]! + membrane[k]! - dst[base + (by0 + y) * pw + bx0 + x]!);
        raw[k] = inZone + (1 - inZone) * (1 - smoothstep(fade[0], fade[1], delta));
      }
    }
    // Eroded before it is blurred: a thin stray (a cable, the bright rim of a jaw) would
    // otherwise be averaged with the shown pixels around it and stay half visible; this way
    // it is hidden whole and the fade lies beside it.
    shown = boxBlur(windowExtreme(raw, bw, bh, r, 'min'), bw, bh, r);
  }
  for (let y = 0; y < bh; y++) {
    const row = base + (by0 + y) * pw + bx0;
    for (let x = 0; x < bw; x++) {
      const k = y * bw + x;
      const a = alpha[k]! * (shown ? shown[k]! : 1);
      if (a <= 0) continue;
      const bg = dst[row + x]!;
      const delta = warped[k]! + membrane[k]! - bg;
      const v = bg + a * delta;
      dst[row + x] = v < 0 ? 0 : v > 255 ? 255 : v + 0.5;
    }
  }
}

/** 1 inside every one of the polygons (pixel centres), else 0, over the box. */
function rasterize(polygons: readonly (readonly number[])[], bx0: number, by0: number, bw: number, bh: number): Float32Array {
  const count = new Uint8Array(bw * bh);
  const crossings: number[] = [];
  for (const p of polygons) {
    const n = p.length >> 1;
    for (let y = 0; y < bh; y++) {
      const py = by0 + y;
      crossings.length = 0;
      for (let i = 0, j = n - 1; i < n; j = i++) {
        const yi = p[2 * i + 1]!;
        const yj = p[2 * j + 1]!;
        if ((yi > py) !== (yj > py)) crossings.push(p[2 * i]! + ((py - yi) * (p[2 * j]! - p[2 * i]!)) / (yj - yi));
      }
      crossings.sort((a, b) => a - b);
      for (let c = 0; c + 1 < crossings.length; c += 2) {
        const from = Math.max(0, Math.ceil(crossings[c]! - bx0));
        const to = Math.min(bw - 1, Math.floor(crossings[c + 1]! - bx0));
        for (let x = from; x <= to; x++) count[y * bw + x]!++;
      }
    }
  }
  return Float32Array.from(count, (c) => (c === polygons.length ? 1 : 0));
}

/** Mean over a (2r+1)-square window, separably with running sums; edges see zeros beyond the box. */
function boxBlur(values: Float32Array, w: number, h: number, r: number): Float32Array {
  const rows = new Float32Array(values.length);
  const span = 2 * r + 1;
  for (let y = 0; y < h; y++) {
    let sum = 0;
    for (let x = -r; x <= r; x++) sum += x >= 0 && x < w ? values[y * w + x]! : 0;
    for (let x = 0; x < w; x++) {
      rows[y * w + x] = sum / span;
      const add = x + r + 1;
      const drop = x - r;
      sum += (add < w ? values[y * w + add]! : 0) - (drop >= 0 ? values[y * w + drop]! : 0);
    }
  }
  const out = new Float32Array(values.length);
  for (let x = 0; x < w; x++) {
    let sum = 0;
    for (let y = -r; y <= r; y++) sum += y >= 0 && y < h ? rows[y * w + x]! : 0;
    for (let y = 0; y < h; y++) {
      out[y * w + x] = sum / span;
      const add = y + r + 1;
      const drop = y - r;
      sum += (add < h ? rows[add * w + x]! : 0) - (drop >= 0 ? rows[drop * w + x]! : 0);
    }
  }
  return out;
}

/** Bilinear sample of a plane at (x, y), clamped to its edges. */
function sample(plane: Uint8Array, base: number, w: number, h: number, x: number, y: number): number {
  const cx = x < 0 ? 0 : x > w - 1 ? w - 1 : x;
  const cy = y < 0 ? 0 : y > h - 1 ? h - 1 : y;
  const ix = Math.min(w - 2, Math.floor(cx));
  const iy = Math.min(h - 2, Math.floor(cy));
  const fx = cx - ix;
  const fy = cy - iy;
  const i = base + iy * w + ix;
  const top = plane[i]! + (plane[i + 1]! - plane[i]!) * fx;
  const bottom = plane[i + w]! + (plane[i + w + 1]! - plane[i + w]!) * fx;
  return top + (bottom - top) * fy;
}

/**
 * Fills a sparse field smoothly: values with weight 1 are kept, the rest are interpolated
 * from coarser averages (pull: halve until one cell; push: blend each level with the
 * bilinear upsampling of the next coarser one). No known value: all zeros.
 */
export function pullPush(values: Float32Array, weights: Float32Array, w: number, h: number): Float32Array {
  const levels: { v: Float32Array; w: Float32Array; width: number; height: number }[] = [{ v: Float32Array.from(values), w: Float32Array.from(weights), width: w, height: h }];
  while (levels[levels.length - 1]!.width > 1 || levels[levels.length - 1]!.height > 1) {
    const f = levels[levels.length - 1]!;
    const width = Math.ceil(f.width / 2);
    const height = Math.ceil(f.height / 2);
    const v = new Float32Array(width * height);
    const wt = new Float32Array(width * height);
    for (let y = 0; y < f.height; y++) {
      for (let x = 0; x < f.width; x++) {
        const k = y * f.width + x;
        const c = (y >> 1) * width + (x >> 1);
        v[c]! += f.v[k]! * f.w[k]!;
        wt[c]! += f.w[k]!;
      }
    }
    for (let c = 0; c < v.length; c++) {
      v[c] = wt[c]! > 0 ? v[c]! / wt[c]! : 0;
      wt[c] = Math.min(1, wt[c]!);
    }
    levels.push({ v, w: wt, width, height });
  }
  for (let l = levels.length - 2; l >= 0; l--) {
    const f = levels[l]!;
    const c = levels[l + 1]!;
    for (let y = 0; y < f.height; y++) {
      for (let x = 0; x < f.width; x++) {
        const k = y * f.width + x;
        const wk = f.w[k]!;
        if (wk >= 1) continue;
        const up = sampleF(c.v, c.width, c.height, (x - 0.5) / 2, (y - 0.5) / 2);
        f.v[k] = wk * f.v[k]! + (1 - wk) * up;
      }
    }
  }
  return levels[0]!.v;
}

function sampleF(plane: Float32Array, w: number, h: number, x: number, y: number): number {
  const cx = x < 0 ? 0 : x > w - 1 ? w - 1 : x;
  const cy = y < 0 ? 0 : y > h - 1 ? h - 1 : y;
  const ix = Math.floor(cx);
  const iy = Math.floor(cy);
  const jx = Math.min(w - 1, ix + 1);
  const jy = Math.min(h - 1, iy + 1);
  const fx = cx - ix;
  const fy = cy - iy;
  const top = plane[iy * w + ix]! + (plane[iy * w + jx]! - plane[iy * w + ix]!) * fx;
  const bottom = plane[jy * w + ix]! + (plane[jy * w + jx]! - plane[jy * w + ix]!) * fx;
  return top + (bottom - top) * fy;
}
