import type { EspeakEvent, EspeakModule, EspeakWorker } from '@echogarden/espeak-ng-emscripten';
import { AvatarError, throwIfAborted } from '../core/errors.js';
import type { PhonemeTiming, Speech, WordTiming } from '../core/speech.js';
import { LANGUAGES } from './language.js';
import type { TtsProvider, TtsRequest, VoiceInfo } from './provider.js';
import { splitSentences } from './sentences.js';

/** espeak-ng's output rate. */
const ESPEAK_SAMPLE_RATE = 22050;
const NORMAL_WPM = 175;
const VARIANTS_DIR = '/usr/share/espeak-ng-data/voices/!v';

let shared: Promise<{ module: EspeakModule; worker: EspeakWorker }> | undefined;

/** One espeak-ng instance per process: the WebAssembly heap is large and synthesis is synchronous. */
function engine(): Promise<{ module: EspeakModule; worker: EspeakWorker }> {
  shared ??= import('@echogarden/espeak-ng-emscripten').then(async ({ default: initialize }) => {
    const module = await initialize();
    return { module, worker: new module.eSpeakNGWorker() };
  });
  return shared;
}

/** espeak-ng treats input as SSML: escape it so `<`, `>` and `&` are spoken, not parsed. */
function escapeSsml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function unescapeSsml(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/**
 * espeak-ng compiled to WebAssembly, in-process: no downloads, ~100 languages, exact
 * phoneme and word timings. Voices are espeak-ng ids (`en-us`, `es`, `cmn`), optionally
 * with a variant (`en-us+f3`).
 */
export class EspeakTtsProvider implements TtsProvider {
  readonly name = 'espeak';

  /** Loads the WebAssembly engine now rather than on first use. */
  async warmUp(): Promise<void> {
    const { worker } = await engine();
    worker.set_voice('en-us');
    worker.synthesize('ok', () => false);
  }

  async *synthesize(request: TtsRequest, signal?: AbortSignal): AsyncIterable<Speech> {
    const { worker } = await engine();
    const voice = request.voice ?? defaultVoice(request.language);
    // The engine is shared: settings are applied before every sentence because another
    // utterance may have changed them in between.
    const configure = () => {
      if (worker.set_voice(voice) !== 0) {
        throw new AvatarError('unknown_voice', `unknown voice "${voice}" (see: avatar voices)`);
      }
      worker.set_rate(Math.round(Math.min(450, Math.max(80, NORMAL_WPM * (request.rate ?? 1)))));
      worker.set_pitch(Math.round(Math.min(100, Math.max(0, request.pitch ?? 50))));
    };
    configure();
    for (const sentence of splitSentences(request.text)) {
      throwIfAborted(signal);
      configure();
      yield { ...synthesizeOne(worker, sentence), language: request.language, voice };
      // Let other work (I/O, encoding back-pressure, aborts) run between sentences.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  async listVoices(): Promise<readonly VoiceInfo[]> {
    const { worker, module } = await engine();
    const voices: VoiceInfo[] = worker.list_voices().map((v) => ({
      id: v.identifier.split('/').pop()!.toLowerCase(),
      name: v.name,
      languages: v.languages.sort((a, b) => a.priority - b.priority).map((l) => l.name),
    }));
    const variants = module.FS.readdir(VARIANTS_DIR).filter((f) => !f.startsWith('.'));
    for (const variant of variants) {
      voices.push({ id: `en-us+${variant}`, name: `variant ${variant} (append +${variant} to any voice)`, languages: [] });
    }
    return voices;
  }

  async checkVoice(voice: string): Promise<void> {
    const { worker } = await engine();
    if (worker.set_voice(voice) !== 0) {
      throw new AvatarError('unknown_voice', `unknown voice "${voice}" (see: avatar voices)`);
    }
  }
}

function defaultVoice(language: string): string {
  return LANGUAGES.find((l) => l.code === language)?.espeakVoice ?? language;
}

function synthesizeOne(worker: EspeakWorker, sentence: string): Speech {
  const escaped = escapeSsml(sentence);
  const chunks: Int16Array[] = [];
  const events: EspeakEvent[] = [];
  let samples = 0;
  worker.synthesize(escaped, (audio, chunkEvents) => {
    if (audio && audio.length > 0) {
      chunks.push(audio);
      samples += audio.length;
    }
    events.push(...chunkEvents);
    return false;
  });
  const pcm = new Int16Array(samples);
  let offset = 0;
  for (const c of chunks) {
    pcm.set(c, offset);
    offset += c.length;
  }
  const durationMs = (samples * 1000) / ESPEAK_SAMPLE_RATE;
  return { pcm, sampleRate: ESPEAK_SAMPLE_RATE, ...timingsFromEvents(events, escaped, durationMs) };
}

/**
 * Phoneme and word timings from espeak-ng events. A phoneme lasts until the next phoneme
 * event; phoneme events with an empty id are pauses and end the phoneme before them.
 */
export function timingsFromEvents(
  events: readonly EspeakEvent[],
  text: string,
  durationMs: number,
): { phonemes: PhonemeTiming[]; words: WordTiming[] } {
  const phonemes: PhonemeTiming[] = [];
  const words: WordTiming[] = [];
  let open: { ipa: string; startMs: number } | undefined;
  const close = (atMs: number) => {
    if (open && atMs > open.startMs) phonemes.push({ ipa: open.ipa, startMs: open.startMs, endMs: atMs });
    open = undefined;
  };
  for (const e of events) {
    if (e.type === 'phoneme') {
      close(e.audio_position);
      const ipa = typeof e.id === 'string' ? e.id : '';
      if (ipa && !ipa.startsWith('(')) open = { ipa, startMs: e.audio_position };
    } else if (e.type === 'end') {
      close(e.audio_position);
    } else if (e.type === 'word' && e.word_length > 0) {
      const start = e.text_position - 1;
      words.push({ text: unescapeSsml(text.slice(start, start + e.word_length)), startMs: e.audio_position, endMs: -1 });
    }
  }
  close(durationMs);
  // A word ends where its last phoneme ends, before the next word starts.
  const finished = words.map((w, i) => {
    const limit = words[i + 1]?.startMs ?? durationMs;
    const inside = phonemes.filter((p) => p.startMs >= w.startMs && p.startMs < limit);
    return { ...w, endMs: inside.length > 0 ? inside[inside.length - 1]!.endMs : limit };
  });
  return { phonemes, words: finished };
}
