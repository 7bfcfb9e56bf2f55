import type { Box } from '../core/geometry.js';
import type { AvatarCatalog } from '../avatars/catalog.js';
import type { Speech } from '../core/speech.js';
import { chooseEncoder } from '../encode/encoder-probe.js';
import { speechToMp4 } from '../pipeline/speech-to-mp4.js';
import type { SpeechArrival } from '../pipeline/track-speech.js';

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
  readonly mouthRegion: Box;
}

/** What renderSpeechSession draws. */
export interface SessionRenderOptions {
  /** Speech parts in order, produced lazily (TTS sentence by sentence, or one decoded file). */
  readonly speech: AsyncIterable<Speech>;
  /** `whole`: one part holds all the speech (a recording); `pieces`: parts arrive over time (TTS sentences). */
  readonly arrival: SpeechArrival;
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
  const r = await speechToMp4({
    speech: options.speech, arrival: options.arrival, renderer, encoder, fps: options.fps, output: options.output, startedAt: started,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const samples = r.parts.reduce((n, p) => n + p.pcm.length, 0);
  return {
    ttsMs: r.ttsMs, firstFrameMs: r.firstFrameMs, renderMs: r.renderMs, encodeMs: r.encodeMs, totalMs: performance.now() - started,
    frames: r.frames, audioS: samples / r.parts[0]!.sampleRate, encoder: encoder.name,
    width: renderer.width, height: renderer.height, mouthRegion: renderer.mouthRegion,
  };
}

/** `ms` of silence at `sampleRate`, as a speech part with no phonemes (the mouth rests). */
export function silence(ms: number, sampleRate: number): Speech {
  return { pcm: new Int16Array(Math.round((ms * sampleRate) / 1000)), sampleRate, phonemes: [] };
}
