import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { bt1359Verdict } from '../src/eval/av-offset.js';
import { summarizePitch, trackPitch } from '../src/eval/pitch.js';
import { analyzeTalkingHead } from '../src/eval/video-metrics.js';
import { ParametricRenderer } from '../src/render/parametric/parametric-renderer.js';
import { say } from '../src/say.js';
import { tempDir } from './helpers/media.js';

const run = promisify(execFile);
const ffmpeg = (args: string[]) => run('ffmpeg', ['-y', '-hide_banner', '-loglevel', 'error', ...args]);

let dir = '';
let cleanup: () => Promise<void> = async () => undefined;
before(async () => ({ dir, cleanup } = await tempDir('avatar-eval-ka-')));
after(() => cleanup());

/** Copies `input` with its audio delayed (ms > 0) or advanced (ms < 0); the video is untouched. */
async function shiftAudio(input: string, output: string, ms: number, extra: string[] = ['-movflags', '+faststart']): Promise<void> {
  const filter = ms >= 0 ? `adelay=${ms}:all=1` : `atrim=start=${-ms / 1000},asetpts=PTS-STARTPTS`;
  await ffmpeg(['-i', input, '-c:v', 'copy', '-af', filter, '-c:a', 'aac', ...extra, output]);
}

describe('A/V offset on a synthetic clip (any video, not our renderer)', () => {
  // A white square shows exactly while a 220 Hz tone sounds, in an irregular on/off rhythm.
  const gate = 'gt(sin(2*PI*1.3*t)+sin(2*PI*0.71*t)+0.5*sin(2*PI*2.9*t),0.4)';
  const box: [number, number, number, number] = [32, 32, 64, 64];
  let clip = '';
  before(async () => {
    clip = join(dir, 'gate.mp4');
    await ffmpeg([
      '-f', 'lavfi', '-i', `color=black:s=128x128:r=25:d=12,drawbox=x=40:y=40:w=48:h=48:color=white:t=fill:enable='${gate}'`,
      '-f', 'lavfi', '-i', `aevalsrc='0.5*sin(2*PI*220*t)*${gate}':s=16000:d=12`,
      '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-movflags', '+faststart', clip,
    ]);
  });

  it('scores the aligned clip near 0 ms with high confidence', async () => {
    const a = await analyzeTalkingHead(clip, box);
    assert.ok(Math.abs(a.sync.offsetMs) <= 20, `offset ${a.sync.offsetMs}`);
    assert.ok(a.sync.peakCorrelation > 0.9, `peak ${a.sync.peakCorrelation}`);
    assert.ok(a.sync.agree);
  });

  for (const shift of [120, -120, 200]) {
    it(`audio ${shift > 0 ? 'delayed' : 'advanced'} by ${Math.abs(shift)} ms scores ${-shift} ms (BT.1359 sign: + = audio early) within 20 ms`, async () => {
      const shifted = join(dir, `gate${shift}.mp4`);
      await shiftAudio(clip, shifted, shift);
      const a = await analyzeTalkingHead(shifted, box);
      assert.ok(Math.abs(a.sync.offsetMs - -shift) <= 20, `offset ${a.sync.offsetMs.toFixed(1)} ms for a ${shift} ms shift`);
    });
  }

  it('reads MP4s whose index sits at the end of the file (no faststart)', async () => {
    const plain = join(dir, 'gate-plain.mp4');
    await shiftAudio(clip, plain, 120, []);
    const a = await analyzeTalkingHead(plain, box);
    assert.ok(Math.abs(a.sync.offsetMs + 120) <= 20, `offset ${a.sync.offsetMs}`);
  });
});

