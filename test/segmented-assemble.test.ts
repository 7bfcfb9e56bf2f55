import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { encodeWav } from '../src/audio/wav.js';
import type { RenderJobDeps } from '../src/server/render-jobs.js';
import { ASSEMBLE_JOB, SEGMENT_AUDIO_JOB, segmentedJobHandlers } from '../src/server/segmented-jobs.js';
import { ffprobe, tempDir } from './helpers/media.js';

const run = promisify(execFile);
const RATE = 22050;
const CLICK_S = 1.5;

/** Two video-only segments of 25 frames each and the script's sound (silence with one click at 1.5 s), as the plan and segment jobs leave them. */
async function segmentFolder(outputsDir: string, dir: string): Promise<string> {
  const folder = join(outputsDir, 'tenant', dir);
  await mkdir(folder, { recursive: true });
  for (const [i, color] of ['gray', 'white'].entries()) {
    await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=${color}:s=64x64:r=25:d=1`, '-c:v', 'libx264', '-pix_fmt', 'yuv420p', join(folder, `${i}.mp4`)]);
  }
  const pcm = new Int16Array(2 * RATE);
  pcm.fill(20000, CLICK_S * RATE, CLICK_S * RATE + 200);
  await writeFile(join(folder, 'audio.wav'), encodeWav({ pcm, sampleRate: RATE }));
  return folder;
}

/** Where the click in a file's sound starts (its first sample above half the loudest), ms. */
async function clickAtMs(path: string): Promise<number> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', path, '-map', '0:a', '-f', 's16le', '-ac', '1', '-ar', String(RATE), '-'], { encoding: 'buffer', maxBuffer: 1 << 24 });
  const samples = new Int16Array(stdout.buffer, stdout.byteOffset, stdout.byteLength >> 1);
  const peak = samples.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  return (samples.findIndex((v) => Math.abs(v) > peak / 2) * 1000) / RATE;
}

/** A digest of a file's audio packets as stored (not decoded). */
async function audioPackets(path: string): Promise<string> {
  return (await run('ffmpeg', ['-v', 'error', '-i', path, '-map', '0:a', '-c', 'copy', '-f', 'md5', '-'])).stdout.trim();
}

describe('segmented generation: the sound encoded by a job of its own, then joined', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let handlers: ReturnType<typeof segmentedJobHandlers>;
  const signal = new AbortController().signal;
  const assemble = (id: string) => ({ id: `assemble-${id}`, tenant: 'tenant', payload: { dir: `.segments-${id}`, segments: 2, output: `${id}.mp4`, frames: [25, 25], fps: 25, language: 'en' } });

  before(async () => {
    ({ dir, cleanup } = await tempDir('avatar-assemble-'));
    const deps = { outputsDir: dir } as unknown as RenderJobDeps;
    handlers = segmentedJobHandlers(deps, { schedule: () => Promise.reject(new Error('not used here')) });
  });
  after(() => cleanup());

  async function checkJoined(id: string): Promise<void> {
    const output = join(dir, 'tenant', `${id}.mp4`);
    const probe = await ffprobe(output);
    const video = probe.streams.find((s) => s.codec_type === 'video');
    const audio = probe.streams.find((s) => s.codec_type === 'audio');
    assert.equal(Number(video?.nb_frames), 50, 'both segments joined');
    assert.equal(audio?.codec_name, 'aac');
    assert.ok(Math.abs(Number(audio?.duration) - 2) < 0.05, `audio lasts ${audio?.duration} s`);
    const click = await clickAtMs(output);
    assert.ok(Math.abs(click - CLICK_S * 1000) < 3, `the click is at ${click.toFixed(1)} ms, as in the script's sound`);
    await assert.rejects(access(join(dir, 'tenant', `.segments-${id}`)), 'the segment folder is removed once joined');
  }

  it('the audio job writes audio.m4a; joining copies it under the video as it is', async () => {
    const folder = await segmentFolder(dir, '.segments-a');
    assert.deepEqual(await handlers[SEGMENT_AUDIO_JOB]!({ id: 'audio-a', tenant: 'tenant', payload: { dir: '.segments-a' } }, () => undefined, signal), { file: 'audio.m4a' });
    assert.equal((await ffprobe(join(folder, 'audio.m4a'))).streams[0]?.codec_name, 'aac');
    const encoded = await audioPackets(join(folder, 'audio.m4a'));
    const result = await handlers[ASSEMBLE_JOB]!(assemble('a'), () => undefined, signal);
    assert.equal(result.frames, 50);
    await checkJoined('a');
    assert.equal(await audioPackets(join(dir, 'tenant', 'a.mp4')), encoded, 'the encoded sound is copied as it is');
  });

  it('a plan queued before the audio had a job of its own (no audio.m4a) is joined with its sound encoded then', async () => {
    await segmentFolder(dir, '.segments-b');
    await handlers[ASSEMBLE_JOB]!(assemble('b'), () => undefined, signal);
    await checkJoined('b');
  });

  it('an audio job without its sound fails as retryable and leaves no partial file', async () => {
    const folder = join(dir, 'tenant', '.segments-c');
    await mkdir(folder, { recursive: true });
    await assert.rejects(handlers[SEGMENT_AUDIO_JOB]!({ id: 'audio-c', tenant: 'tenant', payload: { dir: '.segments-c' } }, () => undefined, signal), (e: Error & { code?: string; retryable?: boolean }) => {
      assert.equal(e.code, 'ffmpeg_failed');
      assert.match(e.message, /encoding the script's audio failed/);
      assert.equal(e.retryable, true);
      return true;
    });
    assert.deepEqual(await readdir(folder), []);
  });
});
