import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { openRealtimeStage, realtimeSessionDeps, type RealtimeQuery } from '../realtime-request.js';
import type { AvatarStage } from '../../pipeline/realtime/avatar-stage.js';
import { RealtimeSession } from '../../pipeline/realtime/session.js';
import { WebSocketTransport } from '../../transport/websocket-transport.js';
import { routeSchemas } from '../route-schemas.js';

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
  const { limits } = ctx.config;

  app.get('/api/v1/realtime', {
    websocket: true,
    schema: routeSchemas(limits).realtime,
    // Checked before the upgrade, so a bad request gets an HTTP 4xx with a JSON reason.
    preValidation: async (request) => {
      const { stage, release } = await openRealtimeStage(ctx, request.caller.tenant, request.query as RealtimeQuery, 'jpeg');
      stages.set(request, { stage, release });
      // A client that leaves before the upgrade completes gives its slot back.
      request.raw.socket.once('close', release);
    },
  }, (socket, request) => {
    const { stage, release } = stages.get(request)!;
    stages.delete(request);
    const tenant = request.caller.tenant;
    // A client that does not read would never take a close frame: its connection is dropped at once.
    const session = new RealtimeSession(stage, new WebSocketTransport(socket), realtimeSessionDeps(ctx, tenant, stage, 'jpeg', 'jpeg', () => log,
      (reason) => (reason.error === 'slow_client' ? socket.terminate() : socket.close(1011, reason.error))));
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