describe('A/V offset, drift and stillness on a rendered avatar', () => {
  const region = new ParametricRenderer(512, 512).mouthRegion;
  let base = '';
  before(async () => {
    base = join(dir, 'avatar.mp4');
    await say({
      text: 'Hello! I am your digital avatar.\n\nNow I pause for a moment.\n\nAnd then I speak again, with numbers like 42 and 3.14. Good bye.',
      output: base, language: 'en',
    });
  });

  it('scores our own render within one frame, still in silence', async () => {
    const a = await analyzeTalkingHead(base, region);
    assert.ok(Math.abs(a.sync.offsetMs) <= 40, `offset ${a.sync.offsetMs}`);
    assert.ok(a.sync.confidence >= 0.2, `confidence ${a.sync.confidence}`);
    assert.equal(a.sync.verdict, 'undetectable');
    assert.ok(a.stillness.ratio !== null && a.stillness.ratio < 0.05, `stillness ratio ${a.stillness.ratio}`);
    assert.ok(Math.abs(a.validity.avDurationDiffMs) <= 40);
    assert.equal(a.drift, undefined, 'no drift figure under 20 s');
  });

  it('audio delayed by 120 ms scores about -120 ms, advanced by 120 ms about +120 ms (within one frame)', async () => {
    const late = join(dir, 'avatar-late.mp4');
    const early = join(dir, 'avatar-early.mp4');
    await shiftAudio(base, late, 120);
    await shiftAudio(base, early, -120);
    const l = await analyzeTalkingHead(late, region);
    const e = await analyzeTalkingHead(early, region);
    assert.ok(Math.abs(l.sync.offsetMs + 120) <= 40, `late: ${l.sync.offsetMs}`);
    assert.ok(Math.abs(e.sync.offsetMs - 120) <= 40, `early: ${e.sync.offsetMs}`);
    assert.equal(e.sync.verdict, 'unacceptable', '+120 ms (audio early) is beyond the +90 ms acceptability limit');
  });

  it('a mouth that moves in silence scores badly on stillness', async () => {
    // Same pictures, but the sound is muted over stretches where the mouth is talking.
    const muted = join(dir, 'avatar-muted.mp4');
    await ffmpeg(['-i', base, '-c:v', 'copy', '-af', "volume=enable='between(t,0.3,1.6)+between(t,5.2,7.4)':volume=0", '-c:a', 'aac', muted]);
    const good = await analyzeTalkingHead(base, region);
    const bad = await analyzeTalkingHead(muted, region);
    assert.ok(bad.stillness.ratio !== null && bad.stillness.ratio > 0.3, `stillness ratio ${bad.stillness.ratio}`);
    assert.ok(bad.stillness.ratio > 10 * (good.stillness.ratio ?? 1), `${bad.stillness.ratio} vs ${good.stillness.ratio}`);
  });

  it('measures drift between the first and last 10 s when the audio slowly slips', async () => {
    const long = join(dir, 'avatar-long.mp4');
    await say({
      text: 'A few years ago, a small team wanted to put a friendly face in front of a chatbot. The face had to speak, and it had to move its lips in time with the voice.\n\n'
        + 'The first version was very simple. It drew a cartoon face, and it opened and closed the mouth whenever the sound was loud enough.\n\n'
        + 'So we started to measure. We built tools that look at the finished video, frame by frame, and compare the mouth with the loudness of the voice.',
      output: long, language: 'en',
    });
    // The same pictures with the audio played 1% slow: it falls ~10 ms further behind every second.
    const slipping = join(dir, 'avatar-slip.mp4');
    await ffmpeg(['-i', long, '-c:v', 'copy', '-af', 'asetrate=22050*0.99,aresample=22050', '-c:a', 'aac', slipping]);
    const steady = await analyzeTalkingHead(long, region);
    const slip = await analyzeTalkingHead(slipping, region);
    assert.ok(steady.drift && Math.abs(steady.drift.driftMs) <= 30, `steady drift ${steady.drift?.driftMs}`);
    assert.ok(slip.drift && slip.drift.driftMs < -100, `slipping drift ${slip.drift?.driftMs}`);
  });
});

describe('BT.1359 verdicts', () => {
  it('places offsets in the detectability and acceptability bands', () => {
    assert.equal(bt1359Verdict(0), 'undetectable');
    assert.equal(bt1359Verdict(45), 'undetectable');
    assert.equal(bt1359Verdict(60), 'detectable');
    assert.equal(bt1359Verdict(-125), 'undetectable');
    assert.equal(bt1359Verdict(-150), 'detectable');
    assert.equal(bt1359Verdict(-200), 'unacceptable');
    assert.equal(bt1359Verdict(100), 'unacceptable');
  });
});

describe('pitch tracker (YIN)', () => {
  const rate = 16000;
  const signal = (seconds: number, f: (t: number) => number) => Int16Array.from({ length: seconds * rate }, (_, i) => Math.round(12000 * f(i / rate)));

  it('finds the frequency of a pure tone', () => {
    for (const hz of [95, 220, 410]) {
      const s = summarizePitch(signal(1, (t) => Math.sin(2 * Math.PI * hz * t)), rate);
      assert.ok(Math.abs(s.meanHz - hz) < 0.01 * hz, `${hz} Hz read as ${s.meanHz}`);
      assert.ok(s.voicedShare > 0.9);
    }
  });

  it('finds the fundamental of a harmonic tone whose 2nd harmonic is the strongest', () => {
    const s = summarizePitch(signal(1, (t) => 0.3 * Math.sin(2 * Math.PI * 150 * t) + 0.5 * Math.sin(2 * Math.PI * 300 * t) + 0.2 * Math.sin(2 * Math.PI * 450 * t)), rate);
    assert.ok(Math.abs(s.meanHz - 150) < 2, `read ${s.meanHz}`);
  });

  it('reports an octave range for a tone that jumps an octave', () => {
    const s = summarizePitch(signal(2, (t) => Math.sin(2 * Math.PI * (t < 1 ? 110 : 220) * t)), rate);
    assert.ok(Math.abs(s.rangeSemitones - 12) < 0.5, `range ${s.rangeSemitones}`);
    assert.ok(Math.abs(s.meanHz - 165) < 5, `mean ${s.meanHz}`);
  });

  it('finds no pitch in silence or white noise', () => {
    assert.ok(Number.isNaN(summarizePitch(new Int16Array(rate), rate).meanHz));
    let seed = 7;
    const noise = signal(1, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1);
    const track = trackPitch(noise, rate);
    const voiced = Array.from(track.f0Hz).filter(Number.isFinite).length;
    assert.ok(voiced < 0.1 * track.f0Hz.length, `${voiced} of ${track.f0Hz.length} noise frames voiced`);
  });
});
