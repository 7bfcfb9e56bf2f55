import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { BuiltinAvatarCatalog } from '../src/avatars/catalog.js';
import { locateFfmpeg } from '../src/encode/ffmpeg.js';
import { feedsEncoders } from '../src/pipeline/realtime/frame-painter.js';
import { SharpJpegEncoder } from '../src/compose/jpeg.js';
import { AvatarError } from '../src/core/errors.js';
import { AvatarStage, RendererCache } from '../src/pipeline/realtime/avatar-stage.js';
import { PainterThreads } from '../src/pipeline/realtime/painter-threads.js';
import { ParametricRenderer } from '../src/render/parametric/parametric-renderer.js';
import type { MouthParams } from '../src/visemes/mouth-params.js';

const OPEN: MouthParams = { jawOpen: 0.8, lipWidth: 0.5, rounding: 0.1, closure: 0, teeth: 0.6, tongue: 0.3 };

describe('realtime painter threads', () => {
  it('paint on a worker thread exactly what the same stage paints on this one', async () => {
    const threads = new PainterThreads({ kind: 'builtin' }, 80, 1);
    try {
      const cache = new RendererCache(new BuiltinAvatarCatalog(), new SharpJpegEncoder(80), 4, threads);
      const remote = await cache.get('default', { width: 192, height: 160, fps: 25 });
      const local = await AvatarStage.local('default', new ParametricRenderer(192, 160), 25, new SharpJpegEncoder(80));
      assert.equal(threads.running, 1, 'the stage was opened on a thread');
      assert.deepEqual([remote.width, remote.height], [192, 160]);
      assert.ok(remote.patchRegion, 'the speech region was measured on the thread');
      assert.deepEqual(remote.patchRegion, local.patchRegion);
      for (const position of [0, 7, 120]) {
        assert.deepEqual(await remote.idleJpeg(position), await local.idleJpeg(position), `idle picture at ${position}`);
        const [a, b] = await Promise.all([remote.speechFrame(position, OPEN), local.speechFrame(position, OPEN)]);
        assert.ok(a.patch && b.patch);
        assert.deepEqual(a.patch.jpeg, b.patch.jpeg, `speech patch at ${position}`);
        const meta = await sharp(a.patch.jpeg).metadata();
        assert.deepEqual([meta.width, meta.height], [remote.patchRegion[2], remote.patchRegion[3]]);
      }
      // Many requests in flight at once come back each to its own caller.
      const positions = Array.from({ length: 24 }, (_, i) => i * 3);
      const pictures = await Promise.all(positions.map((p) => remote.speechFrame(p, { ...OPEN, jawOpen: (p % 10) / 10 })));
      const expected = await Promise.all(positions.map((p) => local.speechFrame(p, { ...OPEN, jawOpen: (p % 10) / 10 })));
      pictures.forEach((picture, i) => assert.deepEqual(picture.patch!.jpeg, expected[i]!.patch!.jpeg, `frame ${i}`));
    } finally {
      await threads.close();
    }
  });

  it('hand over whole I420 frames (for video encoders) equal to the renderer\'s own', async () => {
    const threads = new PainterThreads({ kind: 'builtin' }, 80, 1);
    try {
      const cache = new RendererCache(new BuiltinAvatarCatalog(), new SharpJpegEncoder(80), 4, threads);
      await cache.get('default', { width: 128, height: 96, fps: 25 });
      const painter = await threads.open('default', { width: 128, height: 96, fps: 25 }, 250);
      assert.ok(painter);
      const renderer = new ParametricRenderer(128, 96);
      for (const [position, speaking] of [[0, false], [33, true]] as const) {
        const request = { position, ptsMs: position * 40, mouth: OPEN, speaking };
        const frame = await painter.paintRaw(request);
        const expected = renderer.render({ index: position, ptsMs: position * 40, mouth: OPEN, speaking });
        assert.deepEqual([frame.width, frame.height, frame.ptsMs], [128, 96, position * 40]);
        assert.deepEqual(frame.data, expected.data, `frame at ${position}`);
        expected.release?.();
      }
      painter.close();
    } finally {
      await threads.close();
    }
  });

  it('draw straight into an encoder\'s input: ffmpeg reading the socket gets the renderer\'s frames in order', async () => {
    const threads = new PainterThreads({ kind: 'builtin' }, 80, 1);
    try {
      // A stage for video encoders only: no speech region to measure.
      const painter = await threads.open('default', { width: 128, height: 96, fps: 25 }, 250, false);
      assert.ok(painter && feedsEncoders(painter));
      assert.equal(painter.speechRegion, undefined);
      const input = await painter.openEncoderInput();
      const path = input.url.replace(/^unix:/, '');
      assert.ok(existsSync(path), 'the input listens at a socket file');
      // Pictures asked for before the encoder connects wait for it.
      const requests = Array.from({ length: 12 }, (_, i) => ({ position: i * 7, ptsMs: i * 40, mouth: { ...OPEN, jawOpen: i / 12 }, speaking: i % 3 !== 0 }));
      const early = requests.slice(0, 4).map((r) => input.write(r));
      const ffmpeg = spawn((await locateFfmpeg()).path, ['-hide_banner', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', '128x96', '-i', input.url, '-f', 'rawvideo', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let errors = '';
      ffmpeg.stdout.on('data', (d: Buffer) => out.push(d));
      ffmpeg.stderr.on('data', (d: Buffer) => (errors += d));
      const exited = new Promise<number | null>((resolve) => ffmpeg.on('close', resolve));
      // Once the encoder is in, the socket file goes.
      for (let waited = 0; existsSync(path); waited += 10) {
        assert.ok(waited < 10_000, 'ffmpeg connected to the input');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const late = requests.slice(4).map((r) => input.write(r));
      assert.deepEqual(await Promise.all([...early, ...late]), requests.map(() => true), 'every picture went in');
      input.close();
      assert.equal(await exited, 0, `ffmpeg: ${errors}`);
      const renderer = new ParametricRenderer(128, 96);
      const expected = Buffer.concat(requests.map((r) => {
        const frame = renderer.render({ index: r.position, ptsMs: r.ptsMs, mouth: r.mouth, speaking: r.speaking });
        const bytes = Buffer.from(frame.data);
        frame.release?.();
        return bytes;
      }));
      assert.ok(Buffer.concat(out).equals(expected), `ffmpeg read ${Buffer.concat(out).length} bytes, the renderer drew ${expected.length}, the same frames in the same order`);
      assert.equal(await input.write(requests[0]!), false, 'a closed input takes no more pictures');
      // Another input (a fresh encoder) works after one has gone; closing the threads removes the sockets' folder.
      const again = await painter.openEncoderInput();
      assert.notEqual(again.url, input.url);
      again.close();
      await threads.close();
      assert.ok(!existsSync(dirname(path)), 'the sockets\' folder is removed');
    } finally {
      await threads.close();
    }
  });

  it('remove the socket folders of servers that are gone, and no others, when they make their own', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'avatar-tmp-'));
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    const threads = new PainterThreads({ kind: 'builtin' }, 80, 1);
    try {
      const gone = spawnSync(process.execPath, ['-e', '0']).pid!; // a process that has exited
      const folder = (name: string) => {
        mkdirSync(join(tmp, name));
        writeFileSync(join(tmp, name, '1.sock'), '');
        return name;
      };
      const orphan = folder(`avatar-frames-${gone}-aB3xYz`);
      const live = folder(`avatar-frames-${process.ppid}-Qw12eR`);
      const other = folder('avatar-frames-other');
      const painter = await threads.open('default', { width: 64, height: 64, fps: 25 }, 25, false);
      assert.ok(painter && feedsEncoders(painter));
      const input = await painter.openEncoderInput();
      const own = basename(dirname(input.url.slice('unix:'.length)));
      assert.match(own, new RegExp(`^avatar-frames-${process.pid}-`), 'the folder names its process');
      assert.ok(!existsSync(join(tmp, orphan)), 'the folder of a process that is gone is removed');
      assert.ok(existsSync(join(tmp, live)) && existsSync(join(tmp, other)), 'a live process\'s folder and a folder not named for one stay');
      input.close();
      // Removed by another server that took this process for a dead one: made again.
      rmSync(join(tmp, own), { recursive: true, force: true });
      const next = await painter.openEncoderInput();
      assert.ok(existsSync(dirname(next.url.slice('unix:'.length))), 'a fresh folder for the next input');
      next.close();
      await threads.close();
      assert.ok(!existsSync(dirname(next.url.slice('unix:'.length))), 'its own goes on close');
    } finally {
      await threads.close();
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('report the catalog\'s errors as they are, and fail paints clearly once closed', async () => {
    const threads = new PainterThreads({ kind: 'builtin' }, 80, 1);
    const cache = new RendererCache(new BuiltinAvatarCatalog(), new SharpJpegEncoder(80), 4, threads);
    await assert.rejects(cache.get('nobody', { width: 64, height: 64, fps: 25 }), (e: unknown) => e instanceof AvatarError && e.code === 'unknown_avatar');
    const stage = await cache.get('default', { width: 64, height: 64, fps: 25 });
    assert.ok(stage.usable);
    await threads.close();
    assert.equal(stage.usable, false);
    await assert.rejects(stage.speechFrame(3, OPEN), /painter thread/);
  });
});
