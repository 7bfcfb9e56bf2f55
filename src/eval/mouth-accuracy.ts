import { AudioMouthTracker } from '../audio/audio-mouth-track.js';
import { AvatarError } from '../core/errors.js';
import type { Speech } from '../core/speech.js';
import type { MouthFrame, MouthParams, MouthTracker } from '../visemes/mouth-params.js';
import { PhonemeMouthTracker } from '../visemes/phoneme-track.js';

/**
 * Lips count as apart when the effective opening, jawOpen x (1 - closure), reaches this
 * share of a full opening: enough to see a gap between the lips on any renderer.
 */
export const OPEN_THRESHOLD = 0.05;

/** Agreement of the audio-driven mouth track with the TTS-timed one on the same speech. */
export interface MouthTrackAgreement {
  /** Share of frames where both tracks agree on open/closed lips, offline audio tracker, 0..1. */
  readonly openAgreement: number;
  /** The same for the streaming (one-frame look-ahead) audio tracker. */
  readonly openAgreementStreaming: number;
  /** Share of frames where both agree on speech vs silence. */
  readonly speakingAgreement: number;
  readonly frames: number;
}

/** Whether the lips are apart in a frame (see OPEN_THRESHOLD). */
export function lipsApart(mouth: MouthParams): boolean {
  return mouth.jawOpen * (1 - mouth.closure) >= OPEN_THRESHOLD;
}

/**
 * Runs the phoneme-timed tracker (the reference: it knows what was said and when) and the
 * audio-only trackers over the same speech and counts the frames where they agree.
 */
export function mouthTrackAgreement(speech: Speech, fps: number): MouthTrackAgreement {
  if (!speech.phonemes?.length) throw new AvatarError('invalid_input', 'mouth-track accuracy needs speech with phoneme timings (TTS speech)');
  const reference = runTracker(new PhonemeMouthTracker(fps), speech);
  const offline = runTracker(new AudioMouthTracker({ fps, mode: 'offline' }), speech);
  const streaming = runTracker(new AudioMouthTracker({ fps, mode: 'streaming' }), speech);
  const n = Math.min(reference.length, offline.length, streaming.length);
  let open = 0;
  let openStreaming = 0;
  let speaking = 0;
  for (let i = 0; i < n; i++) {
    const ref = reference[i]!;
    if (lipsApart(ref.mouth) === lipsApart(offline[i]!.mouth)) open++;
    if (lipsApart(ref.mouth) === lipsApart(streaming[i]!.mouth)) openStreaming++;
    if (ref.speaking === offline[i]!.speaking) speaking++;
  }
  return { openAgreement: n ? open / n : 0, openAgreementStreaming: n ? openStreaming / n : 0, speakingAgreement: n ? speaking / n : 0, frames: n };
}

function runTracker(tracker: MouthTracker, speech: Speech): MouthFrame[] {
  tracker.push(speech);
  tracker.finish();
  return tracker.takeReady();
}
