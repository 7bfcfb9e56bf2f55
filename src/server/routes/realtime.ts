import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AvatarError } from '../../core/errors.js';
import { parseSize } from '../../render/renderer.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../http-errors.js';
import type { AvatarStage } from '../../pipeline/realtime/avatar-stage.js';
import { RealtimeSession } from '../../pipeline/realtime/session.js';
import { WebSocketTransport } from '../../transport/websocket-transport.js';
import { routeSchemas } from '../route-schemas.js';

interface RealtimeQuery {
  avatar?: string;
  size?: string;
  fps?: string;
  api_key?: string;
}

const stages = new WeakMap<FastifyRequest, { stage: AvatarStage; release: () => void }>();

/**
 * A session's frame size when the client names none: the avatar's own shape with its longer
 * side at the configured realtime size (never larger than the avatar), both sides even; a
 * square of that size for an avatar not in the catalog (the lookup then answers 404).
 */
export function defaultSize(avatar: { width: number; height: number } | undefined, side: number): { width: number; height: number } {
  if (!avatar || avatar.width <= 0 || avatar.height <= 0) return { width: side, height: side };
  const scale = Math.min(1, side / Math.max(avatar.width, avatar.height));
  const width = Math.max(2, Math.round((avatar.width * scale) / 2) * 2);
  // The height as the registry derives it from the width, so the shape check agrees.
  return { width, height: Math.max(2, Math.round((avatar.height * (width / avatar.width)) / 2) * 2) };
}

/** WebSocket /api/v1/realtime?avatar=ID[&size=512][&fps=25]: a realtime session (docs/realtime-protocol.md); without size, the avatar's own shape. */
export function registerRealtimeRoute(app: FastifyInstance, ctx: ServerContext): void {
  const { limits, realtime } = ctx.config;
  const stageFor = (tenant: string, avatar: string, size: { width: number; height: number }, fps: number) => {
    ctx.access.require(avatar, tenant);
    return ctx.renderers.get(avatar, { ...size, fps });
  };

  app.get('/api/v1/realtime', {
    websocket: true,
    schema: routeSchemas(limits).realtime,
    // Checked before the upgrade, so a bad request gets an HTTP 4xx with a JSON reason.
    preValidation: async (request) => {
      const query = request.query as RealtimeQuery;
      const fps = query.fps === undefined ? realtime.fps : Number(query.fps);
      if (!Number.isInteger(fps) || fps < limits.minFps || fps > limits.maxFps) throw new AvatarError('invalid_input', `fps must be a whole number from ${limits.minFps} to ${limits.maxFps}`);
      let size = defaultSize(ctx.catalog.get(query.avatar ?? 'default'), realtime.size);
      if (query.size !== undefined) {
        try {
          size = parseSize(query.size);
        } catch (e) {
          throw new AvatarError('invalid_input', `size: ${(e as Error).message}`);
        }
        if (size.width > limits.maxSize || size.height > limits.maxSize) throw new AvatarError('invalid_input', `size sides must be at most ${limits.maxSize}`);
      }
      // The slot is taken before the first await: simultaneous opens cannot pass the limit together.
      const release = ctx.live.reserve();
      if (!release) throw new HttpError(503, 'busy', `the server is at its limit of ${limits.maxRealtimeSessions} realtime sessions and streams; try again later`);
      try {
        const stage = await stageFor(request.caller.tenant, query.avatar ?? 'default', size, fps);
        stages.set(request, { stage, release });
        // A client that leaves before the upgrade completes gives its slot back.
        request.raw.socket.once('close', release);
      } catch (e) {
        release();
        throw e;
      }
    },
  }, (socket, request) => {
    const { stage, release } = stages.get(request)!;
    stages.delete(request);
    const tenant = request.caller.tenant;
    const session = new RealtimeSession(stage, new WebSocketTransport(socket), {
      tts: ctx.tts,
      maxTextChars: limits.maxTextChars,
      stallTimeoutMs: limits.idleTimeoutMs,
      stageFor: (avatar) => stageFor(tenant, avatar, { width: stage.width, height: stage.height }, stage.fps),
      onFirstFrame: (latencyMs, ttsMs) => {
        ctx.metrics.firstFrameLatency.observe(latencyMs, { encoder: 'jpeg' });
        if (ttsMs !== undefined) ctx.metrics.ttsLatency.observe(ttsMs, { encoder: 'jpeg' });
      },
      onFrame: (late) => {
        ctx.metrics.countFrames(1, { kind: 'realtime' });
        if (late) ctx.metrics.lateFrames.inc();
      },
      onError: (kind) => {
        ctx.metrics.errors.inc({ kind });
        log.warn({ kind }, 'realtime session error');
      },
      // A client that does not read would never take a close frame: its connection is dropped at once.
      onEnded: (reason) => (reason.error === 'slow_client' ? socket.terminate() : socket.close(1011, reason.error)),
    });
    const untrack = ctx.live.track(session);
    const log = request.log.child({ sessionId: session.id });
    log.info({ avatar: stage.avatar, width: stage.width, height: stage.height, fps: stage.fps }, 'realtime session started');
    socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const buffer = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      void session.handle(buffer, isBinary);
    });
    let closed = false;
    const end = () => {
      if (closed) return;
      closed = true;
      session.close();
      untrack();
      release();
      const s = session.stats;
      if (s.lateTicks + s.skippedSlots) ctx.metrics.lateFrames.inc({}, s.lateTicks + s.skippedSlots);
      log.info({ ...s }, 'realtime session ended');
    };
    socket.on('close', end);
    socket.on('error', end);
    session.start();
  });
}
