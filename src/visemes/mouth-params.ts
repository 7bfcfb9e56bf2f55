/**
 * Continuous mouth parameters for one video frame, each in 0..1. Renderers draw from these;
 * trackers (phoneme timings or audio analysis) produce them.
 */
export interface MouthParams {
  /** How far the jaw has dropped. */
  readonly jawOpen: number;
  /** Lip spread: 0 narrow, 0.5 relaxed, 1 wide (smile, "ee"). */
  readonly lipWidth: number;
  /** Lip rounding and protrusion ("oo", "w"). */
  readonly rounding: number;
  /** Lips pressed together (p, b, m); 1 overrides the opening. */
  readonly closure: number;
  /** Teeth visibility. */
  readonly teeth: number;
  /** Tongue visibility (th, l, n). */
  readonly tongue: number;
}

/** Mouth at rest: closed, relaxed. */
export const REST_MOUTH: MouthParams = { jawOpen: 0, lipWidth: 0.5, rounding: 0, closure: 1, teeth: 0, tongue: 0 };

/** The mouth parameters of one video frame. */
export interface MouthFrame {
  /** Frame number from the start of the stream. */
  readonly index: number;
  /** Presentation time, ms: index * 1000 / fps. */
  readonly ptsMs: number;
  readonly mouth: MouthParams;
  /** True when the frame lies in speech rather than silence. */
  readonly speaking: boolean;
  /** The audio input of this frame, for renderers driven by audio (see AudioConditioning). */
  readonly audio?: Float32Array;
}

/** Keys of MouthParams, for generic blending. */
export const MOUTH_KEYS = ['jawOpen', 'lipWidth', 'rounding', 'closure', 'teeth', 'tongue'] as const;

/**
 * Turns speech (timed phonemes or plain audio) into mouth frames at a fixed fps, on the
 * audio sample clock. Push speech as it arrives, take the frames that are ready, and call
 * finish() at the end to release the last ones.
 */
export interface MouthTracker {
  push(speechPart: { readonly pcm: Int16Array; readonly sampleRate: number; readonly phonemes?: readonly { ipa: string; startMs: number; endMs: number }[] }): void;
  finish(): void;
  /** Frames ready since the last call, in order. */
  takeReady(): MouthFrame[];
  /** Total frames the speech so far spans (final after finish()). */
  readonly totalFrames: number;
}

/** Frames needed to show `durationMs` of audio: video never ends before the audio. */
export function framesForDuration(durationMs: number, fps: number): number {
  return Math.ceil((durationMs * fps) / 1000 - 1e-6);
}
