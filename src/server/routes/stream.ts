import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { checkGenerateRequest } from '../request-checks.js';
import { startSpeechStream } from '../../pipeline/speech-to-stream.js';
import { abortOnDisconnect } from './generate.js';
import { routeSchemas } from '../route-schemas.js';

/** POST and GET /api/v1/generate/stream: fragmented MP4 streamed while it renders. */
export function registerStreamRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply, input: unknown) => {
    const requestedAt = performance.now();
    const req = checkGenerateRequest(input, ctx.config.limits);
    ctx.access.require(req.avatar, request.caller.tenant);
    ctx.limiter.take(request.caller.rateKey);
    const gone = abortOnDisconnect(reply);
    ctx.sessions++;
    let counted = true;
    const release = () => {
      if (counted) ctx.sessions--;
      counted = false;
    };
    let started;
    try {
      started = await startSpeechStream(req, {
        renderers: ctx.renderers, tts: ctx.tts, encoder: ctx.encoder, signal: gone.signal,
        onFrames: (n) => ctx.metrics.countFrames(n, { kind: 'stream' }),
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
      .send(started.output);
  };
  const schemas = routeSchemas(ctx.config.limits);
  app.post('/api/v1/generate/stream', { schema: schemas.streamPost }, (request, reply) => handler(request, reply, request.body));
  app.get('/api/v1/generate/stream', { schema: schemas.streamGet }, (request, reply) => handler(request, reply, request.query));
}
