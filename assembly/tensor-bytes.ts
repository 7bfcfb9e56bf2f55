// AssemblyScript, compiled to dist/src/grpc/tensor-bytes.wasm by `npm run build`
// (asc, SIMD on). The kernels behind src/grpc/tensor-bytes.ts: float32 tensors to bytes and back.

/** Four float32 values v as i32 lanes trunc(v * 255 + 0.5), the arithmetic in float64, clamped to 0..255 (NaN 0). */
// @ts-ignore: decorator
@inline function quantize(v: v128): v128 {
  const scale = f64x2.splat(255);
  const half = f64x2.splat(0.5);
  const low = i32x4.trunc_sat_f64x2_s_zero(f64x2.add(f64x2.mul(f64x2.promote_low_f32x4(v), scale), half));
  const high = i32x4.trunc_sat_f64x2_s_zero(f64x2.add(f64x2.mul(f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1)), scale), half));
  return i32x4.min_s(i32x4.max_s(i32x4.shuffle(low, high, 0, 1, 4, 5), i32x4.splat(0)), i32x4.splat(255));
}

/**
 * Writes `count` float32 values at `src` (0..1) as bytes at `dst`: trunc(v * 255 + 0.5)
 * in float64, clamped to 0..255, NaN as 0: the bytes a JavaScript Uint8Array store of
 * the same expression gives. `src` and `dst` may be any byte offsets.
 */
export function unitFloatsToBytes(src: usize, dst: usize, count: i32): void {
  let i = 0;
  for (; i + 16 <= count; i += 16) {
    const p = src + (<usize>i << 2);
    const a = quantize(v128.load(p));
    const b = quantize(v128.load(p, 16));
    const c = quantize(v128.load(p, 32));
    const d = quantize(v128.load(p, 48));
    v128.store(dst + <usize>i, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(a, b), i16x8.narrow_i32x4_u(c, d)));
  }
  for (; i < count; i++) {
    const v = <f64>load<f32>(src + (<usize>i << 2)) * 255 + 0.5;
    store<u8>(dst + <usize>i, v >= 255 ? 255 : v > 0 ? <u8>(<i32>v) : 0);
  }
}

/**
 * Writes `count` float32 values at `src` as bytes at `dst` when every value is exactly
 * k / 255 for a byte k (the float32 quotient, as a 0..1 tensor made from 8-bit pixels holds):
 * then bytes k / 255 give back the same floats. Returns 1 when all were, else 0 (`dst`
 * then holds partial results, to be ignored). NaN and values outside 0..1 are not.
 */
export function exactUnitBytes(src: usize, dst: usize, count: i32): i32 {
  const scale = f32x4.splat(255);
  const half = f32x4.splat(0.5);
  let differ = i32x4.splat(0);
  let i = 0;
  for (; i + 16 <= count; i += 16) {
    const p = src + (<usize>i << 2);
    const va = v128.load(p);
    const vb = v128.load(p, 16);
    const vc = v128.load(p, 32);
    const vd = v128.load(p, 48);
    const a = i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.mul(va, scale), half));
    const b = i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.mul(vb, scale), half));
    const c = i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.mul(vc, scale), half));
    const d = i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.mul(vd, scale), half));
    // Equal floats compare all-ones; a NaN never does. Bytes past 0..255 are caught by the narrowing check below.
    differ = v128.or(differ, v128.not(f32x4.eq(f32x4.div(f32x4.convert_i32x4_s(a), scale), va)));
    differ = v128.or(differ, v128.not(f32x4.eq(f32x4.div(f32x4.convert_i32x4_s(b), scale), vb)));
    differ = v128.or(differ, v128.not(f32x4.eq(f32x4.div(f32x4.convert_i32x4_s(c), scale), vc)));
    differ = v128.or(differ, v128.not(f32x4.eq(f32x4.div(f32x4.convert_i32x4_s(d), scale), vd)));
    differ = v128.or(differ, v128.or(i32x4.gt_u(v128.or(a, b), i32x4.splat(255)), i32x4.gt_u(v128.or(c, d), i32x4.splat(255))));
    v128.store(dst + <usize>i, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(a, b), i16x8.narrow_i32x4_u(c, d)));
    if ((i & 0xfff) == 0 && v128.any_true(differ)) return 0;
  }
  if (v128.any_true(differ)) return 0;
  for (; i < count; i++) {
    const v = load<f32>(src + (<usize>i << 2));
    const k = <i32>(v * 255 + 0.5);
    if (!(k >= 0 && k <= 255 && <f32>k / 255 == v)) return 0;
    store<u8>(dst + <usize>i, <u8>k);
  }
  return 1;
}

/** Writes `count` bytes at `src` as float32 values k / 255 at `dst` (the float32 quotient, correctly rounded). */
export function bytesToUnitFloats(src: usize, dst: usize, count: i32): void {
  const scale = f32x4.splat(255);
  let i = 0;
  for (; i + 16 <= count; i += 16) {
    const bytes = v128.load(src + <usize>i);
    const low = i16x8.extend_low_i8x16_u(bytes);
    const high = i16x8.extend_high_i8x16_u(bytes);
    const p = dst + (<usize>i << 2);
    v128.store(p, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(low)), scale));
    v128.store(p, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(low)), scale), 16);
    v128.store(p, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(high)), scale), 32);
    v128.store(p, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(high)), scale), 48);
  }
  for (; i < count; i++) store<f32>(dst + (<usize>i << 2), <f32>load<u8>(src + <usize>i) / 255);
}
