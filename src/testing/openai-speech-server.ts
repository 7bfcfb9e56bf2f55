import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encodeWav } from '../audio/wav.js';

/** How the fake speech server behaves. */
export interface FakeSpeechServerOptions {
  /** Voices listed at GET /v1/audio/voices (default: `alloy`, `nova`). */
  readonly voices?: readonly string[];
  /** Sample rate of the WAV answers (default 24000). */
  readonly sampleRate?: number;
  /** Delay before each speech answer, ms (default 0). */
  readonly delayMs?: number;
  /** Required bearer token, when set. */
  readonly apiKey?: string;
}

/** A running fake server: its base URL, the requests it got, and how to stop it. */
export interface FakeSpeechServer {
  /** `http://127.0.0.1:PORT/v1` */
  readonly baseUrl: string;
  /** The JSON bodies of the speech requests, in order. */
  readonly requests: { input: string; voice: string; model: string; response_format: string }[];
  close(): Promise<void>;
}

/** Milliseconds of audio per character of input: roughly speech's pace. */
const MS_PER_CHAR = 60;

/**
 * A local server speaking OpenAI's speech API (`POST /v1/audio/speech` -> WAV, and
 * `GET /v1/audio/voices` as Kokoro-style servers add), for tests of the OpenAI-compatible
 * TTS provider without a paid API. Each answer is a tone whose length follows the input
 * (60 ms a character), rising in pitch with each request, so parts can be told apart.
 */
export async function startFakeSpeechServer(options: FakeSpeechServerOptions = {}): Promise<FakeSpeechServer> {
  const voices = options.voices ?? ['alloy', 'nova'];
  const sampleRate = options.sampleRate ?? 24000;
  const requests: FakeSpeechServer['requests'] = [];
  const server = createServer((req, res) => void handle(req, res));
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) return json(res, 401, { error: { message: 'bad api key' } });
    if (req.method === 'GET' && req.url === '/v1/audio/voices') return json(res, 200, { voices });
    if (req.method !== 'POST' || req.url !== '/v1/audio/speech') return json(res, 404, { error: { message: 'not found' } });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: { input?: unknown; voice?: unknown; model?: unknown; response_format?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
    } catch {
      return json(res, 400, { error: { message: 'body must be JSON' } });
    }
    if (typeof body.input !== 'string' || !body.input) return json(res, 400, { error: { message: 'input is required' } });
    if (typeof body.voice !== 'string' || !voices.includes(body.voice)) return json(res, 400, { error: { message: `unknown voice ${String(body.voice)}` } });
    requests.push({ input: body.input, voice: body.voice, model: String(body.model), response_format: String(body.response_format) });
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    const wav = encodeWav({ pcm: tone(body.input.length * MS_PER_CHAR, sampleRate, 180 + 20 * requests.length), sampleRate });
    res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': wav.length });
    res.end(wav);
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A voiced-sounding tone (a fundamental with harmonics, syllable-rate loudness) of `ms`. */
function tone(ms: number, sampleRate: number, hz: number): Int16Array {
  const n = Math.round((ms * sampleRate) / 1000);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / sampleRate;
    const envelope = 0.5 - 0.5 * Math.cos(2 * Math.PI * 4 * t);
    const s = Math.sin(2 * Math.PI * hz * t) + 0.5 * Math.sin(4 * Math.PI * hz * t) + 0.25 * Math.sin(6 * Math.PI * hz * t);
    out[i] = Math.round(9000 * envelope * s);
  }
  return out;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
