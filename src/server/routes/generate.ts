import { createReadStream } from 'node:fs';
import { mkdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { say, type SayResult } from '../../say.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../http-errors.js';
import { checkGenerateRequest, type GenerateRequest } from '../request-checks.js';
import { renderAudioToMp4 } from '../audio-generation.js';
import { receiveAudioUpload } from './audio-upload.js';
import { routeSchemas } from '../route-schemas.js';

/** POST /api/v1/generate, GET /api/v1/jobs/:id, GET /api/v1/outputs/:tenant/:file */
export function registerGenerateRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const schemas = routeSchemas(ctx.config.limits);
  app.post('/api/v1/generate', { schema: schemas.generate, config: { multipartForm: true } }, async (request, reply) => {
    const { tenant } = request.caller;
    let render: Render;
    let cleanup = async () => undefined as void;
    let isAsync: boolean;
    let uploadPath: string | undefined;
    if (request.isMultipart()) {
      ctx.limiter.take(request.caller.rateKey);
      const upload = await receiveAudioUpload(request, ctx);
      uploadPath = upload.path;
      cleanup = upload.discard;
      const options = upload.options;
      try {
        ctx.access.require(options.avatar, tenant);
      } catch (e) {
        await cleanup();
        throw e;
      }
      isAsync = options.async;
      render = (path, signal, progress) => renderAudioToMp4({
        audioPath: upload.path, output: path, avatar: options.avatar, fps: options.fps,
        ...(options.width ? { width: options.width, height: options.height } : {}),
        ...(ctx.config.encoder ? { encoder: ctx.config.encoder } : {}),
      }, ctx.catalog, signal, progress);
    } else {
      const req = checkGenerateRequest(request.body, ctx.config.limits);
      ctx.access.require(req.avatar, tenant);
      ctx.limiter.take(request.caller.rateKey);
      isAsync = req.async;
      render = (path, signal, progress) => renderText(ctx, req, path, signal, progress);
    }
    const folder = join(ctx.outputsDir, tenant);
    await mkdir(folder, { recursive: true });
    const measured: Render = async (path, signal, progress) => {
      try {
        const result = await render(path, signal, progress);
        ctx.metrics.totalGeneration.observe(result.totalMs, { encoder: result.encoder });
        ctx.metrics.countFrames(result.frames, { kind: 'mp4' });
        return result;
      } finally {
        await cleanup();
      }
    };

    if (isAsync) {
      const id = ctx.jobs.submit(tenant, 'generate', async (progress, signal, jobId) => {
        const result = await measured(join(folder, `${jobId}.mp4`), signal, progress);
        const expiresAt = Date.now() + ctx.config.urlExpiryMs;
        return { url: ctx.signer.sign(tenant, `${jobId}.mp4`, expiresAt), expiresAt: new Date(expiresAt).toISOString(), ...figures(result) };
      }, { meta: uploadPath ? { upload: uploadPath } : {} });
      return reply.code(202).header('location', `/api/v1/jobs/${id}`).send({ id, state: 'queued', status: `/api/v1/jobs/${id}` });
    }

    // Synchronous: the same queue (so concurrency holds), the MP4 in the response, no file kept.
    // The connection is quiet while the video renders: the idle timeout resumes for the download.
    reply.raw.setTimeout(0);
    const gone = abortOnDisconnect(reply);
    const path = join(folder, `sync-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.mp4`);
    let result: Rendered | undefined;
    const job = await ctx.jobs.run(tenant, 'generate', async (progress, signal) => {
      result = await measured(path, signal, progress);
      return figures(result);
    }, gone.signal);
    await cleanup();
    if (job.state !== 'succeeded' || !result) {
      await unlink(path).catch(() => undefined);
      const status = job.error?.error === 'aborted' ? 499 : statusOf(job.error?.error);
      throw new HttpError(status, job.error?.error ?? 'internal', job.error?.message ?? 'generation failed');
    }
    const size = (await stat(path)).size;
    reply.raw.setTimeout(ctx.config.limits.idleTimeoutMs);
    const stream = createReadStream(path);
    stream.on('close', () => void unlink(path).catch(() => undefined));
    return reply
      .type('video/mp4')
      .header('content-length', String(size))
      .header('x-content-duration', result.audioS.toFixed(3))
      .header('x-generation-ms', String(Math.round(result.totalMs)))
      .header('x-encoder', result.encoder)
      .send(stream);
  });

  app.get('/api/v1/jobs/:id', { schema: schemas.job }, async (request) => {
    const { id } = request.params as { id: string };
    const job = /^[0-9a-f-]{36}$/.test(id) ? ctx.jobs.get(request.caller.tenant, id) : undefined;
    if (!job) throw new HttpError(404, 'not_found', `no job ${id}`);
    // Every look at a finished job signs its download afresh: an expired link is renewed here.
    if (job.kind === 'generate' && job.state === 'succeeded' && typeof job.result?.url === 'string') {
      const expiresAt = Date.now() + ctx.config.urlExpiryMs;
      return { ...job, result: { ...job.result, url: ctx.signer.sign(request.caller.tenant, `${id}.mp4`, expiresAt), expiresAt: new Date(expiresAt).toISOString() } };
    }
    return job;
  });

  app.get('/api/v1/outputs/:tenant/:file', { schema: schemas.output }, async (request, reply) => {
    const { tenant, file } = request.params as { tenant: string; file: string };
    const { expires, sig } = request.query as { expires?: string; sig?: string };
    if (!/^[a-z0-9_-]{1,64}$/.test(tenant) || !/^[0-9a-f-]{36}\.mp4$/.test(file)) throw new HttpError(404, 'not_found', 'no such output');
    const verdict = ctx.signer.verify(tenant, file, expires, sig);
    if (verdict === 'bad') throw new HttpError(403, 'forbidden', 'the download link is not valid');
    if (verdict === 'expired') throw new HttpError(410, 'expired', 'the download link has expired; fetch the job again for a fresh one');
    const path = join(ctx.outputsDir, tenant, file);
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new HttpError(404, 'not_found', 'the output is gone (outputs are kept for the retention period)');
    return reply.type('video/mp4').header('content-length', String(info.size)).send(createReadStream(path));
  });
}

