import { availableParallelism } from 'node:os';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { AvatarError } from '../core/errors.js';
import type { IceServerConfig } from '../transport/webrtc/webrtc-peer.js';
import type { WebRtcVideoCodec } from '../transport/webrtc/rtp-video-encoder.js';
import { LOG_LEVELS, type LogFormat, type LogLevel } from './logging.js';

/** WebRTC sessions (POST /api/v1/realtime/webrtc). */
export interface WebRtcConfig {
  /** STUN/TURN servers; none: host candidates only. */
  readonly iceServers: readonly IceServerConfig[];
  /** Video codecs accepted (the client's offer chooses among them). */
  readonly videoCodecs: readonly WebRtcVideoCodec[];
  /** Video bitrate per session on a clean path, kbit/s (the most the rate adapts up to). */
  readonly videoKbps: number;
  /** Lowest video bitrate the rate adapts down to on loss, kbit/s. */
  readonly minVideoKbps: number;
}

/** One API key and the tenant it acts for. */
export interface ApiKeyConfig {
  readonly key: string;
  readonly tenant: string;
}

/** Input limits; each request outside them gets a 4xx with the reason. */
export interface LimitsConfig {
  readonly maxTextChars: number;
  readonly minFps: number;
  readonly maxFps: number;
  /** Largest side of a requested frame size, pixels. */
  readonly maxSize: number;
  readonly generationsPerMinute: number;
  readonly imageUploadBytes: number;
  readonly audioUploadBytes: number;
  readonly videoUploadBytes: number;
  readonly maxRealtimeSessions: number;
  /** A connection that moves no byte either way this long is closed (a body that stalls, a stream nobody reads), ms. */
  readonly idleTimeoutMs: number;
  /** Longest a request may take to arrive in full (slow bodies), ms. */
  readonly requestTimeoutMs: number;
}

/** Everything `avatar serve` runs with. */
export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  /** Where job outputs and uploads live. */
  readonly dataDir: string;
  readonly tts: string;
  /** Forced H.264 encoder; undefined = fastest that works here. */
  readonly encoder: string | undefined;
  /**
   * Where encoder processes are started from: `spawner`, a small process beside the server
   * (starting a child from the large server process stalls its event loop, and with it every
   * live session, until the child runs), or `direct`, from the server process itself.
   */
  readonly encoderSpawn: 'spawner' | 'direct';
  readonly apiKeys: readonly ApiKeyConfig[];
  /** Owner tenant of avatars; avatars not listed are shared by all tenants. */
  readonly avatarTenants: Readonly<Record<string, string>>;
  /** Secret for signed download URLs; random per start when not configured. */
  readonly signingSecret: string | undefined;
  readonly jobConcurrency: number;
  readonly retentionMs: number;
  readonly urlExpiryMs: number;
  /**
   * Realtime defaults. `paintThreads`: worker threads that draw realtime frames (0: all on
   * the event loop); `paintThreadsFor`: which sessions' avatars they draw, `all` or only
   * `webrtc` ones (the others on the event loop). Defaults: see `defaultPaintThreads`.
   */
  readonly realtime: { readonly fps: number; readonly size: number; readonly jpegQuality: number; readonly paintThreads: number; readonly paintThreadsFor: PaintThreadsFor };
  readonly limits: LimitsConfig;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** On SIGTERM, how long running sessions and jobs may take to finish before the server exits anyway. */
  readonly shutdownGraceMs: number;
  /** Origins (`https://app.example`, or `*`) whose pages may call the API from a browser; none by default. */
  readonly corsOrigins: readonly string[];
  readonly webrtc: WebRtcConfig;
  /** The shared queue and state; undefined = everything in this process (the embedded default). */
  readonly redis: RedisConfig | undefined;
}

/** Where API processes and workers meet: a Redis server (BullMQ queue, shared limits and secret). */
export interface RedisConfig {
  /** redis://[user:password@]host:port[/db] or rediss:// */
  readonly url: string;
  /** Prefix of every key (several deployments may share one Redis). */
  readonly prefix: string;
  /** A worker that has not renewed a job's lock for this long is taken for dead, and the job runs elsewhere, ms. */
  readonly lockMs: number;
  /** Tries of a job whose failure may pass (the first one included). */
  readonly attempts: number;
  /** Scripts with more speech than this are rendered as segments by several workers at once, ms; 0 = never. */
  readonly segmentMs: number;
}

const MB = 1024 * 1024;

/**
 * Painter threads by default: none on machines of under 4 cores, where measurements with
 * streams running beside 12 sessions gave 97% of frames on time on the event loop against
 * 69% with one painter thread (a single thread painting every session loses the CPU to the
 * encoders); one fewer than the cores, at most 4, above.
 */
