import type { H264Encoder } from '../encode/encoder-probe.js';
import { startSpeechStream, type RendererLender } from '../pipeline/speech-to-stream.js';
import type { JobHandlers } from '../queue/job-queue.js';
import type { StreamWriter } from '../queue/redis-stream-channel.js';
import type { TtsProvider } from '../tts/provider.js';
import { HttpError, toHttpError } from './http-errors.js';
import type { ServerMetrics } from './metrics.js';
import type { GenerateRequest } from './request-checks.js';

/** The kind of a job that renders a progressive (fragmented MP4) stream for a client held by an API process. */
export const STREAM_JOB = 'stream';

/** What a stream job renders. */
export interface StreamPayload {
  readonly speech: Omit<GenerateRequest, 'async'>;
}

/**
 * The handler of stream jobs (workers): the fMP4 bytes go to the job's stream channel as
 * ffmpeg writes them, after a head with what the response headers say, and end with `end`
 * or `error`. A stream job never runs twice: one taken over after its worker died answers
 * `stream_interrupted` (its client already has part of a video and sees the transfer break).
 */
export function streamJobHandlers(deps: { renderers: RendererLender; tts: TtsProvider; encoder: Promise<H264Encoder>; metrics?: ServerMetrics }, writerFor: (jobId: string) => StreamWriter): JobHandlers {
  return {
    [STREAM_JOB]: async (job, _progress, signal) => {
      const out = writerFor(job.id);
      if (await out.started()) throw new HttpError(502, 'stream_interrupted', 'the worker rendering this stream stopped; request the stream again');
      try {
        const { speech } = job.payload as unknown as StreamPayload;
        const started = await startSpeechStream(speech, { renderers: deps.renderers, tts: deps.tts, encoder: deps.encoder, signal, onFrames: (n) => deps.metrics?.countFrames(n, { kind: 'stream' }) });
        started.done.catch(() => undefined);
        await out.write({ type: 'head', head: { width: started.width, height: started.height, durationS: started.durationS, durationEstimated: started.durationEstimated } });
        for await (const chunk of started.output) await out.write({ type: 'data', bytes: chunk as Buffer });
        const result = await started.done;
        await out.write({ type: 'end' });
        return { frames: result.frames, generationMs: Math.round(result.totalMs) };
      } catch (e) {
        const { body } = toHttpError(e);
        await out.write({ type: 'error', ...body }).catch(() => undefined);
        throw e;
      }
    },
  };
}
