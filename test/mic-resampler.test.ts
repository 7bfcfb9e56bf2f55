import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StreamingPcmResampler } from '../src/client/pcm-resampler.js';

/** Resamples `input` cut into buffers of the given sizes, and returns all output. */
function streamed(inRate: number, outRate: number, input: Float32Array, sizes: (i: number) => number): Int16Array {
  const r = new StreamingPcmResampler(inRate, outRate);
  const parts: Int16Array[] = [];
  for (let at = 0, i = 0; at < input.length; i++) {
    const n = Math.min(sizes(i), input.length - at);
    parts.push(r.push(input.subarray(at, at + n)));
    at += n;
  }
  const out = new Int16Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The reference: output sample k linearly interpolated at input position k * in / out. */
function oneShot(inRate: number, outRate: number, input: Float32Array): Int16Array {
  const count = Math.floor(((input.length - 1) * outRate) / inRate) + 1;
  return Int16Array.from({ length: count }, (_, k) => {
    const num = k * inRate;
    const i = Math.floor(num / outRate);
    const f = (num - i * outRate) / outRate;
    const a = input[i]!;
    const b = f === 0 ? a : input[i + 1]!;
    return Math.max(-32768, Math.min(32767, Math.round((a + (b - a) * f) * 32767)));
  });
}

/** A ramp: every input sample has its own value, so a lost or repeated one shows. */
const ramp = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i % 50_000) - 25_000) / 25_000);

describe('microphone resampler (web/microphone.ts)', () => {
  it('N buffers of 2048 at 48 kHz give exactly the 16 kHz samples of their concatenation', () => {
    for (const buffers of [1, 2, 10, 37]) {
      const input = ramp(buffers * 2048);
      const out = streamed(48000, 16000, input, () => 2048);
      assert.equal(out.length, Math.floor((buffers * 2048 - 1) / 3) + 1, `${buffers} buffers`);
      assert.deepEqual(out, oneShot(48000, 16000, input), `${buffers} buffers: same samples as one pass`);
    }
  });

  it('one minute of 48 kHz microphone audio gives one minute at 16 kHz (no 29 ms lost)', () => {
    const input = ramp(48000 * 60);
    const out = streamed(48000, 16000, input, () => 2048);
    assert.equal(out.length, 16000 * 60);
  });

  it('44.1 kHz and odd buffer sizes: the seams are invisible', () => {
    const input = ramp(44100 * 3 + 17);
    const sizes = [2048, 1, 333, 4096, 2, 1000, 2047];
    const out = streamed(44100, 16000, input, (i) => sizes[i % sizes.length]!);
    assert.deepEqual(out, oneShot(44100, 16000, input));
    assert.equal(out.length, Math.floor(((input.length - 1) * 16000) / 44100) + 1);
  });

  it('rejects rates that are not positive whole numbers', () => {
    assert.throws(() => new StreamingPcmResampler(0, 16000), /positive whole numbers/);
    assert.throws(() => new StreamingPcmResampler(44100.5, 16000), /positive whole numbers/);
  });
});