/** What every generation reports. */
type Rendered = Pick<SayResult, 'encoder' | 'width' | 'height' | 'fps' | 'frames' | 'audioS' | 'totalMs'> & { language?: string };
type Render = (path: string, signal: AbortSignal, progress: (f: number) => void) => Promise<Rendered>;

async function renderText(ctx: ServerContext, req: GenerateRequest, path: string, signal: AbortSignal, progress: (f: number) => void): Promise<SayResult> {
  const result = await say({
    text: req.text, output: path, language: req.language, avatar: req.avatar, catalog: ctx.catalog, fps: req.fps,
    ...(req.width ? { size: `${req.width}x${req.height}` } : {}),
    ...(req.voice ? { voice: req.voice } : {}),
    ...(ctx.config.encoder ? { encoder: ctx.config.encoder } : {}),
    tts: ctx.tts, signal,
    onProgress: (p) => progress(p.sentences ? (0.95 * p.sentencesDone) / p.sentences : 0),
  });
  ctx.metrics.ttsLatency.observe(result.ttsMs, { encoder: result.encoder });
  return result;
}

function figures(r: Rendered): Record<string, unknown> {
  return { durationS: r.audioS, frames: r.frames, fps: r.fps, width: r.width, height: r.height, encoder: r.encoder, ...(r.language ? { language: r.language } : {}), generationMs: Math.round(r.totalMs) };
}

function statusOf(code: string | undefined): number {
  switch (code) {
    case 'invalid_input': case 'unknown_language': case 'unknown_voice': case 'unknown_encoder': return 400;
    case 'unknown_avatar': return 404;
    case 'tts_failed': return 502;
    case 'ffmpeg_missing': return 503;
    default: return 500;
  }
}

/** An AbortController that fires when the client goes away before the response is complete. */
export function abortOnDisconnect(reply: FastifyReply): AbortController {
  const controller = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) controller.abort();
  };
  reply.raw.once('close', onClose);
  return controller;
}
