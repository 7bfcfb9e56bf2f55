import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resampleLinear } from '../src/audio/resample.js';
import { encodeWav } from '../src/audio/wav.js';
import { concatSpeech } from '../src/core/speech.js';
import { createTtsProvider } from '../src/tts/create-tts.js';
import { ffprobe } from './helpers/media.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';

let s: TestServer;
before(async () => {
  s = await startTestServer({ limits: { generationsPerMinute: 1000, maxTextChars: 300, audioUploadMB: 2 } });
});
after(() => s.close());

/** Reads a streamed response chunk by chunk, with the time of the first body byte. */
function streamGet(url: string, options: { abortAfterBytes?: number } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; firstByteMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = httpRequest(url, (res) => {
      const chunks: Buffer[] = [];
      let firstByteMs = -1;
      let bytes = 0;
      res.on('data', (d: Buffer) => {
        if (firstByteMs < 0) firstByteMs = performance.now() - t0;
        chunks.push(d);
        bytes += d.length;
        if (options.abortAfterBytes && bytes >= options.abortAfterBytes) {
          req.destroy();
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), firstByteMs });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), firstByteMs }));
      res.on('error', () => undefined);
    });
    req.on('error', (e) => (options.abortAfterBytes ? undefined : reject(e)));
    req.end();
  });
}

/** Top-level MP4 box types in order. */
function boxes(data: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at + 8 <= data.length;) {
    const size = data.readUInt32BE(at);
    out.push(data.toString('latin1', at + 4, at + 8));
    if (size < 8) break;
    at += size;
  }
  return out;
}

describe('system routes', () => {
  it('GET /health reports status, version, avatars, encoder and sessions', async () => {
    const { status, body } = await call(`${s.url}/health`);
    assert.equal(status, 200);
    assert.equal(body.status, 'ok');
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.equal(body.avatars.known, 1);
    assert.match(body.encoder, /264/);
    assert.equal(body.activeSessions, 0);
    assert.equal(body.auth, false);
  });

  it('GET /docs serves an OpenAPI document and a try-it page', async () => {
    const doc = await call(`${s.url}/docs/openapi.json`);
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, '3.0.3');
    for (const path of ['/api/v1/generate', '/api/v1/generate/stream', '/api/v1/jobs/{id}', '/api/v1/avatars', '/api/v1/realtime']) assert.ok(doc.body.paths[path], path);
    const page = await fetch(`${s.url}/docs`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /swagger-ui/i);
  });

  it('unknown routes and malformed JSON get JSON errors', async () => {
    const missing = await call(`${s.url}/api/v1/nothing`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'not_found');
    const bad = await call(`${s.url}/api/v1/generate`, { body: '{"text": ' });
    assert.equal(bad.status, 400);
    assert.ok(bad.body.error && bad.body.message);
  });
});

