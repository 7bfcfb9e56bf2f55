import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { startCompositingService, type CompositingService } from '../src/grpc/compositing-service.js';
import { startInferenceService, type InferenceService } from '../src/grpc/inference-service.js';
import { serviceDefinitions, type CompositeBatchResponse, type InferBatchRequest } from '../src/grpc/proto-loading.js';
import { float32View } from '../src/grpc/tensor-bytes.js';
import { generateModel } from '../src/render/onnx/model-init.js';
import { compositingConfig, inferenceConfig, seedRequest, TestClient, type CallError } from './helpers/grpc.js';
import { tempDir } from './helpers/media.js';
import { writeSeedLayoutAvatar } from './helpers/onnx-avatar.js';

/**
 * Seed 002's float32 visual tensors of pixels (k / 255) go from the compositing service to
 * the inference service as UINT8. The inference service here takes messages of at most
 * 3 MB: a batch of 3 is 7.4 MB as float32 and 1.8 MB as bytes, so a batch gets through
 * only when it was converted.
 */
describe('seed 002 visual tensors forwarded as bytes', () => {
  let cleanup: () => Promise<void> = async () => undefined;
  let inference: InferenceService;
  let compositing: CompositingService;
  let client: TestClient;

  before(async () => {
    let dir: string;
    ({ dir, cleanup } = await tempDir('avatar-grpc-bytes-'));
    await writeSeedLayoutAvatar(join(dir, 'anna'), { size: 256, frames: 6, model: generateModel('seed320', 'tiny').bytes });
    inference = await startInferenceService(inferenceConfig({
      server: { port: '127.0.0.1:0', worker_count_per_gpu: 1, queue_size: 4, max_message_size_mb: 3 }, models_dir: dir,
    }));
    compositing = await startCompositingService(compositingConfig({
      server: { port: '127.0.0.1:0', max_message_size_mb: 10 },
      inference_server: { url: `127.0.0.1:${inference.port}`, timeout_seconds: 20, max_retries: 0 },
      output: { format: 'jpeg', jpeg_quality: 75 }, models_dir: dir,
    }));
    client = new TestClient('compositing', `127.0.0.1:${compositing.port}`, 20 << 20);
  });

  after(async () => {
    client?.close();
    await compositing?.close();
    await inference?.close();
    await cleanup();
  });

  it('pixel floats get through in a quarter of the bytes, and composite exactly as the same tensor sent as UINT8', async () => {
    const floats = seedRequest('anna', 3, 1, 5, 'pixels');
    const converted = await client.call<CompositeBatchResponse>('InferBatchComposite', floats);
    assert.equal(converted.composited_frames.length, 3);
    // The same tensor as bytes, made here: round(v * 255) of each value.
    const values = float32View(floats.visual_frames);
    const bytes = Buffer.alloc(values.length);
    for (let i = 0; i < values.length; i++) bytes[i] = Math.round(values[i]! * 255);
    const asBytes = await client.call<CompositeBatchResponse>('InferBatchComposite', { ...floats, visual_frames: bytes, visual_type: 'UINT8' });
    assert.deepEqual(converted.composited_frames, asBytes.composited_frames);
    // Other pixels into the reused bytes of the first conversion: composited from their own values.
    const other = seedRequest('anna', 3, 1, 9, 'pixels');
    const again = await client.call<CompositeBatchResponse>('InferBatchComposite', other);
    const otherValues = float32View(other.visual_frames);
    const otherBytes = Buffer.alloc(otherValues.length);
    for (let i = 0; i < otherValues.length; i++) otherBytes[i] = Math.round(otherValues[i]! * 255);
    const otherAsBytes = await client.call<CompositeBatchResponse>('InferBatchComposite', { ...other, visual_frames: otherBytes, visual_type: 'UINT8' });
    assert.deepEqual(again.composited_frames, otherAsBytes.composited_frames);
    assert.notDeepEqual(again.composited_frames, converted.composited_frames);
  });

  it('floats that are not pixels go on as float32 (here: over the inference service\'s message limit)', async () => {
    await assert.rejects(client.call('InferBatchComposite', seedRequest('anna', 3, 1, 5, 'random')), (e: CallError) => e.code === grpc.status.RESOURCE_EXHAUSTED);
  });

  it('a wrongly sized tensor of pixels is refused with the float32 sizes the client sent', async () => {
    const floats = seedRequest('anna', 3, 1, 5, 'pixels');
    const one = seedRequest('anna', 1, 1, 5, 'pixels'); // 2.46 MB as float32: within the limit either way
    const short = { ...one, visual_frames: one.visual_frames.subarray(0, one.visual_frames.length - 4 * 320) };
    await assert.rejects(client.call('InferBatchComposite', short), (e: CallError) => e.code === grpc.status.INVALID_ARGUMENT && /float32/.test(e.details) && !/uint8/.test(e.details));
    // The refusal was the request's fault: pixels still travel as bytes afterwards.
    assert.equal((await client.call<CompositeBatchResponse>('InferBatchComposite', floats)).composited_frames.length, 3);
  });
});

