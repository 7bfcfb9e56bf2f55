import * as grpc from '@grpc/grpc-js';
import sharp from 'sharp';
import { pasteIntoRgb, planPaste, type PastePlan } from '../compose/rgb-paste.js';
import { firstRowOf, pasteBytesIntoRgb, type OutputRows } from '../compose/rgb-paste-bytes.js';
import { BackgroundStore, discoverFolderBackgrounds, type OpenBackgrounds } from './background-store.js';
import type { CompositingConfig } from './compositing-config.js';
import { grpcHandler, toStatus } from './handler.js';
import { bind, MAX_BATCH } from './inference-service.js';
import { InferencePool, type PooledInference } from './inference-pool.js';
import { tensorType, visualKeys } from './batch-tensors.js';
import { writeVisualBytes } from './visual-builder.js';
import { contractByName } from '../render/onnx/contracts.js';
import {
  FAILED_IN_BAND, RAW_MESSAGE, SERVICE_VERSION, ServiceError, VISUAL_CACHE_MISS, serviceDefinitions, withRawRequest,
  type CompositeBatchRequest, type CompositeBatchResponse, type CompositedFrame, type CompositingHealth,
} from './proto-loading.js';
import { serverCredentials } from './tls.js';
import { exactUnitBytes, float32View } from './tensor-bytes.js';
import { widenServerFlowControl } from './flow-control.js';
import { BufferPool } from './buffer-pool.js';

/** A running compositing service. */
export interface CompositingService {
  readonly port: number;
  readonly store: BackgroundStore;
  readonly pool: InferencePool;
  readonly banner: string;
  close(): Promise<void>;
}

/** One frame composited and encoded. */
interface Composited {
  readonly index: number;
  readonly data: Buffer;
}

// libvips' operation cache keeps recent results for reuse; composited frames are new pixels
// every time, so it only costs memory and part of each encode call on the event loop.
sharp.cache(false);

/** Channel order of seed 002's model output (the seed320 contract): BGR planes. */
const OUTPUT_ORDER = 'bgr';

/** InferBatchRequest field 8 (output_type) = UINT8, as protobuf bytes to append to a message. */
const OUTPUT_UINT8_FIELD = Buffer.from([(8 << 3) | 0, 1]);

const EMPTY = Buffer.alloc(0);
/** Bytes of frame copies kept for reuse: four batches of 24 frames at 512x512. */
const CANVAS_POOL_BYTES = 4 * 24 * 512 * 512 * 3;
/** Bytes of converted visual tensors kept for reuse: two batches of 24 seed320 frames. */
const VISUAL_BYTES_POOL_BYTES = 2 * 24 * 6 * 320 * 320;

