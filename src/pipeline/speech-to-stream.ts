import type { Readable } from 'node:stream';
import { Prefetch } from '../core/bounded-queue.js';
import { AvatarError } from '../core/errors.js';
import type { Speech } from '../core/speech.js';
import type { H264Encoder } from '../encode/encoder-probe.js';
import { Fmp4StreamWriter } from '../encode/fmp4-stream.js';
import type { Renderer } from '../render/renderer.js';
import type { TtsProvider } from '../tts/provider.js';
import { splitSentences } from '../tts/sentences.js';
import { renderTo } from './render-to.js';
import { trackSpeech, type TrackedSpeech } from './track-speech.js';

/** Text to stream, with the avatar and picture wanted. */
export interface SpeechStreamRequest {
  readonly text: string;
  /** A resolved language code. */
  readonly language: string;
  readonly voice?: string;
  readonly avatar: string;
  readonly fps: number;
  readonly width?: number;
  readonly height?: number;
}

/** Where a stream gets a renderer of its own (and gives it back, for the next stream). */
export interface RendererLender {
  checkout(avatar: string, request: { width?: number; height?: number; fps: number }): Promise<Renderer>;
  checkin(avatar: string, request: { width?: number; height?: number; fps: number }, renderer: Renderer): void;
}

/** What the route needs to answer, and the figures once the stream ends. */
export interface StartedStream {
  readonly output: Readable;
  readonly width: number;
  readonly height: number;
  /** Seconds of video: exact when the whole text was synthesized before the headers went out. */
  readonly durationS: number;
  readonly durationEstimated: boolean;
  readonly ttsFirstMs: number;
  /**
   * Settles when the last byte is written, or rejects on failure or abort; `output` is then
   * destroyed with the error, so the client sees a broken transfer, never a short video
   * that looks complete.
   */
  readonly done: Promise<{ frames: number; totalMs: number }>;
}

/** Audio rate of streamed MP4s (espeak's own rate, so its speech needs no resampling). */
const STREAM_SAMPLE_RATE = 22050;

/** Streams encode faster than real time; under contention, realtime sessions come first. */
const STREAM_NICENESS = 5;

/** Fastest a stream is rendered, as a multiple of real time, after its head start (ms of video). */
const STREAM_MAX_SPEED = 4;
const STREAM_HEAD_START_MS = 2000;

/** Sentences synthesized ahead of the one being rendered (also what the duration estimate sees). */
const STREAM_SPEECH_AHEAD = 3;

/** Longest the headers wait for more of the text to be synthesized, to state a better duration. */
const HEADER_WAIT_MS = 100;

/**
 * Text to fragmented MP4 while it renders: `trackSpeech` then `renderTo` an fMP4 stream
 * sink, with sentences synthesized a bounded few ahead. The container bytes flow out as
 * ffmpeg writes them. Aborting `signal` stops synthesis, rendering and ffmpeg at once.
 */
