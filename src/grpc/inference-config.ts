import { readdirSync, readFileSync } from 'node:fs';
import { avatarFolders, isFile } from './file-kind.js';
import { join } from 'node:path';
import { CONTRACT_NAMES, type ContractName } from '../render/onnx/contracts.js';
import { parseListenAddress, readYamlConfig, type ConfigReader } from './config-reader.js';
import { readServerTls, type ServerTlsConfig } from './tls.js';

/** How a model is placed on a device when it loads. */
export type AssignmentStrategy = 'round-robin' | 'least-loaded';

/** One model the inference service may run. */
export interface InferenceModelConfig {
  readonly path: string;
  readonly contract: ContractName;
  /** Load at start (else on first request). */
  readonly preload: boolean;
}

/** Seed 002's inference server config.yaml, validated. */
export interface InferenceConfig {
  readonly host: string;
  readonly port: number;
  readonly maxMessageBytes: number;
  readonly workersPerDevice: number;
  /** Requests that may wait for a worker; more are refused with RESOURCE_EXHAUSTED. */
  readonly queueSize: number;
  readonly gpus: { readonly enabled: boolean; readonly count: number; readonly memoryGbPerGpu: number; readonly assignment: AssignmentStrategy };
  readonly onnx: { readonly useCuda: boolean; readonly cudaDeviceId: number; readonly libraryPath?: string };
  readonly capacity: {
    readonly maxModelsPerDevice: number;
    readonly eviction: 'lru' | 'lfu';
    readonly idleTimeoutMs: number;
    /** Byte budget of visual tensors kept by visual_keys (0: none kept). */
    readonly visualCacheBytes: number;
  };
  readonly models: ReadonlyMap<string, InferenceModelConfig>;
  /** Folders of avatar folders whose models are registered by folder name (`models_dir`). */
  readonly modelsDirs: readonly string[];
  readonly logging: { readonly level: string };
  readonly tls?: ServerTlsConfig;
}

const MB = 1024 * 1024;

/** The model an avatar.json declares (`model.path`, `model.contract`), when its file exists. */
function manifestModel(folder: string): InferenceModelConfig | undefined {
  try {
    const manifest = JSON.parse(readFileSync(join(folder, 'avatar.json'), 'utf8')) as { model?: { path?: unknown; contract?: unknown } };
    const { path, contract } = manifest.model ?? {};
    if (typeof path !== 'string' || path.includes('..') || !(CONTRACT_NAMES as readonly unknown[]).includes(contract)) return undefined;
    const file = join(folder, path);
    return isFile(file) ? { path: file, contract: contract as ContractName, preload: false } : undefined;
  } catch {
    return undefined;
  }
}
const MODEL_ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Reads and checks an inference service config file (all problems listed in one error). */
export async function loadInferenceConfig(file: string | undefined): Promise<InferenceConfig> {
  const r = await readYamlConfig(file);
  const config = readInferenceConfig(r);
  r.finish(`inference config${file ? ` ${file}` : ''}`);
  return config;
}

/** Validates an inference config from a reader; problems are left on the reader. */
export function readInferenceConfig(r: ConfigReader): InferenceConfig {
  r.known('', ['server', 'gpus', 'onnx', 'capacity', 'models', 'models_dir', 'logging', 'tls']);
  r.known('server', ['port', 'max_message_size_mb', 'worker_count_per_gpu', 'queue_size']);
  r.known('gpus', ['enabled', 'count', 'memory_gb_per_gpu', 'assignment_strategy']);
  r.known('onnx', ['library_path', 'use_cuda', 'cuda_device_id']);
  r.known('capacity', ['max_models_per_gpu', 'eviction_policy', 'idle_timeout_minutes', 'visual_cache_mb']);
  r.known('logging', ['level', 'log_inference_times']);
  const { host, port } = parseListenAddress(r, 'server.port', 50051);
  const models = new Map<string, InferenceModelConfig>();
  for (const id of Object.keys(r.section('models'))) {
    if (!MODEL_ID.test(id)) r.problems.push(`models.${id}: a model id is letters, digits, _ . - (at most 128)`);
    r.known(`models.${id}`, ['model_path', 'preload', 'contract']);
    const path = r.path(`models.${id}.model_path`);
    if (!path) r.problems.push(`models.${id}.model_path is required (the model's .onnx file)`);
    models.set(id, { path: path ?? '', contract: r.oneOf(`models.${id}.contract`, 'seed320', CONTRACT_NAMES), preload: r.bool(`models.${id}.preload`, false) });
  }
  const modelsDirs = r.pathList('models_dir');
  const tls = readServerTls(r, 'tls');
  const libraryPath = r.path('onnx.library_path');
  return {
    host, port,
    maxMessageBytes: r.number('server.max_message_size_mb', 100, 1, 2000) * MB,
    workersPerDevice: r.number('server.worker_count_per_gpu', 8, 1, 256),
    queueSize: r.number('server.queue_size', 50, 0, 100_000),
    gpus: {
      enabled: r.bool('gpus.enabled', true),
      count: r.number('gpus.count', 1, 0, 64),
      memoryGbPerGpu: r.number('gpus.memory_gb_per_gpu', 24, 1, 1024, false),
      assignment: r.oneOf('gpus.assignment_strategy', 'round-robin', ['round-robin', 'least-loaded'] as const),
    },
    onnx: { useCuda: r.bool('onnx.use_cuda', true), cudaDeviceId: r.number('onnx.cuda_device_id', 0, 0, 63), ...(libraryPath ? { libraryPath } : {}) },
    capacity: {
      maxModelsPerDevice: r.number('capacity.max_models_per_gpu', 1000, 1, 100_000),
      eviction: r.oneOf('capacity.eviction_policy', 'lfu', ['lru', 'lfu'] as const),
      idleTimeoutMs: r.number('capacity.idle_timeout_minutes', 60, 0, 525_600, false) * 60_000,
      visualCacheBytes: r.number('capacity.visual_cache_mb', 2048, 0, 10_000_000) * MB,
    },
    models, modelsDirs,
    logging: { level: r.oneOf('logging.level', 'info', ['debug', 'info', 'warn', 'error'] as const) },
    ...(tls ? { tls } : {}),
  };
}

/**
 * Models found in avatar folders (seed 002's layout `ID/checkpoint/*.onnx`, or this
 * project's `ID/model.onnx`), registered by folder name as contract seed320 unless the
 * config names them itself.
 */
export function discoverFolderModels(dirs: readonly string[]): Map<string, InferenceModelConfig> {
  const found = new Map<string, InferenceModelConfig>();
  for (const { id, path: folder } of avatarFolders(dirs)) {
    if (!MODEL_ID.test(id)) continue;
    const declared = manifestModel(folder);
    if (declared) {
      found.set(id, declared);
      continue;
    }
    const checkpoint = join(folder, 'checkpoint');
    const candidates = [join(folder, 'model.onnx'), join(checkpoint, 'model_best.onnx')];
    try {
      for (const f of readdirSync(checkpoint)) if (f.endsWith('.onnx') && !/audio/i.test(f)) candidates.push(join(checkpoint, f));
    } catch {
      // no checkpoint folder
    }
    const path = candidates.find((p) => isFile(p));
    if (path && !found.has(id)) found.set(id, { path, contract: 'seed320', preload: false });
  }
  return found;
}
