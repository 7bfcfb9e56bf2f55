import { unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { AvatarCatalog } from '../avatars/catalog.js';
import { AvatarError } from '../core/errors.js';
import type { JobHandlers, RunningJob } from '../queue/job-queue.js';
import { say, type SayResult } from '../say.js';
import type { TtsProvider } from '../tts/provider.js';
import { renderAudioToMp4 } from './audio-generation.js';
import type { ServerMetrics } from './metrics.js';
import type { GenerateRequest } from './request-checks.js';

/** The kind of a job that renders one MP4. */
export const GENERATE_JOB = 'generate';

/** Jobs are batch work: their encoders yield the CPU to realtime sessions and streams. */
export const JOB_ENCODER_NICENESS = 10;

/** What a generate job renders: text (`speech`) or a stored recording (`audio`), into `output`. */
export interface GeneratePayload {
  readonly speech?: Omit<GenerateRequest, 'async'>;
  readonly audio?: { readonly upload: string; readonly avatar: string; readonly fps: number; readonly width?: number; readonly height?: number };
  /** File name of the MP4 in the tenant's outputs folder; default `<job id>.mp4`. */
  readonly output?: string;
}

/** Figures every generation reports, as a job result. */
export type GenerateFigures = Pick<SayResult, 'encoder' | 'width' | 'height' | 'fps' | 'frames' | 'audioS' | 'totalMs'> & { language?: string };

/** What rendering needs, the same in `avatar serve` (in-process queue) and `avatar worker`. */
export interface RenderJobDeps {
  readonly catalog: AvatarCatalog;
  readonly tts: TtsProvider;
  /** Forced H.264 encoder; undefined = fastest that works here. */
  readonly encoder: string | undefined;
  /** Outputs and uploads, one subfolder per tenant (a shared volume when workers run elsewhere). */
  readonly outputsDir: string;
  readonly uploadsDir: string;
  readonly metrics?: ServerMetrics;
}

/**
 * The handlers of render jobs. Payloads name files by their base name inside the tenant's
 * folders, never by path, so workers may mount the shared volume anywhere and a payload
 * can never point outside it.
 */
export function renderJobHandlers(deps: RenderJobDeps): JobHandlers {
  return {
    [GENERATE_JOB]: async (job, progress, signal) => {
      const payload = job.payload as unknown as GeneratePayload;
      const output = join(deps.outputsDir, job.tenant, basename(payload.output ?? `${job.id}.mp4`));
      const upload = payload.audio ? join(deps.uploadsDir, job.tenant, basename(payload.audio.upload)) : undefined;
      let retryable = false;
      try {
        const result = await renderGenerate(deps, job, payload, output, upload, signal, progress);
        deps.metrics?.totalGeneration.observe(result.totalMs, { encoder: result.encoder });
        deps.metrics?.countFrames(result.frames, { kind: 'mp4' });
        return { file: basename(output), ...generateFigures(result) };
      } catch (e) {
        retryable = e instanceof AvatarError && e.retryable && !signal.aborted;
        throw e;
      } finally {
        // A retryable failure may run again (a queue with retries) and needs the recording;
        // otherwise it goes now (else the retention sweep takes it).
        if (upload && !retryable) await unlink(upload).catch(() => undefined);
      }
    },
  };
}

async function renderGenerate(deps: RenderJobDeps, job: RunningJob, payload: GeneratePayload, output: string, upload: string | undefined, signal: AbortSignal, progress: (f: number) => void): Promise<GenerateFigures> {
  if (payload.audio && upload) {
    const a = payload.audio;
    return renderAudioToMp4({
      audioPath: upload, output, avatar: a.avatar, fps: a.fps,
      ...(a.width ? { width: a.width, height: a.height } : {}),
      ...(deps.encoder ? { encoder: deps.encoder } : {}),
      encoderNiceness: JOB_ENCODER_NICENESS,
    }, deps.catalog, signal, progress);
  }
  const req = payload.speech;
  if (!req) throw new AvatarError('invalid_input', `job ${job.id} has neither text nor a recording to render`);
  const result = await say({
    text: req.text, output, language: req.language, avatar: req.avatar, catalog: deps.catalog, fps: req.fps,
    ...(req.width ? { size: `${req.width}x${req.height}` } : {}),
    ...(req.voice ? { voice: req.voice } : {}),
    ...(deps.encoder ? { encoder: deps.encoder } : {}),
    tts: deps.tts, signal, encoderNiceness: JOB_ENCODER_NICENESS,
    onProgress: (p) => progress(p.sentences ? (0.95 * p.sentencesDone) / p.sentences : 0),
  });
  deps.metrics?.ttsLatency.observe(result.ttsMs, { encoder: result.encoder });
  return result;
}

/** The figures a generate job's result shows. */
export function generateFigures(r: GenerateFigures): Record<string, unknown> {
  return { durationS: r.audioS, frames: r.frames, fps: r.fps, width: r.width, height: r.height, encoder: r.encoder, ...(r.language ? { language: r.language } : {}), generationMs: Math.round(r.totalMs) };
}
