import assert from 'node:assert/strict';
import { mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { FrameCache } from '../src/avatars/frame-cache.js';
import { AvatarRegistry } from '../src/avatars/registry.js';
import { ManualClock } from './helpers/manual-clock.js';
import { tempDir } from './helpers/media.js';
import { generateModel } from '../src/render/onnx/model-init.js';

const SIDE = 64;
const FRAMES = 2;

/** Writes a small prepared avatar folder (warp renderer, `frames` frames of one colour). */
async function writeAvatar(root: string, id: string, jpeg: Buffer, frames = FRAMES): Promise<void> {
  const dir = join(root, id);
  await mkdir(join(dir, 'frames'), { recursive: true });
  for (let i = 0; i < frames; i++) await writeFile(join(dir, 'frames', `frame_${String(i).padStart(4, '0')}.jpg`), jpeg);
  const mouth = { cx: 32, cy: 44, width: 16, open: 0, ax: 32, ay: 36, chinY: 56 };
  const line = (dy: number) => [[24, 44 + dy], [32, 44 + dy], [40, 44 + dy]];
  await writeFile(join(dir, 'mouth.json'), JSON.stringify({ version: 1, frames: Array(frames).fill(mouth), lips: { upperInner: line(0), lowerInner: line(0), upperOuter: line(-3), lowerOuter: line(3) } }));
  await writeFile(join(dir, 'avatar.json'), JSON.stringify({ id, name: id, version: 1, renderer: 'warp', fps: 25, width: SIDE, height: SIDE, frameCount: frames, source: { file: 'x.jpg', kind: 'image' }, created: '2026-01-01T00:00:00Z' }));
}

const speaking = (index: number) => ({ index, ptsMs: index * 40, speaking: true, mouth: { jawOpen: 0.5, lipWidth: 0.5, rounding: 0, closure: 0, teeth: 0.5, tongue: 0 } });

describe('AvatarRegistry', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let jpeg: Buffer;

  before(async () => {
    ({ dir, cleanup } = await tempDir('avatar-registry-'));
    jpeg = await sharp({ create: { width: SIDE, height: SIDE, channels: 3, background: '#c08060' } }).jpeg().toBuffer();
  });
  after(() => cleanup());

  it('holds 11,000 avatars: memory stays within the cache budget, lookups stay O(1), first use is fast', async (t) => {
    const root = join(dir, 'many');
    const count = 11_000;
    for (let i = 0; i < count; i += 200) {
      await Promise.all(Array.from({ length: Math.min(200, count - i) }, (_, k) => writeAvatar(root, `user_${i + k}`, jpeg)));
    }
    const frameBytes = SIDE * SIDE * 1.5;
    const budget = 300 * frameBytes;
    const registry = await AvatarRegistry.open({ dirs: [root], cacheBytes: budget, rescanMs: 0 });
    try {
      assert.equal(registry.list().length, count + 1, 'every avatar plus the built-in one');
      // Lookups: the same cost for the first and the last avatar, and per lookup far
      // below anything that scans the 11,000 entries.
      const time = (id: string) => {
        const t0 = process.hrtime.bigint();
        for (let k = 0; k < 20_000; k++) registry.get(id);
        return Number(process.hrtime.bigint() - t0) / 20_000;
      };
      time('user_0');
      const first = time('user_0');
      const last = time(`user_${count - 1}`);
      assert.ok(last < first * 5 + 2000, `lookup of the last avatar ${last.toFixed(0)} ns vs first ${first.toFixed(0)} ns`);
      // First use of an avatar (manifest, mouth data, first decoded frame, first picture).
      const t0 = performance.now();
      const renderer = await registry.createRenderer('user_5000', { fps: 25 });
      const frame = await renderer.render(speaking(0));
      const firstUseMs = performance.now() - t0;
      assert.equal(frame.width, SIDE);
      t.diagnostic(`11,000 avatars: lookup ${first.toFixed(0)} ns (first) / ${last.toFixed(0)} ns (last); first use ${firstUseMs.toFixed(1)} ms`);
      assert.ok(firstUseMs < 500, `first use took ${firstUseMs.toFixed(0)} ms`);
      // Use 600 avatars x 2 frames: the cache never holds more than its budget.
      const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
      for (let i = 0; i < 600; i++) {
        const r = await registry.createRenderer(`user_${i * 17}`, { fps: 25 });
        for (let f = 0; f < FRAMES; f++) (await r.render(speaking(f))).release?.();
        assert.ok(registry.stats().cache.bytes <= budget, `cache holds ${registry.stats().cache.bytes} bytes, budget ${budget}`);
      }
      const stats = registry.stats();
      assert.ok(stats.cache.evictions > 0, 'the budget forced evictions');
      assert.ok(stats.loaded >= 600);
      const grown = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - heapBefore;
      t.diagnostic(`after 600 avatars: cache ${stats.cache.bytes} of ${budget} bytes, ${stats.cache.evictions} evictions, memory grew ${(grown / 1e6).toFixed(1)} MB`);
      assert.ok(grown < budget + 64 * 1024 * 1024, `memory grew ${(grown / 1e6).toFixed(1)} MB`);
      // Idle avatars are unloaded, and their frames leave the cache.
      assert.ok(registry.unloadIdle(0) >= 600);
      assert.equal(registry.stats().loaded, 0);
      assert.equal(registry.stats().cache.bytes, 0);
    } finally {
      registry.close();
      await rm(root, { recursive: true, force: true });
    }
  });

  it('reloads a changed avatar, finds new ones, lists broken ones with the reason, imports the seed layout', async () => {
    const root = join(dir, 'some');
    await writeAvatar(root, 'alice', jpeg);
    await mkdir(join(root, 'broken_one'), { recursive: true });
    await writeFile(join(root, 'broken_one', 'avatar.json'), '{ not json');
    // The layout of earlier systems: frames/ + crop_rects.json (+ checkpoint/*.onnx).
    await mkdir(join(root, 'sanders', 'frames'), { recursive: true });
    await mkdir(join(root, 'sanders', 'checkpoint'), { recursive: true });
    for (let i = 0; i < 3; i++) await writeFile(join(root, 'sanders', 'frames', `frame_${String(i).padStart(4, '0')}.png`), await sharp(jpeg).png().toBuffer());
    await writeFile(join(root, 'sanders', 'crop_rects.json'), JSON.stringify([[8, 8, 56, 60], [8, 8, 56, 60], [8, 9, 56, 61]]));
    await writeFile(join(root, 'sanders', 'checkpoint', 'model_best.onnx'), generateModel('seed320', 'tiny').bytes);
    const registry = await AvatarRegistry.open({ dirs: [root], rescanMs: 0, changeCheckMs: 0 });
    try {
      const broken = registry.get('broken_one');
      assert.equal(broken?.status, 'broken');
      assert.match(broken!.reason!, /not valid JSON/);
      await assert.rejects(registry.createRenderer('broken_one', { fps: 25 }), /broken_one" is broken/);
      const sanders = registry.get('sanders');
      assert.equal(sanders?.status, 'ready', sanders?.reason);
      const seedRenderer = await registry.createRenderer('sanders', { fps: 25 });
      assert.equal(seedRenderer.name, 'onnx', 'the checkpoint model renders the seed layout');
      assert.equal((await seedRenderer.render(speaking(2))).height, SIDE);

      const before = await registry.createRenderer('alice', { fps: 25 });
      const y0 = (await before.render(speaking(0))).data[0];
      // Change alice's frames and manifest on disk: the next use sees the new picture.
      const blue = await sharp({ create: { width: SIDE, height: SIDE, channels: 3, background: '#2040c0' } }).jpeg().toBuffer();
      await writeAvatar(root, 'alice', blue);
      const later = new Date(Date.now() + 5000);
      await utimes(join(root, 'alice', 'avatar.json'), later, later);
      const after = await registry.createRenderer('alice', { fps: 25 });
      const y1 = (await after.render(speaking(0))).data[0];
      assert.notEqual(y0, y1, 'the changed avatar was reloaded');
      await writeAvatar(root, 'bob', jpeg);
      assert.equal(registry.get('bob'), undefined);
      await registry.refresh();
      assert.equal(registry.get('bob')?.status, 'ready');
    } finally {
      registry.close();
    }
  });
});

describe('AvatarRegistry: in-place changes and timings', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let orange: Buffer;
  let blue: Buffer;

  before(async () => {
    ({ dir, cleanup } = await tempDir('avatar-registry-timing-'));
    orange = await sharp({ create: { width: SIDE, height: SIDE, channels: 3, background: '#c08060' } }).jpeg().toBuffer();
    blue = await sharp({ create: { width: SIDE, height: SIDE, channels: 3, background: '#2040c0' } }).jpeg().toBuffer();
  });
  after(() => cleanup());

  /** Overwrites every frame file in place: same names, same folder, so the folder's mtime and size stay. */
  async function overwriteFrames(root: string, id: string, jpeg: Buffer): Promise<void> {
    for (let i = 0; i < FRAMES; i++) await writeFile(join(root, id, 'frames', `frame_${String(i).padStart(4, '0')}.jpg`), jpeg);
  }
  const luma = async (registry: AvatarRegistry, id: string) => (await (await registry.createRenderer(id, { fps: 25 })).render(speaking(0))).data[0];

  it('sees a frame overwritten in place and a new avatar with its real timers, no manual refresh', async () => {
    const root = join(dir, 'timers');
    await writeAvatar(root, 'carol', orange);
    // Wall time is the point here: the registry's own rescan timer and change-check interval.
    const registry = await AvatarRegistry.open({ dirs: [root], rescanMs: 100, changeCheckMs: 100 });
    try {
      const y0 = await luma(registry, 'carol');
      await overwriteFrames(root, 'carol', blue);
      await writeAvatar(root, 'dave', orange);
      let y1 = y0;
      for (let i = 0; i < 100 && (y1 === y0 || !registry.get('dave')); i++) {
        await new Promise((r) => setTimeout(r, 50));
        y1 = await luma(registry, 'carol');
      }
      assert.notEqual(y1, y0, 'the frames overwritten in place were reloaded');
      assert.equal(registry.get('dave')?.status, 'ready', 'the rescan timer found the new avatar');
    } finally {
      registry.close();
    }
  });

  it('checks for changes at most every changeCheckMs and unloads after idleUnloadMs, on an injected clock', async () => {
    const root = join(dir, 'clock');
    await writeAvatar(root, 'erin', orange);
    const clock = new ManualClock(1_000_000);
    const registry = await AvatarRegistry.open({ dirs: [root], rescanMs: 0, changeCheckMs: 1000, idleUnloadMs: 60_000, clock });
    try {
      const y0 = await luma(registry, 'erin');
      await overwriteFrames(root, 'erin', blue);
      await clock.advance(999);
      assert.equal(await luma(registry, 'erin'), y0, 'no check within changeCheckMs of the last one');
      await clock.advance(1);
      const y1 = await luma(registry, 'erin');
      assert.notEqual(y1, y0, 'the check after changeCheckMs reloads the changed frames');
      assert.equal(registry.stats().loaded, 1);
      await clock.advance(59_999);
      assert.equal(registry.unloadIdle(60_000), 0, 'used 59.999 s ago: kept');
      await clock.advance(1);
      assert.equal(registry.unloadIdle(60_000), 1, 'idle for 60 s: unloaded');
      assert.equal(registry.stats().loaded, 0);
      assert.equal(registry.stats().cache.bytes, 0, 'its frames left the cache');
    } finally {
      registry.close();
    }
  });
});

describe('FrameCache', () => {
  it('LRU evicts the least recently used, LFU the least used', () => {
    const lru = new FrameCache(300, 'lru');
    const frame = () => new Uint8Array(100);
    lru.set('a', 0, frame());
    lru.set('a', 1, frame());
    lru.set('a', 2, frame());
    lru.get('a', 0);
    lru.set('b', 0, frame());
    assert.ok(lru.get('a', 0), 'recently used stays');
    assert.equal(lru.get('a', 1), undefined, 'least recently used left');
    assert.ok(lru.stats().bytes <= 300);

    const lfu = new FrameCache(300, 'lfu');
    lfu.set('a', 0, frame());
    lfu.set('a', 1, frame());
    lfu.set('a', 2, frame());
    for (let i = 0; i < 3; i++) lfu.get('a', 0);
    lfu.get('a', 2);
    lfu.set('b', 0, frame());
    assert.equal(lfu.get('a', 1), undefined, 'least used left');
    assert.ok(lfu.get('a', 0) && lfu.get('a', 2) && lfu.get('b', 0));
    lfu.dropGroup('a');
    assert.equal(lfu.stats().bytes, 100);
    assert.throws(() => new FrameCache(0), /positive/);
  });
});
