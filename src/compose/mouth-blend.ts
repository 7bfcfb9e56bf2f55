/** An elliptical patch in luma pixels. */
export interface BlendEllipse {
  readonly cx: number;
  readonly cy: number;
  readonly rx: number;
  readonly ry: number;
}

/**
 * Colour matching that carries over from frame to frame: the measured shift is smoothed
 * over about 7 frames, so a patch never flickers in brightness as the background changes.
 */
export class ColourMatch {
  private readonly shift = [NaN, NaN, NaN];

  /** The shift to apply to plane `plane` given this frame's measurement. */
  next(plane: number, measured: number): number {
    const prev = this.shift[plane]!;
    const value = Number.isNaN(prev) ? measured : prev + (measured - prev) * 0.15;
    this.shift[plane] = value;
    return value;
  }
}

/** Share of the radius over which the patch fades into the background. */
export const BLEND_FEATHER = 0.35;
const FEATHER = BLEND_FEATHER;

/** Donor/background luma differences (after their median) beyond this are another surface, not lighting. */
const STRAY_LEVEL = 70;

/**
 * Share of the luma pixels of `patch`, beyond the ellipse `lips` (where mouths differ by
 * design), where the donor moved by (dx, dy) differs from the background by more than
 * STRAY_LEVEL once their median difference is taken off: the donor shows another surface
 * there (the window behind a head that moved), which a blend would bring into the face.
 */
export function strayShare(src: Uint8Array, dst: Uint8Array, width: number, height: number, patch: BlendEllipse, lips: BlendEllipse, dx: number, dy: number): number {
  const sx = Math.round(dx);
  const sy = Math.round(dy);
  const x0 = Math.max(0, Math.floor(patch.cx - patch.rx), -sx);
  const x1 = Math.min(width, Math.ceil(patch.cx + patch.rx) + 1, width - sx);
  const y0 = Math.max(0, Math.floor(patch.cy - patch.ry), -sy);
  const y1 = Math.min(height, Math.ceil(patch.cy + patch.ry) + 1, height - sy);
  const diffs: number[] = [];
  for (let y = y0; y < y1; y++) {
    const py = (y - patch.cy) / patch.ry;
    const ly = (y - lips.cy) / lips.ry;
    for (let x = x0; x < x1; x++) {
      const px = (x - patch.cx) / patch.rx;
      const lx = (x - lips.cx) / lips.rx;
      if (px * px + py * py >= 1 || lx * lx + ly * ly <= 1) continue;
      diffs.push(src[(y - sy) * width + x - sx]! - dst[y * width + x]!);
    }
  }
  if (diffs.length === 0) return 0;
  const median = Float32Array.from(diffs).sort()[diffs.length >> 1]!;
  let stray = 0;
  for (const d of diffs) if (Math.abs(d - median) > STRAY_LEVEL) stray++;
  return stray / diffs.length;
}

/**
 * Blends an elliptical patch of `src` into `dst` (both I420 of the same size; `dst` holds
 * the background). The source is read shifted by (dx, dy) so its landmarks line up with
 * the background's; the patch fades out over the outer 35% of its radius, and its mean
 * colour in that fading ring is matched to the background's, so neither an edge nor a
 * brightness step shows (pass the stream's ColourMatch to keep that shift steady).
 */
export function blendEllipse(
  src: Uint8Array, dst: Uint8Array, width: number, height: number, patch: BlendEllipse, dx: number, dy: number,
  match: ColourMatch = new ColourMatch(),
): void {
  const cw = width >> 1;
  const ch = height >> 1;
  const planes = [
    { base: 0, w: width, h: height, s: 1 },
    { base: width * height, w: cw, h: ch, s: 2 },
    { base: width * height + cw * ch, w: cw, h: ch, s: 2 },
  ];
  for (const [plane, p] of planes.entries()) {
    const e = { cx: patch.cx / p.s, cy: patch.cy / p.s, rx: patch.rx / p.s, ry: patch.ry / p.s };
    const sx = Math.round(dx / p.s);
    const sy = Math.round(dy / p.s);
    const x0 = Math.max(0, Math.floor(e.cx - e.rx), -sx);
    const x1 = Math.min(p.w, Math.ceil(e.cx + e.rx) + 1, p.w - sx);
    const y0 = Math.max(0, Math.floor(e.cy - e.ry), -sy);
    const y1 = Math.min(p.h, Math.ceil(e.cy + e.ry) + 1, p.h - sy);
    if (x1 <= x0 || y1 <= y0) continue;
    const shift = match.next(plane, colourShift(src, dst, p.base, p.w, e, x0, x1, y0, y1, sx, sy));
    for (let y = y0; y < y1; y++) {
      const ny = (y - e.cy) / e.ry;
      const row = p.base + y * p.w;
      const srcRow = p.base + (y - sy) * p.w - sx;
      for (let x = x0; x < x1; x++) {
        const nx = (x - e.cx) / e.rx;
        const r = Math.sqrt(nx * nx + ny * ny);
        if (r >= 1) continue;
        const t = r <= 1 - FEATHER ? 1 : smootherFade((1 - r) / FEATHER);
        const bg = dst[row + x]!;
        const fg = src[srcRow + x]! + shift;
        const v = bg + (fg - bg) * t;
        dst[row + x] = v < 0 ? 0 : v > 255 ? 255 : v + 0.5;
      }
    }
  }
}

/** Largest per-pixel difference that counts as a lighting change. */
const MAX_LIGHTING_STEP = 16;

/** Mean background-minus-source difference in the fading ring (lighting, not structure). */
function colourShift(
  src: Uint8Array, dst: Uint8Array, base: number, w: number, e: BlendEllipse,
  x0: number, x1: number, y0: number, y1: number, sx: number, sy: number,
): number {
  let sum = 0;
  let n = 0;
  for (let y = y0; y < y1; y += 2) {
    const ny = (y - e.cy) / e.ry;
    for (let x = x0; x < x1; x += 2) {
      const nx = (x - e.cx) / e.rx;
      const r = Math.sqrt(nx * nx + ny * ny);
      if (r < 1 - FEATHER || r >= 1) continue;
      const d = dst[base + y * w + x]! - src[base + (y - sy) * w + (x - sx)]!;
      // Differences this large are different things (hair, a jaw edge), not lighting.
      if (d > MAX_LIGHTING_STEP || d < -MAX_LIGHTING_STEP) continue;
      sum += d;
      n++;
    }
  }
  return n ? sum / n : 0;
}

function smootherFade(t: number): number {
  return t * t * (3 - 2 * t);
}
