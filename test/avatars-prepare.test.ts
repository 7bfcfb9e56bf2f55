import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { readMouthFile } from '../src/avatars/manifest.js';
import { AvatarRegistry } from '../src/avatars/registry.js';
import { i420ToRgb } from '../src/compose/color-convert.js';
import { analyzeSync } from '../src/eval/sync-analysis.js';
import { ParametricRenderer } from '../src/render/parametric/parametric-renderer.js';
import { say } from '../src/say.js';
import { EspeakTtsProvider } from '../src/tts/espeak.js';
import { PhonemeMouthTracker } from '../src/visemes/phoneme-track.js';
import type { MouthFrame } from '../src/visemes/mouth-params.js';
import { avatarCli, ffprobe, tempDir } from './helpers/media.js';

const SOURCE_TEXT = 'The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore. Peter Piper picked a peck of pickled peppers.';
const SPOKEN_TEXT = 'Hello there! Welcome back to the show.\n\nToday we talk about lip sync, and how to make it look right.';

/** The mouth track `say` drew for a text: same TTS, same tracker, so the same frames. */
async function knownMouthTrack(text: string): Promise<MouthFrame[]> {
  const tts = new EspeakTtsProvider();
  const tracker = new PhonemeMouthTracker(25);
  const frames: MouthFrame[] = [];
  try {
    for await (const speech of tts.synthesize({ text, language: 'en' })) {
      tracker.push(speech);
      frames.push(...tracker.takeReady());
    }
  } finally {
    await tts.close();
  }
  tracker.finish();
  frames.push(...tracker.takeReady());
  return frames;
}

function correlation(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  const ma = a.slice(0, n).reduce((s, v) => s + v, 0) / n;
  const mb = b.slice(0, n).reduce((s, v) => s + v, 0) / n;
  let num = 0, da = 0, db = 0;
  for (let i = 0; i < n; i++) {
    num += (a[i]! - ma) * (b[i]! - mb);
    da += (a[i]! - ma) ** 2;
    db += (b[i]! - mb) ** 2;
  }
  return num / Math.sqrt(da * db);
}

/** The lip-sync check of the `say` tests, for any renderer's output. */
async function assertLipSync(video: string, region: readonly [number, number, number, number], label: string): Promise<void> {
  const sync = await analyzeSync(video, region);
  assert.ok(Math.abs(sync.lagFrames) <= 1, `${label}: correlation peaks at lag ${sync.lagFrames} frames (the gate is one frame)`);
  assert.ok(sync.peakCorrelation >= 0.3, `${label}: peak correlation ${sync.peakCorrelation.toFixed(2)}`);
  assert.ok(sync.speechMotion > 1, `${label}: mouth hardly moves in speech (${sync.speechMotion.toFixed(2)})`);
  assert.ok(sync.silentMotion < 0.2 * sync.speechMotion, `${label}: mouth moves in silence (${sync.silentMotion.toFixed(2)} vs ${sync.speechMotion.toFixed(2)})`);
}

