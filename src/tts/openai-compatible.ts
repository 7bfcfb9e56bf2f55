import { decodeAudio } from '../audio/decode-audio.js';
import { resample } from '../audio/resample.js';
import { AvatarError, throwIfAborted } from '../core/errors.js';
import type { Speech } from '../core/speech.js';
import type { TtsProvider, TtsRequest, VoiceInfo } from './provider.js';
import { splitSentences } from './sentences.js';

/** Where the OpenAI-compatible speech server is and how to call it. */
export interface OpenAiTtsConfig {
  /** API base, e.g. `http://localhost:8880/v1` (a missing `/v1` is added). */
  readonly baseUrl: string;
  readonly apiKey?: string;
  readonly model?: string;
  readonly defaultVoice?: string;
  /** Per-request time limit, ms (default 60 s); a server that does not answer in time fails at once. */
  readonly timeoutMs?: number;
  /** Retries of a request that failed in a way worth retrying: refused connection, 5xx, 429 (default 2). */
  readonly retries?: number;
  /** Wait before the first retry, ms, doubled for each further one (default 500); a 429's Retry-After wins, up to 10 s. */
  readonly retryDelayMs?: number;
}

/** Longest wait a server's Retry-After can ask for before a retry, ms. */
const MAX_RETRY_AFTER_MS = 10_000;

/** OpenAI's own voice names; most compatible servers accept them or map them. */
const OPENAI_VOICES = ['alloy', 'ash', 'coral', 'echo', 'fable', 'nova', 'onyx', 'sage', 'shimmer'];

/**
 * Any server that speaks OpenAI's `POST /v1/audio/speech` (OpenAI itself, and self-hosted
 * XTTS, Kokoro, Piper and similar servers). It returns audio without timings, so the
 * mouth track comes from audio analysis. One request per sentence keeps the first audio
 * early and shows progress on long texts.
 */
export class OpenAiCompatibleTtsProvider implements TtsProvider {
  readonly name = 'openai';
  private readonly endpoint: string;

  constructor(private readonly config: OpenAiTtsConfig) {
    const base = config.baseUrl.replace(/\/+$/, '');
    this.endpoint = `${/\/v\d+$/.test(base) ? base : `${base}/v1`}/audio/speech`;
  }

  /** Reads the configuration from `AVATAR_TTS_BASE_URL`/`OPENAI_BASE_URL`, `AVATAR_TTS_API_KEY`/`OPENAI_API_KEY`, `AVATAR_TTS_MODEL`, `AVATAR_TTS_VOICE`. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): OpenAiCompatibleTtsProvider {
    const baseUrl = env.AVATAR_TTS_BASE_URL ?? env.OPENAI_BASE_URL;
    if (!baseUrl) {
      throw new AvatarError('invalid_input', 'the openai TTS provider needs AVATAR_TTS_BASE_URL (or OPENAI_BASE_URL), e.g. http://localhost:8880/v1');
    }
    const apiKey = env.AVATAR_TTS_API_KEY ?? env.OPENAI_API_KEY;
    return new OpenAiCompatibleTtsProvider({
      baseUrl,
      ...(apiKey ? { apiKey } : {}),
      ...(env.AVATAR_TTS_MODEL ? { model: env.AVATAR_TTS_MODEL } : {}),
      ...(env.AVATAR_TTS_VOICE ? { defaultVoice: env.AVATAR_TTS_VOICE } : {}),
    });
  }

  async *synthesize(request: TtsRequest, signal?: AbortSignal): AsyncIterable<Speech> {
    const voice = request.voice ?? this.config.defaultVoice ?? 'alloy';
    let sampleRate = 0;
    for (const sentence of splitSentences(request.text)) {
      throwIfAborted(signal);
      const audio = await this.request(sentence, voice, request.rate ?? 1, signal);
      // The writer needs one clock: later sentences follow the first one's rate.
      if (sampleRate === 0) sampleRate = audio.sampleRate;
      const pcm = resample(audio.pcm, audio.sampleRate, sampleRate);
      yield { pcm, sampleRate, language: request.language, voice };
    }
  }

  async listVoices(): Promise<readonly VoiceInfo[]> {
    const listed = await this.fetchVoiceList();
    return (listed ?? OPENAI_VOICES).map((id) => ({ id, name: id, languages: [] }));
  }

  async checkVoice(voice: string): Promise<void> {
    const listed = await this.fetchVoiceList();
    if (listed && !listed.includes(voice)) {
      throw new AvatarError('unknown_voice', `the TTS server has no voice "${voice}" (it has: ${listed.slice(0, 12).join(', ')}${listed.length > 12 ? ', ...' : ''})`);
    }
  }

  private headers(): Record<string, string> {
    return { 'content-type': 'application/json', ...(this.config.apiKey ? { authorization: `Bearer ${this.config.apiKey}` } : {}) };
  }

  /** Servers such as Kokoro-FastAPI list voices at GET /v1/audio/voices; OpenAI does not. */
  private async fetchVoiceList(): Promise<string[] | undefined> {
    try {
      const res = await fetch(this.endpoint.replace(/\/speech$/, '/voices'), { headers: this.headers(), signal: AbortSignal.timeout(5000) });
      if (!res.ok) return undefined;
      const body = (await res.json()) as { voices?: unknown };
      const voices = Array.isArray(body.voices) ? body.voices : undefined;
      return voices?.map((v) => (typeof v === 'string' ? v : String((v as { id?: unknown; name?: unknown }).id ?? (v as { name?: unknown }).name)));
    } catch {
      return undefined;
    }
  }

