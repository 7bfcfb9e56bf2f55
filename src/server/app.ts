import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import cors from '@fastify/cors';
import multipart from '@fastify/multipart';
import websocket from '@fastify/websocket';
import type { AvatarCatalog } from '../avatars/catalog.js';
import { BuiltinAvatarCatalog } from '../avatars/catalog.js';
import { SharpJpegEncoder, type JpegEncoder } from '../compose/jpeg.js';
import { wallClock, type Clock } from '../core/clock.js';
import { chooseEncoder } from '../encode/encoder-probe.js';
import { ffmpegReadsProtocol, locateFfmpeg } from '../encode/ffmpeg.js';
import { createTtsProvider } from '../tts/create-tts.js';
import { EspeakTtsProvider } from '../tts/espeak.js';
import type { TtsProvider } from '../tts/provider.js';
import { ApiKeyAuth, type Caller } from './auth.js';
import { AvatarAccess } from './avatar-access.js';
import type { AvatarPreparer } from '../avatars/avatar-preparer.js';
import type { ServerConfig } from './config.js';
import type { ServerContext } from './context.js';
import { HttpError, toHttpError } from './http-errors.js';
import { InProcessJobQueue } from '../queue/in-process-queue.js';
import type { JobQueue } from '../queue/job-queue.js';
import { RedisJobQueue } from '../queue/redis-queue.js';
import { AvatarEvents } from '../queue/redis-avatar-events.js';
import { sweepFiles } from './retention.js';
import { renderJobHandlers } from './render-jobs.js';
import { avatarJobHandlers } from './avatar-jobs.js';
import { LiveSessions } from './live-sessions.js';
import { recoverAfterRestart } from './restart-recovery.js';
import { loggerOptions, type LogSink } from './logging.js';
import { registerOpenApi, type RegisteredRoute } from './openapi.js';
import { friendlyValidationError, validatorCompiler } from './validation.js';
import { ServerMetrics } from './metrics.js';
import { MemoryRateLimiter, RedisRateLimiter } from './rate-limit.js';
import { DEFAULT_MAX_STAGES, RendererCache } from '../pipeline/realtime/avatar-stage.js';
import { PainterThreads } from '../pipeline/realtime/painter-threads.js';
import { loadLanguageDetector } from '../tts/language.js';
import { registerAvatarRoutes } from './routes/avatars.js';
import { registerGenerateRoutes } from './routes/generate.js';
import { registerRealtimeRoute } from './routes/realtime.js';
import { registerWebRtcRoutes } from './routes/realtime-webrtc.js';
import { registerStreamRoutes } from './routes/stream.js';
import { registerSystemRoutes } from './routes/system.js';
import { sharedSigningSecret, UrlSigner } from './signed-url.js';
import { TtsPool } from '../tts/tts-pool.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every /api route. */
    caller: Caller;
  }
}

/** What a server is built from; everything but the config has a default. */
export interface AvatarServerOptions {
  readonly config: ServerConfig;
  readonly catalog?: AvatarCatalog;
  /** Builds avatars from uploads; without one, upload and delete answer 501. */
  readonly preparer?: AvatarPreparer;
  readonly tts?: TtsProvider;
  readonly jpeg?: JpegEncoder;
  /** Time for the rate limits (default: the wall clock). */
  readonly clock?: Clock;
  /** Where log lines go; stdout by default. */
  readonly logSink?: LogSink;
}

/** A built server: the Fastify instance and its shared state. */
export interface AvatarServer {
  readonly app: FastifyInstance;
  readonly context: ServerContext;
  /** Every route registered (HEAD included), for checking the generated document against. */
  readonly routes: readonly RegisteredRoute[];
  /** Starts listening; resolves to the address (port 0 picks a free port). */
  listen(): Promise<{ host: string; port: number; url: string }>;
  /** Pays first-use costs now (TTS engine, the default avatar's renderers and idle frames) rather than on the first request. */
  warmUp(): Promise<void>;
  /**
   * Stops taking new work (`/ready` and work routes answer 503; job status and downloads
   * still answer) and waits up to `graceMs` for open sessions, streams and jobs to finish.
   * Resolves to whether everything finished in time; `close()` ends whatever is left.
   */
  drain(graceMs?: number): Promise<{ drained: boolean; waitedMs: number }>;
  close(): Promise<void>;
}

