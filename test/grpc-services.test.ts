import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import sharp from 'sharp';
import { startCompositingService, type CompositingService } from '../src/grpc/compositing-service.js';
import { startInferenceService, type InferenceService } from '../src/grpc/inference-service.js';
import type { CompositeBatchResponse, CompositingHealth, InferBatchResponse, InferenceHealth } from '../src/grpc/proto-loading.js';
import { generateModel } from '../src/render/onnx/model-init.js';
import { compositingConfig, inferenceConfig, seedRequest, TestClient } from './helpers/grpc.js';
import { ffprobe, tempDir } from './helpers/media.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { AvatarRegistry } from '../src/avatars/registry.js';
import { writeSeedLayoutAvatar } from './helpers/onnx-avatar.js';
import { float32View } from '../src/grpc/tensor-bytes.js';
import { toFloat16 } from '../src/render/onnx/model-session.js';
import { freePort } from './helpers/service-process.js';

/** Mean red difference between anna's background frame `index` (256 x 256) and a composited JPEG over a box (the mouth by default). */
async function mouthChange(dir: string, jpeg: Buffer, index: number, [x0, y0, x1, y1] = [110, 165, 146, 185]): Promise<number> {
  const background = await sharp(join(dir, 'anna', 'frames', `frame_${String(index).padStart(4, '0')}.jpg`)).raw().toBuffer();
  const composited = await sharp(jpeg).raw().toBuffer();
  let sum = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += Math.abs(background[(y * 256 + x) * 3]! - composited[(y * 256 + x) * 3]!);
  return sum / ((x1 - x0) * (y1 - y0));
}

/**
 * Seed 002's two services in one process over real sockets: a tiny seed320 model with
 * random weights (inference) and its avatar folder's frames and crop rects (compositing).
 */
