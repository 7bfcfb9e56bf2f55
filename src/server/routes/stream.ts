import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { checkGenerateRequest } from '../request-checks.js';
import { startSpeechStream } from '../../pipeline/speech-to-stream.js';
import { startQueuedStream } from '../queued-stream.js';
import { abortOnDisconnect } from './generate.js';
import { HttpError } from '../http-errors.js';
import { PassThrough, type Readable } from 'node:stream';

/**
 * The response body: the encoder's bytes, ended only once the render has succeeded. When
 * it fails (an encoder killed, a renderer error), the body is destroyed instead, so the
 * transfer breaks (no final chunk) and the client sees an error, never a short video that
 * looks complete, whichever of the encoder's end and the render's failure comes first.
 */
function untilDone(output: Readable, done: Promise<unknown>): Readable {
  const body = new PassThrough();
  output.pipe(body, { end: false });
  let outputEnded = false;
  let succeeded = false;
  output.once('end', () => {
    outputEnded = true;
    if (succeeded) body.end();
  });
  output.once('error', (e) => body.destroy(e));
  done.then(() => {
    succeeded = true;
    if (outputEnded) body.end();
  }, (e: unknown) => body.destroy(e instanceof Error ? e : new Error('the stream failed')));
  body.once('close', () => {
    if (!body.writableFinished) output.destroy();
  });
  return body;
}
import { routeSchemas } from '../route-schemas.js';

/**
 * Fastest a stream renders, as a multiple of real time, past its head start: a player needs
 * 1x; beside live realtime sessions a stream takes little more, so they keep their frames.
 */
const STREAM_SPEED_ALONE = 4;
const STREAM_SPEED_BESIDE_SESSIONS = 1.5;
/**
 * Video a stream renders at full speed first, ms. Beside live sessions it is short: a
 * burst of a few seconds of frames is CPU taken from them at once, and a player that has
 * half a second buffered gains on it from there at half real time.
 */
const STREAM_HEAD_START_ALONE_MS = 2000;
const STREAM_HEAD_START_BESIDE_SESSIONS_MS = 500;

/**
 * POST and GET /api/v1/generate/stream: fragmented MP4 streamed while it renders, in this
 * process, or with a queue by workers, segment by segment (see queued-stream.ts).
 */
export function registerStreamRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply, input: unknown, textFields: boolean) => {
    const requestedAt = performance.now();
    const req = checkGenerateRequest(input, ctx.config.limits, textFields);
    ctx.access.require(req.avatar, request.caller.tenant);
    await ctx.limiter.take(request.caller.rateKey);
    const release = ctx.live.reserve();
    if (!release) throw new HttpError(503, 'busy', `the server is at its limit of ${ctx.config.limits.maxRealtimeSessions} realtime sessions and streams; try again later`);
    const gone = abortOnDisconnect(reply);
    let started;
    try {
      started = ctx.jobs.streams
        ? await startQueuedStream(req, request.caller.tenant, { jobs: ctx.jobs, tts: ctx.tts, outputsDir: ctx.outputsDir, segmentMs: ctx.config.redis?.segmentMs ?? 0 }, gone.signal)
        : await startSpeechStream(req, {
        renderers: ctx.renderers, tts: ctx.tts, encoder: ctx.encoder, signal: gone.signal,
        onFrames: (n) => ctx.metrics.countFrames(n, { kind: 'stream' }),
        maxSpeed: () => (ctx.live.tracked > 0 ? STREAM_SPEED_BESIDE_SESSIONS : STREAM_SPEED_ALONE),
        headStartMs: ctx.live.tracked > 0 ? STREAM_HEAD_START_BESIDE_SESSIONS_MS : STREAM_HEAD_START_ALONE_MS,
      });
    } catch (e) {
      release();
      gone.abort();
      throw e;
    }
    const encoder = await ctx.encoder.then((e) => e.name);
    ctx.metrics.ttsLatency.observe(started.ttsFirstMs, { encoder });
    started.output.once('data', () => ctx.metrics.firstFrameLatency.observe(performance.now() - requestedAt, { encoder }));
    started.done.then(
      (r) => ctx.metrics.totalGeneration.observe(r.totalMs, { encoder }),
      (e: unknown) => ctx.metrics.errors.inc({ kind: (e as { code?: string }).code === 'aborted' || gone.signal.aborted ? 'client_gone' : 'stream_failed' }),
    ).finally(release);
    return reply
      .type('video/mp4')
      .header('cache-control', 'no-store')
      .header('x-content-duration', started.durationS.toFixed(3))
      .header('x-content-duration-estimated', String(started.durationEstimated))
      .header('x-video-size', `${started.width}x${started.height}`)
      .send(untilDone(started.output, started.done));
  };
  const schemas = routeSchemas(ctx.config.limits);
  app.post('/api/v1/generate/stream', { schema: schemas.streamPost }, (request, reply) => handler(request, reply, request.body, false));
  // HEAD checks the request and answers the headers a GET would start with, rendering nothing.
  app.head('/api/v1/generate/stream', async (request, reply) => {
    const req = checkGenerateRequest(request.query, ctx.config.limits, true);
    ctx.access.require(req.avatar, request.caller.tenant);
    return reply.type('video/mp4').header('cache-control', 'no-store').send();
  });
  app.get('/api/v1/generate/stream', { schema: schemas.streamGet, exposeHeadRoute: false }, (request, reply) => handler(request, reply, request.query, true));
}
