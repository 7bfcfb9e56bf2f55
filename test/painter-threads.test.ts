import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { BuiltinAvatarCatalog } from '../src/avatars/catalog.js';
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