describe('gRPC inference and compositing services', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => undefined;
  let inference: InferenceService;
  let compositing: CompositingService;
  let client: TestClient;
  let direct: TestClient;

  before(async () => {
    ({ dir, cleanup } = await tempDir('avatar-grpc-'));
    const model = generateModel('seed320', 'tiny').bytes;
    await writeSeedLayoutAvatar(join(dir, 'anna'), { size: 256, frames: 6, model });
    await writeSeedLayoutAvatar(join(dir, 'bruce'), { size: 256, frames: 4, model });
    inference = await startInferenceService(inferenceConfig({
      server: { port: '127.0.0.1:0', worker_count_per_gpu: 1, queue_size: 2, max_message_size_mb: 40 },
      capacity: { max_models_per_gpu: 1, eviction_policy: 'lru' }, models_dir: dir,
    }));
    compositing = await startCompositingService(compositingConfig({
      server: { port: '127.0.0.1:0', max_message_size_mb: 10 },
      inference_server: { url: `127.0.0.1:${inference.port}`, timeout_seconds: 20, max_retries: 1 },
      output: { format: 'jpeg', jpeg_quality: 75 }, models_dir: dir,
    }));
    client = new TestClient('compositing', `127.0.0.1:${compositing.port}`);
    direct = new TestClient('inference', `127.0.0.1:${inference.port}`);
  });

  after(async () => {
    client?.close();
    direct?.close();
    await compositing?.close();
    await inference?.close();
    await cleanup();
  });

  it('InferBatchComposite returns one JPEG per frame, the size of the background, with the face changed', async () => {
    const response = await client.call<CompositeBatchResponse>('InferBatchComposite', seedRequest('anna', 3, 4));
    assert.equal(response.success, true);
    assert.equal(response.composited_frames.length, 3);
    assert.equal(response.gpu_id, -1, 'no GPU here: the CPU ran it');
    assert.ok(response.inference_time_ms > 0 && response.composite_time_ms > 0 && response.total_time_ms >= response.inference_time_ms);
    for (const jpeg of response.composited_frames) {
      const meta = await sharp(jpeg).metadata();
      assert.equal(meta.format, 'jpeg');
      assert.equal(meta.width, 256);
    }
    // Frame 4 of the background, with the model's face pasted: differs in the mouth region only.
    const mouth = await mouthChange(dir, response.composited_frames[0]!, 4);
    assert.ok(mouth > 8, `the mouth region changed (${mouth.toFixed(1)})`);
    const top = await mouthChange(dir, response.composited_frames[0]!, 4, [0, 0, 256, 40]);
    assert.ok(top < 3, `the top of the frame did not (${top.toFixed(1)})`);
  });

  it('the streaming addition sends every frame of the batch', async () => {
    const frames = await client.stream(seedRequest('anna', 2, 10));
    assert.deepEqual(frames.map((f) => f.frame_idx).sort((a, b) => a - b), [10, 11]);
    assert.ok(frames.every((f) => f.data[0] === 0xff && f.data[1] === 0xd8), 'JPEG data');
  });

  it('both Health RPCs report what is loaded', async () => {
    const h = await client.call<CompositingHealth>('Health', {});
    assert.equal(h.healthy, true);
    assert.equal(h.inference_server_healthy, true);
    assert.equal(h.inference_server_url, `127.0.0.1:${inference.port}`);
    assert.equal(h.max_models, 11000);
    const ih = await direct.call<InferenceHealth>('Health', {});
    assert.equal(ih.gpu_count, 0);
    assert.equal(ih.registered_models, 2);
    assert.ok(ih.loaded_models >= 1);
  });

  it('wrong tensor sizes, unknown models and bad batch sizes get clear status codes', async () => {
    const short = { ...seedRequest('anna', 2), batch_size: 3 };
    const e1 = await client.error('InferBatchComposite', short);
    assert.equal(e1.code, grpc.status.INVALID_ARGUMENT);
    assert.match(e1.details, /visual_frames has 4915200 bytes; batch_size 3 of \[6, 320, 320\] float32/);
    const badAudio = { ...seedRequest('anna', 1), audio_features: Buffer.alloc(100) };
    const e2 = await client.error('InferBatchComposite', badAudio);
    assert.equal(e2.code, grpc.status.INVALID_ARGUMENT);
    assert.match(e2.details, /audio_features has 100 bytes/);
    const e3 = await client.error('InferBatchComposite', seedRequest('nobody', 1));
    assert.equal(e3.code, grpc.status.NOT_FOUND);
    assert.match(e3.details, /model "nobody"/);
    const e4 = await direct.error('InferBatch', { ...seedRequest('nobody', 1) });
    assert.equal(e4.code, grpc.status.NOT_FOUND);
    const e5 = await client.error('InferBatchComposite', { ...seedRequest('anna', 1), batch_size: 0 });
    assert.equal(e5.code, grpc.status.INVALID_ARGUMENT);
  });

  it('a message over max_message_size_mb is refused with RESOURCE_EXHAUSTED, and the next call works', async () => {
    const e = await client.error('InferBatchComposite', seedRequest('anna', 5)); // 12.3 MB > 10 MB
    assert.equal(e.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(e.details, /larger than max/i);
    const ok = await client.call<CompositeBatchResponse>('InferBatchComposite', seedRequest('anna', 1));
    assert.equal(ok.composited_frames.length, 1);
  });

  it('max_models_per_gpu 1: a second model evicts the first (LRU), and both keep answering', async () => {
    await direct.call<InferBatchResponse>('InferBatch', seedRequest('anna', 1));
    assert.deepEqual(inference.registry.loadedIds(), ['anna']);
    const before = inference.registry.evictions;
    const r = await client.call<CompositeBatchResponse>('InferBatchComposite', seedRequest('bruce', 2, 3));
    assert.equal(r.composited_frames.length, 2);
    assert.deepEqual(inference.registry.loadedIds(), ['bruce']);
    assert.equal(inference.registry.evictions, before + 1);
    await direct.call<InferBatchResponse>('InferBatch', seedRequest('anna', 1));
    assert.deepEqual(inference.registry.loadedIds(), ['anna']);
  });

  it('a full queue answers RESOURCE_EXHAUSTED while the queued requests complete', async () => {
    // One worker, queue_size 2: of six requests at once, one runs, two wait, the rest are refused.
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => direct.call<InferBatchResponse>('InferBatch', seedRequest('anna', 2))));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.ok(ok.length >= 3, `the running and queued requests completed (${ok.length})`);
    assert.ok(refused.length >= 1, 'some were refused');
    for (const r of refused) {
      assert.equal((r.reason as grpc.ServiceError).code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match((r.reason as grpc.ServiceError).details, /queue is full/);
    }
  });

  it('UINT8 or FLOAT16 visual tensors and UINT8 output give the float32 results in fewer bytes', async () => {
    const n = 2;
    const bytes = new Uint8Array(n * 6 * 320 * 320);
    let x = 7;
    for (let i = 0; i < bytes.length; i++) bytes[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    const floats = Float32Array.from(bytes, (v) => v / 255);
    const base = { model_id: 'anna', batch_size: n, audio_features: seedRequest('anna', 1).audio_features };
    const f32 = await direct.call<InferBatchResponse>('InferBatch', { ...base, visual_frames: Buffer.from(floats.buffer) });
    assert.equal(f32.output_type, 'FLOAT32');
    const blank = await direct.call<InferBatchResponse>('InferBatch', { ...base, visual_frames: Buffer.alloc(floats.byteLength) });
    assert.notDeepEqual(blank.outputs, f32.outputs, 'the output depends on the visual tensor');
    const u8 = await direct.call<InferBatchResponse>('InferBatch', { ...base, visual_frames: Buffer.from(bytes), visual_type: 'UINT8', output_type: 'UINT8' });
    assert.equal(u8.output_type, 'UINT8');
    assert.equal(u8.outputs.length, n * 3 * 320 * 320, 'one byte per value');
    const expected = float32View(f32.outputs);
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(u8.outputs[i]! - Math.round(Math.min(1, Math.max(0, expected[i]!)) * 255)));
    assert.equal(worst, 0, 'UINT8 in and out: the float32 output, rounded to bytes');
    const lower = await direct.call<InferBatchResponse>('InferBatch', { ...base, visual_frames: Buffer.from(bytes), visual_type: 'UINT8', output_type: 'UINT8', output_first_row: 200 });
    assert.equal(lower.output_first_row, 200);
    assert.equal(lower.outputs.length, n * 3 * 120 * 320, 'rows 200..319 of each plane');
    for (let k = 0; k < n * 3; k++) assert.deepEqual(lower.outputs.subarray(k * 120 * 320, (k + 1) * 120 * 320), u8.outputs.subarray(k * 102400 + 200 * 320, (k + 1) * 102400), `plane ${k}`);
    const f16 = await direct.call<InferBatchResponse>('InferBatch', { ...base, visual_frames: Buffer.from(toFloat16(floats).buffer), visual_type: 'FLOAT16' });
    const half = float32View(f16.outputs);
    let drift = 0;
    for (let i = 0; i < expected.length; i++) drift = Math.max(drift, Math.abs(half[i]! - expected[i]!));
    assert.ok(drift < 0.01, `FLOAT16 in: the float32 output within half precision (${drift})`);
  });

  it('visual_keys: keys alone that are not held get FAILED_PRECONDITION; sent again with frames, later keys alone hit', async () => {
    const request = seedRequest('anna', 2, 0, 5);
    const keys = ['clip-7/frame-0', 'clip-7/frame-1'];
    const miss = await direct.error('InferBatch', { ...request, visual_frames: Buffer.alloc(0), visual_keys: keys });
    assert.equal(miss.code, grpc.status.FAILED_PRECONDITION);
    assert.match(miss.details, /visual_keys not held by this inference server: 2 of 2 \(first "clip-7\/frame-0"\); send the batch again with visual_frames/);
    assert.equal(miss.trailers['visual-cache-miss'], '2');
    const viaCompositing = await client.error('InferBatchComposite', { ...request, visual_frames: Buffer.alloc(0), visual_keys: keys });
    assert.equal(viaCompositing.code, grpc.status.FAILED_PRECONDITION, 'the compositing service passes the miss on');
    assert.equal(viaCompositing.trailers['visual-cache-miss'], '2');
    const full = await direct.call<InferBatchResponse>('InferBatch', { ...request, visual_keys: keys });
    const { hits, whole } = inference.visualCache.stats;
    const byKey = await direct.call<InferBatchResponse>('InferBatch', { ...request, visual_frames: Buffer.alloc(0), visual_keys: keys });
    assert.equal(inference.visualCache.stats.hits, hits + 2);
    assert.equal(inference.visualCache.stats.whole, whole + 1, 'the same keys in the same order: the kept batch itself');
    assert.deepEqual(byKey.outputs, full.outputs, 'the kept tensors are the ones sent');
    const swapped = await direct.call<InferBatchResponse>('InferBatch', { ...request, visual_frames: Buffer.alloc(0), visual_keys: [...keys].reverse() });
    const frame = full.outputs.length / 2;
    assert.deepEqual(swapped.outputs.subarray(0, frame), full.outputs.subarray(frame), 'each key names its own frame');
    assert.equal(inference.visualCache.stats.whole, whole + 1, 'another order: assembled from the frames');
    const composited = await client.call<CompositeBatchResponse>('InferBatchComposite', { ...request, visual_frames: Buffer.alloc(0), visual_keys: keys });
    assert.equal(composited.composited_frames.length, 2);
  });

  it('without visual_frames the compositing service builds the visual tensor from its backgrounds, sent once per frame', async () => {
    const request = { model_id: 'anna', batch_size: 3, start_frame_idx: 4, audio_features: seedRequest('anna', 1).audio_features };
    const before = inference.visualCache.stats;
    const first = await client.call<CompositeBatchResponse>('InferBatchComposite', request);
    assert.equal(first.composited_frames.length, 3);
    assert.ok(await mouthChange(dir, first.composited_frames[0]!, 4) > 8, 'the mouth region of frame 4 changed');
    const kept = inference.visualCache.stats;
    assert.equal(kept.entries, before.entries + 3, 'frames 4, 5 and 0 kept by key');
    const second = await client.call<CompositeBatchResponse>('InferBatchComposite', request);
    assert.equal(inference.visualCache.stats.hits, kept.hits + 3, 'the second batch went by key alone');
    assert.deepEqual(second.composited_frames, first.composited_frames);
  });

  it('a wrong visual type or size, key list or output type: INVALID_ARGUMENT with the reason', async () => {
    const request = seedRequest('anna', 2);
    const cases: [TestClient, string, object, RegExp][] = [
      [direct, 'InferBatch', { ...request, visual_type: 'UINT8' }, /visual_frames has 4915200 bytes; batch_size 2 of \[6, 320, 320\] uint8 \(contract seed320\) needs 1228800/],
      [client, 'InferBatchComposite', { ...request, visual_type: 'FLOAT16' }, /visual_frames has 4915200 bytes; batch_size 2 of \[6, 320, 320\] float16 \(contract seed320\) needs 2457600/],
      [client, 'InferBatchComposite', { ...request, visual_type: 7 }, /visual_type 7 is not a TensorType \(FLOAT32, UINT8, FLOAT16\)/],
      [direct, 'InferBatch', { ...request, visual_keys: ['a'] }, /visual_keys has 1 keys; batch_size 2 needs one per frame or none/],
      [client, 'InferBatchComposite', { ...request, visual_keys: ['', 'b'] }, /visual_keys: a key is 1 to 256 characters, got 0/],
      [direct, 'InferBatch', { ...request, output_type: 'FLOAT16' }, /output_type FLOAT16 is not offered/],
      [direct, 'InferBatch', { ...request, output_first_row: 320 }, /output_first_row must be 0 to 319 \(contract seed320\), got 320/],
    ];
    for (const [who, method, body, reason] of cases) {
      const e = await who.error(method, body);
      assert.equal(e.code, grpc.status.INVALID_ARGUMENT, `${method}: ${e.details}`);
      assert.match(e.details, reason);
    }
  });
});

