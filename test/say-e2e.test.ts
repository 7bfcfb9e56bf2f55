import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { analyzeSync } from '../src/eval/sync-analysis.js';
import { ParametricRenderer } from '../src/render/parametric/parametric-renderer.js';
import { say } from '../src/say.js';
import { ffprobe, tempDir } from './helpers/media.js';

let dir = '';
let cleanup: () => Promise<void> = async () => undefined;
before(async () => ({ dir, cleanup } = await tempDir()));
after(() => cleanup());

/** Checks an MP4 as a player would see it: H.264 + AAC, size, fps, and A/V durations within one frame. */
async function assertPlayableMp4(path: string, width: number, height: number, fps: number): Promise<{ videoS: number; audioS: number }> {
  const { streams, format } = await ffprobe(path);
  assert.match(format.format_name, /mp4/);
  const video = streams.find((s) => s.codec_type === 'video');
  const audio = streams.find((s) => s.codec_type === 'audio');
  assert.ok(video && audio, 'one video and one audio stream');
  assert.equal(video.codec_name, 'h264');
  assert.equal(audio.codec_name, 'aac');
  assert.equal(video.width, width);
  assert.equal(video.height, height);
  assert.equal(video.r_frame_rate, `${fps}/1`);
  const videoS = Number(video.duration);
  const audioS = Number(audio.duration);
  assert.ok(Math.abs(videoS - audioS) <= 1 / fps + 1e-3, `video ${videoS}s and audio ${audioS}s differ by more than one frame`);
  return { videoS, audioS };
}

describe('say: text to MP4', () => {
  for (const [language, text] of [
    ['en', 'Hello! I am your digital avatar. Nice to meet you.'],
    ['es', 'Hola, ¿cómo estás? Me llamo Ana y soy tu avatar.'],
    ['zh', '你好，很高兴认识你。我是你的数字人。'],
  ] as const) {
    it(`renders ${language} with H.264 + AAC, 512x512 @ 25 fps, durations within a frame`, async () => {
      const output = join(dir, `${language}.mp4`);
      const result = await say({ text, output, language });
      assert.equal(result.language, language);
      const { audioS } = await assertPlayableMp4(output, 512, 512, 25);
      assert.ok(audioS > 1.5, `${language} speech is ${audioS}s`);
      assert.ok(Math.abs(result.audioS - audioS) < 0.06, 'reported and encoded audio durations agree');
      assert.equal(result.frames, Math.ceil(result.audioS * 25 - 1e-6));
    });
  }

  it('detects the language with language auto', async () => {
    const result = await say({ text: '你好，很高兴认识你。', output: join(dir, 'auto.mp4') });
    assert.equal(result.language, 'zh');
    assert.equal(result.voice, 'cmn');
  });

  it('honours --fps and --size', async () => {
    const output = join(dir, 'small.mp4');
    await say({ text: 'A smaller, faster video.', output, fps: 30, size: '320x240' });
    await assertPlayableMp4(output, 320, 240, 30);
  });

  it('keeps the mouth in sync with the voice and still in silence (en, es, zh)', async () => {
    const renderer = new ParametricRenderer(512, 512);
    const scripts = [
      'Hello! I am your digital avatar.\n\nNow I pause for a moment.\n\nAnd then I speak again. Good bye.',
      'Hola, me llamo Ana.\n\nAhora hago una pausa.\n\nY luego hablo otra vez. Adiós.',
      '你好，我是你的数字人。\n\n现在我休息一下。\n\n然后我再说话。再见。',
    ];
    for (const [i, text] of scripts.entries()) {
      const output = join(dir, `sync-${i}.mp4`);
      await say({ text, output });
      const sync = await analyzeSync(output, renderer.mouthRegion);
      assert.ok(Math.abs(sync.lagFrames) <= 1, `script ${i}: correlation peaks at lag ${sync.lagFrames} frames`);
      assert.ok(sync.peakCorrelation >= 0.3, `script ${i}: peak correlation ${sync.peakCorrelation.toFixed(2)}`);
      assert.ok(sync.silentFrames >= 8, `script ${i}: only ${sync.silentFrames} silent frames found`);
      assert.ok(sync.speechMotion > 2, `script ${i}: mouth hardly moves in speech (${sync.speechMotion.toFixed(2)})`);
      assert.ok(sync.silentMotion < 0.05 * sync.speechMotion, `script ${i}: mouth moves in silence (${sync.silentMotion.toFixed(2)} vs ${sync.speechMotion.toFixed(2)})`);
    }
  });

  it('does not drift over a minute of speech', async () => {
    const sentence = 'This is a long script that goes on for a full minute, sentence after sentence.';
    const text = Array.from({ length: 14 }, () => sentence).join('\n\n');
    const output = join(dir, 'minute.mp4');
    const result = await say({ text, output, size: 256 });
    assert.ok(result.audioS > 60, `script is ${result.audioS}s`);
    await assertPlayableMp4(output, 256, 256, 25);
    const sync = await analyzeSync(output, new ParametricRenderer(256, 256).mouthRegion);
    // Sync over the first and the last 15 s separately: a drifting track would disagree.
    const fps = 25;
    const window = 15 * fps;
    const { laggedCorrelation } = await import('../src/eval/sync-analysis.js');
    const bestLag = (from: number) => {
      let best = 0;
      let bestC = -2;
      for (let lag = -5; lag <= 5; lag++) {
        const c = laggedCorrelation(sync.activity.subarray(from, from + window), sync.envelope.subarray(from, from + window), lag);
        if (c > bestC) [best, bestC] = [lag, c];
      }
      return best;
    };
    const first = bestLag(0);
    const last = bestLag(sync.frames - window - 1);
    assert.ok(Math.abs(first) <= 1 && Math.abs(last) <= 1, `lags ${first} (start) and ${last} (end) frames`);
  });

  it('writes the speech as WAV with --audio-out', async () => {
    const audioOut = join(dir, 'speech.wav');
    const result = await say({ text: 'Save my voice too.', output: join(dir, 'voice.mp4'), audioOut });
    const { streams } = await ffprobe(audioOut);
    assert.equal(streams[0]!.codec_name, 'pcm_s16le');
    assert.ok(Math.abs(Number(streams[0]!.duration) - result.audioS) < 0.01);
  });

  it('stops on abort and leaves no partial file', async () => {
    const controller = new AbortController();
    const output = join(dir, 'aborted.mp4');
    const text = Array.from({ length: 30 }, (_, i) => `Sentence number ${i} is here.`).join(' ');
    const run = say({ text, output, signal: controller.signal, onProgress: (p) => p.sentencesDone === 2 && controller.abort() });
    await assert.rejects(run, (e: Error & { code?: string }) => e.code === 'aborted');
    await assert.rejects(stat(output));
    assert.deepEqual((await readdir(dir)).filter((f) => f.includes('aborted')), []);
  });
});
