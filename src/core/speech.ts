/** Speech as the pipeline carries it: mono 16-bit PCM plus, when known, timings. */

/** One phoneme (IPA) and where it sits in the audio, in ms from the start of its speech. */
export interface PhonemeTiming {
  readonly ipa: string;
  readonly startMs: number;
  readonly endMs: number;
}

/** One word and where it sits in the audio, in ms. */
export interface WordTiming {
  readonly text: string;
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * A stretch of synthesized or supplied speech. Timings are relative to the first sample of
 * `pcm`. `phonemes` is absent when the speech came without timings (external TTS, files,
 * microphones): the mouth track then comes from audio analysis.
 */
export interface Speech {
  readonly pcm: Int16Array;
  readonly sampleRate: number;
  readonly phonemes?: readonly PhonemeTiming[];
  readonly words?: readonly WordTiming[];
  /** Language the speech was produced in (BCP-47-ish code such as `en`, `es`, `zh`). */
  readonly language?: string;
  /** Voice identifier used, when known. */
  readonly voice?: string;
}

/** Duration of PCM at a sample rate, in ms. */
export function pcmDurationMs(samples: number, sampleRate: number): number {
  return (samples * 1000) / sampleRate;
}

/** Joins speech segments into one, shifting their timings onto one sample clock. */
export function concatSpeech(parts: readonly Speech[]): Speech {
  if (parts.length === 0) throw new Error('concatSpeech needs at least one part');
  const sampleRate = parts[0]!.sampleRate;
  let total = 0;
  for (const p of parts) {
    if (p.sampleRate !== sampleRate) throw new Error('concatSpeech: sample rates differ');
    total += p.pcm.length;
  }
  const pcm = new Int16Array(total);
  const phonemes: PhonemeTiming[] = [];
  const words: WordTiming[] = [];
  let offsetSamples = 0;
  let timed = true;
  for (const p of parts) {
    pcm.set(p.pcm, offsetSamples);
    // Offsets derive from the sample count so that timings never drift from the audio.
    const offsetMs = pcmDurationMs(offsetSamples, sampleRate);
    if (!p.phonemes) timed = false;
    for (const ph of p.phonemes ?? []) phonemes.push({ ipa: ph.ipa, startMs: ph.startMs + offsetMs, endMs: ph.endMs + offsetMs });
    for (const w of p.words ?? []) words.push({ text: w.text, startMs: w.startMs + offsetMs, endMs: w.endMs + offsetMs });
    offsetSamples += p.pcm.length;
  }
  const first = parts[0]!;
  return {
    pcm,
    sampleRate,
    ...(timed ? { phonemes, words } : {}),
    ...(first.language ? { language: first.language } : {}),
    ...(first.voice ? { voice: first.voice } : {}),
  };
}