export async function startSpeechStream(
  request: SpeechStreamRequest,
  deps: {
    renderers: RendererLender; tts: TtsProvider; encoder: Promise<H264Encoder>; signal: AbortSignal; onFrames?: (n: number) => void;
    /** Fastest rendering allowed now, as a multiple of real time, after the head start (default 4). */
    maxSpeed?: () => number;
    /** Video rendered at full speed before `maxSpeed` applies, ms (default 2000). */
    headStartMs?: number;
  },
): Promise<StartedStream> {
  const started = performance.now();
  const { signal } = deps;
  const speech = new Prefetch<Speech>(deps.tts.synthesize({ text: request.text, language: request.language, ...(request.voice ? { voice: request.voice } : {}) }, signal), STREAM_SPEECH_AHEAD);
  const rendererRequest = { fps: request.fps, ...(request.width ? { width: request.width } : {}), ...(request.height ? { height: request.height } : {}) };
  const rendererReady = deps.renderers.checkout(request.avatar, rendererRequest);
  // ffmpeg starts while the first sentence is synthesized: its audio input runs at a fixed
  // rate, and the sink converts speech at any other rate.
  const writerReady = Promise.all([rendererReady, deps.encoder]).then(([r, encoder]) =>
    Fmp4StreamWriter.open({ width: r.width, height: r.height, fps: request.fps, sampleRate: STREAM_SAMPLE_RATE, encoder, niceness: STREAM_NICENESS }));
  writerReady.catch(() => undefined);
  let steps: AsyncGenerator<TrackedSpeech> | undefined;
  try {
    await speech.waitFor(1, Number.POSITIVE_INFINITY);
    const conditioning = (await rendererReady).createAudioConditioning?.(request.fps);
    steps = trackSpeech(speech, { fps: request.fps, arrival: 'pieces', signal, ...(conditioning ? { conditioning } : {}) });
    // A failed or empty synthesis surfaces here, before any header goes out.
    if (speech.buffered.length === 0) await steps.next();
    await writerReady;
  } catch (e) {
    await steps?.return(undefined);
    await writerReady.then((w) => w.abort(), () => undefined);
    await rendererReady.then((r) => deps.renderers.checkin(request.avatar, rendererRequest, r), () => undefined);
    throw e;
  }
  const ttsFirstMs = performance.now() - started;
  const renderer = await rendererReady;
  const writer = await writerReady;

  await speech.waitFor(STREAM_SPEECH_AHEAD, HEADER_WAIT_MS);
  const durationMs = estimateDurationMs(request.text, speech.buffered, speech.done);

  // A player consumes the stream at 1x: beyond a head start, rendering faster than a few
  // times real time only takes the CPU from live sessions. The allowance of video grows at
  // the speed allowed at each moment, so a stream slows while sessions are live and speeds
  // up again when they end.
  let allowedMs = deps.headStartMs ?? STREAM_HEAD_START_MS;
  let lastPacedAt: number | undefined;
  const pace = async (frameIndex: number) => {
    const frameMs = (frameIndex * 1000) / request.fps;
    for (;;) {
      const now = performance.now();
      const speed = deps.maxSpeed?.() ?? STREAM_MAX_SPEED;
      allowedMs += (now - (lastPacedAt ?? now)) * speed;
      lastPacedAt = now;
      if (frameMs <= allowedMs) return;
      await new Promise((r) => setTimeout(r, Math.min(100, (frameMs - allowedMs) / speed)));
    }
  };
  const onAbort = () => void writer.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const done = renderTo(writer, steps, renderer, { signal, pace, onFrame: () => deps.onFrames?.(1) })
    .then((r) => ({ frames: r.frames, totalMs: performance.now() - started }))
    .catch((e: unknown) => {
      writer.output.destroy(e instanceof Error ? e : new AvatarError('ffmpeg_failed', 'the stream failed'));
      throw e;
    })
    .finally(() => {
      signal.removeEventListener('abort', onAbort);
      deps.renderers.checkin(request.avatar, rendererRequest, renderer);
    });
  done.catch(() => undefined);
  return {
    output: writer.output, width: renderer.width, height: renderer.height,
    durationS: Math.round(durationMs) / 1000, durationEstimated: !speech.done, ttsFirstMs, done,
  };
}

/** Duration of the whole text: exact when all of it is synthesized, else scaled by characters from what is, ms. */
export function estimateDurationMs(text: string, known: readonly Speech[], complete: boolean): number {
  const knownMs = known.reduce((sum, s) => sum + (s.pcm.length * 1000) / s.sampleRate, 0);
  if (complete) return knownMs;
  const sentenceChars = splitSentences(text).map((s) => s.length);
  const totalChars = sentenceChars.reduce((a, b) => a + b, 0);
  const charsKnown = sentenceChars.slice(0, known.length).reduce((a, b) => a + b, 0) || 1;
  return (knownMs * totalChars) / charsKnown;
}
