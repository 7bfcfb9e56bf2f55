import assert from 'node:assert/strict';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeMediaMessage, encodeMediaHeader, MEDIA_KIND } from '../src/client/protocol.js';
import { i420ToRgb, SharpJpegEncoder } from '../src/compose/jpeg.js';
import { hexColor, i420FrameBytes, rgbToYuv } from '../src/core/frame.js';
import { loadServerConfig, validateConfig } from '../src/server/config.js';
import { InProcessJobQueue } from '../src/queue/in-process-queue.js';
import { sweepFiles } from '../src/server/retention.js';
import { ServerMetrics } from '../src/server/metrics.js';
import { FramePacer } from '../src/pipeline/realtime/pacer.js';
import { AvatarStage } from '../src/pipeline/realtime/avatar-stage.js';
import { trimLeadingSilence } from '../src/pipeline/realtime/utterance.js';
import { ParametricRenderer } from '../src/render/parametric/parametric-renderer.js';
import { MemoryRateLimiter } from '../src/server/rate-limit.js';
import { UrlSigner } from '../src/server/signed-url.js';
import { sniffMedia } from '../src/server/upload-check.js';
import { ManualClock } from './helpers/manual-clock.js';
import { tempDir } from './helpers/media.js';

describe('frame pacer', () => {
  it('keeps an absolute clock: slow ticks skip slots instead of drifting (exact, on a manual clock)', async () => {
    const clock = new ManualClock(5000);
    const seen: { index: number; dueAt: number; at: number }[] = [];
    const pacer = new FramePacer(100, async (index, dueAt) => {
      seen.push({ index, dueAt, at: clock.now() });
      // Every 10th tick takes 35 ms: three and a half slots.
      if (index % 10 === 5) await new Promise<void>((r) => clock.setTimer(r, 35));
    }, 0, clock);
    pacer.start();
    await clock.advance(1000);
    pacer.stop();
    // Slot n is due at start + 10n. The slow tick 5 ends at 85 ms: slots 6 and 7 are skipped
    // and slot 8 runs at once; every tenth slot the same, with no cumulative lag.
    const expected = Array.from({ length: 101 }, (_, i) => i).filter((i) => i % 10 !== 6 && i % 10 !== 7);
    assert.deepEqual(seen.map((s) => s.index), expected);
    for (const s of seen) assert.equal(s.dueAt, 5000 + s.index * 10, `slot ${s.index} due time`);
    for (const s of seen) assert.equal(s.at, 5000 + (s.index % 10 === 8 ? s.index * 10 + 5 : s.index * 10), `slot ${s.index} ran at`);
    assert.deepEqual(pacer.stats, { ticks: expected.length, late: 0, skipped: 20 });
    assert.equal(clock.pending, 0, 'stop cancels the next timer');
  });

  it('counts a tick that starts over half a frame late, and starts ticks leadMs early', async () => {
    const clock = new ManualClock(0);
    const at: number[] = [];
    const pacer = new FramePacer(100, async (index) => {
      at.push(clock.now());
      if (index === 3) await new Promise<void>((r) => clock.setTimer(r, 16)); // slot 4 starts at 46: 6 ms late
    }, 2, clock);
    pacer.start();
    await clock.advance(60);
    pacer.stop();
    assert.deepEqual(at, [0, 8, 18, 28, 44, 48, 58], 'slots are started 2 ms before they are due');
    assert.deepEqual(pacer.stats, { ticks: 7, late: 1, skipped: 0 });
  });

  it('starts on a grid when asked: pacers started at different times tick at the same instants', async () => {
    const clock = new ManualClock(1013);
    const ticks: string[] = [];
    const first = new FramePacer(25, (index, dueAt) => void ticks.push(`a${index}@${clock.now()} due ${dueAt}`), 20, clock);
    const second = new FramePacer(25, (index, dueAt) => void ticks.push(`b${index}@${clock.now()} due ${dueAt}`), 20, clock);
    first.start(20);
    await clock.advance(14); // 1027
    second.start(20);
    await clock.advance(80);
    first.stop();
    second.stop();
    assert.equal(first.origin, 1020, 'the next multiple of 20 ms, not now (1013)');
    assert.equal(second.origin, 1040);
    // Slot 0 of the first is due at 1020 and started 20 ms early (at once, 1013); then every
    // 40 ms. The second's slots fall on the same 20 ms grid: half a frame after the first's.
    assert.deepEqual(ticks, ['a0@1013 due 1020', 'b0@1027 due 1040', 'a1@1040 due 1060', 'b1@1060 due 1080', 'a2@1080 due 1100', 'b2@1100 due 1120']);
    assert.deepEqual([first.stats, second.stats], [{ ticks: 3, late: 0, skipped: 0 }, { ticks: 3, late: 0, skipped: 0 }], 'a grid origin in the future skips nothing');
  });
});

