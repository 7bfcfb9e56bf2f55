import type { Speech } from '../core/speech.js';

/** What to say and how. */
export interface TtsRequest {
  readonly text: string;
  /** A resolved language code (`en`, `es`, `zh`, ...), never `auto`. */
  readonly language: string;
  /** Provider-specific voice id; the provider's default for the language when absent. */
  readonly voice?: string;
  /** Speaking-rate multiplier, 1 = normal. */
  readonly rate?: number;
  /** Pitch, 0..100 with 50 = the voice's normal pitch. */
  readonly pitch?: number;
}

/** A voice a provider offers. */
export interface VoiceInfo {
  readonly id: string;
  readonly name: string;
  /** Language codes the voice speaks, best first. */
  readonly languages: readonly string[];
}

/**
 * Text-to-speech. `synthesize` yields the speech sentence by sentence, in order, so that
 * rendering can begin before the whole text is spoken; concatenating the yielded parts
 * gives the utterance on one sample clock.
 */
export interface TtsProvider {
  readonly name: string;
  synthesize(request: TtsRequest, signal?: AbortSignal): AsyncIterable<Speech>;
  listVoices(): Promise<readonly VoiceInfo[]>;
  /** Throws an `unknown_voice` AvatarError when the provider cannot speak with `voice`. */
  checkVoice(voice: string, language: string): Promise<void>;
  /** Starts the engine ahead of the first request (providers that have one to start). */
  warmUp?(): Promise<void>;
  /** Stops the engine and frees what it holds (providers that run one). */
  close?(): Promise<void>;
}
