// AssemblyScript, compiled to dist/src/compose/rgb-paste.wasm by `npm run build` (asc, SIMD on).
// The paste kernels behind src/compose/rgb-paste-bytes.ts, which lays out their memory:
//
//   tables: colLo i32[w8], colHi i32[w8], colFx i32[w8]                (per column, scalar)
//           groupBase i32[g], groupLo v128[g], groupHi v128[g], groupFx v128[g]   (per 8 columns)
//           rowTop i32[h], rowBottom i32[h], rowFy i32[h], rowFrom i32[h], rowTo i32[h]
//           weight u16[w8 * h] (blend weight, Q15: 0..32767)
//   planes: red, green, blue, each the sampled model rows (row byte offsets rowTop/rowBottom),
//           followed by 16 readable bytes
//   box:    h rows of w8 packed RGB pixels (the frame's box, padded to whole groups)
//
// w8 = w rounded up to a multiple of 8, g = w8 / 8. Columns past w have weight 0. Weights
// (colFx, rowFy, groupFx) are in 1/256; a group's columns lie within 16 bytes of its base.

/** Largest per-pixel difference that counts as a lighting change when matching colour. */
const MAX_LIGHTING_STEP: i32 = 24;
/** Spacing of the feather-ring samples of the colour match, in pixels both ways. */
const RING_STEP: i32 = 4;
const FULL: i32 = 32767;

/** Linear interpolation of a and b by f / 256, rounded. */
// @ts-ignore: decorator
@inline function lerp(a: i32, b: i32, f: i32): i32 {
  return (a * (256 - f) + b * f + 128) >> 8;
}

/** Bilinear sample of rows `top` and `bottom` at columns lo, hi (each row interpolated first, rounded, then the rows). */
// @ts-ignore: decorator
@inline function sample(top: usize, bottom: usize, lo: usize, hi: usize, wx: i32, wy: i32): i32 {
  return lerp(lerp(<i32>load<u8>(top + lo), <i32>load<u8>(top + hi), wx), lerp(<i32>load<u8>(bottom + lo), <i32>load<u8>(bottom + hi), wx), wy);
}

/** bg moved towards v (clamped to 0..255) by t / 32768, rounded: the scalar form of i16x8.q15mulr_sat_s. */
// @ts-ignore: decorator
@inline function blend(bg: i32, v: i32, t: i32): i32 {
  const c = v < 0 ? 0 : v > 255 ? 255 : v;
  return bg + (((c - bg) * t + 16384) >> 15);
}

// @ts-ignore: decorator
@inline function i32At(base: usize, index: i32): i32 {
  return load<i32>(base + (<usize>index << 2));
}

/**
 * Pastes one frame's model output into the box, in place: colour match (the mean
 * box-minus-output difference per channel over the feather ring), then the feathered blend;
 * eight pixels at a time with `simd` (every group within 16 bytes), else one at a time.
 * Both give the same bytes.
 */
export function paste(tables: usize, w8: i32, h: i32, red: usize, green: usize, blue: usize, box: usize, simd: bool): void {
  const groups = w8 >> 3;
  const colLo = tables;
  const colHi = colLo + (<usize>w8 << 2);
  const colFx = colHi + (<usize>w8 << 2);
  const groupBase = colFx + (<usize>w8 << 2);
  const groupLo = groupBase + (<usize>groups << 2);
  const groupHi = groupLo + (<usize>groups << 4);
  const groupFx = groupHi + (<usize>groups << 4);
  const rowTop = groupFx + (<usize>groups << 4);
  const rowBottom = rowTop + (<usize>h << 2);
  const rowFy = rowBottom + (<usize>h << 2);
  const rowFrom = rowFy + (<usize>h << 2);
  const rowTo = rowFrom + (<usize>h << 2);
  const weight = rowTo + (<usize>h << 2);
  const stride = <usize>w8 * 3;
  let sumR = 0, sumG = 0, sumB = 0, countR = 0, countG = 0, countB = 0;
  for (let j = 0; j < h; j += RING_STEP) {
    const r0 = <usize>i32At(rowTop, j);
    const r1 = <usize>i32At(rowBottom, j);
    const wy = i32At(rowFy, j);
    const end = i32At(rowTo, j);
    for (let i = i32At(rowFrom, j); i < end; i += RING_STEP) {
      const t = <i32>load<u16>(weight + ((<usize>j * <usize>w8 + <usize>i) << 1));
      if (t == 0 || t == FULL) continue;
      const p = box + <usize>j * stride + <usize>i * 3;
      const a = <usize>i32At(colLo, i);
      const b = <usize>i32At(colHi, i);
      const wx = i32At(colFx, i);
      let d = <i32>load<u8>(p) - sample(red + r0, red + r1, a, b, wx, wy);
      if (d <= MAX_LIGHTING_STEP && d >= -MAX_LIGHTING_STEP) { sumR += d; countR++; }
      d = <i32>load<u8>(p + 1) - sample(green + r0, green + r1, a, b, wx, wy);
      if (d <= MAX_LIGHTING_STEP && d >= -MAX_LIGHTING_STEP) { sumG += d; countG++; }
      d = <i32>load<u8>(p + 2) - sample(blue + r0, blue + r1, a, b, wx, wy);
      if (d <= MAX_LIGHTING_STEP && d >= -MAX_LIGHTING_STEP) { sumB += d; countB++; }
    }
  }
  const sr = countR ? <i32>Math.floor(<f64>sumR / <f64>countR + 0.5) : 0;
  const sg = countG ? <i32>Math.floor(<f64>sumG / <f64>countG + 0.5) : 0;
  const sb = countB ? <i32>Math.floor(<f64>sumB / <f64>countB + 0.5) : 0;
  for (let j = 0; j < h; j++) {
    const top = <usize>i32At(rowTop, j);
    const bottom = <usize>i32At(rowBottom, j);
    const wy = i32At(rowFy, j);
    const from = i32At(rowFrom, j);
    const to = i32At(rowTo, j);
    const line = box + <usize>j * stride;
    const weights = weight + ((<usize>j * <usize>w8) << 1);
    if (simd) {
      for (let g = from >> 3; g < (to + 7) >> 3; g++) {
        const base = <usize>i32At(groupBase, g);
        const lo = v128.load(groupLo + (<usize>g << 4));
        const hi = v128.load(groupHi + (<usize>g << 4));
        const fx = v128.load(groupFx + (<usize>g << 4));
        const vr = sampleGroup(red + top + base, red + bottom + base, lo, hi, fx, wy, sr);
        const vg = sampleGroup(green + top + base, green + bottom + base, lo, hi, fx, wy, sg);
        const vb = sampleGroup(blue + top + base, blue + bottom + base, lo, hi, fx, wy, sb);
        blendGroup(line + <usize>g * 24, v128.load(weights + (<usize>g << 4)), vr, vg, vb);
      }
    } else {
      for (let i = from; i < to; i++) {
        const t = <i32>load<u16>(weights + (<usize>i << 1));
        if (t == 0) continue;
        const a = <usize>i32At(colLo, i);
        const b = <usize>i32At(colHi, i);
        const wx = i32At(colFx, i);
        const p = line + <usize>i * 3;
        store<u8>(p, blend(<i32>load<u8>(p), sample(red + top, red + bottom, a, b, wx, wy) + sr, t));
        store<u8>(p + 1, blend(<i32>load<u8>(p + 1), sample(green + top, green + bottom, a, b, wx, wy) + sg, t));
        store<u8>(p + 2, blend(<i32>load<u8>(p + 2), sample(blue + top, blue + bottom, a, b, wx, wy) + sb, t));
      }
    }
  }
}