describe('live speech', () => {
  it('starts with the voice: leading silence is cut (20 ms kept) and the timings shift with it', () => {
    const pcm = new Int16Array(22050);
    for (let i = 4410; i < 22050; i++) pcm[i] = i % 2 ? 8000 : -8000; // sound from 200 ms
    const trimmed = trimLeadingSilence({ pcm, sampleRate: 22050, phonemes: [{ ipa: 'h', startMs: 190, endMs: 260 }, { ipa: 'a', startMs: 260, endMs: 400 }] });
    assert.equal(trimmed.pcm.length, 22050 - 4410 + 441);
    assert.deepEqual(trimmed.phonemes!.map((p) => [p.ipa, Math.round(p.startMs), Math.round(p.endMs)]), [['h', 10, 80], ['a', 80, 220]]);
    const silent = { pcm: new Int16Array(100), sampleRate: 22050 };
    assert.equal(trimLeadingSilence(silent), silent, 'all-silent speech is left alone');
  });
});

describe('metrics', () => {
  it('keeps its own prom-client registry: histograms fed in ms are exposed in seconds, gauges read at scrape time', async () => {
    const m = new ServerMetrics(() => 3, async () => ({ waiting: 2, active: 1, failed: 4 }));
    m.totalGeneration.observe(5, { encoder: 'libx264' });
    m.totalGeneration.observe(1500, { encoder: 'libx264' });
    m.countFrames(10, { kind: 'mp4' });
    m.errors.inc({ kind: 'invalid_input' });
    const all = await m.render();
    assert.match(all, /# TYPE avatar_generation_duration_seconds histogram/);
    assert.match(all, /^avatar_generation_duration_seconds_bucket\{le="0\.1",encoder="libx264"\} 1$/m);
    assert.match(all, /^avatar_generation_duration_seconds_bucket\{le="2\.5",encoder="libx264"\} 2$/m);
    assert.match(all, /^avatar_generation_duration_seconds_sum\{encoder="libx264"\} 1\.505$/m);
    assert.match(all, /^avatar_active_sessions 3$/m);
    assert.match(all, /^avatar_queue_depth 2$/m);
    assert.match(all, /^avatar_queue_waiting 2$/m);
    assert.match(all, /^avatar_queue_active 1$/m);
    assert.match(all, /^avatar_queue_failed 4$/m);
    assert.match(all, /^avatar_frames_generated_total\{kind="mp4"\} 10$/m);
    assert.match(all, /^nodejs_eventloop_lag_seconds /m);
    assert.equal(await m.errors.get({ kind: 'invalid_input' }), 1);
    assert.equal(await m.totalGeneration.count({ encoder: 'libx264' }), 2);
    // A second server's metrics do not collide with the first's.
    const other = new ServerMetrics(() => 0, async () => ({ waiting: 0, active: 0, failed: 0 }));
    assert.match(await other.render(), /^avatar_active_sessions 0$/m);
  });
});

describe('limits and signatures', () => {
  it('rate limiter allows N per minute per key, then says when to retry', () => {
    let now = 1_000_000;
    const limiter = new MemoryRateLimiter(2, () => now);
    limiter.takeNow('a');
    limiter.takeNow('a');
    limiter.takeNow('b');
    assert.throws(() => limiter.takeNow('a'), (e: Error & { status?: number }) => e.status === 429 && /retry in \d+ s/.test(e.message));
    now += 60_001;
    limiter.takeNow('a');
  });

  it('signed URLs verify, and fail when changed or expired', () => {
    const signer = new UrlSigner('secret');
    const url = new URL(signer.sign('acme', 'f.mp4', 5000), 'http://x');
    const [expires, sig] = [url.searchParams.get('expires')!, url.searchParams.get('sig')!];
    assert.equal(signer.verify('acme', 'f.mp4', expires, sig, 4000), 'ok');
    assert.equal(signer.verify('acme', 'f.mp4', expires, sig, 6000), 'expired');
    assert.equal(signer.verify('other', 'f.mp4', expires, sig, 4000), 'bad');
    assert.equal(signer.verify('acme', 'f.mp4', '9999', sig, 4000), 'bad');
    assert.equal(new UrlSigner('other').verify('acme', 'f.mp4', expires, sig, 4000), 'bad');
  });

  it('recognizes media by content', () => {
    const bytes = (...parts: (string | number[])[]) => Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p)));
    assert.deepEqual(sniffMedia(bytes([0xff, 0xd8, 0xff, 0xe0])), { kind: 'image', format: 'jpeg' });
    assert.deepEqual(sniffMedia(bytes([0x89], 'PNG')), { kind: 'image', format: 'png' });
    assert.deepEqual(sniffMedia(bytes([0, 0, 0, 24], 'ftypisom')), { kind: 'video', format: 'mp4' });
    assert.deepEqual(sniffMedia(bytes('RIFF', [0, 0, 0, 0], 'WAVE')), { kind: 'audio', format: 'wav' });
    assert.equal(sniffMedia(bytes('hello world')), undefined);
  });
});

