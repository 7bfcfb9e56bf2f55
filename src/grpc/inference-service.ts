import * as grpc from '@grpc/grpc-js';
import { cudaProviderInstalled, fromFloat16, loadOrt, toFloat16 } from '../render/onnx/model-session.js';
import { AdmissionQueue } from './admission-queue.js';
import { discoverFolderModels, type InferenceConfig } from './inference-config.js';
import { ModelRegistry, type Device } from './model-registry.js';
import { SERVICE_VERSION, ServiceError, serviceDefinitions, type InferBatchRequest, type InferBatchResponse, type InferenceHealth } from './proto-loading.js';
import { grpcHandler } from './handler.js';
import { serverCredentials } from './tls.js';
import { outputBytes } from './tensor-bytes.js';
import { BufferPool } from './buffer-pool.js';
import { batchTensors } from './batch-tensors.js';
import { VisualCache } from './visual-cache.js';
import { contractByName } from '../render/onnx/contracts.js';
import { widenServerFlowControl } from './flow-control.js';

/** Largest batch one request may carry. */
export const MAX_BATCH = 256;
/** Bytes of a batch of 24 seed320 outputs as float32, the size reused output buffers are kept for. */
const MAX_OUTPUT_BYTES = 24 * 3 * 320 * 320 * 4;

/** A running inference service. */
export interface InferenceService {
  readonly port: number;
  readonly registry: ModelRegistry;
  readonly queue: AdmissionQueue;
  /** Visual tensors kept by visual_keys. */
  readonly visualCache: VisualCache;
  readonly devices: readonly Device[];
  /** Start-up banner lines (what was loaded). */
  readonly banner: string;
  close(): Promise<void>;
}

/** The devices the config and this machine allow: CUDA devices when enabled and installed, else the CPU. */
export function resolveDevices(config: InferenceConfig): { devices: Device[]; note?: string } {
  const wantGpu = config.gpus.enabled && config.onnx.useCuda && config.gpus.count > 0;
  if (wantGpu && cudaProviderInstalled()) {
    const devices = Array.from({ length: config.gpus.count }, (_, i): Device => ({ id: config.onnx.cudaDeviceId + i, provider: 'cuda', models: new Set(), active: 0 }));
    return { devices };
  }
  const cpu: Device = { id: -1, provider: 'cpu', models: new Set(), active: 0 };
  return { devices: [cpu], ...(wantGpu ? { note: 'the CUDA provider of onnxruntime-node is not installed: running on the CPU (see README: GPU)' } : {}) };
}

/** Starts the inference service: registers models, preloads those marked so, listens. */
export async function startInferenceService(config: InferenceConfig): Promise<InferenceService> {
  const models = new Map([...discoverFolderModels(config.modelsDirs), ...config.models]);
  const { devices, note } = resolveDevices(config);
  const registry = new ModelRegistry({
    models, devices, maxModelsPerDevice: config.capacity.maxModelsPerDevice, eviction: config.capacity.eviction,
    idleTimeoutMs: config.capacity.idleTimeoutMs, assignment: config.gpus.assignment,
  });
  const preloaded = await registry.preload();
  const queue = new AdmissionQueue(config.workersPerDevice, config.queueSize);
  const visualCache = new VisualCache(config.capacity.visualCacheBytes, config.capacity.eviction);
  // Two batch outputs: onnxruntime's runs take turns on the event loop, each output copied on at once.
  const outputBuffers = new BufferPool((length) => new Float32Array(length), 2 * MAX_OUTPUT_BYTES);
  const server = new grpc.Server({ 'grpc.max_receive_message_length': config.maxMessageBytes, 'grpc.max_send_message_length': config.maxMessageBytes });
  const gpuCount = devices.filter((d) => d.provider === 'cuda').length;
  server.addService(serviceDefinitions().inference.service, {
    InferBatch: grpcHandler((request: InferBatchRequest) => inferBatch(request, registry, queue, visualCache, outputBuffers)),
    Health: grpcHandler((): Promise<InferenceHealth> => Promise.resolve({
      healthy: true, gpu_count: gpuCount, loaded_models: registry.loaded, max_models: registry.capacity,
      version: SERVICE_VERSION, queued_requests: queue.queued, registered_models: registry.registered,
    })),
  });
  const port = await bind(server, `${config.host}:${config.port}`, await serverCredentials(config.tls));
  widenServerFlowControl(server);
  const lines = [
    '='.repeat(80),
    'Inference Server (GPU processing)',
    '='.repeat(80),
    `  devices          ${gpuCount ? devices.map((d) => `GPU ${d.id}`).join(', ') : 'CPU (no GPU)'}`,
    `  workers          ${config.workersPerDevice} per device, queue ${config.queueSize}`,
    `  models           ${models.size} registered, ${preloaded} preloaded, at most ${config.capacity.maxModelsPerDevice} per device (${config.capacity.eviction.toUpperCase()} eviction${config.capacity.idleTimeoutMs ? `, idle unload after ${config.capacity.idleTimeoutMs / 60000} min` : ''})`,
    ...devices.map((d) => `  ${d.provider === 'cuda' ? `GPU ${d.id}` : 'CPU'}: ${d.models.size} models loaded`),
    `  visual cache     ${config.capacity.visualCacheBytes ? `${Math.round(config.capacity.visualCacheBytes / 1048576)} MB (visual_keys)` : 'off'}`,
    `  max message      ${Math.round(config.maxMessageBytes / 1048576)} MB`,
    `  TLS              ${config.tls ? `on${config.tls.clientCaFile ? ' (client certificates required)' : ''}` : 'off'}`,
    ...(note ? [`  note: ${note}`] : []),
    ...(config.onnx.libraryPath ? ['  note: onnx.library_path is not used: onnxruntime-node ships its own runtime'] : []),
    `Inference server listening on ${config.host}:${port} (gRPC inference.InferenceService)`,
    'Ready to accept connections',
    '='.repeat(80),
  ];
  return {
    port, registry, queue, visualCache, devices, banner: `${lines.join('\n')}\n`,
    close: async () => {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      server.forceShutdown();
      outputBuffers.clear();
      await registry.close();
    },
  };
}

