import { AvatarError } from '../../core/errors.js';
import type { Speech } from '../../core/speech.js';
import type { TtsProvider } from '../../tts/provider.js';
import type { MouthFrame } from '../../visemes/mouth-params.js';
import type { AudioConditioning } from '../../render/renderer.js';
import { trackSpeech, trackWhole } from '../track-speech.js';

/** How a session lets an utterance place its frames and audio on the session clock. */
export interface SpeechTimeline {
  readonly fps: number;
  /** The first frame slot free for new speech: after all scheduled speech, `lead` slots from now at the earliest. */
  freeSlot(lead: number): number;
  /** Shows `frames` (indices relative to the segment) from slot `start` on; frames whose slot has passed are dropped. */
  place(utteranceId: string, start: number, frames: readonly MouthFrame[]): void;
  /** Sends PCM to the client with its presentation time. */
  sendAudio(pcm: Int16Array, sampleRate: number, ptsMs: number): void;
  /** Resolves once the speech placed ahead of the clock is short enough to place more (or on abort). */
  waitForRoom(signal: AbortSignal): Promise<void>;
  /** The utterance's first slot is known. */
  started(utteranceId: string, slot: number): void;
  /** A fresh per-segment audio input extractor, when the avatar's renderer is driven by audio. */
  audioConditioning(): AudioConditioning | undefined;
}

/** One thing to say: placed on the timeline by `play`, which resolves once all of it is placed. */
export interface Utterance {
  readonly id: string;
  readonly source: 'tts' | 'audio';
  /** performance.now() when the client asked for it. */
  readonly requestedAt: number;
  /** Time from the request to the first synthesized speech, once known (text utterances). */
  readonly ttsMs?: number;
  play(timeline: SpeechTimeline, signal: AbortSignal): Promise<void>;
}

/**
 * Speech from text: each synthesized sentence arrives whole and becomes one segment with
 * its own mouth track (the pipeline's one tracker policy), placed right after the previous
 * one (or, when synthesis fell behind, at the next free slot: a short pause instead of
 * audio running ahead of the picture).
 */
export class TextUtterance implements Utterance {
  readonly source = 'tts' as const;
  readonly requestedAt = performance.now();
  /** Time to the first synthesized sentence, once known. */
  ttsMs: number | undefined;

  constructor(readonly id: string, private readonly tts: TtsProvider, private readonly request: { text: string; language: string; voice?: string }) {}

  async play(timeline: SpeechTimeline, signal: AbortSignal): Promise<void> {
    let first = true;
    for await (const synthesized of this.tts.synthesize(this.request, signal)) {
      if (signal.aborted) return;
      // Long texts are synthesized and sent as they are needed, not all at once.
      await timeline.waitForRoom(signal);
      if (signal.aborted) return;
      this.ttsMs ??= performance.now() - this.requestedAt;
      // Live speech starts with the voice, not with the engine's lead-in silence.
      const speech = first ? trimLeadingSilence(synthesized) : synthesized;
      const frames = trackWhole(speech, timeline.fps, timeline.audioConditioning());
      const start = timeline.freeSlot(first ? 0 : 1);
      if (first) timeline.started(this.id, start);
      first = false;
      timeline.place(this.id, start, frames);
      sendChunked(timeline, speech.pcm, speech.sampleRate, (start * 1000) / timeline.fps);
    }
    if (first && !signal.aborted) throw new AvatarError('tts_failed', 'the TTS produced no audio');
  }
}

/** Slots of delay given to streamed audio, so network jitter does not starve the picture. */
const AUDIO_LEAD_SLOTS = 2;

/**
 * Speech from streamed PCM (a microphone or an external TTS): it arrives in pieces, so the
 * mouth follows the audio alone in streaming mode, a couple of frames behind real time.
 * With `echo`, the audio is sent back with presentation times on the session clock so the
 * client can play it in sync.
 */
export class StreamedAudioUtterance implements Utterance {
  readonly source = 'audio' as const;
  readonly requestedAt = performance.now();
  private readonly pending: Int16Array[] = [];
  private ended = false;
  private wake: (() => void) | undefined;

  constructor(readonly id: string, private readonly sampleRate: number, private readonly echo: boolean) {}

  /** More PCM (mono s16 at the announced rate). */
  push(pcm: Int16Array): void {
    if (this.ended) return;
    this.pending.push(pcm);
    this.wake?.();
  }

  /** No more PCM will come. */
  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async play(timeline: SpeechTimeline, signal: AbortSignal): Promise<void> {
    let start: number | undefined;
    let samples = 0;
    const conditioning = timeline.audioConditioning();
    const onAbort = () => this.wake?.();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const steps = trackSpeech(this.pieces(signal), { fps: timeline.fps, arrival: 'pieces', ...(conditioning ? { conditioning } : {}) });
      for await (const step of steps) {
        if (signal.aborted) return;
        if (step.speech) {
          if (start === undefined) {
            start = timeline.freeSlot(AUDIO_LEAD_SLOTS);
            timeline.started(this.id, start);
          }
          if (this.echo) timeline.sendAudio(step.speech.pcm, this.sampleRate, (start * 1000) / timeline.fps + (samples * 1000) / this.sampleRate);
          samples += step.speech.pcm.length;
        }
        if (start !== undefined) timeline.place(this.id, start, step.frames);
      }
    } catch (e) {
      // Ended before any audio came: nothing was said, which is no error.
      if (start === undefined && e instanceof AvatarError && e.code === 'tts_failed') return;
      throw e;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** The PCM as it arrives, one piece per push, until `end` or abort. */
  private async *pieces(signal: AbortSignal): AsyncGenerator<Speech> {
    for (;;) {
      while (this.pending.length && !signal.aborted) yield { pcm: this.pending.shift()!, sampleRate: this.sampleRate };
      if (signal.aborted || this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

/** Silence kept before the first sound of an utterance, ms. */
const KEEP_LEAD_MS = 20;
/** Samples quieter than this (about -40 dBFS) are silence. */
const SILENCE_LEVEL = 328;

/** Drops the silence before the first sound (keeping a little), shifting the timings to match. */
export function trimLeadingSilence(speech: Speech): Speech {
  const { pcm, sampleRate } = speech;
  let first = 0;
  while (first < pcm.length && Math.abs(pcm[first]!) < SILENCE_LEVEL) first++;
  const cut = Math.max(0, first - Math.round((KEEP_LEAD_MS * sampleRate) / 1000));
  if (cut === 0 || first === pcm.length) return speech;
  const cutMs = (cut * 1000) / sampleRate;
  const shift = <T extends { startMs: number; endMs: number }>(list: readonly T[] | undefined) =>
    list?.map((t) => ({ ...t, startMs: Math.max(0, t.startMs - cutMs), endMs: Math.max(0, t.endMs - cutMs) })).filter((t) => t.endMs > 0);
  const phonemes = shift(speech.phonemes);
  const words = shift(speech.words);
  return { ...speech, pcm: pcm.subarray(cut), ...(phonemes ? { phonemes } : {}), ...(words ? { words } : {}) };
}

/** Audio goes out in chunks of this length, ms: small enough to stop promptly on interrupt. */
const AUDIO_CHUNK_MS = 200;

function sendChunked(timeline: SpeechTimeline, pcm: Int16Array, sampleRate: number, ptsMs: number): void {
  const chunk = Math.round((sampleRate * AUDIO_CHUNK_MS) / 1000);
  for (let at = 0; at < pcm.length; at += chunk) {
    timeline.sendAudio(pcm.subarray(at, Math.min(pcm.length, at + chunk)), sampleRate, ptsMs + (at * 1000) / sampleRate);
  }
}
