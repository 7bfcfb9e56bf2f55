import { createReadStream } from 'node:fs';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ServerContext } from '../context.js';
import { HttpError } from '../http-errors.js';
import { checkGenerateRequest } from '../request-checks.js';
import { GENERATE_JOB, type GeneratePayload } from '../render-jobs.js';
import { SEGMENTED_JOB } from '../segmented-jobs.js';
import { PREPARE_AVATAR_JOB } from '../avatar-jobs.js';
import { receiveAudioUpload } from './audio-upload.js';
import { routeSchemas } from '../route-schemas.js';

/** POST /api/v1/generate, GET /api/v1/jobs/:id, GET /api/v1/outputs/:tenant/:file */
export function registerGenerateRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const schemas = routeSchemas(ctx.config.limits);
  app.post('/api/v1/generate', { schema: schemas.generate, config: { multipartForm: true } }, async (request, reply) => {
    const requestedAt = performance.now();
    const { tenant } = request.caller;
    let payload: GeneratePayload;
    let kind = GENERATE_JOB;
    let isAsync: boolean;
    let discardUpload = async () => undefined as void;
    if (request.isMultipart()) {
      await ctx.limiter.take(request.caller.rateKey);
      const upload = await receiveAudioUpload(request, ctx);
      discardUpload = upload.discard;
      const options = upload.options;
      try {
        ctx.access.require(options.avatar, tenant);
      } catch (e) {
        await upload.discard();
        throw e;
      }
      isAsync = options.async;
      payload = { audio: { upload: basename(upload.path), avatar: options.avatar, fps: options.fps, ...(options.width ? { width: options.width, height: options.height } : {}) } };
    } else {
      const { async: wantsJob, ...speech } = checkGenerateRequest(request.body, ctx.config.limits);
      ctx.access.require(speech.avatar, tenant);
      await ctx.limiter.take(request.caller.rateKey);
      isAsync = wantsJob;
      payload = { speech };
      // Long scripts with workers to share them: segments rendered in parallel (see segmented-jobs.ts).
      const segmentMs = ctx.config.redis?.segmentMs ?? 0;
      if (segmentMs > 0 && estimatedSpeechMs(speech.text) > segmentMs) {
        kind = SEGMENTED_JOB;
        payload = { speech, segmentMs } as unknown as GeneratePayload;
      }
    }
    const folder = join(ctx.outputsDir, tenant);
    await mkdir(folder, { recursive: true });

    if (isAsync) {
      // Without `output`, the MP4 is named after the job.
      let id: string;
      try {
        id = await ctx.jobs.submit({ tenant, kind, payload: { ...payload } }, { meta: payload.audio ? { upload: join(ctx.uploadsDir, tenant, payload.audio.upload) } : {} });
      } catch (e) {
        await discardUpload();
        throw e;
      }
      return reply.code(202).header('location', `/api/v1/jobs/${id}`).send({ id, state: 'queued', status: `/api/v1/jobs/${id}` });
    }

    // Synchronous: the same queue (so concurrency holds), the MP4 in the response, no file kept.
    // The connection is quiet while the video renders: the idle timeout resumes for the download.
    reply.raw.setTimeout(0);
    const gone = abortOnDisconnect(reply);
    const output = `sync-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.mp4`;
    const path = join(folder, output);
    let job;
    try {
      job = await ctx.jobs.run({ tenant, kind, payload: kind === GENERATE_JOB ? { ...payload, output } : { ...payload } }, gone.signal);
    } finally {
      await discardUpload();
    }
    if (job.state !== 'succeeded' || !job.result) {
      await unlink(path).catch(() => undefined);
      const status = job.error?.error === 'aborted' ? 499 : statusOf(job.error?.error);
      throw new HttpError(status, job.error?.error ?? 'internal', job.error?.message ?? 'generation failed');
    }
    const result = job.result;
    const file = typeof result.file === 'string' ? join(folder, basename(result.file)) : path;
    if (file !== path) await rename(file, path);
    const size = (await stat(path)).size;
    reply.raw.setTimeout(ctx.config.limits.idleTimeoutMs);
    const stream = createReadStream(path);
    stream.on('close', () => void unlink(path).catch(() => undefined));
    return reply
      .type('video/mp4')
      .header('content-length', String(size))
      .header('x-content-duration', Number(result.durationS).toFixed(3))
      .header('x-generation-ms', String(result.generationMs ?? Math.round(performance.now() - requestedAt)))
      .header('x-encoder', String(result.encoder ?? ctx.config.encoder ?? 'auto'))
      .send(stream);
  });

  app.get('/api/v1/jobs/:id', { schema: schemas.job }, async (request) => {
    const { id } = request.params as { id: string };
    const { tenant } = request.caller;
    const valid = /^[0-9a-f-]{36}$/.test(id);
    const job = valid ? (await ctx.jobs.get(tenant, id)) ?? (ctx.localJobs !== ctx.jobs ? await ctx.localJobs.get(tenant, id) : undefined) : undefined;
    if (!job) throw new HttpError(404, 'not_found', `no job ${id}`);
    // An avatar a worker prepared is known here once this process has read its folder.
    const prepared = job.kind === PREPARE_AVATAR_JOB && job.state === 'succeeded' ? job.result?.avatar : undefined;
    if (typeof prepared === 'string' && !ctx.catalog.get(prepared)) await ctx.catalog.refreshAvatar?.(prepared);
    // Every look at a finished job signs its download afresh: an expired link is renewed here.
    if ((job.kind === GENERATE_JOB || job.kind === SEGMENTED_JOB) && job.state === 'succeeded' && typeof job.result?.file === 'string') {
      const { file, ...figures } = job.result;
      const expiresAt = Date.now() + ctx.config.urlExpiryMs;
      return { ...job, kind: GENERATE_JOB, result: { url: ctx.signer.sign(tenant, file, expiresAt), expiresAt: new Date(expiresAt).toISOString(), ...figures } };
    }
    return job.kind === SEGMENTED_JOB ? { ...job, kind: GENERATE_JOB } : job;
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

/** Speech a script will take, judged from its length (about 14 characters a second): only chooses whether to split. */
function estimatedSpeechMs(text: string): number {
  return (text.length / 14) * 1000;
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
