import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { resampleLinear } from '../src/audio/resample.js';
import { encodeWav } from '../src/audio/wav.js';
import { AvatarError } from '../src/core/errors.js';
import { concatSpeech, type Speech } from '../src/core/speech.js';
import { runFfmpeg } from '../src/encode/ffmpeg.js';
import { EspeakTtsProvider } from '../src/tts/espeak.js';
import { OpenAiCompatibleTtsProvider, type OpenAiTtsConfig } from '../src/tts/openai-compatible.js';

const KEY = 'sk-test-123';
const espeak = new EspeakTtsProvider();

interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: { model?: unknown; input?: unknown; voice?: unknown; response_format?: unknown; speed?: unknown };
}

interface FakeServer {
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

/** Real speech for `input`: espeak-ng, as one 22050 Hz mono WAV. */
async function speechWav(input: string): Promise<Buffer> {
  const parts: Speech[] = [];
  for await (const s of espeak.synthesize({ text: input, language: 'en' })) parts.push(s);
  return encodeWav(concatSpeech(parts));
}

function json(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** A local server speaking OpenAI's audio API. */
async function startServer(opts: { voices?: string[]; format?: 'wav' | 'mp3' } = {}): Promise<FakeServer> {
  const seen: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const body = raw ? (JSON.parse(raw) as SeenRequest['body']) : {};
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        if (req.headers.authorization !== `Bearer ${KEY}`) {
          json(res, 401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } });
          return;
        }
        if (req.method === 'GET' && req.url === '/v1/audio/voices' && opts.voices) {
          json(res, 200, { voices: opts.voices });
          return;
        }
        if (req.method === 'POST' && req.url === '/v1/audio/speech') {
          if (typeof body.input !== 'string' || !body.input) {
            json(res, 400, { error: { message: 'input is required' } });
            return;
          }
          const wav = await speechWav(body.input);
          if (opts.format === 'mp3') {
            const { code, stdout, stderr } = await runFfmpeg(['-loglevel', 'error', '-f', 'wav', '-i', 'pipe:0', '-f', 'mp3', 'pipe:1'], { input: wav });
            if (code !== 0) {
              json(res, 500, { error: { message: stderr } });
              return;
            }
            res.writeHead(200, { 'content-type': 'audio/mpeg' });
            res.end(stdout);
            return;
          }
          res.writeHead(200, { 'content-type': 'audio/wav' });
          res.end(wav);
          return;
        }
        json(res, 404, { error: { message: `no route ${req.method} ${req.url}` } });
      })().catch((e: unknown) => json(res, 500, { error: { message: String(e) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function collect(provider: OpenAiCompatibleTtsProvider, text: string, voice?: string): Promise<Speech[]> {
  const parts: Speech[] = [];
  for await (const s of provider.synthesize({ text, language: 'en', ...(voice ? { voice } : {}) })) parts.push(s);
  return parts;
}

function provider(config: Partial<OpenAiTtsConfig> & { baseUrl: string }): OpenAiCompatibleTtsProvider {
  return new OpenAiCompatibleTtsProvider({ apiKey: KEY, timeoutMs: 20000, retryDelayMs: 5, ...config });
}

const isCode = (code: string, pattern?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof AvatarError, `expected an AvatarError, got ${String(e)}`);
  assert.equal(e.code, code);
  if (pattern) assert.match(e.message, pattern);
  return true;
};

function peakOf(pcm: Int16Array): number {
  let peak = 0;
  for (const x of pcm) peak = Math.max(peak, Math.abs(x));
  return peak;
}

describe('OpenAiCompatibleTtsProvider against a local OpenAI-protocol server', () => {
  let withVoices: FakeServer;
  let noVoices: FakeServer;
  let mp3: FakeServer;

  before(async () => {
    await espeak.warmUp();
    withVoices = await startServer({ voices: ['af_bella', 'am_adam'] });
    noVoices = await startServer();
    mp3 = await startServer({ format: 'mp3' });
  });

  after(async () => {
    await Promise.all([withVoices.close(), noVoices.close(), mp3.close()]);
  });

  it('yields one timing-less Speech per sentence and sends the OpenAI request', async () => {
    const start = withVoices.seen.length;
    const p = provider({ baseUrl: `${withVoices.url}/v1`, model: 'kokoro' });
    const parts = await collect(p, 'Hello there. How are you today?', 'af_bella');
    assert.equal(parts.length, 2);
    for (const s of parts) {
      assert.equal(s.sampleRate, 22050);
      assert.ok(s.pcm.length > 22050 / 4, `${s.pcm.length} samples`);
      assert.ok(peakOf(s.pcm) > 1000, 'audio is silent');
      assert.equal(s.phonemes, undefined);
      assert.equal(s.words, undefined);
      assert.equal(s.voice, 'af_bella');
      assert.equal(s.language, 'en');
    }
    const requests = withVoices.seen.slice(start);
    assert.equal(requests.length, 2);
    assert.deepEqual(requests.map((r) => r.body.input), ['Hello there.', 'How are you today?']);
    for (const r of requests) {
      assert.equal(r.method, 'POST');
      assert.equal(r.url, '/v1/audio/speech');
      assert.equal(r.headers.authorization, `Bearer ${KEY}`);
      assert.match(String(r.headers['content-type']), /application\/json/);
      assert.equal(r.body.model, 'kokoro');
      assert.equal(r.body.voice, 'af_bella');
      assert.equal(r.body.response_format, 'wav');
      assert.equal(r.body.speed, 1);
    }
  });

  it('uses the default model, the configured default voice and the requested speed', async () => {
    const start = noVoices.seen.length;
    const p = provider({ baseUrl: `${noVoices.url}/v1`, defaultVoice: 'nova' });
    const parts: Speech[] = [];
    for await (const s of p.synthesize({ text: 'Quick test.', language: 'en', rate: 1.5 })) parts.push(s);
    assert.equal(parts.length, 1);
    const [r] = noVoices.seen.slice(start);
    assert.equal(r!.body.model, 'tts-1');
    assert.equal(r!.body.voice, 'nova');
    assert.equal(r!.body.speed, 1.5);
  });

  it('a wrong API key is tts_failed mentioning 401', async () => {
    const p = provider({ baseUrl: `${withVoices.url}/v1`, apiKey: 'sk-wrong' });
    await assert.rejects(collect(p, 'Hello.'), isCode('tts_failed', /401/));
    const noKey = new OpenAiCompatibleTtsProvider({ baseUrl: `${withVoices.url}/v1` });
    await assert.rejects(collect(noKey, 'Hello.'), isCode('tts_failed', /401/));
  });

  it('checkVoice follows the server voice list', async () => {
    const p = provider({ baseUrl: `${withVoices.url}/v1` });
    await p.checkVoice('af_bella');
    await p.checkVoice('am_adam');
    await assert.rejects(p.checkVoice('alloy'), isCode('unknown_voice', /alloy/));
    const ids = (await p.listVoices()).map((v) => v.id);
    assert.deepEqual(ids, ['af_bella', 'am_adam']);
    const seenVoices = withVoices.seen.filter((r) => r.url === '/v1/audio/voices');
    assert.ok(seenVoices.length >= 3 && seenVoices.every((r) => r.method === 'GET' && r.headers.authorization === `Bearer ${KEY}`));
  });

  it('checkVoice accepts any voice when the server has no voices endpoint', async () => {
    const p = provider({ baseUrl: `${noVoices.url}/v1` });
    await p.checkVoice('anything-goes');
    await p.checkVoice('alloy');
    const ids = (await p.listVoices()).map((v) => v.id);
    assert.ok(ids.includes('alloy'), 'falls back to the OpenAI voice names');
  });

  it('an unreachable server is tts_failed', async () => {
    const closed = await startServer();
    const url = closed.url;
    await closed.close();
    const p = provider({ baseUrl: `${url}/v1` });
    await assert.rejects(collect(p, 'Hello.'), isCode('tts_failed'));
  });

  it('a base URL without /v1 (with or without a trailing slash) still hits /v1/audio/speech', async () => {
    for (const baseUrl of [noVoices.url, `${noVoices.url}/`, `${noVoices.url}/v1/`]) {
      const start = noVoices.seen.length;
      const parts = await collect(provider({ baseUrl }), 'Hi.');
      assert.equal(parts.length, 1, baseUrl);
      const urls = noVoices.seen.slice(start).map((r) => r.url);
      assert.deepEqual(urls, ['/v1/audio/speech'], baseUrl);
    }
  });

  it('decodes audio/mpeg answers through ffmpeg to 24 kHz PCM', async () => {
    const parts = await collect(provider({ baseUrl: `${mp3.url}/v1` }), 'Hello there. This answer is an MP3 file.');
    assert.equal(parts.length, 2);
    for (const s of parts) {
      assert.equal(s.sampleRate, 24000);
      assert.ok(s.pcm.length > 24000 / 4, `${s.pcm.length} samples`);
      assert.ok(peakOf(s.pcm) > 1000, 'decoded audio is silent');
      assert.equal(s.phonemes, undefined);
    }
  });

  it('stops with aborted when the signal fires', async () => {
    const p = provider({ baseUrl: `${noVoices.url}/v1` });
    const controller = new AbortController();
    controller.abort();
    const run = async () => {
      for await (const s of p.synthesize({ text: 'Hello. Again.', language: 'en' }, controller.signal)) void s;
    };
    await assert.rejects(run(), isCode('aborted'));
  });
});

/**
 * A local HTTP server whose answer to the n-th speech request (from 0) is up to `answer`;
 * it counts the requests and keeps the sockets to close them.
 */
async function startScripted(answer: (n: number, input: string, req: IncomingMessage, res: ServerResponse) => void | Promise<void>): Promise<FakeServer & { count: () => number }> {
  const seen: SeenRequest[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as SeenRequest['body'];
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      void Promise.resolve(answer(n++, String(body.input), req, res)).catch((e: unknown) => json(res, 500, { error: { message: String(e) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`, seen, count: () => n,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

async function sendWav(res: ServerResponse, input: string, sampleRate?: number): Promise<void> {
  let wav = await speechWav(input);
  if (sampleRate) {
    const parts: Speech[] = [];
    for await (const x of espeak.synthesize({ text: input, language: 'en' })) parts.push(x);
    const speech = concatSpeech(parts);
    wav = encodeWav({ pcm: resampleLinear(speech.pcm, speech.sampleRate, sampleRate), sampleRate });
  }
  res.writeHead(200, { 'content-type': 'audio/wav' });
  res.end(wav);
}

describe('OpenAiCompatibleTtsProvider when the server misbehaves', () => {
  before(() => espeak.warmUp());

  it('a server that accepts the request and never answers fails after timeoutMs as "did not answer", not retried', async () => {
    const hung = await startScripted(() => undefined);
    try {
      await assert.rejects(collect(provider({ baseUrl: hung.url, timeoutMs: 300 }), 'Hello.'), isCode('tts_failed', /did not answer within 300 ms/));
      assert.equal(hung.count(), 1, 'a hung server is not asked again');
    } finally {
      await hung.close();
    }
  });

  it('a server that stops in the middle of the audio fails as "did not answer" too', async () => {
    const stalls = await startScripted((_n, _input, _req, res) => {
      res.writeHead(200, { 'content-type': 'audio/wav' });
      res.write(Buffer.from('RIFF'));
    });
    try {
      await assert.rejects(collect(provider({ baseUrl: stalls.url, timeoutMs: 300 }), 'Hello.'), isCode('tts_failed', /did not answer within 300 ms \(reading the answer\)/));
    } finally {
      await stalls.close();
    }
  });

  it('retries 5xx with backoff and succeeds; gives up after `retries` with the status', async () => {
    const flaky = await startScripted(async (n, input, _req, res) => (n === 0 ? json(res, 503, { error: { message: 'warming up' } }) : sendWav(res, input)));
    const broken = await startScripted((_n, _input, _req, res) => json(res, 500, { error: { message: 'model crashed' } }));
    try {
      const parts = await collect(provider({ baseUrl: flaky.url }), 'Hello there.');
      assert.equal(parts.length, 1);
      assert.ok(peakOf(parts[0]!.pcm) > 1000);
      assert.equal(flaky.count(), 2, 'one retry after the 503');
      await assert.rejects(collect(provider({ baseUrl: broken.url, retries: 2 }), 'Hello.'), isCode('tts_failed', /answered 500: .*model crashed/));
      assert.equal(broken.count(), 3, 'the first try and two retries');
    } finally {
      await Promise.all([flaky.close(), broken.close()]);
    }
  });

  it('retries 429 after its Retry-After; does not retry 401', async () => {
    const limited = await startScripted(async (n, input, _req, res) => {
      if (n < 2) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' });
        res.end(JSON.stringify({ error: { message: 'Rate limit reached' } }));
        return;
      }
      await sendWav(res, input);
    });
    const denied = await startScripted((_n, _input, _req, res) => json(res, 401, { error: { message: 'bad key' } }));
    try {
      const parts = await collect(provider({ baseUrl: limited.url, retryDelayMs: 60_000 }), 'Hello.');
      assert.equal(parts.length, 1, 'Retry-After 0 was followed, not the minute-long backoff');
      assert.equal(limited.count(), 3);
      await assert.rejects(collect(provider({ baseUrl: denied.url }), 'Hello.'), isCode('tts_failed', /401 \(check AVATAR_TTS_API_KEY\)/));
      assert.equal(denied.count(), 1);
    } finally {
      await Promise.all([limited.close(), denied.close()]);
    }
  });

  it('a 200 whose body is not audio is tts_failed with what came instead', async () => {
    const jsonBody = await startScripted((_n, _input, _req, res) => json(res, 200, { error: { message: 'model not loaded' } }));
    const html = await startScripted((_n, _input, _req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>Welcome to nginx!</body></html>');
    });
    const garbage = await startScripted((_n, _input, _req, res) => {
      res.writeHead(200, { 'content-type': 'audio/mpeg' });
      res.end(Buffer.from('this is not an mp3 file at all, just text pretending'));
    });
    try {
      await assert.rejects(collect(provider({ baseUrl: jsonBody.url }), 'Hello.'), isCode('tts_failed', /200 with application\/json, not audio: .*model not loaded/));
      await assert.rejects(collect(provider({ baseUrl: html.url }), 'Hello.'), isCode('tts_failed', /200 with text\/html, not audio: .*nginx/));
      await assert.rejects(collect(provider({ baseUrl: garbage.url }), 'Hello.'), isCode('tts_failed', /audio \(audio\/mpeg\) that cannot be decoded/));
      assert.equal(jsonBody.count() + html.count() + garbage.count(), 3, 'not retried');
    } finally {
      await Promise.all([jsonBody.close(), html.close(), garbage.close()]);
    }
  });

  it('stops after the first sentence when aborted there: no further request, aborted', async () => {
    const server = await startScripted((_n, input, _req, res) => sendWav(res, input));
    try {
      const controller = new AbortController();
      const p = provider({ baseUrl: server.url });
      const got: Speech[] = [];
      const run = async () => {
        for await (const part of p.synthesize({ text: 'First sentence. Second sentence. Third one.', language: 'en' }, controller.signal)) {
          got.push(part);
          controller.abort();
        }
      };
      await assert.rejects(run(), isCode('aborted'));
      assert.equal(got.length, 1);
      assert.equal(server.count(), 1, 'the second sentence was never requested');
    } finally {
      await server.close();
    }
  });

  it('audio/pcm answers are little-endian 16-bit at 24 kHz, or the rate the type names', async () => {
    const tone = (rate: number, ms: number) => Int16Array.from({ length: (rate * ms) / 1000 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / rate)));
    const pcmServer = await startScripted((n, _input, _req, res) => {
      const [rate, type] = n === 0 ? [24000, 'audio/pcm'] : [16000, 'audio/pcm;rate=16000'];
      const samples = tone(rate, 500);
      res.writeHead(200, { 'content-type': type });
      res.end(Buffer.from(samples.buffer));
    });
    try {
      const parts = await collect(provider({ baseUrl: pcmServer.url }), 'One. Two.');
      assert.equal(parts.length, 2);
      assert.equal(parts[0]!.sampleRate, 24000);
      assert.deepEqual(parts[0]!.pcm, tone(24000, 500), 'the samples arrive unchanged');
      // The second sentence came at 16 kHz: resampled onto the first one's clock, same duration.
      assert.equal(parts[1]!.sampleRate, 24000);
      assert.ok(Math.abs(parts[1]!.pcm.length - 12000) <= 2, `${parts[1]!.pcm.length} samples for 500 ms`);
    } finally {
      await pcmServer.close();
    }
  });

  it('sentences at mixed sample rates come out on the first one\'s clock, durations kept', async () => {
    const rates = [22050, 16000, 44100];
    const mixed = await startScripted((n, input, _req, res) => sendWav(res, input, rates[n]));
    try {
      const text = 'Good morning. How are you? Fine, thanks.';
      const parts = await collect(provider({ baseUrl: mixed.url }), text);
      assert.equal(parts.length, 3);
      assert.deepEqual(parts.map((x) => x.sampleRate), [22050, 22050, 22050]);
      for (const [i, sentence] of ['Good morning.', 'How are you?', 'Fine, thanks.'].entries()) {
        const own: Speech[] = [];
        for await (const x of espeak.synthesize({ text: sentence, language: 'en' })) own.push(x);
        const expectedMs = (concatSpeech(own).pcm.length * 1000) / concatSpeech(own).sampleRate;
        const gotMs = (parts[i]!.pcm.length * 1000) / 22050;
        assert.ok(Math.abs(gotMs - expectedMs) < 5, `sentence ${i + 1}: ${gotMs.toFixed(1)} ms vs ${expectedMs.toFixed(1)} ms`);
        assert.ok(peakOf(parts[i]!.pcm) > 1000);
      }
    } finally {
      await mixed.close();
    }
  });
});