describe('several inference servers behind one compositing service', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => undefined;
  const servers: InferenceService[] = [];
  let compositing: CompositingService | undefined;
  let client: TestClient | undefined;

  before(async () => {
    ({ dir, cleanup } = await tempDir('avatar-grpc-lb-'));
    await writeSeedLayoutAvatar(join(dir, 'anna'), { size: 128, frames: 3, model: generateModel('seed320', 'tiny').bytes });
  });

  after(async () => {
    client?.close();
    await compositing?.close();
    for (const s of servers) await s.close();
    await cleanup();
  });

  const inferenceAt = async (port: number) => {
    const s = await startInferenceService(inferenceConfig({ server: { port: `127.0.0.1:${port}` }, models_dir: dir }));
    servers.push(s);
    return s;
  };

  it('round-robin over the servers that answer; a dead one leaves the rotation until its Health answers', async () => {
    const a = await inferenceAt(0);
    const b = await inferenceAt(0);
    const deadPort = await freePort();
    compositing = await startCompositingService(compositingConfig({
      server: { port: '127.0.0.1:0' },
      inference_server: { url: [`127.0.0.1:${a.port}`, `127.0.0.1:${deadPort}`, `127.0.0.1:${b.port}`], timeout_seconds: 20, max_retries: 2, health_interval_ms: 100 },
      models_dir: dir,
    }));
    assert.match(compositing.banner, new RegExp(`127\\.0\\.0\\.1:${deadPort}: not reachable yet`));
    client = new TestClient('compositing', `127.0.0.1:${compositing.port}`);
    for (let i = 0; i < 6; i++) await client.call<CompositeBatchResponse>('InferBatchComposite', seedRequest('anna', 1, i));
    const served = (s: InferenceService) => s.registry.loaded;
    assert.equal(served(a) + served(b), 2, 'both live servers loaded the model: calls went to both');
    const dead = compositing.pool.status().find((s) => s.url.endsWith(`:${deadPort}`))!;
    assert.equal(dead.healthy, false);
    // The dead server comes up: it is back in rotation after its Health answers.
    await inferenceAt(deadPort);
    const end = Date.now() + 10_000;
    while (!compositing.pool.status().every((s) => s.healthy)) {
      assert.ok(Date.now() < end, 'the restarted server came back into rotation');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (let i = 0; i < 3; i++) await client.call<CompositeBatchResponse>('InferBatchComposite', seedRequest('anna', 1, i));
    assert.equal(servers[2]!.registry.loaded, 1, 'the third server took calls');
  });
});

