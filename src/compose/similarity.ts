/**
 * A 2-D similarity transform (rotation, uniform scale, translation):
 * x' = a x - b y + tx, y' = b x + a y + ty.
 */
export interface Similarity {
  readonly a: number;
  readonly b: number;
  readonly tx: number;
  readonly ty: number;
}

export const IDENTITY: Similarity = { a: 1, b: 0, tx: 0, ty: 0 };

/**
 * The least-squares similarity that maps the points `from` onto `to` (x,y pairs, same
 * count, at least two points): the closed form of Umeyama's method for two dimensions.
 */
export function fitSimilarity(from: readonly number[], to: readonly number[]): Similarity {
  const n = Math.min(from.length, to.length) >> 1;
  if (n < 2) return IDENTITY;
  let fx = 0;
  let fy = 0;
  let gx = 0;
  let gy = 0;
  for (let i = 0; i < n; i++) {
    fx += from[2 * i]!;
    fy += from[2 * i + 1]!;
    gx += to[2 * i]!;
    gy += to[2 * i + 1]!;
  }
  fx /= n;
  fy /= n;
  gx /= n;
  gy /= n;
  let dot = 0;
  let cross = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const px = from[2 * i]! - fx;
    const py = from[2 * i + 1]! - fy;
    const qx = to[2 * i]! - gx;
    const qy = to[2 * i + 1]! - gy;
    dot += px * qx + py * qy;
    cross += px * qy - py * qx;
    norm += px * px + py * py;
  }
  if (norm < 1e-9) return { a: 1, b: 0, tx: gx - fx, ty: gy - fy };
  const a = dot / norm;
  const b = cross / norm;
  return { a, b, tx: gx - (a * fx - b * fy), ty: gy - (b * fx + a * fy) };
}

/** Applies a similarity to x,y pairs. */
export function applySimilarity(t: Similarity, points: readonly number[]): number[] {
  const out = new Array<number>(points.length);
  for (let i = 0; i + 1 < points.length; i += 2) {
    const x = points[i]!;
    const y = points[i + 1]!;
    out[i] = t.a * x - t.b * y + t.tx;
    out[i + 1] = t.b * x + t.a * y + t.ty;
  }
  return out;
}

/** The inverse transform. */
export function invertSimilarity(t: Similarity): Similarity {
  const d = t.a * t.a + t.b * t.b || 1;
  const a = t.a / d;
  const b = -t.b / d;
  return { a, b, tx: -(a * t.tx - b * t.ty), ty: -(b * t.tx + a * t.ty) };
}