describe('job queue and retention', () => {
  it('runs at most `concurrency` jobs at once, in order, each visible only to its tenant', async () => {
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const queue = new InProcessJobQueue({
      test: async (job, progress) => {
        const n = job.payload.n as number;
        running++;
        peak = Math.max(peak, running);
        order.push(n);
        progress(0.5);
        await new Promise((r) => setTimeout(r, 30));
        running--;
        if (n === 3) throw new Error('boom');
        return { n };
      },
    }, 2, 60_000);
    const ids = await Promise.all([0, 1, 2, 3, 4].map((n) => queue.submit({ tenant: n % 2 ? 'a' : 'b', kind: 'test', payload: { n } })));
    assert.deepEqual(await queue.counts(), { waiting: 3, active: 2, failed: 0 });
    const done = await queue.run({ tenant: 'a', kind: 'test', payload: { n: 5 } });
    assert.equal(done.state, 'succeeded');
    assert.deepEqual(done.result, { n: 5 });
    assert.equal(peak, 2);
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
    assert.equal((await queue.get('b', ids[0]!))!.state, 'succeeded');
    assert.equal(await queue.get('a', ids[0]!), undefined, 'another tenant\'s job does not exist');
    assert.equal((await queue.get('a', ids[3]!))!.state, 'failed');
    assert.equal((await queue.get('a', ids[3]!))!.error!.error, 'internal');
  });

  it('forgets finished jobs and deletes output files older than the retention', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await mkdir(join(dir, 'acme'));
      await writeFile(join(dir, 'acme', 'old.mp4'), 'x');
      await writeFile(join(dir, 'acme', 'new.mp4'), 'x');
      const eightDaysAgo = new Date(Date.now() - 8 * 86400_000);
      await utimes(join(dir, 'acme', 'old.mp4'), eightDaysAgo, eightDaysAgo);
      assert.equal(await sweepFiles(dir, 7 * 86400_000), 1);
      assert.deepEqual(await readdir(join(dir, 'acme')), ['new.mp4']);
      const queue = new InProcessJobQueue({ test: async () => ({}) }, 1, 1000);
      const id = await queue.submit({ tenant: 't', kind: 'test', payload: {} });
      await queue.run({ tenant: 't', kind: 'test', payload: {} });
      queue.forgetExpired(Date.now() + 500);
      assert.ok(await queue.get('t', id));
      queue.forgetExpired(Date.now() + 2000);
      assert.equal(await queue.get('t', id), undefined);
    } finally {
      await cleanup();
    }
  });
});

