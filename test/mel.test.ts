import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MelConditioning, melWindowsOf } from '../src/audio/mel-conditioning.js';
import { melWindowStart, wav2lipMel } from '../src/audio/mel.js';
import { StreamingResampler } from '../src/audio/stream-resample.js';

/** Deterministic speech-like test signal: a gliding harmonic tone, noise bursts and a pause. */
function testSignal(rate: number, seconds: number): Int16Array {
  const out = new Int16Array(Math.round(rate * seconds));
  let seed = 12345;
  const noise = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1;
  for (let i = 0; i < out.length; i++) {
    const t = i / rate;
    const f0 = 120 + 80 * t;
    let v = 0;
    for (let h = 1; h <= 8; h++) v += Math.sin(2 * Math.PI * f0 * h * t) / h;
    const burst = t % 0.5 > 0.35 ? 0.4 * noise() : 0;
    const pause = t > 0.9 && t < 1.1 ? 0 : 1;
    out[i] = Math.round(8000 * pause * (0.5 * v + burst));
  }
  return out;
}

/**
 * Wav2Lip's mel for the given frames, written from its hparams with nothing shared with
 * the code under test: np.pad reflect, a direct DFT in float64, librosa's Slaney filters.
 */
function referenceMel(pcm: Int16Array, frames: readonly number[]): Float64Array[] {
  const x = Array.from(pcm, (v) => v / 32768);
  const y = x.map((v, i) => v - 0.97 * (i > 0 ? x[i - 1]! : 0));
  const pad = 400;
  const padded: number[] = [];
  for (let i = pad; i >= 1; i--) padded.push(y[i]!);
  padded.push(...y);
  for (let i = 1; i <= pad; i++) padded.push(y[y.length - 1 - i]!);
  const toMel = (f: number) => (f < 1000 ? (3 * f) / 200 : 15 + (27 * Math.log(f / 1000)) / Math.log(6.4));
  const toHz = (m: number) => (m < 15 ? (200 * m) / 3 : 1000 * Math.exp(((m - 15) * Math.log(6.4)) / 27));
  const melF = Array.from({ length: 82 }, (_, i) => toHz(toMel(55) + ((toMel(7600) - toMel(55)) * i) / 81));
  const fftFreqs = Array.from({ length: 401 }, (_, k) => (k * 8000) / 400);
  const weights = Array.from({ length: 80 }, (_, m) => fftFreqs.map((f) => {
    const lower = (f - melF[m]!) / (melF[m + 1]! - melF[m]!);
    const upper = (melF[m + 2]! - f) / (melF[m + 2]! - melF[m + 1]!);
    return Math.max(0, Math.min(lower, upper)) * (2 / (melF[m + 2]! - melF[m]!));
  }));
  return frames.map((frame) => {
    const mag: number[] = [];
    for (let k = 0; k <= 400; k++) {
      let re = 0;
      let im = 0;
      for (let n = 0; n < 800; n++) {
        const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / 800);
        const v = padded[frame * 200 + n]! * w;
        re += v * Math.cos((2 * Math.PI * k * n) / 800);
        im -= v * Math.sin((2 * Math.PI * k * n) / 800);
      }
      mag.push(Math.sqrt(re * re + im * im));
    }
    return Float64Array.from(weights, (row) => {
      const s = 20 * Math.log10(Math.max(1e-5, row.reduce((acc, w, k) => acc + w * mag[k]!, 0))) - 20;
      return Math.min(4, Math.max(-4, (8 * (s + 100)) / 100 - 4));
    });
  });
}