/** A non-negative int32 field as protobuf bytes (tag, then the value as a varint). */
function varintField(field: number, value: number): Buffer {
  const bytes = [field << 3];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

/**
 * The visual key of a background frame: its index, the frame size and its face crop, so a
 * key names one tensor as long as the model's frames stay what they are.
 */
export function backgroundKey(bg: OpenBackgrounds, index: number, size: number): string {
  const c = bg.crops[index]!;
  return `bg/${index}/${bg.width}x${bg.height}/${c.x.toFixed(1)},${c.y.toFixed(1)},${c.side.toFixed(1)}/${size}`;
}

/**
 * Starts the compositing service: registers model backgrounds (config and model folders),
 * preloads those marked so, connects to the inference servers, listens.
 */
export async function startCompositingService(config: CompositingConfig): Promise<CompositingService> {
  const models = new Map([...discoverFolderBackgrounds(config.modelsDirs), ...config.models]);
  const store = new BackgroundStore(models, {
    budgetBytes: config.capacity.backgroundCacheBytes, eviction: config.capacity.eviction,
    preloadFrames: config.capacity.backgroundCacheFrames, idleTimeoutMs: config.capacity.idleTimeoutMs,
  });
  const preloaded = await store.preload();
  const pool = await InferencePool.connect({ ...config.inference, maxMessageBytes: config.maxMessageBytes });
  const server = new grpc.Server({ 'grpc.max_receive_message_length': config.maxMessageBytes, 'grpc.max_send_message_length': config.maxMessageBytes });
  const compositor = new BatchCompositor(store, pool, config);
  server.addService(withRawRequest(serviceDefinitions().compositing.service, 'InferBatchComposite'), {
    InferBatchComposite: grpcHandler((request: CompositeBatchRequest) => compositor.composite(request)),
    InferBatchCompositeStream: (call: grpc.ServerWritableStream<CompositeBatchRequest, CompositedFrame>) => {
      compositor.compositeStream(call.request, (frame) => call.write(frame)).then(() => call.end(), (e: unknown) => call.destroy(Object.assign(new Error(toStatus(e).details), toStatus(e))));
    },
    Health: grpcHandler((): Promise<CompositingHealth> => Promise.resolve({
      healthy: true, loaded_models: store.loaded, max_models: config.capacity.maxModels,
      inference_server_url: pool.url, inference_server_healthy: pool.healthy, version: SERVICE_VERSION,
    })),
  });
  const port = await bind(server, `${config.host}:${config.port}`, await serverCredentials(config.tls));
  widenServerFlowControl(server);
  const servers = pool.status();
  const lines = [
    '='.repeat(80),
    'Compositing Server (CPU + background resources)',
    '='.repeat(80),
    `  inference server ${pool.url} (${config.inference.balancing}, timeout ${config.inference.timeoutMs / 1000} s, ${config.inference.maxRetries} retries${config.inference.tls ? ', TLS' : ''})`,
    ...servers.map((s) => (s.healthy && s.health
      ? `    ${s.url}: connected, ${s.health.gpu_count ? `GPUs: ${s.health.gpu_count}` : 'CPU (no GPU)'}, loaded models ${s.health.loaded_models}/${s.health.max_models}, version ${s.health.version}`
      : `    ${s.url}: not reachable yet (${s.lastError}); calls answer UNAVAILABLE until its Health answers`)),
    `  models           ${models.size} registered (max ${config.capacity.maxModels}), ${preloaded} preloaded (${config.capacity.backgroundCacheFrames} frames each)`,
    `  background cache ${Math.round(config.capacity.backgroundCacheBytes / 1048576)} MB, ${config.capacity.eviction.toUpperCase()} eviction`,
    `  output           ${config.output.format === 'jpeg' ? `JPEG (quality: ${config.output.jpegQuality})` : 'raw RGB'}`,
    `  TLS              ${config.tls ? `on${config.tls.clientCaFile ? ' (client certificates required)' : ''}` : 'off'}`,
    `Compositing server listening on ${config.host}:${port} (gRPC compositing.CompositingService)`,
    'Ready to accept connections',
    '='.repeat(80),
  ];
  return {
    port, store, pool, banner: `${lines.join('\n')}\n`,
    close: async () => {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      server.forceShutdown();
      pool.close();
      store.close();
    },
  };
}

/**
 * Runs a batch: inference on an inference server, then each frame's face pasted onto its
 * background (frame `start_frame_idx + i`, wrapping) and encoded, all frames at once: the
 * paste is a mouth-sized region on the event loop, the JPEG compression runs on libvips'
 * worker threads in parallel.
 */
class BatchCompositor {
  /** Seed 002's model contract: the visual tensor the service builds from backgrounds. */
  private readonly contract = contractByName('seed320');
  /** Copies of background frames to paste on, reused once encoded (JPEG output only: raw output sends them). */
  private readonly canvases = new BufferPool((length) => Buffer.allocUnsafe(length), CANVAS_POOL_BYTES);
  /** Visual tensors converted to bytes, reused: a batch of 24 is 14.7 MB. */
  private readonly visualBytes = new BufferPool<Buffer>((length) => Buffer.allocUnsafe(length), VISUAL_BYTES_POOL_BYTES);
  /** Whether the inference servers take visual tensors as UINT8 (until one refuses them and takes the floats). */
  private visualBytesTaken = true;

  constructor(private readonly store: BackgroundStore, private readonly pool: InferencePool, private readonly config: CompositingConfig) {}

  async composite(request: CompositeBatchRequest): Promise<CompositeBatchResponse> {
    const t0 = performance.now();
    const frames: Composited[] = [];
    const { gpuId, inferenceMs, compositeMs } = await this.run(request, (f) => frames.push(f));
    frames.sort((a, b) => a.index - b.index);
    return {
      success: true, error: '', composited_frames: frames.map((f) => f.data), gpu_id: gpuId,
      inference_time_ms: inferenceMs, composite_time_ms: compositeMs, total_time_ms: performance.now() - t0,
    };
  }

  async compositeStream(request: CompositeBatchRequest, send: (frame: CompositedFrame) => void): Promise<void> {
    let gpu = 0;
    let inferMs = 0;
    const start = performance.now();
    await this.run(request, (f) => send({ frame_idx: f.index, data: f.data, gpu_id: gpu, inference_time_ms: inferMs, composite_time_ms: performance.now() - start - inferMs }), (g, ms) => {
      gpu = g;
      inferMs = ms;
    });
  }

  private async run(request: CompositeBatchRequest, emit: (f: Composited) => void, inferred?: (gpu: number, ms: number) => void): Promise<{ gpuId: number; inferenceMs: number; compositeMs: number }> {
    const n = request.batch_size;
    if (!request.model_id) throw new ServiceError(grpc.status.INVALID_ARGUMENT, 'model_id is empty');
    if (!Number.isInteger(n) || n < 1 || n > MAX_BATCH) throw new ServiceError(grpc.status.INVALID_ARGUMENT, `batch_size must be 1 to ${MAX_BATCH}, got ${n}`);
    if (request.start_frame_idx < 0) throw new ServiceError(grpc.status.INVALID_ARGUMENT, `start_frame_idx must be 0 or more, got ${request.start_frame_idx}`);
    const backgrounds = await this.store.open(request.model_id);
    const first = request.start_frame_idx % backgrounds.files.length;
    const indices = Array.from({ length: n }, (_, i) => (first + i) % backgrounds.files.length);
    // Background frames decode, and are copied to be pasted on, while the inference server
    // works: the copies start once the call is on its way.
    const pictures = indices.map((index) => this.store.frame(backgrounds, index));
    for (const p of pictures) p.catch(() => undefined);
    const inferring = this.infer(request, backgrounds, indices, pictures);
    inferring.catch(() => undefined); // awaited below; a failure meanwhile is not unhandled
    await new Promise((resolve) => setImmediate(resolve));
    const reuse = this.config.output.format !== 'raw';
    const canvases = pictures.map((p) => p.then((picture) => {
      if (!reuse) return Buffer.from(picture);
      const canvas = this.canvases.take(picture.length);
      canvas.set(picture);
      return canvas;
    }));
    for (const p of canvases) p.catch(() => undefined);
    const result = await inferring;
    inferred?.(result.gpu_id, result.inference_time_ms);
    const size = result.output_size;
    const firstRow = result.output_first_row ?? 0;
    const output = result.output_type === 'UINT8' ? result.outputs : float32View(result.outputs);
    const planeStride = (size - firstRow) * size;
    if (output.length !== n * 3 * planeStride || (firstRow > 0 && (output instanceof Float32Array || size !== this.contract.size))) {
      throw new ServiceError(grpc.status.INTERNAL, `inference server ${result.url} returned ${result.outputs.length} bytes for ${n} frames of 3x${size}x${size} ${result.output_type} from row ${firstRow}`);
    }
    const t0 = performance.now();
    await Promise.all(canvases.map(async (canvas, i) => {
      const frame = await canvas;
      const data = await this.compositeOne(backgrounds, indices[i]!, frame, output, i * 3 * planeStride, { firstRow, planeStride }, size);
      if (reuse) this.canvases.give(frame);
      emit({ index: request.start_frame_idx + i, data });
    }));
    return { gpuId: result.gpu_id, inferenceMs: result.inference_time_ms, compositeMs: performance.now() - t0 };
  }

  /**
   * The inference call, asking for UINT8 output (a server that does not know the field
   * answers FLOAT32, which works too). A request with visual_frames goes on as it came, or as
   * UINT8 when its float32 values are all k / 255 (exactly the same model input); one
   * with neither frames nor keys has its visual tensor named by background frame, sent by
   * key alone, and built from the backgrounds only when the inference server does not hold it.
   */
  private async infer(request: CompositeBatchRequest, bg: OpenBackgrounds, indices: readonly number[], pictures: readonly Promise<Uint8Array>[]): Promise<PooledInference> {
    const n = request.batch_size;
    // Only the rows the pastes sample come back (a server that does not know the field sends them all).
    const firstRow = Math.min(...indices.map((index) => {
      const plan = planFor(bg, index, this.contract.size);
      return plan ? firstRowOf(plan) : this.contract.size - 1;
    }));
    const base = { model_id: request.model_id, audio_features: request.audio_features, batch_size: n, output_type: 'UINT8' as const, output_first_row: firstRow };
    const clientKeys = visualKeys(request.visual_keys, n);
    if (request.visual_frames.length > 0 || clientKeys.length > 0) {
      const visualType = tensorType('visual_type', request.visual_type);
      const forward = () => {
        const asReceived = { ...base, visual_frames: request.visual_frames, visual_type: visualType, visual_keys: [...clientKeys] };
        // The request as received is a valid InferBatchRequest: sent on without encoding it
        // again, with output_type and output_first_row appended (a later field value wins in protobuf).
        const raw = (request as { [RAW_MESSAGE]?: Buffer })[RAW_MESSAGE];
        if (raw) Object.defineProperty(asReceived, RAW_MESSAGE, { value: Buffer.concat([raw, OUTPUT_UINT8_FIELD, varintField(9, firstRow)]) });
        return asReceived;
      };
      // Seed 002's float32 pixels (k / 255) travel on as the same values in UINT8, a quarter of the bytes.
      const convertible = visualType === 'FLOAT32' && this.visualBytesTaken && request.visual_frames.length % 4 === 0;
      const spare = convertible ? this.visualBytes.take(request.visual_frames.length >> 2) : undefined;
      const bytes = spare && exactUnitBytes(request.visual_frames, spare);
      if (!bytes) {
        if (spare) this.visualBytes.give(spare);
        return this.pool.infer(forward());
      }
      try {
        // Sent (copied into the message) before the answer comes, so the bytes are free again after it.
        return await this.pool.infer({ ...base, visual_frames: bytes, visual_type: 'UINT8', visual_keys: [...clientKeys] });
      } catch (e) {
        if (!(e instanceof ServiceError && (e.code === grpc.status.INVALID_ARGUMENT || e.trailers[FAILED_IN_BAND]))) throw e;
        // A server without visual_type (seed 002's), or a request wrong either way: the floats as they came decide.
        const result = await this.pool.infer(forward());
        this.visualBytesTaken = false;
        return result;
      } finally {
        this.visualBytes.give(bytes);
      }
    }
    const keys = indices.map((index) => backgroundKey(bg, index, this.contract.size));
    try {
      return await this.pool.infer({ ...base, visual_frames: EMPTY, visual_keys: keys });
    } catch (e) {
      if (!(e instanceof ServiceError && e.trailers[VISUAL_CACHE_MISS])) throw e;
    }
    const frameBytes = 6 * this.contract.size * this.contract.size;
    const visual = Buffer.allocUnsafe(n * frameBytes);
    const frames = await Promise.all(pictures);
    frames.forEach((rgb, i) => writeVisualBytes(rgb, bg.width, bg.height, bg.crops[indices[i]!]!, this.contract, visual, i * frameBytes));
    return this.pool.infer({ ...base, visual_frames: visual, visual_type: 'UINT8', visual_keys: keys });
  }

  /** Pastes one frame's output onto `frame` (a copy of its background) and encodes it. */
  private async compositeOne(bg: OpenBackgrounds, index: number, frame: Buffer, output: Float32Array | Uint8Array, offset: number, rows: OutputRows, size: number): Promise<Buffer> {
    const plan = planFor(bg, index, size);
    if (plan && output instanceof Uint8Array) pasteBytesIntoRgb(output, offset, rows, OUTPUT_ORDER, plan, frame, bg.width);
    else if (plan) pasteIntoRgb(output as Float32Array, offset, OUTPUT_ORDER, plan, frame, bg.width);
    if (this.config.output.format === 'raw') return frame;
    return sharp(frame, { raw: { width: bg.width, height: bg.height, channels: 3 } })
      .jpeg({ quality: this.config.output.jpegQuality, chromaSubsampling: '4:2:0', optimiseCoding: false })
      .toBuffer();
  }
}

/** The paste plan of a background frame for outputs of `size`, made once. */
function planFor(bg: OpenBackgrounds, index: number, size: number): PastePlan | undefined {
  const key = `${index}/${size}`;
  if (!bg.plans.has(key)) bg.plans.set(key, planPaste(bg.crops[index]!, size, bg.width, bg.height));
  return bg.plans.get(key);
}