describe('configuration', () => {
  it('merges file < environment < flags, and reads API keys from the environment', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const file = join(dir, 'avatar.yaml');
      await writeFile(file, 'host: 0.0.0.0\nport: 9000\njobConcurrency: 3\nlimits:\n  generationsPerMinute: 5\n  maxTextChars: 100\n');
      const config = await loadServerConfig({ file, env: { AVATAR_PORT: '9100', AVATAR_API_KEYS: 'k-0123456789abcdef:acme', AVATAR_RATE_LIMIT: '7' }, flags: { port: '9200' } });
      assert.equal(config.host, '0.0.0.0');
      assert.equal(config.port, 9200);
      assert.equal(config.jobConcurrency, 3);
      assert.equal(config.limits.generationsPerMinute, 7);
      assert.equal(config.limits.maxTextChars, 100);
      assert.deepEqual(config.apiKeys, [{ key: 'k-0123456789abcdef', tenant: 'acme' }]);
      assert.equal(config.urlExpiryMs, 24 * 3600 * 1000);
      assert.equal(config.retentionMs, 7 * 24 * 3600 * 1000);
    } finally {
      await cleanup();
    }
  });

  it('starts encoders from the spawner process unless told otherwise, and refuses an unknown choice', async () => {
    assert.equal((await loadServerConfig({ env: {} })).encoderSpawn, 'spawner');
    assert.equal((await loadServerConfig({ env: { AVATAR_ENCODER_SPAWN: 'direct' } })).encoderSpawn, 'direct');
    await assert.rejects(loadServerConfig({ env: { AVATAR_ENCODER_SPAWN: 'fork' } }), /encoderSpawn must be spawner or direct, got "fork"/);
  });

  it('chooses which sessions painter threads draw for, and refuses an unknown choice', () => {
    const { paintThreads, paintThreadsFor } = validateConfig({}).realtime;
    const cores = availableParallelism();
    assert.deepEqual([paintThreads, paintThreadsFor], cores >= 4 ? [Math.min(4, cores - 1), 'all'] : [cores >= 2 ? 1 : 0, 'webrtc']);
    assert.equal(validateConfig({ realtime: { paintThreadsFor: 'all' } }).realtime.paintThreadsFor, 'all');
    assert.throws(() => validateConfig({ realtime: { paintThreadsFor: 'jpeg' } }), /realtime\.paintThreadsFor must be all or webrtc, got "jpeg"/);
  });
});

