// AssemblyScript, compiled to dist/src/grpc/unit-floats-to-bytes.wasm by `npm run build`
// (asc, SIMD on). The kernel behind outputBytes in src/grpc/tensor-bytes.ts.

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