/** Binds a gRPC server; resolves to the bound port (port 0 picks a free one). */
export function bind(server: grpc.Server, address: string, credentials: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, port) => (error ? reject(new Error(`cannot listen on ${address}: ${error.message}`)) : resolve(port)));
  });
}

async function inferBatch(request: InferBatchRequest, registry: ModelRegistry, queue: AdmissionQueue, cache: VisualCache, outputBuffers: BufferPool<Float32Array>): Promise<InferBatchResponse> {
  const { model_id: id, batch_size: n } = request;
  if (!id) throw new ServiceError(grpc.status.INVALID_ARGUMENT, 'model_id is empty');
  if (!Number.isInteger(n) || n < 1 || n > MAX_BATCH) throw new ServiceError(grpc.status.INVALID_ARGUMENT, `batch_size must be 1 to ${MAX_BATCH}, got ${n}`);
  const contract = contractByName(registry.config(id).contract);
  // Checked and converted before a model is loaded or a queue place taken: bad input costs neither.
  const { visual, audio, outputType, outputFirstRow, convertMs } = batchTensors(request, contract, cache);
  const place = queue.reserve();
  const queuedAt = performance.now();
  let lease;
  try {
    lease = await registry.acquire(id);
  } catch (e) {
    place.release();
    throw e;
  }
  try {
    const { model, device } = lease;
    const s = model.contract.size;
    device.active++;
    try {
      return await queue.run(device.id, async () => {
        place.release();
        const queueMs = performance.now() - queuedAt;
        const ort = await loadOrt();
        const tensor = (data: Float32Array, dims: number[]) => (model.fp16 ? new ort.Tensor('float16', toFloat16(data), dims) : new ort.Tensor('float32', data, dims));
        // Outputs that are copied on (bytes, or rows) are written into a kept buffer when one
        // is free, else where onnxruntime puts them, and that buffer is kept afterwards. Taken
        // only from what is kept: runs waiting together never allocate outputs ahead of time.
        const copiedOn = !model.fp16 && (outputType === 'UINT8' || outputFirstRow > 0);
        const reused = copiedOn ? outputBuffers.reuse(n * 3 * s * s) : undefined;
        const fetches = reused ? { [model.output]: new ort.Tensor('float32', reused, [n, 3, s, s]) } : undefined;
        const t0 = performance.now();
        let out;
        try {
          out = await model.session.run({ [model.visualInput]: tensor(visual, [n, 6, s, s]), [model.audioInput]: tensor(audio, [n, ...model.contract.audioShape]) }, fetches);
        } catch (e) {
          if (reused) outputBuffers.give(reused);
          throw new ServiceError(grpc.status.INTERNAL, `model "${id}" failed on a batch of ${n}: ${(e as Error).message.split('\n')[0]}`);
        }
        const inferMs = performance.now() - t0;
        const raw = out[model.output]!.data as Float32Array | Uint16Array;
        const data = raw instanceof Uint16Array ? fromFloat16(raw) : raw;
        const t1 = performance.now();
        const outputs = outputBytes(data, n, s, outputFirstRow, outputType);
        if (copiedOn && data instanceof Float32Array && data.length === n * 3 * s * s) outputBuffers.give(data);
        return {
          success: true, error: '', outputs, gpu_id: device.id, inference_time_ms: inferMs, output_size: s, queue_time_ms: queueMs,
          output_type: outputType, output_first_row: outputFirstRow, convert_time_ms: convertMs + performance.now() - t1,
        };
      });
    } finally {
      device.active--;
    }
  } finally {
    place.release();
    lease.release();
  }
}
