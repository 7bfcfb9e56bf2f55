import { resolve } from 'node:path';
import { AudioMouthTracker } from '../audio/audio-mouth-track.js';
import type { AvatarCatalog } from '../avatars/catalog.js';
import { AvatarError, throwIfAborted } from '../core/errors.js';
import type { Speech } from '../core/speech.js';
import { chooseEncoder } from '../encode/encoder-probe.js';
import { Mp4FileWriter } from '../encode/mp4-writer.js';
import type { MouthTracker } from '../visemes/mouth-params.js';
import { PhonemeMouthTracker } from '../visemes/phoneme-track.js';

/** Latency figures of one rendered video (same meaning as say()'s). */
export interface RenderFigures {
  readonly ttsMs: number;
  readonly firstFrameMs: number;
  readonly renderMs: number;
  readonly encodeMs: number;
  readonly totalMs: number;
  readonly frames: number;
  readonly audioS: number;
  readonly encoder: string;
  readonly width: number;
  readonly height: number;
  readonly mouthRegion: readonly [number, number, number, number];
}

/** What renderSpeechSession draws. */
export interface SessionRenderOptions {
  /** Speech parts in order, produced lazily (TTS sentence by sentence, or one decoded file). */
  readonly speech: AsyncIterable<Speech>;
  /** `phonemes`: TTS timings; `audio-offline` / `audio-streaming`: the audio-only tracker. */
  readonly tracker: 'phonemes' | 'audio-offline' | 'audio-streaming';
  readonly catalog: AvatarCatalog;
  readonly avatar: string;
  readonly fps: number;
  readonly output: string;
  readonly signal?: AbortSignal;
}

/**
 * Renders a sequence of speech parts into one MP4 on one sample clock, as a session with
 * several utterances would: one renderer, one mouth tracker, one encoder. Time spent
 * waiting on the speech iterator counts as TTS time.
 */
export async function renderSpeechSession(options: SessionRenderOptions): Promise<RenderFigures> {
  const started = performance.now();
  const encoderChoice = chooseEncoder();
  encoderChoice.catch(() => undefined);
  const renderer = await options.catalog.createRenderer(options.avatar, { fps: options.fps });
  const encoder = await encoderChoice;
  const iterator = options.speech[Symbol.asyncIterator]();
  let writer: Mp4FileWriter | undefined;
  let tracker: MouthTracker | undefined;
  let sampleRate = 0;
  let samples = 0;
  let ttsMs = 0;
  let renderMs = 0;
  let firstFrameMs = 0;
  let encodeStarted = 0;
  const renderReady = async () => {
    for (const frame of tracker!.takeReady()) {
      const t0 = performance.now();
      const picture = await renderer.render(frame);
      renderMs += performance.now() - t0;
      await writer!.writeFrame(picture);
      if (firstFrameMs === 0) firstFrameMs = performance.now() - started;
    }
  };
  try {
    for (;;) {
      const t0 = performance.now();
      const next = await iterator.next();
      ttsMs += performance.now() - t0;
      if (next.done) break;
      throwIfAborted(options.signal);
      const part = next.value;
      if (!writer) {
        sampleRate = part.sampleRate;
        encodeStarted = performance.now();
        writer = await Mp4FileWriter.open({ path: resolve(options.output), width: renderer.width, height: renderer.height, fps: options.fps, sampleRate, encoder });
        tracker = options.tracker === 'phonemes'
          ? new PhonemeMouthTracker(options.fps)
          : new AudioMouthTracker({ fps: options.fps, mode: options.tracker === 'audio-offline' ? 'offline' : 'streaming' });
      }
      if (part.sampleRate !== sampleRate) throw new AvatarError('invalid_input', `speech parts change sample rate (${sampleRate} then ${part.sampleRate} Hz)`);
      samples += part.pcm.length;
      writer.writeAudio(part.pcm);
      tracker!.push(part);
      await renderReady();
    }
    if (!writer || !tracker) throw new AvatarError('tts_failed', 'no speech to render');
    writer.endAudio();
    tracker.finish();
    await renderReady();
    await writer.finish();
  } catch (e) {
    await writer?.abort();
    throw e;
  }
  const totalMs = performance.now() - started;
  return {
    ttsMs, firstFrameMs, renderMs, encodeMs: performance.now() - encodeStarted, totalMs,
    frames: writer.frames, audioS: samples / sampleRate, encoder: encoder.name,
    width: renderer.width, height: renderer.height, mouthRegion: renderer.mouthRegion,
  };
}

/** `ms` of silence at `sampleRate`, as a speech part with no phonemes (the mouth rests). */
export function silence(ms: number, sampleRate: number): Speech {
  return { pcm: new Int16Array(Math.round((ms * sampleRate) / 1000)), sampleRate, phonemes: [] };
}
