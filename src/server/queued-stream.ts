import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AvatarError } from '../core/errors.js';
import { concatSpeech, type Speech } from '../core/speech.js';
import { Fmp4Joiner } from '../encode/fmp4-join.js';
import { estimateDurationMs, type SpeechStreamRequest, type StartedStream } from '../pipeline/speech-to-stream.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { StreamEntry, StreamHead } from '../queue/redis-stream-channel.js';
import type { TtsProvider } from '../tts/provider.js';
import { HttpError } from './http-errors.js';
import { frameCount, segmentsAsTheyCome, toStored, type SegmentPayload } from './segmented-jobs.js';
import { STREAM_SEGMENT_JOB } from './stream-jobs.js';

/** Audio rate of streamed MP4s (espeak's own rate, as for streams rendered in the API process). */
const STREAM_SAMPLE_RATE = 22050;

/** Longest the headers wait for the rest of the script to be synthesized, to state an exact duration, ms. */
const HEADER_WAIT_MS = 100;

/** What a stream rendered by workers needs from the API process. */
export interface QueuedStreamDeps {
  /** A queue whose stream jobs run elsewhere (it has `streams`). */
  readonly jobs: JobQueue;
  readonly tts: TtsProvider;
  /** Shared with the workers: each stream's segment speech goes in a folder of the tenant's there. */
  readonly outputsDir: string;
  /** Longest speech of one segment, ms; 0 = the whole script is one segment. */
  readonly segmentMs: number;
}

/** A segment handed to the workers. */
interface Planned {
  readonly jobId: string;
  readonly speech: Speech;
  readonly frames: number;
}

/**
 * `/generate/stream` with a queue: the script is synthesized here sentence by sentence and
 * cut into segments (as POST /generate does, see segmented-jobs.ts, but the first sentence
 * alone: the first pictures wait for no more speech); each segment is queued as soon as
 * its speech is known, so workers render segments in parallel while the first
 * already streams. This process joins them in order (Fmp4Joiner: video copied, the whole
 * script's sound encoded once) into one fragmented MP4 and renders no frame itself.
 * Continuity at the joins: each segment's audio is padded to a whole number of frames and
 * its frames are numbered from its start frame (idle motion and loop phase run on).
 * Resolves once the first segment's picture size is known; a failure after that breaks
 * the output (the client sees an error, never a short video that looks complete), and
 * cancels the segments not yet done.
 */