/** Eight bilinear samples of one plane (u16 lanes), shifted by `shift` and clamped to 0..255. */
// @ts-ignore: decorator
@inline function sampleGroup(top: usize, bottom: usize, lo: v128, hi: v128, fx: v128, wy: i32, shift: i32): v128 {
  const round = i16x8.splat(128);
  const fx0 = i16x8.sub(i16x8.splat(256), fx);
  const t = v128.load(top);
  const b = v128.load(bottom);
  const upper = i16x8.shr_u(i16x8.add(i16x8.add(i16x8.mul(i8x16.swizzle(t, lo), fx0), i16x8.mul(i8x16.swizzle(t, hi), fx)), round), 8);
  const lower = i16x8.shr_u(i16x8.add(i16x8.add(i16x8.mul(i8x16.swizzle(b, lo), fx0), i16x8.mul(i8x16.swizzle(b, hi), fx)), round), 8);
  const v = i16x8.shr_u(i16x8.add(i16x8.add(i16x8.mul(upper, i16x8.splat(<i16>(256 - wy))), i16x8.mul(lower, i16x8.splat(<i16>wy))), round), 8);
  return i16x8.min_s(i16x8.max_s(i16x8.add(v, i16x8.splat(<i16>shift)), i16x8.splat(0)), i16x8.splat(255));
}

/** Blends eight samples per channel (u16 lanes) into eight packed RGB pixels at p by Q15 weights t. */
// @ts-ignore: decorator
@inline function blendGroup(p: usize, t: v128, vr: v128, vg: v128, vb: v128): void {
  const x = v128.load(p);
  const y = v128.load64_zero(p + 16);
  const r = i16x8.extend_low_i8x16_u(i8x16.shuffle(x, y, 0, 3, 6, 9, 12, 15, 18, 21, 0, 0, 0, 0, 0, 0, 0, 0));
  const g = i16x8.extend_low_i8x16_u(i8x16.shuffle(x, y, 1, 4, 7, 10, 13, 16, 19, 22, 0, 0, 0, 0, 0, 0, 0, 0));
  const b = i16x8.extend_low_i8x16_u(i8x16.shuffle(x, y, 2, 5, 8, 11, 14, 17, 20, 23, 0, 0, 0, 0, 0, 0, 0, 0));
  const r2 = i16x8.add(r, i16x8.q15mulr_sat_s(i16x8.sub(vr, r), t));
  const g2 = i16x8.add(g, i16x8.q15mulr_sat_s(i16x8.sub(vg, g), t));
  const b2 = i16x8.add(b, i16x8.q15mulr_sat_s(i16x8.sub(vb, b), t));
  const rg = i8x16.narrow_i16x8_u(r2, g2);
  const bb = i8x16.narrow_i16x8_u(b2, b2);
  v128.store(p, i8x16.shuffle(rg, bb, 0, 8, 16, 1, 9, 17, 2, 10, 18, 3, 11, 19, 4, 12, 20, 5));
  v128.store64_lane(p + 16, i8x16.shuffle(rg, bb, 13, 21, 6, 14, 22, 7, 15, 23, 0, 0, 0, 0, 0, 0, 0, 0), 0);
}