/**
 * An inference server that knows seed 002's fields only: a visual tensor of bytes is the
 * wrong size for it, refused with INVALID_ARGUMENT or (`inBand`) answered `success: false`
 * with an OK status; float32 gets an all-grey float32 output.
 */
async function startSeedOnlyInference(types: string[], inBand = false): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20 });
  server.addService(serviceDefinitions().inference.service, {
    InferBatch: (call: grpc.ServerUnaryCall<InferBatchRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const { batch_size: n, visual_frames: frames, visual_type: type } = call.request;
      types.push(String(type ?? 'FLOAT32'));
      if (frames.length !== n * 6 * 320 * 320 * 4) {
        const reason = `visual_frames has ${frames.length} bytes, expected ${n * 6 * 320 * 320 * 4}`;
        if (inBand) callback(null, { success: false, error: reason });
        else callback({ code: grpc.status.INVALID_ARGUMENT, details: reason });
        return;
      }
      callback(null, { success: true, error: '', outputs: Buffer.from(new Float32Array(n * 3 * 320 * 320).fill(0.5).buffer), gpu_id: 0, inference_time_ms: 1, output_size: 320 });
    },
    Health: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(null, { healthy: true, gpu_count: 1, loaded_models: 1, max_models: 1, version: 'seed 002' }),
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { port, server };
}

describe('a seed 002 inference server behind the compositing service', () => {
  for (const inBand of [false, true]) {
    it(`gets the floats as they came once it refuses bytes (${inBand ? 'success: false in its answer' : 'INVALID_ARGUMENT'}), and only floats after that`, async () => {
      const { dir, cleanup } = await tempDir('avatar-grpc-seed-only-');
      const types: string[] = [];
      const seedOnly = await startSeedOnlyInference(types, inBand);
      await writeSeedLayoutAvatar(join(dir, 'anna'), { size: 256, frames: 6 });
      const compositing = await startCompositingService(compositingConfig({
        server: { port: '127.0.0.1:0', max_message_size_mb: 20 },
        inference_server: { url: `127.0.0.1:${seedOnly.port}`, timeout_seconds: 20, max_retries: 0 },
        output: { format: 'jpeg', jpeg_quality: 75 }, models_dir: dir,
      }));
      const client = new TestClient('compositing', `127.0.0.1:${compositing.port}`, 20 << 20);
      try {
        for (let i = 0; i < 2; i++) {
          const response = await client.call<CompositeBatchResponse>('InferBatchComposite', seedRequest('anna', 2, 0, 3, 'pixels'));
          assert.equal(response.composited_frames.length, 2);
        }
        assert.deepEqual(types, ['UINT8', 'FLOAT32', 'FLOAT32']);
        if (inBand) {
          // Its failures reach the client with its reason.
          const short = seedRequest('anna', 1, 0, 3, 'random');
          await assert.rejects(client.call('InferBatchComposite', { ...short, visual_frames: short.visual_frames.subarray(0, 4000) }), (e: CallError) => e.code === grpc.status.INTERNAL && /visual_frames has 4000 bytes/.test(e.details));
        }
      } finally {
        client.close();
        await compositing.close();
        seedOnly.server.forceShutdown();
        await cleanup();
      }
    });
  }
});
