import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';
import { chooseEncoder } from '../encode/encoder-probe.js';
import { H264StreamWriter } from '../encode/h264-stream.js';
import { speechToMp4 } from '../pipeline/speech-to-mp4.js';
import type { JobHandlers } from '../queue/job-queue.js';
import type { StreamWriter } from '../queue/redis-stream-channel.js';
import { HttpError, toHttpError } from './http-errors.js';
import type { RenderJobDeps } from './render-jobs.js';
import { RendererShelf, WORKER_SHELF_LIMITS } from '../pipeline/renderer-shelf.js';
import { readSegmentSpeech, type SegmentPayload } from './segmented-jobs.js';

/**
 * The kind of a job that renders one segment of a progressive stream: its H.264 goes to the
 * job's stream channel as it is encoded, for the API process that holds the client to join
 * (see queued-stream.ts).
 */
export const STREAM_SEGMENT_JOB = 'stream-segment';

/**
 * The handler of stream segment jobs (workers). The segment's speech is read from the
 * shared folder where the API process wrote it; frames are numbered from the segment's
 * start frame (the idle motion runs on across joins, as in segmented MP4 generation) and
 * encoded as bare H.264 (see H264StreamWriter). The channel gets a head (the picture's
 * size), the bytes as ffmpeg writes them, then `end` or `error`. A segment never runs twice:
 * one taken over after its worker died answers `stream_interrupted`, since part of it may
 * already have gone to the client.
 */
export function streamJobHandlers(deps: RenderJobDeps, writerFor: (jobId: string) => StreamWriter, renderers = new RendererShelf(deps.catalog, WORKER_SHELF_LIMITS)): JobHandlers {
  return {
    [STREAM_SEGMENT_JOB]: async (job, progress, signal) => {
      const out = writerFor(job.id);
      if (await out.started()) throw new HttpError(502, 'stream_interrupted', 'the worker rendering this stream stopped; request the stream again');
      try {
        const p = job.payload as unknown as SegmentPayload;
        const parts = await readSegmentSpeech(join(deps.outputsDir, job.tenant, basename(p.dir)), p.index);
        const request = { fps: p.fps, ...(p.width ? { width: p.width, height: p.height } : {}) };
        const renderer = await renderers.checkout(p.avatar, request);
        const encoder = await chooseEncoder(deps.encoder);
        try {
        const expected = (parts.reduce((n, s) => n + s.pcm.length, 0) * p.fps) / parts[0]!.sampleRate;
        let relayed: Promise<void> | undefined;
        const rendered = await speechToMp4({
          speech: (async function* () { yield* parts; })(), arrival: 'pieces', renderer, encoder, fps: p.fps, signal, startFrame: p.startFrame,
          onFrame: (n) => { if (n % 25 === 0) progress(n / expected); },
          output: async ({ width, height, fps }) => {
            const writer = await H264StreamWriter.open({ width, height, fps, encoder });
            await out.write({ type: 'head', head: { width, height, durationS: Math.round(expected) / fps, durationEstimated: false } });
            relayed = relay(writer.output, out);
            relayed.catch(() => undefined);
            return writer;
          },
        });
        await relayed;
        await out.write({ type: 'end' });
        deps.metrics?.countFrames(rendered.frames, { kind: 'stream' });
        return { frames: rendered.frames, encoder: encoder.name, width: renderer.width, height: renderer.height };
        } finally {
          renderers.checkin(p.avatar, request, renderer);
        }
      } catch (e) {
        const { body } = toHttpError(e);
        await out.write({ type: 'error', ...body }).catch(() => undefined);
        throw e;
      }
    },
  };
}

/** Copies an encoder's output to the channel, chunk by chunk, in order. */
async function relay(bytes: Readable, out: StreamWriter): Promise<void> {
  for await (const chunk of bytes) await out.write({ type: 'data', bytes: chunk as Buffer });
}