/** Which realtime sessions' frames painter threads draw: every session's, or WebRTC ones only. */
export type PaintThreadsFor = 'all' | 'webrtc';

/**
 * Painter threads by default: one fewer than the cores (at most 4) on 4 cores or more,
 * drawing for every session. Below that one thread, for WebRTC sessions only: their raw
 * frames go from the thread straight into the encoder, which takes the drawing and the pipe
 * writes off the event loop (on 2 cores, 12 WebRTC sessions: 74-89 % of frames on time
 * against 56-71 % on the event loop), while WebSocket sessions, whose speech frames are
 * small JPEG patches, measured better on the event loop (12 sessions beside 2 streams:
 * 99.7 % against 98.5 %).
 */
function defaultPaintThreads(): { paintThreads: number; paintThreadsFor: PaintThreadsFor } {
  const cores = availableParallelism();
  if (cores >= 4) return { paintThreads: Math.min(4, cores - 1), paintThreadsFor: 'all' };
  return { paintThreads: cores >= 2 ? 1 : 0, paintThreadsFor: 'webrtc' };
}

/** Defaults: what a developer gets from `avatar serve` with no configuration. */
export const DEFAULT_CONFIG: ServerConfig = {
  host: '127.0.0.1', port: 8000, dataDir: './avatar-data', tts: 'espeak', encoder: undefined, encoderSpawn: 'spawner',
  apiKeys: [], avatarTenants: {}, signingSecret: undefined,
  jobConcurrency: 1, retentionMs: 7 * 24 * 3600 * 1000, urlExpiryMs: 24 * 3600 * 1000,
  realtime: { fps: 25, size: 512, jpegQuality: 80, ...defaultPaintThreads() },
  webrtc: { iceServers: [], videoCodecs: ['VP8', 'H264'], videoKbps: 600, minVideoKbps: 150 },
  limits: {
    maxTextChars: 5000, minFps: 1, maxFps: 60, maxSize: 1024, generationsPerMinute: 10,
    imageUploadBytes: 10 * MB, audioUploadBytes: 50 * MB, videoUploadBytes: 200 * MB, maxRealtimeSessions: 32,
    idleTimeoutMs: 30_000, requestTimeoutMs: 600_000,
  },
  logLevel: 'info', logFormat: 'auto', shutdownGraceMs: 30_000, corsOrigins: [], redis: undefined,
};

type Raw = Record<string, unknown>;

/** Sources of configuration, later ones winning: file, environment, command-line flags. */
export interface ConfigSources {
  readonly file?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly flags?: { host?: string; port?: string | number };
}

/** Reads, merges and validates the configuration; throws AvatarError `invalid_input` with every problem found. */
export async function loadServerConfig(sources: ConfigSources = {}): Promise<ServerConfig> {
  let fromFile: Raw = {};
  if (sources.file) {
    let text: string;
    try {
      text = await readFile(sources.file, 'utf8');
    } catch (e) {
      throw new AvatarError('invalid_input', `cannot read config file ${sources.file}: ${(e as Error).message}`);
    }
    try {
      const parsed = parseYaml(text) as unknown;
      if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) throw new Error('the top level must be a mapping');
      fromFile = (parsed ?? {}) as Raw;
    } catch (e) {
      throw new AvatarError('invalid_input', `config file ${sources.file} is not valid YAML: ${(e as Error).message}`);
    }
  }
  const env = sources.env ?? {};
  const fromEnv: Raw = {};
  const envMap: [string, string][] = [
    ['AVATAR_HOST', 'host'], ['AVATAR_PORT', 'port'], ['AVATAR_DATA_DIR', 'dataDir'], ['AVATAR_TTS', 'tts'],
    ['AVATAR_ENCODER', 'encoder'], ['AVATAR_ENCODER_SPAWN', 'encoderSpawn'], ['AVATAR_SIGNING_SECRET', 'signingSecret'], ['AVATAR_JOB_CONCURRENCY', 'jobConcurrency'],
    ['AVATAR_LOG_LEVEL', 'logLevel'], ['AVATAR_LOG_FORMAT', 'logFormat'], ['AVATAR_SHUTDOWN_GRACE_SECONDS', 'shutdownGraceSeconds'],
  ];
  for (const [name, key] of envMap) if (env[name]) fromEnv[key] = env[name];
  if (env.AVATAR_API_KEYS) {
    // "key1:tenant1,key2:tenant2"
    fromEnv.apiKeys = env.AVATAR_API_KEYS.split(',').map((pair) => pair.trim()).filter(Boolean).map((pair) => {
      const at = pair.lastIndexOf(':');
      return at > 0 ? { key: pair.slice(0, at), tenant: pair.slice(at + 1) } : { key: pair, tenant: '' };
    });
  }
  if (env.AVATAR_ICE_SERVERS) fromEnv.webrtc = { ...asRaw(fromFile.webrtc), iceServers: env.AVATAR_ICE_SERVERS.split(',').map((o) => o.trim()).filter(Boolean) };
  if (env.REDIS_URL || env.AVATAR_REDIS_PREFIX) fromEnv.redis = { ...(env.REDIS_URL ? { url: env.REDIS_URL } : {}), ...(env.AVATAR_REDIS_PREFIX ? { prefix: env.AVATAR_REDIS_PREFIX } : {}) };
  if (env.AVATAR_CORS_ORIGINS) fromEnv.corsOrigins = env.AVATAR_CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean);
  if (env.AVATAR_RATE_LIMIT) fromEnv.limits = { generationsPerMinute: env.AVATAR_RATE_LIMIT };
  if (env.AVATAR_PAINT_THREADS) fromEnv.realtime = { paintThreads: env.AVATAR_PAINT_THREADS };
  const fromFlags: Raw = {};
  if (sources.flags?.host !== undefined) fromFlags.host = sources.flags.host;
  if (sources.flags?.port !== undefined) fromFlags.port = sources.flags.port;
  const redis = fromFile.redis !== undefined || fromEnv.redis !== undefined ? { redis: { ...asRaw(fromFile.redis), ...asRaw(fromEnv.redis) } } : {};
  return validateConfig({
    ...fromFile, ...fromEnv, ...fromFlags,
    limits: { ...asRaw(fromFile.limits), ...asRaw(fromEnv.limits) }, realtime: { ...asRaw(fromFile.realtime), ...asRaw(fromEnv.realtime) }, ...redis,
  });
}

