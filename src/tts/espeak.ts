import { Worker } from 'node:worker_threads';
import type { EspeakEvent } from '@echogarden/espeak-ng-emscripten';
import { AvatarError, throwIfAborted } from '../core/errors.js';
import type { PhonemeTiming, Speech, WordTiming } from '../core/speech.js';
import { findLanguage } from './language.js';
import type { TtsProvider, TtsRequest, VoiceInfo } from './provider.js';
import type { EspeakWorkerReply, EspeakWorkerRequest } from './espeak-worker.js';
import { splitScript } from './sentences.js';

/** espeak-ng's output rate. */
const ESPEAK_SAMPLE_RATE = 22050;
const NORMAL_WPM = 175;

/** Text as handed to espeak-ng, with a map from each of its characters back to the input. */
interface EscapedText {
  readonly text: string;
  readonly source: string;
  /** Index in `source` of each character of `text`. */
  readonly origin: Int32Array;
}

/**
 * espeak-ng reads its input as SSML. `&` is escaped so that it is read as "and"; `<` and `>`
 * are wrapped in say-as so that they are spoken ("less than") instead of skipped.
 */
export function escapeSsml(source: string): EscapedText {
  const parts: string[] = [];
  const origin: number[] = [];
  for (let i = 0; i < source.length; i++) {
    const ch = source[i]!;
    const out = ch === '&' ? '&amp;'
      : ch === '<' ? '<say-as interpret-as="characters">&lt;</say-as>'
        : ch === '>' ? '<say-as interpret-as="characters">&gt;</say-as>'
          : ch;
    parts.push(out);
    for (let k = 0; k < out.length; k++) origin.push(i);
  }
  return { text: parts.join(''), source, origin: Int32Array.from(origin) };
}

/** Silence added after each paragraph (a blank line in the text), ms. */
const PARAGRAPH_PAUSE_MS = 600;

/** Sentences synthesized ahead of the consumer: enough to overlap, little wasted on cancel. */
const PREFETCH = 2;

/**
 * espeak-ng compiled to WebAssembly, in-process (in a worker thread): no downloads, ~100
 * languages, exact phoneme and word timings. Voices are espeak-ng ids (`en-us`, `es`,
 * `cmn`), optionally with a variant (`en-us+f3`).
 */
