import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resample, resampledLength, resampleLinear, resampleRange } from '../src/audio/resample.js';

const AMPLITUDE = 16000;

function sine(hz: number, rate: number, seconds: number, phase = 0): Int16Array {
  const out = new Int16Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++) out[i] = Math.round(AMPLITUDE * Math.sin((2 * Math.PI * hz * i) / rate + phase));
  return out;
}

/** Amplitude of the `hz` component (Goertzel over the middle of the signal, edges skipped). */
function amplitudeAt(pcm: Int16Array, rate: number, hz: number, skip = 256): number {
  const x = pcm.subarray(skip, pcm.length - skip);
  let re = 0;
  let im = 0;
  for (let i = 0; i < x.length; i++) {
    const a = (2 * Math.PI * hz * i) / rate;
    re += x[i]! * Math.cos(a);
    im -= x[i]! * Math.sin(a);
  }
  return (2 * Math.hypot(re, im)) / x.length;
}

const db = (ratio: number) => 20 * Math.log10(Math.max(ratio, 1e-12));

/** RMS difference from the analytic sine at the output rate, relative to its amplitude (edges skipped). */
function errorAgainstAnalytic(pcm: Int16Array, hz: number, rate: number, skip = 256): number {
  let sum = 0;
  let n = 0;
  for (let i = skip; i < pcm.length - skip; i++) {
    const want = AMPLITUDE * Math.sin((2 * Math.PI * hz * i) / rate);
    sum += (pcm[i]! - want) ** 2;
    n++;
  }
  return Math.sqrt(sum / n) / AMPLITUDE;
}

describe('windowed-sinc resampler', () => {
  it('matches the analytic sine in the passband, without delay, far closer than linear interpolation', () => {
    for (const [from, to, hz] of [[22050, 48000, 1000], [24000, 22050, 3000], [44100, 16000, 1000], [24000, 16000, 5000], [16000, 48000, 440]] as const) {
      const input = sine(hz, from, 0.5);
      const out = resample(input, from, to);
      assert.equal(out.length, Math.round((input.length * to) / from));
      const sinc = errorAgainstAnalytic(out, hz, to);
      const linear = errorAgainstAnalytic(resampleLinear(input, from, to), hz, to);
      console.log(`${from} -> ${to} Hz, ${hz} Hz tone: error ${db(sinc).toFixed(1)} dB (linear ${db(linear).toFixed(1)} dB)`);
      assert.ok(db(sinc) < -60, `${from}->${to} ${hz} Hz: ${db(sinc).toFixed(1)} dB`);
      assert.ok(sinc < linear / 4 || db(linear) < -60, `${from}->${to}: better than linear`);
    }
  });

  it('removes what the lower rate cannot hold: no aliases when downsampling, no images when upsampling', () => {
    // 10 kHz cannot exist at 16 kHz: linear interpolation folds it to 6 kHz.
    const high = sine(10000, 24000, 0.5);
    const down = resample(high, 24000, 16000);
    const alias = amplitudeAt(down, 16000, 6000) / AMPLITUDE;
    const linearAlias = amplitudeAt(resampleLinear(high, 24000, 16000), 16000, 6000) / AMPLITUDE;
    console.log(`24000 -> 16000, 10 kHz tone: alias at 6 kHz ${db(alias).toFixed(1)} dB (linear ${db(linearAlias).toFixed(1)} dB)`);
    assert.ok(db(alias) < -70, `alias ${db(alias).toFixed(1)} dB`);
    assert.ok(db(linearAlias) > -40, 'the reference aliases (the test can tell)');
    // Upsampling 22050 -> 48000 must not add the mirror image of 5 kHz at 17.05 kHz.
    const tone = sine(5000, 22050, 0.5);
    const image = amplitudeAt(resample(tone, 22050, 48000), 48000, 17050) / AMPLITUDE;
    const linearImage = amplitudeAt(resampleLinear(tone, 22050, 48000), 48000, 17050) / AMPLITUDE;
    console.log(`22050 -> 48000, 5 kHz tone: image at 17.05 kHz ${db(image).toFixed(1)} dB (linear ${db(linearImage).toFixed(1)} dB)`);
    assert.ok(db(image) < -70, `image ${db(image).toFixed(1)} dB`);
    assert.ok(db(linearImage) > -40);
  });

  it('handles rates with a huge common multiple, silence, full scale and bad rates', () => {
    const odd = resample(sine(1000, 44100, 0.3), 44100, 16001);
    assert.equal(odd.length, Math.round(0.3 * 44100 * 16001 / 44100));
    assert.ok(db(errorAgainstAnalytic(odd, 1000, 16001)) < -50);
    assert.deepEqual(resample(new Int16Array(100), 24000, 48000), new Int16Array(200));
    const loud = new Int16Array(4800).map((_, i) => (i % 100 < 50 ? 32767 : -32768));
    const clipped = resample(loud, 48000, 44100);
    assert.ok(clipped.every((v) => v >= -32768 && v <= 32767));
    assert.throws(() => resample(new Int16Array(10), 0, 16000), /sample rates/);
    const same = new Int16Array([1, 2, 3]);
    assert.equal(resample(same, 16000, 16000), same);
  });
  it('gives any range of outputs exactly as the whole resampling does, at the edges and across the kernel\'s passes', () => {
    const noise = new Int16Array(60000).map((_, i) => Math.round(9000 * Math.sin(i / 5.3) + 6000 * Math.sin(i * 1.7) + ((i * 7919) % 4001) - 2000));
    for (const [from, to] of [[22050, 48000], [48000, 16000], [44100, 16000]] as const) {
      const whole = resample(noise, from, to);
      assert.equal(whole.length, resampledLength(noise.length, from, to));
      // Pieces of odd sizes, one longer than a kernel pass (16384 outputs), the last to the end.
      const cuts = [0, 1, 961, 17000, 17001, whole.length - 3, whole.length];
      assert.ok(whole.length > 17004);
      const pieces = new Int16Array(whole.length);
      for (let i = 0; i + 1 < cuts.length; i++) resampleRange(noise, from, to, cuts[i]!, cuts[i + 1]! - cuts[i]!, pieces, cuts[i]!);
      assert.deepEqual(pieces, whole, `${from} -> ${to}`);
      // Outputs past the signal's end read silence only where the filter reaches beyond it.
      const tail = new Int16Array(4);
      resampleRange(noise, from, to, whole.length + 200, 4, tail, 0);
      assert.deepEqual(tail, new Int16Array(4));
    }
  });
});