describe('POST /api/v1/generate', () => {
  it('answers with a playable MP4 of the speech', async () => {
    const { status, headers, body } = await call(`${s.url}/api/v1/generate`, { body: { text: 'Hello from the server.', language: 'en', size: 256, fps: 20 } });
    assert.equal(status, 200);
    assert.equal(headers.get('content-type'), 'video/mp4');
    const path = join(s.dataDir, 'sync.mp4');
    await writeFile(path, body);
    const probe = await ffprobe(path);
    const video = probe.streams.find((x) => x.codec_type === 'video')!;
    assert.equal(video.codec_name, 'h264');
    assert.equal(video.width, 256);
    assert.equal(video.r_frame_rate, '20/1');
    assert.ok(probe.streams.some((x) => x.codec_type === 'audio' && x.codec_name === 'aac'));
    assert.ok(Math.abs(Number(probe.format.duration) - Number(headers.get('x-content-duration'))) < 0.15);
  });

  it('rejects bad input with a 4xx naming the problem, and keeps serving', async () => {
    const cases: [unknown, number, RegExp][] = [
      [{}, 400, /"text" is required/],
      [{ text: '   ' }, 400, /nothing to say/],
      [{ text: 'x'.repeat(301) }, 400, /limit is 300/],
      [{ text: 'hi', language: 'xx' }, 400, /unknown language/],
      [{ text: 'hi', fps: 0 }, 400, /fps/],
      [{ text: 'hi', fps: 2.5 }, 400, /fps/],
      [{ text: 'hi', size: '4000' }, 400, /size/],
      [{ text: 'hi', size: 'big' }, 400, /size/],
      [{ text: 'hi', avatar: '../etc/passwd' }, 400, /avatar id/],
      [{ text: 'hi', avatar: 'nobody' }, 404, /unknown avatar/],
      [{ text: 'hi', colour: 'red' }, 400, /unknown field/],
      [[1, 2], 400, /JSON object/],
    ];
    for (const [body, status, message] of cases) {
      const r = await call(`${s.url}/api/v1/generate`, { body });
      assert.equal(r.status, status, JSON.stringify(body));
      assert.match(r.body.message, message, JSON.stringify(body));
    }
    assert.equal((await call(`${s.url}/health`)).status, 200);
  });

  it('async: 202 with a job, progress to done, a signed URL that downloads the MP4; tampered or expired links fail', async () => {
    const accepted = await call(`${s.url}/api/v1/generate`, { body: { text: 'A job for later.', async: true, size: 128 } });
    assert.equal(accepted.status, 202);
    const id = accepted.body.id as string;
    let job: any;
    for (let i = 0; i < 200; i++) {
      job = (await call(`${s.url}/api/v1/jobs/${id}`)).body;
      if (job.state === 'succeeded' || job.state === 'failed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(job.state, 'succeeded', JSON.stringify(job));
    assert.equal(job.progress, 1);
    const url = new URL(job.result.url, s.url);
    assert.ok(Number(url.searchParams.get('expires')) > Date.now() + 23 * 3600 * 1000, 'valid for about 24 h');
    const file = await call(url.href);
    assert.equal(file.status, 200);
    assert.deepEqual(boxes(file.body).slice(0, 1), ['ftyp']);
    const sig = url.searchParams.get('sig')!;
    url.searchParams.set('sig', (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
    assert.equal((await call(url.href)).status, 403);
    const expired = new URL(s.server.context.signer.sign('local', `${id}.mp4`, Date.now() - 1000), s.url);
    assert.equal((await call(expired.href)).status, 410);
    assert.equal((await call(`${s.url}/api/v1/jobs/00000000-0000-0000-0000-000000000000`)).status, 404);
  });
});

describe('POST /api/v1/generate with a recording', () => {
  async function postAudio(file: Buffer, name: string, fields: Record<string, string> = {}) {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append('file', new Blob([file]), name);
    const response = await fetch(`${s.url}/api/v1/generate`, { method: 'POST', body: form });
    const type = response.headers.get('content-type') ?? '';
    const body: any = type.includes('json') ? await response.json() : Buffer.from(await response.arrayBuffer());
    return { status: response.status, headers: response.headers, body };
  }

  it('lip-syncs an uploaded recording into an MP4 of the same length', async () => {
    const parts = [];
    for await (const part of createTtsProvider('espeak').synthesize({ text: 'A recording from somewhere else.', language: 'en' })) parts.push(part);
    const speech = concatSpeech(parts);
    const wav = encodeWav({ pcm: resampleLinear(speech.pcm, speech.sampleRate, 16000), sampleRate: 16000 });
    const r = await postAudio(wav, 'voice.bin', { size: '128', fps: '25' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const path = join(s.dataDir, 'from-audio.mp4');
    await writeFile(path, r.body as Buffer);
    const probe = await ffprobe(path);
    assert.equal(probe.streams.find((x) => x.codec_type === 'video')!.width, 128);
    const expectedS = speech.pcm.length / speech.sampleRate;
    assert.ok(Math.abs(Number(probe.format.duration) - expectedS) < 0.15, `${probe.format.duration} s for ${expectedS} s of audio`);
  });

  it('refuses what is not audio, or too much of it, by content', async () => {
    const text = await postAudio(Buffer.from('not audio at all, only words'), 'voice.wav');
    assert.equal(text.status, 415);
    assert.match(text.body.message, /judged by its content/);
    const big = await postAudio(Buffer.concat([Buffer.from('RIFF\0\0\0\0WAVE'), Buffer.alloc(2.1 * 1024 * 1024)]), 'big.wav');
    assert.equal(big.status, 413);
    assert.match(big.body.message, /audio uploads are limited to 2\.0 MB/);
    const badField = await postAudio(encodeWav({ pcm: new Int16Array(16000), sampleRate: 16000 }), 'a.wav', { colour: 'red' });
    assert.equal(badField.status, 400);
  });
});

describe('/api/v1/generate/stream', () => {
  it('GET streams fragmented MP4 with X-Content-Duration; the file plays', async () => {
    const text = encodeURIComponent('Streaming while it renders. The second sentence follows.');
    const r = await streamGet(`${s.url}/api/v1/generate/stream?text=${text}&size=256`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'video/mp4');
    const duration = Number(r.headers['x-content-duration']);
    assert.ok(duration > 2 && duration < 8, `duration ${duration}`);
    const kinds = boxes(r.body);
    assert.deepEqual(kinds.slice(0, 2), ['ftyp', 'moov']);
    assert.ok(kinds.filter((k) => k === 'moof').length >= 2, `fragments: ${kinds.join(' ')}`);
    const path = join(s.dataDir, 'stream.mp4');
    await writeFile(path, r.body);
    const probe = await ffprobe(path);
    assert.ok(probe.streams.some((x) => x.codec_name === 'h264') && probe.streams.some((x) => x.codec_name === 'aac'));
    // Exact when synthesis finished before the headers went out, else an estimate from the text.
    const tolerance = r.headers['x-content-duration-estimated'] === 'true' ? 0.25 * duration : 0.2;
    assert.ok(Math.abs(Number(probe.format.duration) - duration) < tolerance, `container ${probe.format.duration} s vs header ${duration} s`);
  });

  it('POST works the same, and bad input is a JSON 400', async () => {
    const ok = await call(`${s.url}/api/v1/generate/stream`, { body: { text: 'Posted.', size: 128 } });
    assert.equal(ok.status, 200);
    assert.deepEqual(boxes(ok.body).slice(0, 2), ['ftyp', 'moov']);
    const bad = await call(`${s.url}/api/v1/generate/stream`, { body: { text: 'x', fps: 1000 } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /fps/);
  });

  it('stops generating as soon as the client disconnects', async () => {
    const long = encodeURIComponent('This is a long text that takes a while to render. '.repeat(5));
    const metrics = s.server.context.metrics;
    const before = await metrics.errors.get({ kind: 'client_gone' });
    const r = await streamGet(`${s.url}/api/v1/generate/stream?text=${long}`, { abortAfterBytes: 2000 });
    assert.equal(r.status, 200);
    const gone = performance.now();
    for (let i = 0; i < 150 && s.server.context.sessions > 0; i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(s.server.context.sessions, 0, 'the stream ended soon after the disconnect');
    // The text takes over 10 s to speak: ending this soon means generation stopped, not finished.
    assert.ok(performance.now() - gone < 3000);
    assert.equal(await metrics.errors.get({ kind: 'client_gone' }), before + 1);
  });
});

describe('GET /metrics', () => {
  it('exposes prefixed metrics in seconds by encoder, fps, sessions, queue depth, errors, and the default process and event-loop metrics', async () => {
    const { status, headers, body } = await call(`${s.url}/metrics`);
    assert.equal(status, 200);
    assert.match(headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    for (const name of [
      'avatar_tts_latency_seconds_bucket', 'avatar_first_frame_latency_seconds_bucket', 'avatar_generation_duration_seconds_count', 'avatar_frames_per_second',
      'avatar_frames_generated_total', 'avatar_active_sessions', 'avatar_queue_depth', 'avatar_errors_total', 'avatar_http_request_duration_seconds_bucket',
      'process_resident_memory_bytes', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes',
    ]) {
      assert.match(body, new RegExp(`^${name}`, 'm'), name);
    }
    assert.match(body, /^avatar_generation_duration_seconds_count\{encoder="[^"]+"\} [1-9]/m);
    assert.match(body, /^avatar_errors_total\{kind="invalid_input"\} [1-9]/m);
    assert.match(body, /^avatar_http_request_duration_seconds_count\{method="GET",route="\/health",status_code="200"\} [1-9]/m);
    // Base units: a whole generation here takes well under a minute, so its sum in seconds is small.
    const sum = Number(/^avatar_generation_duration_seconds_sum\{encoder="[^"]+"\} ([\d.e+-]+)/m.exec(body)![1]);
    assert.ok(sum > 0 && sum < 60 * 5, `generation seconds ${sum}`);
    assert.doesNotMatch(body, /_ms(_|\b)/, 'no millisecond-named metrics');
  });
});