describe('Wav2Lip mel', () => {
  const pcm = testSignal(16000, 1.6);

  it('matches an independent float64 direct-DFT computation to 1e-4 (first, middle, pause and last frames)', () => {
    const mel = wav2lipMel(Float64Array.from(pcm, (v) => v / 32768));
    assert.equal(mel.length, 1 + Math.floor(pcm.length / 200));
    const frames = [0, 1, 40, 80, mel.length - 2, mel.length - 1];
    const expected = referenceMel(pcm, frames);
    let worst = 0;
    frames.forEach((f, i) => {
      for (let b = 0; b < 80; b++) worst = Math.max(worst, Math.abs(mel[f]![b]! - expected[i]![b]!));
    });
    console.log(`# mel: largest difference from the direct DFT over ${frames.length} frames x 80 bands: ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-4, `largest difference ${worst}`);
    // The signal is not trivial: values span the range and the pause reads as silence.
    const values = frames.flatMap((f) => Array.from(mel[f]!));
    assert.ok(Math.max(...values) > 0 && Math.min(...values) === -4);
  });

  it('streams in pieces to exactly the offline windows, at 16 kHz and through the resampler at 24 kHz', () => {
    for (const rate of [16000, 24000]) {
      const speech = testSignal(rate, 1.3);
      const frames = Math.ceil((speech.length / rate) * 25);
      const offline = melWindowsOf(speech, rate, 25, frames);
      const streamed = new MelConditioning(25);
      const got: (Float32Array | undefined)[] = [];
      let readyBeforeFinish = 0;
      for (let at = 0, size = 1; at < speech.length; at += size, size = (size * 7 + 331) % 2900 + 1) {
        streamed.push(speech.subarray(at, at + size), rate);
        for (let i = 0; i < frames; i++) {
          if (got[i]) continue;
          const f = streamed.features(i);
          if (f) { got[i] = f; readyBeforeFinish++; }
        }
      }
      assert.ok(readyBeforeFinish > frames / 2, `most windows are ready while speech streams (${readyBeforeFinish} of ${frames})`);
      assert.equal(streamed.features(frames - 1), undefined, 'the last window waits for finish()');
      streamed.finish();
      for (let i = 0; i < frames; i++) assert.deepEqual(got[i] ?? streamed.features(i), offline[i], `frame ${i} at ${rate} Hz`);
    }
  });

  it('takes the 16-frame window at int(i * 80 / fps) for any fps, the last 16 frames past the end', () => {
    const mel = wav2lipMel(Float64Array.from(pcm, (v) => v / 32768));
    for (const fps of [25, 30, 24, 29.97, 60]) {
      const frames = Math.ceil(1.6 * fps);
      const windows = melWindowsOf(pcm, 16000, fps, frames);
      for (const i of [0, 1, 7, frames - 1]) {
        const start = Math.min(Math.floor((i * 80) / fps), mel.length - 16);
        assert.equal(melWindowStart(i, fps), Math.floor((i * 80) / fps));
        for (const [b, t] of [[0, 0], [40, 7], [79, 15]] as const) {
          assert.ok(Math.abs(windows[i]![b * 16 + t]! - mel[start + t]![b]!) < 1e-6, `fps ${fps} frame ${i} band ${b} t ${t}`);
        }
      }
    }
  });
});

describe('StreamingResampler', () => {
  it('resamples a 1 kHz tone from 24 to 16 kHz within 1% and suppresses a 10 kHz one', () => {
    const tone = (f: number) => Int16Array.from({ length: 24000 }, (_, i) => Math.round(16000 * Math.sin((2 * Math.PI * f * i) / 24000)));
    const r = new StreamingResampler(24000, 16000);
    r.push(tone(1000));
    r.finish();
    const out = r.take();
    assert.equal(out.length, 16000);
    let err = 0;
    for (let j = 200; j < 15800; j++) err = Math.max(err, Math.abs(out[j]! - (16000 / 32768) * Math.sin((2 * Math.PI * 1000 * j) / 16000)));
    assert.ok(err < 0.01 * (16000 / 32768), `max error ${err}`);
    const high = new StreamingResampler(24000, 16000);
    high.push(tone(10000));
    high.finish();
    const alias = high.take().slice(200, 15800).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(alias < 0.02 * (16000 / 32768), `10 kHz folds back at ${alias}`);
  });
});