  /** One sentence, retried with backoff while the failure is `retryable`. */
  private async request(input: string, voice: string, speed: number, signal?: AbortSignal): Promise<{ pcm: Int16Array; sampleRate: number }> {
    const retries = this.config.retries ?? 2;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.requestOnce(input, voice, speed, signal);
      } catch (e) {
        if (!(e instanceof AvatarError) || !e.retryable || attempt >= retries) throw e;
        const backoff = (this.config.retryDelayMs ?? 500) * 2 ** attempt;
        const retryAfterMs = (e as AvatarError & { retryAfterMs?: number }).retryAfterMs;
        await sleep(retryAfterMs !== undefined ? Math.min(retryAfterMs, MAX_RETRY_AFTER_MS) : backoff, signal);
      }
    }
  }

  private async requestOnce(input: string, voice: string, speed: number, signal?: AbortSignal): Promise<{ pcm: Int16Array; sampleRate: number }> {
    const timeoutMs = this.config.timeoutMs ?? 60000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const failed = (e: unknown, what: string): AvatarError => {
      if (signal?.aborted) return new AvatarError('aborted', 'the operation was cancelled');
      // A server that hangs is not retried: each try would cost the whole time limit again.
      if (timeout.aborted) return new AvatarError('tts_failed', `TTS server ${this.endpoint} did not answer within ${timeoutMs} ms (${what})`, { cause: e });
      return new AvatarError('tts_failed', `TTS server ${this.endpoint} unreachable: ${(e as Error).message}`, { cause: e, retryable: what === 'connecting' });
    };
    let res: Response;
    try {
      res = await fetch(this.endpoint, {
        method: 'POST',
        headers: this.headers(),
        body: JSON.stringify({ model: this.config.model ?? 'tts-1', input, voice, response_format: 'wav', speed }),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (e) {
      throw failed(e, 'connecting');
    }
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      throw failed(e, 'reading the answer');
    }
    const type = res.headers.get('content-type') ?? '';
    if (!res.ok) {
      const detail = new TextDecoder().decode(bytes.subarray(0, 300));
      const hint = res.status === 401 || res.status === 403 ? ' (check AVATAR_TTS_API_KEY)' : '';
      const error = new AvatarError('tts_failed', `TTS server answered ${res.status}${hint}: ${detail}`, { retryable: res.status >= 500 || res.status === 429 });
      const retryAfter = Number(res.headers.get('retry-after') ?? NaN);
      if (Number.isFinite(retryAfter) && retryAfter >= 0) Object.assign(error, { retryAfterMs: retryAfter * 1000 });
      throw error;
    }
    if (/^(application\/json|text\/)/i.test(type)) {
      const detail = new TextDecoder().decode(bytes.subarray(0, 200));
      throw new AvatarError('tts_failed', `TTS server answered 200 with ${type}, not audio: ${detail}`);
    }
    if (bytes.length === 0) throw new AvatarError('tts_failed', 'TTS server answered 200 with an empty body, not audio');
    const raw = /audio\/(pcm|l16)/i.exec(type);
    if (raw) {
      // OpenAI's raw "pcm" format: mono s16le, 24 kHz unless a rate= parameter says otherwise.
      // audio/L16 (RFC 2586) is big-endian.
      const rate = Number(/rate=(\d+)/i.exec(type)?.[1] ?? 24000);
      const pcm = new Int16Array(bytes.byteLength >> 1);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const little = raw[1]!.toLowerCase() === 'pcm';
      for (let i = 0; i < pcm.length; i++) pcm[i] = view.getInt16(i * 2, little);
      return { pcm, sampleRate: rate };
    }
    try {
      return await decodeAudio(bytes, signal ? { signal } : {});
    } catch (e) {
      if (signal?.aborted) throw new AvatarError('aborted', 'the operation was cancelled');
      throw new AvatarError('tts_failed', `TTS server sent audio (${type || 'no content-type'}) that cannot be decoded: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** Waits `ms`, or rejects with `aborted` as soon as the signal fires. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AvatarError('aborted', 'the operation was cancelled'));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AvatarError('aborted', 'the operation was cancelled'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
