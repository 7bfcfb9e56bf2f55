// AssemblyScript, compiled to dist/src/audio/resample.wasm by `npm run build` (asc, SIMD on).
// The polyphase filter of src/audio/resample.ts, which lays out its memory:
//
//   banks:  each a filter bank, `phases` rows of `stride` float32 taps (stride a multiple of 8,
//           taps past the filter's length 0)
//   window: the int16 input samples the outputs read, samples outside the signal 0, followed
//           by `stride` readable samples
//   out:    int16 outputs
//
// Eight taps per step: samples widened to float32, multiplied by their taps and summed in
// four float32 lanes; the lanes are added in float64 and rounded once.

/**
 * Writes `count` outputs to `out`. Output i reads `stride` window samples from
 * `read + i * whole + carries` with the taps of row `phase`; the phase steps by `frac` and
 * carries one sample when it reaches `up` (an output rate step of down / up input samples,
 * down = whole * up + frac).
 */
export function resampleWindow(window: usize, bank: usize, stride: i32, read: i32, phase: i32, up: i32, whole: i32, frac: i32, count: i32, out: usize): void {
  for (let i = 0; i < count; i++) {
    const row = bank + (<usize>(phase * stride) << 2);
    const src = window + (<usize>read << 1);
    let acc = f32x4.splat(0);
    for (let k = 0; k < stride; k += 8) {
      const samples = v128.load(src + (<usize>k << 1));
      const taps = row + (<usize>k << 2);
      acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(samples)), v128.load(taps)));
      acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(samples)), v128.load(taps, 16)));
    }
    const sum = (<f64>f32x4.extract_lane(acc, 0) + <f64>f32x4.extract_lane(acc, 1)) + (<f64>f32x4.extract_lane(acc, 2) + <f64>f32x4.extract_lane(acc, 3));
    const rounded = Math.floor(sum + 0.5);
    store<i16>(out + (<usize>i << 1), <i16>(rounded > 32767 ? 32767 : rounded < -32768 ? -32768 : <i32>rounded));
    read += whole;
    phase += frac;
    if (phase >= up) {
      phase -= up;
      read++;
    }
  }
}
