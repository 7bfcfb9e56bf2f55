import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resample } from '../src/audio/resample.js';
import { OpusAudioPacer } from '../src/transport/webrtc/opus-audio.js';

const RATE = 22050;
const FRAME = 960;

function speech(seconds: number): Int16Array {
  const pcm = new Int16Array(Math.round(RATE * seconds));
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin((i * 2 * Math.PI * 440) / RATE) + 3000 * Math.sin(i * 0.37));
  return pcm;
}

/** The pacer's 48 kHz samples for frames `from` .. `to - 1`, silence where it has none. */
function played(pacer: OpusAudioPacer, from: number, to: number): Int16Array {
  const out = new Int16Array((to - from) * FRAME);
  for (let k = from; k < to; k++) {
    const frame = pacer.frameSamples(k);
    if (frame) out.set(frame, (k - from) * FRAME);
  }
  return out;
}

describe('OpusAudioPacer', () => {
  it('plays speech pushed in 200 ms pieces exactly as one resampling of the whole: no seams between pieces', () => {
    const pcm = speech(2);
    const pacer = new OpusAudioPacer(() => undefined);
    const piece = Math.round(RATE * 0.2);
    const startMs = 100;
    for (let at = 0; at < pcm.length; at += piece) pacer.push(pcm.subarray(at, Math.min(pcm.length, at + piece)), RATE, startMs + (at * 1000) / RATE);
    const whole = resample(pcm, RATE, 48000);
    const got = played(pacer, 0, 120);
    const offset = startMs * 48;
    let worst = 0;
    for (let i = 0; i < got.length; i++) {
      const a = i - offset;
      worst = Math.max(worst, Math.abs(got[i]! - (a >= 0 && a < whole.length ? whole[a]! : 0)));
    }
    assert.equal(worst, 0, `a played sample differs from the whole resampling by ${worst}`);
    pacer.stop();
  });

  it('drops speech from an interrupt on, and starts later speech afresh', () => {
    const pacer = new OpusAudioPacer(() => undefined);
    pacer.push(speech(1), RATE, 0);
    pacer.dropFrom(500);
    const cut = played(pacer, 0, 50);
    assert.ok(cut.subarray(0, 480 * 48).some((v) => v !== 0), 'speech before the interrupt plays');
    assert.ok(cut.subarray(500 * 48).every((v) => v === 0), 'nothing plays from the interrupt on');
    pacer.push(speech(0.2), RATE, 1200);
    assert.ok(pacer.frameSamples(61)!.some((v) => v !== 0), 'speech after the interrupt plays');
    pacer.stop();
  });

  it('plays new speech that starts right at an interrupt, not the rest of the old', () => {
    const pacer = new OpusAudioPacer(() => undefined);
    pacer.push(speech(1), RATE, 0);
    pacer.dropFrom(500);
    const next = Int16Array.from({ length: Math.round(RATE * 0.2) }, (_, i) => Math.round(6000 * Math.sin((i * 2 * Math.PI * 1000) / RATE)));
    pacer.push(next, RATE, 500);
    const expected = resample(next, RATE, 48000).subarray(0, FRAME);
    assert.deepEqual(pacer.frameSamples(25), expected);
    pacer.stop();
  });
});