export class EspeakTtsProvider implements TtsProvider {
  readonly name = 'espeak';
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: EspeakWorkerReply) => void; reject: (e: Error) => void }>();

  /** Starts the engine now rather than on first use (its start-up overlaps other work). */
  async warmUp(): Promise<void> {
    await this.call({ kind: 'synthesize', text: 'ok', voice: 'en-us', wpm: NORMAL_WPM, pitch: 50 });
  }

  async *synthesize(request: TtsRequest, signal?: AbortSignal): AsyncIterable<Speech> {
    const voice = request.voice ?? defaultVoice(request.language);
    const wpm = Math.round(Math.min(450, Math.max(80, NORMAL_WPM * (request.rate ?? 1))));
    const pitch = Math.round(Math.min(100, Math.max(0, request.pitch ?? 50)));
    const pieces = splitScript(request.text);
    const inFlight: { text: EscapedText; paragraphEnd: boolean; reply: Promise<EspeakWorkerReply> }[] = [];
    let next = 0;
    const refill = () => {
      while (inFlight.length < PREFETCH && next < pieces.length) {
        const piece = pieces[next++]!;
        const text = escapeSsml(piece.text);
        const last = next === pieces.length;
        // Only the piece the consumer waits for next is urgent; the rest are fetched ahead.
        const reply = this.call({ kind: 'synthesize', text: text.text, voice, wpm, pitch, ahead: inFlight.length > 0 });
        // Replies fetched ahead may fail after the consumer stopped: they are awaited below or dropped.
        reply.catch(() => undefined);
        inFlight.push({ text, paragraphEnd: piece.paragraphEnd && !last, reply });
      }
    };
    refill();
    while (inFlight.length > 0) {
      throwIfAborted(signal);
      const { text, paragraphEnd, reply } = inFlight.shift()!;
      const answer = await reply;
      refill();
      if (answer.kind !== 'audio') throw unexpected(answer);
      const durationMs = (answer.pcm.length * 1000) / ESPEAK_SAMPLE_RATE;
      const timings = timingsFromEvents(answer.events, text, durationMs);
      const pcm = paragraphEnd ? withSilence(answer.pcm, (PARAGRAPH_PAUSE_MS * ESPEAK_SAMPLE_RATE) / 1000) : answer.pcm;
      yield { pcm, sampleRate: ESPEAK_SAMPLE_RATE, ...timings, language: request.language, voice };
    }
  }

  async listVoices(): Promise<readonly VoiceInfo[]> {
    const answer = await this.call({ kind: 'voices' });
    if (answer.kind !== 'voices') throw unexpected(answer);
    const voices: VoiceInfo[] = answer.voices.map((v) => ({
      id: v.identifier.split('/').pop()!.toLowerCase(),
      name: v.name,
      languages: v.languages.sort((a, b) => a.priority - b.priority).map((l) => l.name),
    }));
    for (const variant of answer.variants) {
      voices.push({ id: `en-us+${variant}`, name: `variant ${variant} (append +${variant} to any voice)`, languages: [] });
    }
    return voices;
  }

  async checkVoice(voice: string): Promise<void> {
    const answer = await this.call({ kind: 'check', voice });
    if (answer.kind !== 'check' || !answer.ok) {
      throw new AvatarError('unknown_voice', `unknown voice "${voice}" (see: avatar voices)`);
    }
  }

  /** Stops the worker thread (it is restarted on next use). */
  async close(): Promise<void> {
    await this.worker?.terminate();
    this.worker = undefined;
  }

  private call(request: DistributiveOmit<EspeakWorkerRequest, 'id'>): Promise<EspeakWorkerReply> {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...request, id });
      // Only pending requests keep the process alive.
      worker.ref();
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./espeak-worker.js', import.meta.url));
    worker.on('message', (reply: EspeakWorkerReply) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if (!waiter) return;
      if (reply.kind === 'error') {
        waiter.reject(new AvatarError(reply.code === 'unknown_voice' ? 'unknown_voice' : 'tts_failed', reply.message));
      } else {
        waiter.resolve(reply);
      }
    });
    const failAll = (err: Error) => {
      for (const waiter of this.pending.values()) waiter.reject(new AvatarError('tts_failed', `espeak-ng worker failed: ${err.message}`, { cause: err }));
      this.pending.clear();
      this.worker = undefined;
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => {
      if (this.pending.size > 0) failAll(new Error(`exited with code ${code}`));
      this.worker = undefined;
    });
    worker.unref();
    this.worker = worker;
    return worker;
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The nearest `<` or `>` of the input spelled out before escaped position `at`. */
function spokenSymbolBefore(text: EscapedText, at: number): string | undefined {
  for (let i = at - 1; i >= 0; i--) {
    const ch = text.source[text.origin[i]!]!;
    if (ch === '<' || ch === '>') return ch;
    if (/[\p{L}\p{N}]/u.test(ch)) return undefined;
  }
  return undefined;
}

function withSilence(pcm: Int16Array, samples: number): Int16Array {
  const out = new Int16Array(pcm.length + Math.round(samples));
  out.set(pcm);
  return out;
}

function unexpected(reply: EspeakWorkerReply): Error {
  return new AvatarError('tts_failed', `espeak-ng worker answered ${reply.kind === 'error' ? reply.message : reply.kind}`);
}

function defaultVoice(language: string): string {
  return findLanguage(language)?.espeakVoice ?? language;
}

/**
 * Phoneme and word timings from espeak-ng events. A phoneme lasts until the next phoneme
 * event; phoneme events with an empty id are pauses and end the phoneme before them.
 */
export function timingsFromEvents(
  events: readonly EspeakEvent[],
  text: EscapedText,
  durationMs: number,
): { phonemes: PhonemeTiming[]; words: WordTiming[] } {
  const phonemes: PhonemeTiming[] = [];
  const words: (WordTiming & { text: string; at: number })[] = [];
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
      const start = Math.min(text.origin.length - 1, Math.max(0, e.text_position - 1));
      const end = Math.min(text.origin.length - 1, start + e.word_length - 1);
      const previous = words[words.length - 1];
      const word = { text: text.source.slice(text.origin[start]!, text.origin[end]! + 1), startMs: e.audio_position, endMs: -1, at: start };
      // espeak-ng reports a say-as word at the position of the word after it: the earlier of
      // two words at one position is the spoken symbol before that position.
      if (previous && previous.at === start) previous.text = spokenSymbolBefore(text, start) ?? previous.text;
      words.push(word);
    }
  }
  close(durationMs);
  // A word ends where its last phoneme ends, before the next word starts.
  const finished = words.map((w, i) => {
    const limit = words[i + 1]?.startMs ?? durationMs;
    const inside = phonemes.filter((p) => p.startMs >= w.startMs && p.startMs < limit);
    return { text: w.text, startMs: w.startMs, endMs: inside.length > 0 ? inside[inside.length - 1]!.endMs : limit };
  });
  return { phonemes, words: finished };
}
