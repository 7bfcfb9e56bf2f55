/**
 * `npm run bench` (second part): photo and video avatars on this machine. Prints `prepare`
 * frames per second, the first use of an avatar, and render ms per frame for the `warp`
 * and `select` renderers at 512x512 next to the built-in `parametric` one (the baseline,
 * measured in the same run), over the mouth track of the same speech. Never fails on time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareAvatar } from '../src/avatars/prepare.js';
import { AvatarRegistry } from '../src/avatars/registry.js';
import { concatSpeech, type Speech } from '../src/core/speech.js';
import { ensureFixtureAvatar } from '../src/eval/avatar-fixtures.js';
import { ParametricRenderer } from '../src/render/parametric/parametric-renderer.js';
import type { Renderer } from '../src/render/renderer.js';
import { say } from '../src/say.js';
import { EspeakTtsProvider } from '../src/tts/espeak.js';
import type { MouthFrame } from '../src/visemes/mouth-params.js';
import { PhonemeMouthTracker } from '../src/visemes/phoneme-track.js';

const TEXT = 'Hello, and welcome. I am your digital avatar, and I can speak any text you give me, in several languages.';
const FPS = 25;

async function mouthTrack(): Promise<MouthFrame[]> {
  const tts = new EspeakTtsProvider();
  const parts: Speech[] = [];
  for await (const s of tts.synthesize({ text: TEXT, language: 'en' })) parts.push(s);
  await tts.close();
  const tracker = new PhonemeMouthTracker(FPS);
  tracker.push(concatSpeech(parts));
  tracker.finish();
  return tracker.takeReady();
}

/** Median ms per frame over the track, frames released as an encoder would. */
async function renderMs(renderer: Renderer, frames: readonly MouthFrame[]): Promise<number> {
  const times: number[] = [];
  for (const f of frames) {
    const t0 = performance.now();
    const out = await renderer.render(f);
    times.push(performance.now() - t0);
    out.release?.();
  }
  return [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'avatar-bench-'));
  try {
    const avatars = join(dir, 'avatars');
    await ensureFixtureAvatar(avatars, 'photo');
    // prepare of a 7 s, 25 fps talking video (the built-in avatar), timed on its own.
    const video = join(dir, 'talk.mp4');
    await say({ text: 'The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore. Peter Piper picked a peck of pickled peppers.', output: video, language: 'en' });
    const prepared = await prepareAvatar({ input: video, name: 'video', outputDir: avatars });
    console.log(`prepare (video, 512x512): ${prepared.frames} frames in ${(prepared.ms / 1000).toFixed(2)} s = ${prepared.framesPerSecond.toFixed(1)} frames/s (face mesh + JPEG q90), ${(prepared.bytes / prepared.frames / 1024).toFixed(1)} KB per frame`);

    const frames = await mouthTrack();
    const registry = await AvatarRegistry.open({ dirs: [avatars], rescanMs: 0 });
    try {
      const t0 = performance.now();
      const warp = await registry.createRenderer('photo', { fps: FPS });
      (await warp.render(frames[0]!)).release?.();
      console.log(`first use of an avatar (manifest, mouth data, first frame decoded and drawn): ${(performance.now() - t0).toFixed(0)} ms`);
      const select = await registry.createRenderer('video', { fps: FPS });
      const selectCold = await renderMs(select, frames);
      const rows: [string, number][] = [
        ['parametric (baseline)', await renderMs(new ParametricRenderer(512, 512), frames)],
        ['warp', await renderMs(warp, frames)],
        ['select (frames decoded on first use)', selectCold],
        ['select (frames cached)', await renderMs(select, frames)],
      ];
      const base = rows[0]![1];
      console.log(`render at 512x512, ${frames.length} frames of speech, median ms per frame (one core):`);
      for (const [name, ms] of rows) {
        console.log(`  ${name.padEnd(38)} ${ms.toFixed(2)} ms  ${(1000 / ms).toFixed(0).padStart(5)} FPS  ${(ms / base).toFixed(2)}x baseline`);
      }
    } finally {
      registry.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