export async function startQueuedStream(request: SpeechStreamRequest, tenant: string, deps: QueuedStreamDeps, signal: AbortSignal): Promise<StartedStream> {
  const streams = deps.jobs.streams;
  if (!streams) throw new Error('startQueuedStream needs a queue whose streams run elsewhere');
  const started = performance.now();
  const dir = `.stream-${randomUUID()}`;
  const folder = join(deps.outputsDir, tenant, dir);
  await mkdir(folder, { recursive: true });
  const joinerReady = Fmp4Joiner.open({ fps: request.fps, sampleRate: STREAM_SAMPLE_RATE });
  joinerReady.catch(() => undefined);
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });

  // Planning: speech in, segment jobs out, in order.
  const planned: Planned[] = [];
  const parts: Speech[] = [];
  let planDone = false;
  let firstPlannedMs: number | undefined;
  let wake: () => void = () => undefined;
  let changed = new Promise<void>((r) => (wake = r));
  const notify = () => {
    wake();
    changed = new Promise<void>((r) => (wake = r));
  };
  const planning = (async () => {
    let startFrame = 0;
    const speech = (async function* () {
      for await (const part of deps.tts.synthesize({ text: request.text, language: request.language, ...(request.voice ? { voice: request.voice } : {}) }, stop.signal)) {
        parts.push(part);
        yield part;
      }
    })();
    try {
      for await (const segment of segmentsAsTheyCome(speech, deps.segmentMs, request.fps, deps.segmentMs > 0)) {
        const index = planned.length;
        await writeFile(join(folder, `${index}.json`), JSON.stringify(segment.map(toStored)));
        const payload: SegmentPayload = { dir, index, startFrame, avatar: request.avatar, fps: request.fps, ...(request.width ? { width: request.width, height: request.height } : {}) };
        const jobId = await deps.jobs.submit({ tenant, kind: STREAM_SEGMENT_JOB, payload: { ...payload } }, { persist: false, retry: false });
        const frames = frameCount(segment, request.fps);
        planned.push({ jobId, speech: concatSpeech(segment), frames });
        firstPlannedMs ??= performance.now() - started;
        startFrame += frames;
        notify();
      }
      if (planned.length === 0) throw new AvatarError('tts_failed', 'no speech to render: the speech source produced no audio');
    } finally {
      planDone = true;
      notify();
    }
  })();
  planning.catch(() => undefined);

  // Joining: each segment's sound, then its video as the worker sends it.
  let headOf: (head: StreamHead) => void = () => undefined;
  const head = new Promise<StreamHead>((r) => (headOf = r));
  let frames = 0;
  const joining = (async () => {
    const joiner = await joinerReady.catch((e: unknown) => {
      stop.abort();
      throw e;
    });
    try {
      for (let k = 0; ; k++) {
        while (planned.length <= k && !planDone) await changed;
        if (planned.length <= k) break;
        const segment = planned[k]!;
        let ended = false;
        for await (const entry of streams.read(segment.jobId, stop.signal)) {
          if (entry.type === 'head') {
            if (k === 0) headOf(entry.head);
            joiner.writeAudio(segment.speech.pcm, segment.speech.sampleRate);
            frames += segment.frames;
          } else if (entry.type === 'data') await joiner.writeVideo(entry.bytes);
          else if (entry.type === 'error') throw segmentFailure(entry);
          else ended = true;
        }
        if (!ended) throw stop.signal.aborted ? new AvatarError('aborted', 'the stream was cancelled') : new HttpError(502, 'stream_interrupted', 'a segment of the stream stopped; request the stream again');
      }
      await planning; // its failure, if any, is the stream's
      await joiner.finish();
      return { frames, totalMs: performance.now() - started };
    } catch (e) {
      stop.abort();
      await joiner.abort();
      joiner.output.destroy(e instanceof Error ? e : new AvatarError('ffmpeg_failed', 'the stream failed'));
      throw e;
    }
  })();
  const done = joining.finally(async () => {
    signal.removeEventListener('abort', onAbort);
    await planning.catch(() => undefined);
    if (stop.signal.aborted) await Promise.all(planned.map((p) => deps.jobs.cancel(p.jobId).catch(() => undefined)));
    await rm(folder, { recursive: true, force: true });
  });
  done.catch(() => undefined);

  let first: StreamHead;
  try {
    first = await Promise.race([head, done.then(() => { throw new Error('the stream ended before its first segment'); })]);
  } catch (e) {
    stop.abort();
    await done.catch(() => undefined);
    throw e;
  }
  // A moment more for the rest of the script's speech, so the stated duration is exact.
  const until = performance.now() + HEADER_WAIT_MS;
  while (!planDone && performance.now() < until) await Promise.race([changed, new Promise((r) => setTimeout(r, until - performance.now()))]);
  const joiner = await joinerReady;
  const knownMs = parts.reduce((n, p) => n + (p.pcm.length * 1000) / p.sampleRate, 0);
  const durationMs = planDone ? planned.reduce((n, p) => n + (p.speech.pcm.length * 1000) / p.speech.sampleRate, 0) : estimateDurationMs(request.text, parts, false);
  return {
    output: joiner.output, width: first.width, height: first.height,
    durationS: Math.round(Math.max(durationMs, knownMs)) / 1000, durationEstimated: !planDone, ttsFirstMs: firstPlannedMs ?? 0, done,
  };
}

/** A segment's failure as the client's error. */
function segmentFailure(entry: Extract<StreamEntry, { type: 'error' }>): HttpError {
  return new HttpError(entry.error === 'aborted' ? 499 : 502, entry.error, entry.message);
}
