import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AudioMouthTracker } from '../src/audio/audio-mouth-track.js';
import type { PhonemeTiming } from '../src/core/speech.js';
import { REST_MOUTH, type MouthFrame, type MouthTracker } from '../src/visemes/mouth-params.js';
import { PhonemeMouthTracker } from '../src/visemes/phoneme-track.js';
import { ipaToVisemes } from '../src/visemes/visemes.js';

const SR = 22050;
const FPS = 25;
const FRAME_MS = 1000 / FPS;
/** How far ahead of a frame the phoneme tracker needs audio: its anticipation reach (55 ms x 3). */
const PHONEME_LOOKAHEAD_MS = 165;

const samplesAt = (ms: number) => Math.round((ms * SR) / 1000);

/** silence 0-1000 ms, 'a' 1000-1300, 'm' 1300-1400, 'a' 1400-1700, silence to 3000 ms. */
const AMA: PhonemeTiming[] = [
  { ipa: 'a', startMs: 1000, endMs: 1300 },
  { ipa: 'm', startMs: 1300, endMs: 1400 },
  { ipa: 'a', startMs: 1400, endMs: 1700 },
];

function drain(tracker: MouthTracker): MouthFrame[] {
  tracker.finish();
  return tracker.takeReady();
}

function assertRest(f: MouthFrame, what: string): void {
  assert.deepEqual({ ...f.mouth }, { ...REST_MOUTH }, `${what}: frame ${f.index} (${f.ptsMs} ms) is not at rest`);
  assert.equal(f.speaking, false, `${what}: frame ${f.index} (${f.ptsMs} ms) marked speaking`);
}

describe('ipaToVisemes', () => {
  it('maps bilabials to PP', () => {
    for (const p of ['p', 'b', 'm']) assert.deepEqual(ipaToVisemes(p), ['PP'], p);
  });

  it('splits diphthongs and keeps affricates whole', () => {
    assert.deepEqual(ipaToVisemes('aɪ'), ['aa', 'ih']);
    assert.deepEqual(ipaToVisemes('tʃ'), ['CH']);
    assert.deepEqual(ipaToVisemes('dʒ'), ['CH']);
  });

  it('ignores stress and length marks', () => {
    assert.deepEqual(ipaToVisemes('ˈoʊ'), ['oh', 'ou']);
    assert.deepEqual(ipaToVisemes('ˌaʊ'), ['aa', 'ou']);
    assert.deepEqual(ipaToVisemes('ɑː'), ['aa']);
    assert.deepEqual(ipaToVisemes('ˈiː'), ['ih']);
    assert.deepEqual(ipaToVisemes(''), []);
  });
});