describe('avatar prepare, warp and select', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let avatars: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    avatars = join(dir, 'avatars');
    // A video of a person talking: the built-in avatar speaking known text.
    await say({ text: SOURCE_TEXT, output: join(dir, 'talk.mp4'), language: 'en' });
    // A photo: the built-in avatar at rest.
    const rest = new ParametricRenderer(512, 512).render({ index: 0, ptsMs: 0, speaking: false, mouth: { jawOpen: 0, lipWidth: 0.5, rounding: 0, closure: 1, teeth: 0, tongue: 0 } });
    await sharp(i420ToRgb(rest.data, 512, 512), { raw: { width: 512, height: 512, channels: 3 } }).jpeg({ quality: 92 }).toFile(join(dir, 'anna.jpg'));
  });
  after(() => cleanup());

  it('prepares a video: measured mouth openness tracks the known mouth track (r >= 0.8)', async (t) => {
    const res = await avatarCli(['prepare', join(dir, 'talk.mp4'), '--name', 'bruce', '--fps', '25', '--avatars-dir', avatars, '--output-json', join(dir, 'stats.json')]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /bruce: \d+ frames/);
    const stats = JSON.parse(await readFile(join(dir, 'stats.json'), 'utf8')) as { avatars: { id: string; frames: number; bytes: number; ms: number }[] };
    assert.equal(stats.avatars[0]!.id, 'bruce');
    assert.ok(stats.avatars[0]!.bytes > 0 && stats.avatars[0]!.ms > 0);
    const folder = join(avatars, 'bruce');
    const manifest = JSON.parse(await readFile(join(folder, 'avatar.json'), 'utf8')) as { renderer: string; frameCount: number; width: number };
    assert.equal(manifest.renderer, 'select');
    assert.equal(manifest.width, 512);
    assert.equal((await readdir(join(folder, 'frames'))).length, manifest.frameCount);
    const crops = JSON.parse(await readFile(join(folder, 'crop_rects.json'), 'utf8')) as number[][];
    assert.equal(crops.length, manifest.frameCount);
    const audio = await ffprobe(join(folder, 'audio.wav'));
    assert.equal(audio.streams[0]!.codec_type, 'audio');
    const mouth = await readMouthFile(folder, manifest.frameCount);
    const known = (await knownMouthTrack(SOURCE_TEXT)).map((f) => f.mouth.jawOpen * (1 - f.mouth.closure));
    assert.ok(Math.abs(known.length - manifest.frameCount) <= 1, `${known.length} known frames, ${manifest.frameCount} prepared`);
    const r = correlation(mouth.frames.map((m) => m.open), known);
    t.diagnostic(`measured lip gap vs known mouth track: r = ${r.toFixed(3)} over ${manifest.frameCount} frames`);
    assert.ok(r >= 0.8, `measured openness correlates with the known track at r = ${r.toFixed(3)}`);
  });

  it('a prepared video avatar speaks with the select renderer, in sync', async () => {
    const registry = await AvatarRegistry.open({ dirs: [avatars], rescanMs: 0 });
    try {
      const out = join(dir, 'bruce.mp4');
      const result = await say({ text: SPOKEN_TEXT, output: out, avatar: 'bruce', catalog: registry, language: 'en' });
      assert.equal(result.width, 512);
      const renderer = await registry.createRenderer('bruce', { fps: 25 });
      assert.equal(renderer.name, 'select');
      await assertLipSync(out, renderer.mouthRegion, 'select');
    } finally {
      registry.close();
    }
  });

  it('prepares a photo and it speaks with the warp renderer, in sync', async () => {
    const res = await avatarCli(['prepare', join(dir, 'anna.jpg'), '--avatars-dir', avatars]);
    assert.equal(res.code, 0, res.stderr);
    const again = await avatarCli(['prepare', join(dir, 'anna.jpg'), '--avatars-dir', avatars]);
    assert.equal(again.code, 0);
    assert.match(again.stderr, /skipped: .* exists \(use --force/);
    const out = join(dir, 'anna.mp4');
    const spoke = await avatarCli(['say', SPOKEN_TEXT, '--avatar', 'anna', '--avatars-dir', avatars, '-o', out, '-q']);
    assert.equal(spoke.code, 0, spoke.stderr);
    const registry = await AvatarRegistry.open({ dirs: [avatars], rescanMs: 0 });
    const renderer = await registry.createRenderer('anna', { fps: 25 });
    registry.close();
    assert.equal(renderer.name, 'warp');
    await assertLipSync(out, renderer.mouthRegion, 'warp');
  });

  it('lip-syncs a given audio file (say --audio) from the sound alone', async () => {
    const wav = join(dir, 'speech.wav');
    await say({ text: SPOKEN_TEXT, output: join(dir, 'tmp.mp4'), audioOut: wav, language: 'en' });
    const out = join(dir, 'audio-driven.mp4');
    const res = await avatarCli(['say', '--audio', wav, '--avatar', 'anna', '--avatars-dir', avatars, '-o', out, '--json']);
    assert.equal(res.code, 0, res.stderr);
    const probe = await ffprobe(out);
    assert.equal(probe.streams.length, 2);
    const registry = await AvatarRegistry.open({ dirs: [avatars], rescanMs: 0 });
    const renderer = await registry.createRenderer('anna', { fps: 25 });
    registry.close();
    await assertLipSync(out, renderer.mouthRegion, 'warp from audio');
  });

  it('prepares every file of a folder in worker threads and reports the ones that fail', async () => {
    const folder = join(dir, 'batch');
    await mkdir(folder);
    await copyFile(join(dir, 'anna.jpg'), join(folder, 'Carla Photo.jpg'));
    await writeFile(join(folder, 'broken.mp4'), 'not a video at all');
    const out = join(dir, 'batch-avatars');
    const res = await avatarCli(['prepare', folder, '--workers', '2', '--avatars-dir', out, '--output-json', join(dir, 'batch.json')]);
    assert.equal(res.code, 1, 'one file failed');
    assert.match(res.stderr, /failed: .*broken\.mp4: not a readable image or video/);
    assert.match(res.stderr, /prepared 1, skipped 0, failed 1/);
    assert.deepEqual(await readdir(out), ['carla_photo']);
    const stats = JSON.parse(await readFile(join(dir, 'batch.json'), 'utf8')) as { avatars: { id: string }[]; failures: { input: string }[] };
    assert.equal(stats.avatars[0]!.id, 'carla_photo');
    assert.match(stats.failures[0]!.input, /broken\.mp4$/);
  });

  it('lists prepared avatars and refuses bad inputs with a clear message', async () => {
    const list = await avatarCli(['list', '--avatars-dir', avatars]);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /bruce\s+select/);
    assert.match(list.stdout, /anna\s+warp/);
    const missing = await avatarCli(['prepare', join(dir, 'nope.mp4'), '--avatars-dir', avatars]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.mp4: no such file/);
    await writeFile(join(dir, 'junk.mp4'), 'this is not a video');
    const junk = await avatarCli(['prepare', join(dir, 'junk.mp4'), '--avatars-dir', avatars]);
    assert.equal(junk.code, 2);
    assert.match(junk.stderr, /junk\.mp4: not a readable image or video/);
    // A picture without a face.
    await sharp({ create: { width: 256, height: 256, channels: 3, background: '#3366aa' } }).png().toFile(join(dir, 'wall.png'));
    const faceless = await avatarCli(['prepare', join(dir, 'wall.png'), '--avatars-dir', avatars]);
    assert.equal(faceless.code, 2);
    assert.match(faceless.stderr, /wall\.png: no face found \(frames 0-0\)/);
    // Two people.
    await sharp({ create: { width: 1024, height: 512, channels: 3, background: '#ffffff' } })
      .composite([{ input: join(dir, 'anna.jpg'), left: 0, top: 0 }, { input: join(dir, 'anna.jpg'), left: 512, top: 0 }])
      .jpeg().toFile(join(dir, 'two.jpg'));
    const two = await avatarCli(['prepare', join(dir, 'two.jpg'), '--avatars-dir', avatars]);
    assert.equal(two.code, 2);
    assert.match(two.stderr, /two\.jpg: several faces found in 1 frame \(frames 0-0\)/);
    assert.equal(two.stderr.trim().split('\n').length, 1, 'one error line');
    // Too short: half a second of video.
    const short = await avatarCli(['prepare', join(dir, 'talk.mp4'), '--name', 'short', '--duration', '0.5', '--avatars-dir', avatars]);
    assert.equal(short.code, 2);
    assert.match(short.stderr, /too short/);
    const badFps = await avatarCli(['prepare', join(dir, 'talk.mp4'), '--fps', '0', '--avatars-dir', avatars]);
    assert.equal(badFps.code, 2);
    // Nothing half-written is left behind.
    const left = (await readdir(avatars)).sort();
    assert.deepEqual(left, ['anna', 'bruce']);
    const unknown = await avatarCli(['say', 'Hi.', '--avatar', 'nobody', '--avatars-dir', avatars, '-o', join(dir, 'x.mp4')]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown avatar "nobody"/);
  });
});
