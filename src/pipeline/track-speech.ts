import { AudioMouthTracker } from '../audio/audio-mouth-track.js';
import { AvatarError, throwIfAborted } from '../core/errors.js';
import type { Speech } from '../core/speech.js';
import type { AudioConditioning } from '../render/renderer.js';
import type { MouthFrame, MouthTracker } from '../visemes/mouth-params.js';
import { PhonemeMouthTracker } from '../visemes/phoneme-track.js';

/**
 * How the speech of one segment (everything one tracker follows, start to finish) reaches
 * the tracker: `whole` in one part (a recording, one synthesized sentence), or in `pieces`
 * over time (sentence after sentence of a script, a microphone).
 */
export type SpeechArrival = 'whole' | 'pieces';

/**
 * The one mouth-tracker policy. Speech with timings (our TTS) follows its phonemes exactly.
 * Speech without timings follows the sound: offline (both-way smoothing, the segment's own
 * loudness range) when the segment arrives whole, streaming (causal, a few frames behind)
 * when it arrives in pieces.
 */
export function createMouthTracker(fps: number, timed: boolean, arrival: SpeechArrival): MouthTracker {
  if (timed) return new PhonemeMouthTracker(fps);
  return new AudioMouthTracker({ fps, mode: arrival === 'whole' ? 'offline' : 'streaming' });
}

/** A step of tracked speech: audio to play, then the frames that became ready with it. */
export interface TrackedSpeech {
  /** Audio of this step (absent on the closing step). */
  readonly speech?: Speech;
  /** Mouth frames ready after this audio, in order (indices from the segment's start). */
  readonly frames: readonly MouthFrame[];
}

/** How to track a segment. */
export interface TrackOptions {
  readonly fps: number;
  readonly arrival: SpeechArrival;
  /** Per-frame audio input, for renderers driven by audio (`Renderer.createAudioConditioning`). */
  readonly conditioning?: AudioConditioning;
  readonly signal?: AbortSignal;
}

/**
 * Speech parts in, mouth frames out: one tracker (chosen by `createMouthTracker` from the
 * first part) follows every part on one sample clock. Works a part at a time: each step
 * holds one part's frames, never a whole utterance ahead. With a conditioning, frames wait
 * until their audio input is known and carry it as `frame.audio`.
 */
export async function* trackSpeech(parts: AsyncIterable<Speech>, options: TrackOptions): AsyncGenerator<TrackedSpeech> {
  let tracker: MouthTracker | undefined;
  const held: MouthFrame[] = [];
  const release = (all: boolean): MouthFrame[] => {
    if (!options.conditioning) return held.splice(0);
    let n = 0;
    const out: MouthFrame[] = [];
    for (; n < held.length; n++) {
      const frame = held[n]!;
      const audio = options.conditioning.features(frame.index);
      if (!audio) {
        if (all) throw new Error(`audio conditioning has no input for frame ${frame.index} after the end of the speech`);
        break;
      }
      out.push({ ...frame, audio });
    }
    held.splice(0, n);
    return out;
  };
  for await (const part of parts) {
    throwIfAborted(options.signal);
    tracker ??= createMouthTracker(options.fps, Boolean(part.phonemes), options.arrival);
    tracker.push(part);
    options.conditioning?.push(part.pcm, part.sampleRate);
    held.push(...tracker.takeReady());
    yield { speech: part, frames: release(false) };
  }
  if (!tracker) throw new AvatarError('tts_failed', 'no speech to render: the speech source produced no audio');
  throwIfAborted(options.signal);
  tracker.finish();
  options.conditioning?.finish();
  held.push(...tracker.takeReady());
  yield { frames: release(true) };
}

/** Tracks one whole piece of speech at once (a sentence, a recording): its frames, in order, with their audio input when a conditioning is given. */
export function trackWhole(speech: Speech, fps: number, conditioning?: AudioConditioning): MouthFrame[] {
  const tracker = createMouthTracker(fps, Boolean(speech.phonemes), 'whole');
  tracker.push(speech);
  tracker.finish();
  const frames = tracker.takeReady();
  if (!conditioning) return frames;
  conditioning.push(speech.pcm, speech.sampleRate);
  conditioning.finish();
  return frames.map((frame) => {
    const audio = conditioning.features(frame.index);
    if (!audio) throw new Error(`audio conditioning has no input for frame ${frame.index} after the end of the speech`);
    return { ...frame, audio };
  });
}
