import { parseListenAddress, readYamlConfig, type ConfigReader } from './config-reader.js';
import { readClientTls, readServerTls, type ClientTlsConfig, type ServerTlsConfig } from './tls.js';

/** One model's background resources on the compositing service. */
export interface CompositingModelConfig {
  readonly backgroundDir: string;
  readonly cropRectsPath: string;
  /** Frames used from the folder (all when undefined). */
  readonly numFrames?: number;
  readonly preloadBackgrounds: boolean;
}

/** Seed 002's compositing server config.yaml, validated. */
export interface CompositingConfig {
  readonly host: string;
  readonly port: number;
  readonly maxMessageBytes: number;
  readonly inference: {
    /** One or more inference servers (`url` as a list or comma-separated). */
    readonly urls: readonly string[];
    readonly timeoutMs: number;
    readonly maxRetries: number;
    readonly balancing: 'round-robin' | 'least-loaded';
    /** How often a server out of rotation is asked for its Health. */
    readonly healthIntervalMs: number;
    readonly tls?: ClientTlsConfig;
  };
  readonly capacity: {
    readonly maxModels: number;
    /** Frames per model decoded at start when the model preloads. */
    readonly backgroundCacheFrames: number;
    readonly eviction: 'lru' | 'lfu';
    readonly idleTimeoutMs: number;
    /** Byte budget of decoded background frames, all models together. */
    readonly backgroundCacheBytes: number;
  };
  readonly output: { readonly format: 'jpeg' | 'raw'; readonly jpegQuality: number };
  readonly models: ReadonlyMap<string, CompositingModelConfig>;
  /** Folders of avatar folders (frames/, crop_rects.json) registered by folder name. */
  readonly modelsDirs: readonly string[];
  readonly logging: { readonly level: string; readonly logCompositingTimes: boolean; readonly logCacheStats: boolean };
  readonly tls?: ServerTlsConfig;
}

const MB = 1024 * 1024;
const MODEL_ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Reads and checks a compositing service config file (all problems listed in one error). */
export async function loadCompositingConfig(file: string | undefined): Promise<CompositingConfig> {
  const r = await readYamlConfig(file);
  const config = readCompositingConfig(r);
  r.finish(`compositing config${file ? ` ${file}` : ''}`);
  return config;
}

/** Validates a compositing config from a reader; problems are left on the reader. */
export function readCompositingConfig(r: ConfigReader): CompositingConfig {
  r.known('', ['server', 'inference_server', 'capacity', 'output', 'models', 'models_dir', 'logging', 'tls']);
  r.known('server', ['port', 'max_message_size_mb']);
  r.known('inference_server', ['url', 'timeout_seconds', 'max_retries', 'balancing', 'health_interval_ms', 'tls']);
  r.known('capacity', ['max_models', 'background_cache_frames', 'eviction_policy', 'idle_timeout_minutes', 'background_cache_mb']);
  r.known('output', ['format', 'jpeg_quality']);
  r.known('logging', ['level', 'log_compositing_times', 'log_cache_stats']);
  const { host, port } = parseListenAddress(r, 'server.port', 50052);
  const urls = r.list('inference_server.url', ['localhost:50051']);
  for (const url of urls) if (!/^(dns:\/\/\/)?[^\s/]+:\d{1,5}$/.test(url)) r.problems.push(`inference_server.url: "${url}" must be host:port`);
  if (urls.length === 0) r.problems.push('inference_server.url names no server');
  const maxModels = r.number('capacity.max_models', 11000, 1, 10_000_000);
  const models = new Map<string, CompositingModelConfig>();
  for (const id of Object.keys(r.section('models'))) {
    const at = `models.${id}`;
    if (!MODEL_ID.test(id)) r.problems.push(`${at}: a model id is letters, digits, _ . - (at most 128)`);
    r.known(at, ['background_dir', 'crop_rects_path', 'num_frames', 'preload_backgrounds']);
    const backgroundDir = r.path(`${at}.background_dir`);
    const cropRectsPath = r.path(`${at}.crop_rects_path`);
    if (!backgroundDir) r.problems.push(`${at}.background_dir is required (the folder of background frames)`);
    if (!cropRectsPath) r.problems.push(`${at}.crop_rects_path is required (crop_rects.json)`);
    const numFrames = r.number(`${at}.num_frames`, 0, 0, 10_000_000);
    models.set(id, {
      backgroundDir: backgroundDir ?? '', cropRectsPath: cropRectsPath ?? '',
      ...(numFrames > 0 ? { numFrames } : {}), preloadBackgrounds: r.bool(`${at}.preload_backgrounds`, false),
    });
  }
  if (models.size > maxModels) r.problems.push(`models lists ${models.size} models, more than capacity.max_models (${maxModels})`);
  const clientTls = readClientTls(r, 'inference_server.tls');
  const tls = readServerTls(r, 'tls');
  return {
    host, port,
    maxMessageBytes: r.number('server.max_message_size_mb', 100, 1, 2000) * MB,
    inference: {
      urls, timeoutMs: r.number('inference_server.timeout_seconds', 10, 0.001, 3600, false) * 1000,
      maxRetries: r.number('inference_server.max_retries', 3, 0, 100),
      balancing: r.oneOf('inference_server.balancing', 'round-robin', ['round-robin', 'least-loaded'] as const),
      healthIntervalMs: r.number('inference_server.health_interval_ms', 1000, 50, 600_000),
      ...(clientTls ? { tls: clientTls } : {}),
    },
    capacity: {
      maxModels,
      backgroundCacheFrames: r.number('capacity.background_cache_frames', 600, 0, 10_000_000),
      eviction: r.oneOf('capacity.eviction_policy', 'lfu', ['lru', 'lfu'] as const),
      idleTimeoutMs: r.number('capacity.idle_timeout_minutes', 60, 0, 525_600, false) * 60_000,
      backgroundCacheBytes: r.number('capacity.background_cache_mb', 2048, 1, 10_000_000) * MB,
    },
    output: { format: r.oneOf('output.format', 'jpeg', ['jpeg', 'raw'] as const), jpegQuality: r.number('output.jpeg_quality', 75, 1, 100) },
    models, modelsDirs: r.pathList('models_dir'),
    logging: {
      level: r.oneOf('logging.level', 'info', ['debug', 'info', 'warn', 'error'] as const),
      logCompositingTimes: r.bool('logging.log_compositing_times', false), logCacheStats: r.bool('logging.log_cache_stats', false),
    },
    ...(tls ? { tls } : {}),
  };
}
