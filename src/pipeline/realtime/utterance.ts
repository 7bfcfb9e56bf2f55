import { AudioMouthTracker } from '../../audio/audio-mouth-track.js';
import { AvatarError } from '../../core/errors.js';
import type { Speech } from '../../core/speech.js';
import type { TtsProvider } from '../../tts/provider.js';
import type { MouthFrame } from '../../visemes/mouth-params.js';
import { PhonemeMouthTracker } from '../../visemes/phoneme-track.js';

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
 * Speech from text: each synthesized sentence becomes one segment with its own exact
 * phoneme-driven mouth track, placed right after the previous one (or, when synthesis
 * fell behind, at the next free slot: a short pause instead of audio running ahead of
 * the picture).
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
      const tracker = speech.phonemes ? new PhonemeMouthTracker(timeline.fps) : new AudioMouthTracker({ fps: timeline.fps, mode: 'offline' });
      tracker.push(speech);
      tracker.finish();
      const frames = tracker.takeReady();
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
 * Speech from streamed PCM (a microphone or an external TTS): the mouth follows the audio
 * alone (AudioMouthTracker streaming mode), a couple of frames behind real time. With
 * `echo`, the audio is sent back with presentation times on the session clock so the
 * client can play it in sync.
 */
export class StreamedAudioUtterance implements Utterance {
  readonly source = 'audio' as const;
  readonly requestedAt = performance.now();
  private readonly tracker: AudioMouthTracker;
  private readonly pending: Int16Array[] = [];
  private ended = false;
  private wake: (() => void) | undefined;

  constructor(readonly id: string, private readonly sampleRate: number, private readonly echo: boolean, fps: number) {
    this.tracker = new AudioMouthTracker({ fps, mode: 'streaming' });
  }

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
    const onAbort = () => this.wake?.();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        while (this.pending.length && !signal.aborted) {
          const pcm = this.pending.shift()!;
          if (start === undefined) {
            start = timeline.freeSlot(AUDIO_LEAD_SLOTS);
            timeline.started(this.id, start);
          }
          if (this.echo) timeline.sendAudio(pcm, this.sampleRate, (start * 1000) / timeline.fps + (samples * 1000) / this.sampleRate);
          samples += pcm.length;
          this.tracker.push({ pcm, sampleRate: this.sampleRate });
          timeline.place(this.id, start, this.tracker.takeReady());
        }
        if (signal.aborted) return;
        if (this.ended) break;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
      if (start === undefined) return;
      this.tracker.finish();
      timeline.place(this.id, start, this.tracker.takeReady());
    } finally {
      signal.removeEventListener('abort', onAbort);
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