/** Builds the HTTP + WebSocket server (routes, auth, limits, jobs, metrics) without listening. */
export async function createAvatarServer(options: AvatarServerOptions): Promise<AvatarServer> {
  const { config } = options;
  const catalog: AvatarCatalog = options.catalog ?? new BuiltinAvatarCatalog();
  const outputsDir = join(config.dataDir, 'outputs');
  const uploadsDir = join(config.dataDir, 'uploads');
  await mkdir(outputsDir, { recursive: true });
  await mkdir(uploadsDir, { recursive: true });
  const access = new AvatarAccess(catalog, config.avatarTenants, join(config.dataDir, 'avatar-tenants.json'));
  await access.load();
  const jpeg = options.jpeg ?? new SharpJpegEncoder(config.realtime.jpegQuality);
  // Stages paint on threads when the catalog can be reopened there and the JPEG encoder is ours.
  const description = options.jpeg ? undefined : catalog.describe?.();
  const threadsWanted = description !== undefined && config.realtime.paintThreads > 0;
  // A painter thread hands video encoders their frames through Unix sockets: with an ffmpeg
  // that cannot read them, WebRTC frames are drawn on the event loop instead.
  const encodersReadSockets = threadsWanted && await locateFfmpeg().then((f) => ffmpegReadsProtocol(f.path, 'unix'), () => false);
  const threadsFor = config.realtime.paintThreadsFor === 'webrtc' ? (encodersReadSockets ? 'raw' : undefined) : (encodersReadSockets ? 'all' : 'jpeg');
  const painters = threadsWanted && threadsFor ? new PainterThreads(description, config.realtime.jpegQuality, config.realtime.paintThreads) : undefined;
  const live = new LiveSessions(config.limits.maxRealtimeSessions);
  let jobs: JobQueue | undefined;
  const metrics = new ServerMetrics(() => context.sessions, () => (jobs ?? local).counts());
  const tts = options.tts ?? createServerTts(config.tts);
  const renderers = new RendererCache(catalog, jpeg, DEFAULT_MAX_STAGES, painters, threadsFor);
  const onFailure = (_kind: string, error: string) => metrics.errors.inc({ kind: error });
  const renderHandlers = renderJobHandlers({ catalog, tts, encoder: config.encoder, outputsDir, uploadsDir, metrics });
  const avatarHandlers = avatarJobHandlers({ preparer: options.preparer, uploadsDir, onReady: (id) => renderers.drop(id), onFailed: (id) => access.release(id) });
  // With Redis, workers render and this process only prepares uploaded avatars (the
  // registry and tenancy map that preparation updates are this process's own).
  const local = new InProcessJobQueue(config.redis ? avatarHandlers : { ...renderHandlers, ...avatarHandlers }, config.jobConcurrency, config.retentionMs, onFailure, join(config.dataDir, 'jobs'));
  jobs = config.redis ? await RedisJobQueue.open(config.redis, config.retentionMs) : local;
  // With Redis, workers prepare avatars: every process hears of each change at once.
  const avatarEvents = jobs instanceof RedisJobQueue && config.redis ? new AvatarEvents(jobs.connection, config.redis) : undefined;
  avatarEvents?.subscribe(({ avatar, outcome, tenant }) => {
    if (outcome === 'reserved' && tenant) void access.assign(avatar, tenant).catch(() => undefined);
    if (outcome === 'failed' || outcome === 'deleted') void access.release(avatar).catch(() => undefined);
    if (outcome === 'ready' || outcome === 'deleted') void (catalog.refreshAvatar?.(avatar) ?? Promise.resolve()).catch(() => undefined).then(() => renderers.drop(avatar));
  });
  await recoverAfterRestart({ jobs: local, access, catalog, outputsDir, uploadsDir, sharedFolders: !!config.redis });
  const now = () => (options.clock ?? wallClock).now();
  const context: ServerContext = {
    config, catalog, access, preparer: options.preparer, auth: new ApiKeyAuth(config.apiKeys),
    limiter: jobs instanceof RedisJobQueue && config.redis
      ? new RedisRateLimiter(jobs.connection, config.redis.prefix, config.limits.generationsPerMinute, now)
      : new MemoryRateLimiter(config.limits.generationsPerMinute, now),
    jobs, localJobs: local, metrics, avatarEvents,
    signer: new UrlSigner(config.signingSecret ?? (jobs instanceof RedisJobQueue && config.redis ? await sharedSigningSecret(jobs.connection, config.redis.prefix) : randomBytes(32).toString('hex'))),
    tts, encoder: chooseEncoder(config.encoder), jpeg, renderers,
    outputsDir, uploadsDir, live, get sessions() { return live.count; }, draining: false, startedAt: Date.now(), version: await packageVersion(),
  };
  context.encoder.catch(() => undefined);

  // A connection idle past idleTimeoutMs (no byte read or written: a stalled body, a stream
  // whose client stopped reading) is destroyed, which aborts the work behind it.
  const app = Fastify({
    ...loggerOptions(config.logLevel, config.logFormat, options.logSink), bodyLimit: 1 << 20, trustProxy: false,
    connectionTimeout: config.limits.idleTimeoutMs, requestTimeout: config.limits.requestTimeoutMs,
    schemaErrorFormatter: friendlyValidationError,
  });
  app.setValidatorCompiler(validatorCompiler());
  if (threadsWanted && !encodersReadSockets) app.log.warn('ffmpeg has no unix protocol (or was not found): WebRTC frames are drawn on the event loop, not on painter threads');
  const routes = await registerOpenApi(app, context.version, config.limits);
  if (config.corsOrigins.length) {
    await app.register(cors, {
      origin: config.corsOrigins.includes('*') ? '*' : [...config.corsOrigins],
      methods: ['GET', 'POST', 'DELETE'],
      allowedHeaders: ['authorization', 'x-api-key', 'content-type', 'x-request-id'],
      exposedHeaders: ['x-request-id', 'x-content-duration', 'x-content-duration-estimated', 'x-video-size', 'x-generation-ms', 'x-encoder', 'retry-after', 'location'],
      maxAge: 600,
    });
  }
  await app.register(websocket, { options: { maxPayload: 1 << 20 } });
  await app.register(multipart, {
    limits: { fileSize: Math.max(config.limits.imageUploadBytes, config.limits.videoUploadBytes, config.limits.audioUploadBytes), files: 1, fields: 10, fieldSize: 4096 },
  });
  app.decorateRequest('caller', null as unknown as Caller);
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
    if (context.draining && startsWork(request)) {
      void reply.header('retry-after', '5');
      throw new HttpError(503, 'draining', 'the server is shutting down and takes no new work; retry shortly (another instance, or this one after its restart)');
    }
    if (!isApiRoute(request) || request.method === 'OPTIONS' || request.url.startsWith('/api/v1/outputs/')) return;
    const query = request.query as Record<string, unknown> | undefined;
    // Keys in URLs end up in logs and browser history: only the realtime WebSocket, whose
    // headers a browser cannot set, takes one from the query.
    const realtime = request.method === 'GET' && request.url.split('?')[0] === '/api/v1/realtime';
    if (query?.api_key !== undefined && !realtime) throw new HttpError(400, 'invalid_input', 'send the API key in a header ("Authorization: Bearer KEY" or "x-api-key: KEY"), not in the URL; only the realtime WebSocket takes ?api_key=');
    const queryKey = realtime && typeof query?.api_key === 'string' ? query.api_key : undefined;
    request.caller = context.auth.authenticate(request.headers, request.ip, queryKey);
  });
  app.addHook('onResponse', async (request, reply) => {
    context.metrics.httpRequests.observe(reply.elapsedTime, { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) });
  });
  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toHttpError(error);
    context.metrics.errors.inc({ kind: body.error });
    const retry = (error as { retryAfterS?: number }).retryAfterS;
    if (retry) void reply.header('retry-after', String(retry));
    if (status >= 500 && status !== 501 && status !== 503) request.log.error({ err: error }, 'request failed');
    return reply.code(status).type('application/json').send(body);
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }));

  registerSystemRoutes(app, context);
  registerGenerateRoutes(app, context);
  registerStreamRoutes(app, context);
  registerAvatarRoutes(app, context);
  registerRealtimeRoute(app, context);
  registerWebRtcRoutes(app, context);

  const sampler = setInterval(() => context.metrics.sampleFrames(), 1000);
  sampler.unref();
  const sweep = async () => {
    local.forgetExpired();
    await sweepFiles(outputsDir, config.retentionMs).catch(() => 0);
    // Original photos, videos and recordings are personal data: kept no longer than outputs.
    await sweepFiles(uploadsDir, config.retentionMs).catch(() => 0);
  };
  await sweep();
  const sweeper = setInterval(() => void sweep(), Math.min(3600_000, Math.max(1000, config.retentionMs / 10)));
  sweeper.unref();

  return {
    app, context, routes,
    async listen() {
      await app.listen({ host: config.host, port: config.port });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      const shownHost = config.host.includes(':') ? `[${config.host}]` : config.host;
      return { host: config.host, port, url: `http://${shownHost}:${port}` };
    },
    async warmUp() {
      loadLanguageDetector();
      const tts = context.tts;
      await tts.warmUp?.();
      // Enough sentences that every engine of a pool has compiled its hot paths.
      const sentences = ['Hello, this is a warm-up sentence.', 'Hola, ¿cómo estás?', 'The weather is lovely today, is it not?', 'Good morning to you.'];
      await Promise.all(sentences.map(async (text) => {
        for await (const _ of tts.synthesize({ text, language: text.startsWith('Hola') ? 'es' : 'en' })) void _;
      }));
      const avatar = catalog.get('default') ? 'default' : catalog.list().find((a) => a.status === 'ready')?.id;
      if (!avatar) return;
      const size = { width: config.realtime.size, height: config.realtime.size, fps: config.realtime.fps };
      const stage = await context.renderers.get(avatar, size);
      // The whole idle loop, so sessions never wait for an idle picture.
      for (let i = 0; i < stage.loopFrames; i++) await stage.idleJpeg(i);
      // WebRTC sessions' stage too (on a painter thread, where there are threads for them).
      await context.renderers.get(avatar, size, 'i420');
      context.renderers.checkin(avatar, size, await context.renderers.checkout(avatar, size));
    },
    async drain(graceMs = config.shutdownGraceMs) {
      context.draining = true;
      const started = performance.now();
      const queues = [...new Set([context.jobs, local])];
      const inFlight = () => queues.reduce((n, q) => n + q.inFlight, 0);
      const busy = () => context.sessions > 0 || inFlight() > 0;
      app.log.info({ sessions: context.sessions, jobs: inFlight(), graceMs }, 'draining: no new work taken');
      while (busy() && performance.now() - started < graceMs) await new Promise((r) => setTimeout(r, 100));
      const waitedMs = Math.round(performance.now() - started);
      if (busy()) app.log.warn({ sessions: context.sessions, jobs: inFlight(), waitedMs }, 'drain grace period over: ending what is left');
      else app.log.info({ waitedMs }, 'drained');
      return { drained: !busy(), waitedMs };
    },
    async close() {
      context.draining = true;
      clearInterval(sampler);
      clearInterval(sweeper);
      await local.close();
      avatarEvents?.close();
      await context.jobs.close();
      await app.close();
      // A pool this server made is its own to stop; an injected provider belongs to the caller.
      if (!options.tts && context.tts instanceof TtsPool) await context.tts.close();
      await painters?.close();
    },
  };
}

/** espeak gets one engine (worker thread) per core, so concurrent sessions synthesize in parallel. */
export function createServerTts(name: string): TtsProvider {
  if (name !== 'espeak') return createTtsProvider(name);
  return new TtsPool(Array.from({ length: Math.max(1, Math.min(4, availableParallelism())) }, () => new EspeakTtsProvider()));
}

/** Routes that start a generation, session or preparation; refused while draining. */
const WORK_ROUTES = new Set(['POST /api/v1/generate', 'GET /api/v1/generate/stream', 'POST /api/v1/generate/stream', 'GET /api/v1/realtime', 'POST /api/v1/realtime/webrtc', 'POST /api/v1/avatars']);

function startsWork(request: FastifyRequest): boolean {
  return WORK_ROUTES.has(`${request.method} ${request.routeOptions.url ?? ''}`);
}

function isApiRoute(request: FastifyRequest): boolean {
  return request.url.startsWith('/api/');
}

async function packageVersion(): Promise<string> {
  try {
    const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}
