import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import sharp from 'sharp';
import { PROTO_DIR, type CompositeBatchResponse, type CompositingHealth } from '../src/grpc/proto-loading.js';
import { generateModel } from '../src/render/onnx/model-init.js';
import { seedRequest, TestClient } from './helpers/grpc.js';
import { tempDir } from './helpers/media.js';
import { writeSeedLayoutAvatar } from './helpers/onnx-avatar.js';
import { freePort, ServiceProcess } from './helpers/service-process.js';

const run = promisify(execFile);
/** Debian's python3 (python3-grpcio, python3-grpc-tools; scripts/test-all.sh installs them). */
const PYTHON = process.env.AVATAR_PYTHON ?? '/usr/bin/python3';
const CLIENT = fileURLToPath(new URL('../../test/helpers/seed002_client.py', import.meta.url));

/**
 * Seed 002's system as two processes (`avatar serve --role inference` and `--role
 * compositing`, each with a YAML config in the seed's keys), used by a client that a
 * different gRPC implementation (Python's grpcio) generated from our .proto, and kept
 * serving while the inference process is killed and started again.
 */
describe('seed 002 services as separate processes', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => undefined;
  let inference: ServiceProcess | undefined;
  let compositing: ServiceProcess | undefined;
  let inferencePort = 0;
  let compositingPort = 0;

  const startInference = () => ServiceProcess.start(['--role', 'inference', '--config', join(dir, 'inference.yaml')]);

  before(async () => {
    ({ dir, cleanup } = await tempDir('avatar-grpc-interop-'));
    await writeSeedLayoutAvatar(join(dir, 'models', 'sanders'), { size: 256, frames: 6, model: generateModel('seed320', 'tiny').bytes });
    [inferencePort, compositingPort] = [await freePort(), await freePort()];
    await writeFile(join(dir, 'inference.yaml'), [
      'server:',
      `  port: "127.0.0.1:${inferencePort}"`,
      '  max_message_size_mb: 100',
      '  worker_count_per_gpu: 2',
      '  queue_size: 50',
      'gpus: { enabled: true, count: 1, assignment_strategy: "round-robin" }',
      'onnx: { use_cuda: true, cuda_device_id: 0 }',
      'capacity: { max_models_per_gpu: 1000, eviction_policy: "lfu", idle_timeout_minutes: 60 }',
      'models:',
      '  sanders:',
      '    model_path: "models/sanders/checkpoint/model_best.onnx"',
      '    preload: true',
      '',
    ].join('\n'));
    await writeFile(join(dir, 'compositing.yaml'), [
      'server:',
      `  port: "127.0.0.1:${compositingPort}"`,
      '  max_message_size_mb: 100',
      'inference_server:',
      `  url: "127.0.0.1:${inferencePort}"`,
      '  timeout_seconds: 10',
      '  max_retries: 3',
      'capacity: { max_models: 11000, background_cache_frames: 600, eviction_policy: "lfu", idle_timeout_minutes: 60 }',
      'output: { format: "jpeg", jpeg_quality: 75 }',
      'models:',
      '  sanders:',
      '    background_dir: "models/sanders/frames"',
      '    crop_rects_path: "models/sanders/crop_rects.json"',
      '    num_frames: 6',
      '    preload_backgrounds: true',
      'logging: { level: "info", log_compositing_times: true, log_cache_stats: false }',
      '',
    ].join('\n'));
    inference = await startInference();
    compositing = await ServiceProcess.start(['--role', 'compositing', '--config', join(dir, 'compositing.yaml')]);
  });

  after(async () => {
    await compositing?.stop();
    await inference?.stop();
    await cleanup();
  });

  it('start-up banners list what was loaded', () => {
    assert.match(inference!.output, /Inference Server/);
    assert.match(inference!.output, /1 registered, 1 preloaded/);
    assert.match(inference!.output, /CPU \(no GPU\)/);
    assert.match(compositing!.output, new RegExp(`127\\.0\\.0\\.1:${inferencePort}: connected, CPU \\(no GPU\\), loaded models 1/1000`));
    assert.match(compositing!.output, /1 registered \(max 11000\), 1 preloaded/);
    assert.match(compositing!.output, /JPEG \(quality: 75\)/);
  });

  it('a Python grpcio client generated from proto/compositing.proto gets composited JPEG frames', async () => {
    const out = join(dir, 'python');
    await run('mkdir', ['-p', out]);
    try {
      await run(PYTHON, ['-m', 'grpc_tools.protoc', '-I', PROTO_DIR, `--python_out=${out}`, `--grpc_python_out=${out}`, join(PROTO_DIR, 'compositing.proto')]);
    } catch (e) {
      assert.fail(`Python's grpc_tools is needed (Debian: apt-get install python3-grpcio python3-grpc-tools; scripts/test-all.sh installs them): ${(e as Error).message}`);
    }
    const { stdout } = await run(PYTHON, [CLIENT, out, `127.0.0.1:${compositingPort}`, 'sanders', '2'], { timeout: 120_000 });
    const result = JSON.parse(stdout) as { success: boolean; frames: string[]; gpu_id: number; total_time_ms: number; health: { healthy: boolean; inference_server_healthy: boolean; version: string }; unknown_model: { code: string; details: string } };
    assert.equal(result.success, true);
    assert.equal(result.frames.length, 2);
    assert.equal(result.gpu_id, -1);
    assert.ok(result.total_time_ms > 0);
    for (const file of result.frames) {
      const meta = await sharp(file).metadata();
      assert.equal(meta.format, 'jpeg');
      assert.deepEqual([meta.width, meta.height], [256, 256]);
    }
    assert.deepEqual([result.health.healthy, result.health.inference_server_healthy], [true, true]);
    assert.equal(result.unknown_model.code, 'NOT_FOUND');
    assert.match(result.unknown_model.details, /model "nobody"/);
  });

  it('killing and restarting the inference service mid-load: UNAVAILABLE meanwhile, then recovery, no exit', async () => {
    const client = new TestClient('compositing', `127.0.0.1:${compositingPort}`);
    const outcomes: { atMs: number; code: number }[] = [];
    const t0 = Date.now();
    let stop = false;
    const load = (async () => {
      let frame = 0;
      while (!stop) {
        try {
          const r = await client.call<CompositeBatchResponse>('InferBatchComposite', seedRequest('sanders', 1, frame++), 15_000);
          outcomes.push({ atMs: Date.now() - t0, code: r.composited_frames.length === 1 ? grpc.status.OK : -1 });
        } catch (e) {
          outcomes.push({ atMs: Date.now() - t0, code: (e as grpc.ServiceError).code });
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    })();
    try {
      await waitUntil(() => outcomes.filter((o) => o.code === grpc.status.OK).length >= 3, 30_000, 'calls succeed before the kill');
      const killedAt = Date.now() - t0;
      await inference!.stop('SIGKILL');
      await waitUntil(() => outcomes.some((o) => o.atMs > killedAt && o.code === grpc.status.UNAVAILABLE), 20_000, 'UNAVAILABLE while the inference service is down');
      const health = await client.call<CompositingHealth>('Health', {});
      assert.equal(health.healthy, true);
      assert.equal(health.inference_server_healthy, false);
      inference = await startInference();
      const restartedAt = Date.now() - t0;
      await waitUntil(() => outcomes.filter((o) => o.atMs > restartedAt && o.code === grpc.status.OK).length >= 2, 20_000, 'calls succeed again after the restart');
      const during = outcomes.filter((o) => o.atMs > killedAt && o.atMs < restartedAt);
      assert.ok(during.every((o) => o.code === grpc.status.UNAVAILABLE || o.code === grpc.status.OK), `only UNAVAILABLE while down: ${JSON.stringify(during.map((o) => o.code))}`);
      assert.equal(compositing!.running, true, 'the compositing service kept running');
      const recovered = await client.call<CompositingHealth>('Health', {});
      assert.equal(recovered.inference_server_healthy, true);
    } finally {
      stop = true;
      await load;
      client.close();
    }
  });
});

async function waitUntil(test: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > end) assert.fail(`timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