describe('the HTTP server with a remote inference service (AVATAR_INFERENCE_URL)', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => undefined;
  let inference: InferenceService | undefined;
  let registry: AvatarRegistry | undefined;
  let server: TestServer | undefined;
  const saved = process.env.AVATAR_INFERENCE_URL;

  after(async () => {
    if (saved === undefined) delete process.env.AVATAR_INFERENCE_URL;
    else process.env.AVATAR_INFERENCE_URL = saved;
    await server?.close();
    registry?.close();
    await inference?.close();
    await cleanup();
  });

  it('an onnx avatar streams with its model run by the inference service under the avatar id', async () => {
    ({ dir, cleanup } = await tempDir('avatar-grpc-remote-'));
    await writeSeedLayoutAvatar(join(dir, 'neural'), { size: 128, frames: 4, model: generateModel('seed320', 'tiny').bytes });
    inference = await startInferenceService(inferenceConfig({ server: { port: '127.0.0.1:0' }, models_dir: dir }));
    process.env.AVATAR_INFERENCE_URL = `127.0.0.1:${inference.port}`;
    registry = await AvatarRegistry.open({ dirs: [dir], rescanMs: 0 });
    server = await startTestServer({}, { catalog: registry });
    const response = await fetch(`${server.url}/api/v1/generate/stream`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'Hello from afar.', avatar: 'neural', fps: 10 }),
    });
    assert.equal(response.status, 200);
    const body = Buffer.from(await response.arrayBuffer());
    const path = join(dir, 'remote.mp4');
    await writeFile(path, body);
    const video = (await ffprobe(path)).streams.find((s) => s.codec_type === 'video');
    assert.equal(video?.width, 128);
    assert.deepEqual(inference.registry.loadedIds(), ['neural'], 'the inference service ran the avatar\'s model');
  });
});