describe('JPEG frames and the media protocol', () => {
  it('converts I420 to RGB with the frames\' BT.709 colours', () => {
    const width = 4;
    const height = 2;
    const data = new Uint8Array(i420FrameBytes(width, height));
    const orange = rgbToYuv(hexColor('#e07020'));
    data.fill(Math.round(orange.y), 0, 8);
    data.fill(Math.round(orange.u), 8, 10);
    data.fill(Math.round(orange.v), 10, 12);
    const rgb = new Uint8ClampedArray(width * height * 3);
    i420ToRgb({ width, height, data, ptsMs: 0 }, rgb);
    for (let i = 0; i < rgb.length; i += 3) {
      assert.ok(Math.abs(rgb[i]! - 0xe0) <= 3 && Math.abs(rgb[i + 1]! - 0x70) <= 3 && Math.abs(rgb[i + 2]! - 0x20) <= 3, `${rgb.subarray(i, i + 3)}`);
    }
  });

  it('encodes a frame to a JPEG of the same size and colour', async () => {
    const width = 64;
    const height = 32;
    const data = new Uint8Array(i420FrameBytes(width, height));
    const c = rgbToYuv({ r: 30, g: 160, b: 90 });
    data.fill(Math.round(c.y), 0, width * height);
    data.fill(Math.round(c.u), width * height, width * height * 1.25);
    data.fill(Math.round(c.v), width * height * 1.25);
    const jpeg = await new SharpJpegEncoder(90).encode({ width, height, data, ptsMs: 0 });
    const { info, data: pixels } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [width, height]);
    assert.ok(Math.abs(pixels[0]! - 30) < 6 && Math.abs(pixels[1]! - 160) < 6 && Math.abs(pixels[2]! - 90) < 6, `${pixels.subarray(0, 3)}`);
  });

  it('a speaking frame sent as idle picture + mouth patch looks like the whole frame', async () => {
    const jpeg = new SharpJpegEncoder(90);
    const stage = await AvatarStage.local('default', new ParametricRenderer(256, 256), 25, jpeg);
    const region = stage.patchRegion!;
    assert.ok(region, 'the drawn avatar has a speech region');
    assert.ok(region[2] * region[3] < 0.3 * 256 * 256, `region ${region} is a small part of the frame`);
    const mouth = { jawOpen: 0.9, lipWidth: 0.6, rounding: 0.1, closure: 0, teeth: 0.6, tongue: 0.3 };
    for (const position of [3, 77, 190]) {
      const sent = await stage.speechFrame(position, mouth);
      const composite = await sharp(sent.jpeg).composite([{ input: sent.patch!.jpeg, left: sent.patch!.x, top: sent.patch!.y }]).removeAlpha().raw().toBuffer();
      const frame = new ParametricRenderer(256, 256).render({ index: position, ptsMs: position * 40, mouth, speaking: true });
      const whole = await sharp(await jpeg.encode(frame)).raw().toBuffer();
      let diff = 0;
      for (let i = 0; i < whole.length; i++) diff += Math.abs(whole[i]! - composite[i]!);
      assert.ok(diff / whole.length < 2.5, `mean difference ${diff / whole.length} at position ${position}`);
    }
  });

  it('media messages round-trip through the 16-byte header', () => {
    const pcm = Int16Array.from([1, -2, 300]);
    const header = encodeMediaHeader(MEDIA_KIND.audio, 0, 22050, 1234.5);
    const message = new Uint8Array(header.length + pcm.byteLength);
    message.set(header);
    message.set(new Uint8Array(pcm.buffer), header.length);
    const decoded = decodeMediaMessage(message);
    assert.equal(decoded.kind, 'audio');
    if (decoded.kind === 'audio') {
      assert.equal(decoded.sampleRate, 22050);
      assert.equal(decoded.ptsMs, 1234.5);
      assert.deepEqual([...decoded.pcm], [1, -2, 300]);
    }
    assert.throws(() => decodeMediaMessage(new Uint8Array(4)), /shorter than its header/);
  });
});

describe('realtime session size', () => {
  it('defaults to the avatar\'s own shape, its longer side at the configured size, as the registry derives it', async () => {
    const { defaultSize } = await import('../src/server/routes/realtime.js');
    assert.deepEqual(defaultSize({ width: 800, height: 532 }, 512), { width: 512, height: 340 });
    assert.deepEqual(defaultSize({ width: 532, height: 800 }, 512), { width: 340, height: 512 });
    assert.deepEqual(defaultSize({ width: 500, height: 376 }, 512), { width: 500, height: 376 }, 'never larger than the avatar');
    assert.deepEqual(defaultSize({ width: 512, height: 512 }, 512), { width: 512, height: 512 });
    assert.deepEqual(defaultSize(undefined, 512), { width: 512, height: 512 }, 'unknown avatars: a square (the lookup answers 404)');
  });
});
