import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ffmpegReadsProtocol, locateFfmpeg } from '../src/encode/ffmpeg.js';
import { feedsEncoders } from '../src/pipeline/realtime/frame-painter.js';
import { PainterThreads } from '../src/pipeline/realtime/painter-threads.js';
import { RendererCache } from '../src/pipeline/realtime/avatar-stage.js';
import { BuiltinAvatarCatalog } from '../src/avatars/catalog.js';
import { SharpJpegEncoder } from '../src/compose/jpeg.js';
import { ParametricRenderer } from '../src/render/parametric/parametric-renderer.js';
import { RtpVideoEncoder, type EncodedRtpPacket } from '../src/transport/webrtc/rtp-video-encoder.js';
import type { MouthParams } from '../src/visemes/mouth-params.js';

const OPEN: MouthParams = { jawOpen: 0.8, lipWidth: 0.5, rounding: 0.1, closure: 0, teeth: 0.6, tongue: 0.3 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A 128x96 VP8 encoder with what it sends and the failures it reports, and one painter thread. */
async function encoderWithThread(ffmpeg?: string) {
  const threads = new PainterThreads({ kind: 'builtin' }, 80, 1);
  const packets: EncodedRtpPacket[] = [];
  const failures: string[] = [];
  const encoder = new RtpVideoEncoder({ codec: 'VP8', width: 128, height: 96, fps: 25, kbps: 300, ffmpeg: ffmpeg ?? (await locateFfmpeg()).path }, (p) => packets.push(p), (m) => failures.push(m));
  return { threads, packets, failures, encoder };
}

describe('RTP video encoder', () => {
  it('encodes frames drawn here and frames a painter thread draws into its input, switching between them', async () => {
    const { threads, packets, failures, encoder } = await encoderWithThread();
    try {
      const painter = await threads.open('default', { width: 128, height: 96, fps: 25 }, 250);
      assert.ok(painter && feedsEncoders(painter));
      const renderer = new ParametricRenderer(128, 96);
      await encoder.start();
      let pts = 0;
      // Each phase feeds frames at 25 fps until 10 of its own have come out of the encoder
      // (frames while a fresh encoder starts are skipped).
      const phase = async (deferred: boolean) => {
        const from = pts;
        for (let waited = 0; packets.filter((p) => p.last && p.ptsMs >= from).length < 10; waited += 40) {
          assert.ok(waited < 15_000, `frames came out in the ${deferred ? 'deferred' : 'local'} phase (failures: ${failures.join('; ')})`);
          const request = { position: pts / 40, ptsMs: pts, mouth: { ...OPEN, jawOpen: (pts / 40) % 2 ? 0.8 : 0.2 }, speaking: true };
          if (deferred) encoder.encodeDeferred(painter, request, pts);
          else encoder.encode(renderer.render({ index: request.position, ptsMs: pts, mouth: request.mouth, speaking: true }), pts);
          pts += 40;
          await sleep(40);
        }
        return from;
      };
      const starts = [await phase(false), await phase(true), await phase(false)];
      await sleep(300);
      const frames = packets.filter((p) => p.last).map((p) => p.ptsMs);
      assert.deepEqual(failures, []);
      assert.deepEqual(frames, [...frames].sort((a, b) => a - b), 'frames come out in order, each with its own time');
      assert.equal(new Set(frames).size, frames.length);
      for (const [i, from] of starts.entries()) {
        const to = starts[i + 1] ?? pts;
        assert.ok(frames.filter((t) => t >= from && t < to).length >= 10, `phase ${i}: ${frames.filter((t) => t >= from && t < to).length} frames out`);
      }
      const { framesIn, framesSkipped } = encoder.stats;
      assert.equal(framesIn + framesSkipped, pts / 40, 'every frame was taken or counted as skipped');
      assert.ok(framesIn >= frames.length);
    } finally {
      encoder.stop();
      await threads.close();
    }
  });

  it('says why when its ffmpeg cannot read a painter thread\'s input (no unix protocol)', async () => {
    // ffmpeg itself, told to refuse the unix protocol as a build without it does.
    const dir = mkdtempSync(join(tmpdir(), 'avatar-ffmpeg-'));
    const ffmpeg = join(dir, 'ffmpeg');
    writeFileSync(ffmpeg, `#!/bin/sh\nexec "${(await locateFfmpeg()).path}" -protocol_whitelist file,pipe,udp,rtp "$@"\n`);
    chmodSync(ffmpeg, 0o755);
    const { threads, failures, encoder } = await encoderWithThread(ffmpeg);
    try {
      const painter = await threads.open('default', { width: 128, height: 96, fps: 25 }, 250, false);
      assert.ok(painter && feedsEncoders(painter));
      await encoder.start();
      for (let slot = 0; slot < 100 && failures.length === 0; slot++) {
        encoder.encodeDeferred(painter, { position: slot, ptsMs: slot * 40, mouth: OPEN, speaking: true }, slot * 40);
        await sleep(40);
      }
      assert.equal(failures.length, 1, failures.join('; '));
      assert.match(failures[0]!, /video encoder stopped \(ffmpeg exit code \d+; it reads its frames from unix:.*needs an ffmpeg with the unix protocol \(else set realtime\.paintThreads to 0\)\)/);
    } finally {
      encoder.stop();
      await threads.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says the painter thread stopped when the thread drawing into its input goes', async () => {
    const { threads, packets, failures, encoder } = await encoderWithThread();
    try {
      const painter = await threads.open('default', { width: 128, height: 96, fps: 25 }, 250, false);
      assert.ok(painter && feedsEncoders(painter));
      await encoder.start();
      let slot = 0;
      const feed = async (until: () => boolean) => {
        for (let waited = 0; !until(); waited += 40, slot++) {
          assert.ok(waited < 15_000, 'timed out');
          encoder.encodeDeferred(painter, { position: slot, ptsMs: slot * 40, mouth: OPEN, speaking: slot % 2 === 0 }, slot * 40);
          await sleep(40);
        }
      };
      await feed(() => packets.some((p) => p.last));
      await threads.close(); // the thread goes, as one that crashed would
      await feed(() => failures.length > 0);
      await sleep(500);
      assert.ok(failures.length >= 1);
      assert.match(failures[0]!, /painter thread/, `the first failure names the painter thread: ${failures.join('; ')}`);
    } finally {
      encoder.stop();
      await threads.close();
    }
  });

  it('knows whether an ffmpeg reads unix sockets; without one, raw frames are drawn here and JPEG ones on the threads', async () => {
    const real = (await locateFfmpeg()).path;
    const dir = mkdtempSync(join(tmpdir(), 'avatar-ffmpeg-'));
    // An ffmpeg as built without network protocols: `-protocols` lists no unix.
    const bare = join(dir, 'ffmpeg');
    writeFileSync(bare, `#!/bin/sh\nif [ "$2" = "-protocols" ]; then "${real}" "$@" | grep -v '^ *unix$'; else exec "${real}" "$@"; fi\n`);
    chmodSync(bare, 0o755);
    const threads = new PainterThreads({ kind: 'builtin' }, 80, 1);
    try {
      assert.equal(await ffmpegReadsProtocol(real, 'unix'), true);
      assert.equal(await ffmpegReadsProtocol(real, 'file'), true);
      assert.equal(await ffmpegReadsProtocol(real, 'gopher-over-pigeons'), false);
      assert.equal(await ffmpegReadsProtocol(bare, 'unix'), false);
      assert.equal(await ffmpegReadsProtocol(bare, 'file'), true, 'the rest of its list is read');
      assert.equal(await ffmpegReadsProtocol(join(dir, 'missing'), 'file'), false, 'an ffmpeg that does not run reads nothing');
      // The server's fallback for such an ffmpeg with threads for every session: `jpeg`.
      const cache = new RendererCache(new BuiltinAvatarCatalog(), new SharpJpegEncoder(80), 4, threads, 'jpeg');
      const request = { width: 64, height: 64, fps: 25 };
      const raw = await cache.get('default', request, 'i420');
      const jpeg = await cache.get('default', request, 'jpeg');
      assert.notEqual(raw, jpeg);
      const picture = await raw.rawFrame(0, OPEN);
      assert.ok('i420' in picture, 'a raw frame is drawn here, not deferred to a thread');
      assert.equal(picture.i420.data.length, 64 * 64 * 1.5);
      picture.i420.release?.();
      assert.equal(threads.running, 1, 'the JPEG stage is on a thread');
    } finally {
      await threads.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
