import type { FastifyBaseLogger } from 'fastify';
import type { ErrorDescription } from '../core/errors.js';
import { AvatarError } from '../core/errors.js';
import type { AvatarStage } from '../pipeline/realtime/avatar-stage.js';
import type { SessionDeps } from '../pipeline/realtime/session.js';
import type { PictureFormat } from '../pipeline/realtime/transport.js';
import { parseSize } from '../render/renderer.js';
import type { ServerContext } from './context.js';
import { HttpError } from './http-errors.js';
import { defaultSize } from './routes/realtime.js';

/** The query of a realtime session request (WebSocket or WebRTC). */
export interface RealtimeQuery {
  avatar?: string;
  size?: string;
  fps?: string;
  api_key?: string;
}

/** A stage for a new realtime session and the session slot it holds. */
export interface OpenedStage {
  readonly stage: AvatarStage;
  /** Gives the slot back (idempotent). */
  readonly release: () => void;
}

/** The stage of an avatar the tenant may use, at a size and rate, for a transport that takes `format`. */
export function stageFor(ctx: ServerContext, tenant: string, avatar: string, size: { width: number; height: number }, fps: number, format: PictureFormat): Promise<AvatarStage> {
  ctx.access.require(avatar, tenant);
  return ctx.renderers.get(avatar, { ...size, fps }, format);
}

/**
 * Checks a realtime request's size and rate, takes a session slot (before any await, so
 * simultaneous requests cannot pass the limit together) and loads the avatar's stage.
 * Bad input is an `invalid_input` error; a full server a 503 `busy`.
 */
export async function openRealtimeStage(ctx: ServerContext, tenant: string, query: RealtimeQuery, format: PictureFormat): Promise<OpenedStage> {
  const { limits, realtime } = ctx.config;
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
  const release = ctx.live.reserve();
  if (!release) throw new HttpError(503, 'busy', `the server is at its limit of ${limits.maxRealtimeSessions} realtime sessions and streams; try again later`);
  try {
    return { stage: await stageFor(ctx, tenant, query.avatar ?? 'default', size, fps, format), release };
  } catch (e) {
    release();
    throw e;
  }
}

/** What a realtime session of this server needs, whatever its transport (which takes `format`); `encoder` labels the latency metrics. */
export function realtimeSessionDeps(ctx: ServerContext, tenant: string, stage: AvatarStage, format: PictureFormat, encoder: string, log: () => FastifyBaseLogger, onEnded: (reason: ErrorDescription) => void): SessionDeps {
  const { limits } = ctx.config;
  return {
    tts: ctx.tts,
    maxTextChars: limits.maxTextChars,
    stallTimeoutMs: limits.idleTimeoutMs,
    stageFor: (avatar) => stageFor(ctx, tenant, avatar, { width: stage.width, height: stage.height }, stage.fps, format),
    onFirstFrame: (latencyMs, ttsMs) => {
      ctx.metrics.firstFrameLatency.observe(latencyMs, { encoder });
      if (ttsMs !== undefined) ctx.metrics.ttsLatency.observe(ttsMs, { encoder });
    },
    onFrame: (late) => {
      ctx.metrics.countFrames(1, { kind: 'realtime' });
      if (late) ctx.metrics.lateFrames.inc();
    },
    onError: (kind) => {
      ctx.metrics.errors.inc({ kind });
      log().warn({ kind }, 'realtime session error');
    },
    onEnded,
  };
}
