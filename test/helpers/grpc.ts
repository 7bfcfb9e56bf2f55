import * as grpc from '@grpc/grpc-js';
import { WIDE_WINDOW_CHANNEL_OPTIONS } from '../../src/grpc/flow-control.js';
import { ConfigReader } from '../../src/grpc/config-reader.js';
import { readCompositingConfig, type CompositingConfig } from '../../src/grpc/compositing-config.js';
import { readInferenceConfig, type InferenceConfig } from '../../src/grpc/inference-config.js';
import { serviceDefinitions, type CompositeBatchRequest } from '../../src/grpc/proto-loading.js';

/** An inference config from seed 002's YAML keys (as a parsed object); throws on problems. */
export function inferenceConfig(raw: Record<string, unknown>, baseDir = process.cwd()): InferenceConfig {
  const r = new ConfigReader(raw, baseDir);
  const config = readInferenceConfig(r);
  r.finish('inference config');
  return config;
}

/** A compositing config from seed 002's YAML keys (as a parsed object); throws on problems. */
export function compositingConfig(raw: Record<string, unknown>, baseDir = process.cwd()): CompositingConfig {
  const r = new ConfigReader(raw, baseDir);
  const config = readCompositingConfig(r);
  r.finish('compositing config');
  return config;
}

/** Seed 002's request tensors: visual [B, 6, 320, 320] and one audio [32, 16, 16], float32, seeded noise. */
export function seedRequest(modelId: string, batch: number, start = 0, seed = 1, values: 'random' | 'pixels' = 'random'): CompositeBatchRequest {
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const visual = new Float32Array(batch * 6 * 320 * 320);
  // `pixels`: 8-bit pixels / 255, as seed 002's clients make the tensor from images.
  const value = values === 'pixels' ? () => Math.floor(rand() * 256) / 255 : rand;
  for (let i = 0; i < visual.length; i += 7) visual[i] = value();
  const audio = new Float32Array(32 * 16 * 16).map(() => rand() * 2 - 1);
  return {
    model_id: modelId, batch_size: batch, start_frame_idx: start,
    visual_frames: Buffer.from(visual.buffer), audio_features: Buffer.from(audio.buffer),
  };
}

/** A gRPC error as a test sees it. */
export interface CallError {
  readonly code: grpc.status;
  readonly details: string;
  /** Trailing metadata, first value of each key. */
  readonly trailers: Readonly<Record<string, string>>;
}

/** A client of either service with a promise-returning unary call. */
export class TestClient {
  private readonly client: grpc.Client;

  constructor(kind: 'compositing' | 'inference', address: string, maxBytes = 200 * 1024 * 1024, credentials = grpc.credentials.createInsecure()) {
    const Client = serviceDefinitions()[kind];
    this.client = new Client(address, credentials, { 'grpc.max_receive_message_length': maxBytes, 'grpc.max_send_message_length': maxBytes, 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 500, ...WIDE_WINDOW_CHANNEL_OPTIONS });
  }

  call<Res>(method: string, request: object, timeoutMs = 30_000): Promise<Res> {
    return new Promise((resolve, reject) => {
      const fn = (this.client as unknown as Record<string, (req: object, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Res) => void) => void>)[method]!;
      fn.call(this.client, request, { deadline: new Date(Date.now() + timeoutMs) }, (e, r) => (e ? reject(e) : resolve(r!)));
    });
  }

  /** The call's error (code and message); fails the test when the call succeeds. */
  async error(method: string, request: object, timeoutMs = 30_000): Promise<CallError> {
    try {
      await this.call(method, request, timeoutMs);
    } catch (e) {
      const err = e as grpc.ServiceError;
      const trailers = Object.fromEntries(Object.entries(err.metadata?.getMap() ?? {}).map(([k, v]) => [k, String(v)]));
      return { code: err.code, details: err.details, trailers };
    }
    throw new Error(`${method} succeeded where an error was expected`);
  }

  /** Frames of the InferBatchCompositeStream addition. */
  stream(request: object): Promise<{ frame_idx: number; data: Buffer }[]> {
    return new Promise((resolve, reject) => {
      const frames: { frame_idx: number; data: Buffer }[] = [];
      const call = (this.client as unknown as { InferBatchCompositeStream(r: object): grpc.ClientReadableStream<{ frame_idx: number; data: Buffer }> }).InferBatchCompositeStream(request);
      call.on('data', (f: { frame_idx: number; data: Buffer }) => frames.push(f));
      call.on('error', reject);
      call.on('end', () => resolve(frames));
    });
  }

  close(): void {
    this.client.close();
  }
}