function asRaw(v: unknown): Raw {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : {};
}

const KNOWN_KEYS = new Set([
  'host', 'port', 'dataDir', 'tts', 'encoder', 'encoderSpawn', 'apiKeys', 'avatarTenants', 'signingSecret', 'jobConcurrency',
  'retentionDays', 'urlExpiryHours', 'realtime', 'limits', 'logLevel', 'logFormat', 'shutdownGraceSeconds', 'corsOrigins', 'webrtc', 'redis',
]);

/** Checks a merged raw configuration, collecting every problem into one message. */
export function validateConfig(raw: Raw): ServerConfig {
  const problems: string[] = [];
  for (const key of Object.keys(raw)) if (!KNOWN_KEYS.has(key)) problems.push(`unknown setting "${key}"`);
  const d = DEFAULT_CONFIG;
  const num = (value: unknown, name: string, fallback: number, min: number, max: number, integer = true): number => {
    if (value === undefined || value === null || value === '') return fallback;
    const n = typeof value === 'number' ? value : Number(value);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
      problems.push(`${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return n;
  };
  const str = (value: unknown, name: string, fallback: string | undefined): string | undefined => {
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'string' || !value) {
      problems.push(`${name} must be a non-empty string`);
      return fallback;
    }
    return value;
  };
  const apiKeys: ApiKeyConfig[] = [];
  if (raw.apiKeys !== undefined) {
    if (!Array.isArray(raw.apiKeys)) problems.push('apiKeys must be a list of {key, tenant}');
    else raw.apiKeys.forEach((entry: unknown, i) => {
      const e = asRaw(entry);
      const key = typeof entry === 'string' ? entry : e.key;
      const tenant = typeof entry === 'string' ? 'default' : e.tenant;
      if (typeof key !== 'string' || key.length < 16) problems.push(`apiKeys[${i}].key must be a string of at least 16 characters`);
      else if (typeof tenant !== 'string' || !/^[a-z0-9_-]{1,64}$/.test(tenant)) problems.push(`apiKeys[${i}].tenant must be a plain name (a-z, 0-9, _ or -), got ${JSON.stringify(tenant)}`);
      else apiKeys.push({ key, tenant });
    });
  }
  if (new Set(apiKeys.map((k) => k.key)).size !== apiKeys.length) problems.push('apiKeys has the same key twice');
  const avatarTenants: Record<string, string> = {};
  for (const [id, tenant] of Object.entries(asRaw(raw.avatarTenants))) {
    if (typeof tenant !== 'string') problems.push(`avatarTenants.${id} must be a tenant name`);
    else avatarTenants[id] = tenant;
  }
  const rt = asRaw(raw.realtime);
  const lim = asRaw(raw.limits);
  const tts = str(raw.tts, 'tts', d.tts)!;
  if (!['espeak', 'openai'].includes(tts)) problems.push(`tts must be espeak or openai, got "${tts}"`);
  const logLevel = str(raw.logLevel, 'logLevel', d.logLevel)!;
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) problems.push(`logLevel must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  const encoderSpawn = str(raw.encoderSpawn, 'encoderSpawn', d.encoderSpawn)!;
  if (encoderSpawn !== 'spawner' && encoderSpawn !== 'direct') problems.push(`encoderSpawn must be spawner or direct, got "${encoderSpawn}"`);
  const paintThreadsFor = str(rt.paintThreadsFor, 'realtime.paintThreadsFor', d.realtime.paintThreadsFor)!;
  if (!['all', 'webrtc'].includes(paintThreadsFor)) problems.push(`realtime.paintThreadsFor must be all or webrtc, got "${paintThreadsFor}"`);
  const logFormat = str(raw.logFormat, 'logFormat', d.logFormat)!;
  if (!['auto', 'json', 'pretty'].includes(logFormat)) problems.push(`logFormat must be auto, json or pretty, got "${logFormat}"`);
  const corsOrigins: string[] = [];
  if (raw.corsOrigins !== undefined) {
    const list = typeof raw.corsOrigins === 'string' ? [raw.corsOrigins] : raw.corsOrigins;
    if (!Array.isArray(list)) problems.push('corsOrigins must be a list of origins such as https://app.example (or *)');
    else for (const origin of list) {
      if (origin === '*' || (typeof origin === 'string' && /^https?:\/\/[^/\s]+$/.test(origin))) corsOrigins.push(origin);
      else problems.push(`corsOrigins: ${JSON.stringify(origin)} is not an origin (scheme://host[:port], no path) or *`);
    }
  }
  const webrtcRaw = asRaw(raw.webrtc);
  for (const key of Object.keys(webrtcRaw)) if (!['iceServers', 'videoCodecs', 'videoKbps', 'minVideoKbps'].includes(key)) problems.push(`unknown setting "webrtc.${key}"`);
  const iceServers: IceServerConfig[] = [];
  if (webrtcRaw.iceServers !== undefined) {
    if (!Array.isArray(webrtcRaw.iceServers)) problems.push('webrtc.iceServers must be a list of {urls, username, credential}');
    else webrtcRaw.iceServers.forEach((entry: unknown, i) => {
      const e = typeof entry === 'string' ? { urls: entry } : asRaw(entry);
      if (typeof e.urls !== 'string' || !/^(stun|turns?):/.test(e.urls)) problems.push(`webrtc.iceServers[${i}].urls must be a stun:, turn: or turns: URL`);
      else iceServers.push({ urls: e.urls, ...(typeof e.username === 'string' ? { username: e.username } : {}), ...(typeof e.credential === 'string' ? { credential: e.credential } : {}) });
    });
  }
  let videoCodecs: WebRtcVideoCodec[] = [...d.webrtc.videoCodecs];
  if (webrtcRaw.videoCodecs !== undefined) {
    const list = typeof webrtcRaw.videoCodecs === 'string' ? webrtcRaw.videoCodecs.split(',') : webrtcRaw.videoCodecs;
    const names = Array.isArray(list) ? list.map((c) => String(c).trim().toUpperCase().replace('H.264', 'H264')) : [];
    if (!names.length || names.some((c) => c !== 'VP8' && c !== 'H264')) problems.push('webrtc.videoCodecs must list VP8 and/or H264');
    else videoCodecs = names as WebRtcVideoCodec[];
  }
  const videoKbps = num(webrtcRaw.videoKbps, 'webrtc.videoKbps', d.webrtc.videoKbps, 100, 20000);
  const minVideoKbps = num(webrtcRaw.minVideoKbps, 'webrtc.minVideoKbps', Math.min(d.webrtc.minVideoKbps, videoKbps), 50, 20000);
  if (minVideoKbps > videoKbps) problems.push(`webrtc.minVideoKbps (${minVideoKbps}) must not exceed webrtc.videoKbps (${videoKbps})`);
  let redis: RedisConfig | undefined;
  const redisRaw = asRaw(raw.redis);
  for (const key of Object.keys(redisRaw)) if (!['url', 'prefix', 'lockSeconds', 'attempts', 'segmentSeconds'].includes(key)) problems.push(`unknown setting "redis.${key}"`);
  if (redisRaw.url !== undefined) {
    const url = str(redisRaw.url, 'redis.url', undefined);
    if (url && !/^rediss?:\/\/[^\s]+$/.test(url)) problems.push(`redis.url must look like redis://host:6379 (or rediss:// for TLS), got ${JSON.stringify(url)}`);
    const prefix = str(redisRaw.prefix, 'redis.prefix', 'avatar')!;
    if (!/^[\w.-]{1,64}$/.test(prefix)) problems.push('redis.prefix must be letters, digits, _ . or -');
    if (url) redis = {
      url, prefix,
      lockMs: num(redisRaw.lockSeconds, 'redis.lockSeconds', 30, 1, 3600, false) * 1000,
      attempts: num(redisRaw.attempts, 'redis.attempts', 3, 1, 20),
      segmentMs: num(redisRaw.segmentSeconds, 'redis.segmentSeconds', 10, 0, 3600, false) * 1000,
    };
  } else if (Object.keys(redisRaw).length) problems.push('redis settings need redis.url (or REDIS_URL)');
  const config: ServerConfig = {
    host: str(raw.host, 'host', d.host)!,
    port: num(raw.port, 'port', d.port, 0, 65535),
    dataDir: resolve(str(raw.dataDir, 'dataDir', d.dataDir)!),
    tts,
    encoder: str(raw.encoder, 'encoder', undefined),
    encoderSpawn: encoderSpawn === 'direct' ? 'direct' : 'spawner',
    apiKeys,
    avatarTenants,
    signingSecret: str(raw.signingSecret, 'signingSecret', undefined),
    jobConcurrency: num(raw.jobConcurrency, 'jobConcurrency', d.jobConcurrency, 1, 64),
    retentionMs: num(raw.retentionDays, 'retentionDays', 7, 0.0001, 3650, false) * 24 * 3600 * 1000,
    urlExpiryMs: num(raw.urlExpiryHours, 'urlExpiryHours', 24, 0.001, 24 * 365, false) * 3600 * 1000,
    realtime: {
      fps: num(rt.fps, 'realtime.fps', d.realtime.fps, 1, 60),
      size: num(rt.size, 'realtime.size', d.realtime.size, 64, 2048),
      jpegQuality: num(rt.jpegQuality, 'realtime.jpegQuality', d.realtime.jpegQuality, 10, 100),
      paintThreads: num(rt.paintThreads, 'realtime.paintThreads', d.realtime.paintThreads, 0, 64),
      paintThreadsFor: paintThreadsFor as PaintThreadsFor,
    },
    limits: {
      maxTextChars: num(lim.maxTextChars, 'limits.maxTextChars', d.limits.maxTextChars, 1, 20000),
      minFps: num(lim.minFps, 'limits.minFps', d.limits.minFps, 1, 60),
      maxFps: num(lim.maxFps, 'limits.maxFps', d.limits.maxFps, 1, 60),
      maxSize: num(lim.maxSize, 'limits.maxSize', d.limits.maxSize, 64, 2048),
      generationsPerMinute: num(lim.generationsPerMinute, 'limits.generationsPerMinute', d.limits.generationsPerMinute, 1, 100000),
      imageUploadBytes: num(lim.imageUploadMB, 'limits.imageUploadMB', 10, 0.001, 1024, false) * MB,
      audioUploadBytes: num(lim.audioUploadMB, 'limits.audioUploadMB', 50, 0.001, 4096, false) * MB,
      videoUploadBytes: num(lim.videoUploadMB, 'limits.videoUploadMB', 200, 0.001, 16384, false) * MB,
      maxRealtimeSessions: num(lim.maxRealtimeSessions, 'limits.maxRealtimeSessions', d.limits.maxRealtimeSessions, 1, 10000),
      idleTimeoutMs: num(lim.idleTimeoutS, 'limits.idleTimeoutS', d.limits.idleTimeoutMs / 1000, 0.1, 3600, false) * 1000,
      requestTimeoutMs: num(lim.requestTimeoutS, 'limits.requestTimeoutS', d.limits.requestTimeoutMs / 1000, 1, 86400, false) * 1000,
    },
    logLevel: logLevel as LogLevel,
    logFormat: logFormat as LogFormat,
    corsOrigins,
    webrtc: { iceServers, videoCodecs, videoKbps, minVideoKbps },
    shutdownGraceMs: num(raw.shutdownGraceSeconds, 'shutdownGraceSeconds', d.shutdownGraceMs / 1000, 0, 3600, false) * 1000,
    redis,
  };
  if (config.realtime.size % 2 !== 0) problems.push('realtime.size must be even');
  if (config.limits.minFps > config.limits.maxFps) problems.push('limits.minFps is above limits.maxFps');
  if (problems.length) throw new AvatarError('invalid_input', `invalid configuration:\n  - ${problems.join('\n  - ')}`);
  return config;
}