describe('PhonemeMouthTracker', () => {
  function amaTracker(): PhonemeMouthTracker {
    const t = new PhonemeMouthTracker(FPS);
    t.push({ pcm: new Int16Array(SR * 3), sampleRate: SR, phonemes: AMA });
    return t;
  }

  it('spans the audio with frames on the 25 fps clock', () => {
    const t = amaTracker();
    const frames = drain(t);
    assert.equal(t.totalFrames, 75);
    assert.equal(frames.length, 75);
    frames.forEach((f, i) => {
      assert.equal(f.index, i);
      assert.equal(f.ptsMs, i * FRAME_MS);
    });
    assert.equal(t.takeReady().length, 0, 'frames are handed out once');
  });

  it('keeps the mouth exactly at rest and still in silence', () => {
    const frames = drain(amaTracker());
    const silent = frames.filter((f) => f.ptsMs <= 800 || f.ptsMs >= 2000);
    assert.ok(silent.length >= 21 + 25);
    for (const f of silent) assertRest(f, 'silence');
    // No quiver: every silent frame is identical to the first.
    for (const f of silent) assert.deepEqual(f.mouth, silent[0]!.mouth);
  });

  it('opens the jaw on the vowel and closes the lips on the m', () => {
    const t = amaTracker();
    const frames = drain(t);
    const vowel = frames.filter((f) => (f.ptsMs >= 1000 && f.ptsMs < 1300) || (f.ptsMs >= 1400 && f.ptsMs < 1700));
    assert.ok(vowel.every((f) => f.speaking), 'speaking during the vowels');
    const peak = Math.max(...vowel.map((f) => f.mouth.jawOpen));
    assert.ok(peak > 0.5, `jawOpen peak during 'a' is ${peak}`);

    const mid = t.mouthAt(1350).mouth;
    assert.ok(mid.closure > 0.7, `closure at 1350 ms is ${mid.closure}`);
    assert.ok(mid.jawOpen * (1 - mid.closure) < 0.1, `effective opening at 1350 ms is ${mid.jawOpen * (1 - mid.closure)}`);
    // The video frame nearest the middle of the m (1360 ms) shows it too.
    const frame = frames.find((f) => f.ptsMs === 1360)!;
    assert.ok(frame.speaking);
    assert.ok(frame.mouth.closure > 0.7, `closure at frame 1360 ms is ${frame.mouth.closure}`);
    assert.ok(frame.mouth.jawOpen * (1 - frame.mouth.closure) < 0.1);
    // And it is much more closed than the vowels around it.
    assert.ok(frame.mouth.jawOpen * (1 - frame.mouth.closure) < peak / 4);
  });

  it('streaming in chunks gives the same frames, never ahead of the audio plus look-ahead', () => {
    const whole = drain(amaTracker());

    // Chunks at phoneme boundaries: [0, 1300) ms, [1300, 2000) ms, [2000, 3000) ms.
    const cuts = [0, 1300, 2000, 3000];
    const t = new PhonemeMouthTracker(FPS);
    const streamed: MouthFrame[] = [];
    for (let c = 0; c < 3; c++) {
      const from = cuts[c]!;
      const to = cuts[c + 1]!;
      const phonemes = AMA.filter((p) => p.startMs >= from && p.startMs < to).map((p) => ({ ...p, startMs: p.startMs - from, endMs: p.endMs - from }));
      t.push({ pcm: new Int16Array(samplesAt(to) - samplesAt(from)), sampleRate: SR, phonemes });
      const ready = t.takeReady();
      for (const f of ready) {
        assert.ok(f.ptsMs + PHONEME_LOOKAHEAD_MS <= to, `frame at ${f.ptsMs} ms emitted with only ${to} ms of audio pushed`);
      }
      if (c === 0) assert.ok(ready.length > 0, 'frames flow before the end');
      streamed.push(...ready);
    }
    t.finish();
    streamed.push(...t.takeReady());
    assert.equal(streamed.length, whole.length);
    assert.deepEqual(streamed, whole);
  });

  it('does not drift over 60 s of speech (one push and 600 pushes)', () => {
    const phonemes: PhonemeTiming[] = Array.from({ length: 600 }, (_, i) => ({ ipa: 'a', startMs: i * 100, endMs: (i + 1) * 100 }));
    const one = new PhonemeMouthTracker(FPS);
    one.push({ pcm: new Int16Array(SR * 60), sampleRate: SR, phonemes });
    const a = drain(one);
    assert.equal(one.totalFrames, 1500);
    assert.equal(a.length, 1500);
    assert.equal(a[1499]!.ptsMs, 59960);
    assert.ok(a.every((f, i) => f.index === i && f.ptsMs === i * FRAME_MS));

    const many = new PhonemeMouthTracker(FPS);
    const b: MouthFrame[] = [];
    for (let i = 0; i < 600; i++) {
      many.push({ pcm: new Int16Array(SR / 10), sampleRate: SR, phonemes: [{ ipa: 'a', startMs: 0, endMs: 100 }] });
      b.push(...many.takeReady());
    }
    b.push(...drain(many));
    assert.equal(many.totalFrames, 1500);
    assert.equal(b.length, 1500);
    assert.equal(b[1499]!.ptsMs, 59960);
    assert.ok(b.every((f, i) => f.index === i && f.ptsMs === i * FRAME_MS));
    assert.ok(b.slice(5, 1495).every((f) => f.speaking && f.mouth.jawOpen > 0.5));
  });
});

describe('AudioMouthTracker', () => {
  /** 1 s silence, 1 s 200 Hz tone at -12 dBFS peak, 1 s silence. */
  function burst(): Int16Array {
    const pcm = new Int16Array(SR * 3);
    const amp = 32767 * Math.pow(10, -12 / 20);
    for (let i = SR; i < 2 * SR; i++) pcm[i] = Math.round(amp * Math.sin((2 * Math.PI * 200 * i) / SR));
    return pcm;
  }

  function run(mode: 'offline' | 'streaming', pcm: Int16Array, chunkMs = 100): MouthFrame[] {
    const t = new AudioMouthTracker({ fps: FPS, mode });
    const frames: MouthFrame[] = [];
    const step = samplesAt(chunkMs);
    for (let at = 0; at < pcm.length; at += step) {
      t.push({ pcm: pcm.slice(at, Math.min(pcm.length, at + step)), sampleRate: SR });
      frames.push(...t.takeReady());
    }
    if (mode === 'offline') assert.equal(frames.length, 0, 'offline waits for finish()');
    frames.push(...drain(t));
    assert.equal(t.totalFrames, Math.ceil((pcm.length * FPS) / SR - 1e-6));
    assert.equal(frames.length, t.totalFrames);
    frames.forEach((f, i) => {
      assert.equal(f.index, i);
      assert.equal(f.ptsMs, i * FRAME_MS);
    });
    return frames;
  }

  for (const mode of ['offline', 'streaming'] as const) {
    it(`${mode}: digital silence stays at rest`, () => {
      const frames = run(mode, new Int16Array(SR * 2));
      assert.equal(frames.length, 50);
      for (const f of frames) assertRest(f, 'silence');
    });

    it(`${mode}: a tone burst opens the jaw only while it sounds`, () => {
      const frames = run(mode, burst());
      assert.equal(frames.length, 75);
      const margin = 2 * FRAME_MS;
      for (const f of frames) {
        if (f.ptsMs >= 1000 + margin && f.ptsMs <= 2000 - margin) {
          assert.ok(f.speaking, `frame at ${f.ptsMs} ms not speaking`);
          assert.ok(f.mouth.jawOpen > 0.3, `jawOpen ${f.mouth.jawOpen} at ${f.ptsMs} ms`);
        } else if (f.ptsMs < 1000 - margin || f.ptsMs > 2000 + margin) {
          assertRest(f, 'outside the burst');
        }
      }
    });
  }
});
