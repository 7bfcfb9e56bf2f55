/**
 * Reliability of the HTTP side against hostile and careless clients and restarts: tiny
 * uploads that decode into gigabytes, damaged ownership files, jobs across a restart,
 * uploads kept past their avatar, stalled bodies, unread streams, expired links, loose input
 * checks.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { AvatarPreparer } from '../src/avatars/avatar-preparer.js';
import { AvatarError } from '../src/core/errors.js';
import { createAvatarServer, type AvatarServer } from '../src/server/app.js';
import { validateConfig } from '../src/server/config.js';
import { toHttpError } from '../src/server/http-errors.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';
import { TestCatalog } from './helpers/test-catalog.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Debian's python3, a client that can stop reading with an Ethernet segment size (see the script). */
const PYTHON = process.env.AVATAR_PYTHON ?? '/usr/bin/python3';
const UNREAD_CLIENT = fileURLToPath(new URL('../../test/helpers/unread_stream_client.py', import.meta.url));
const ACME = 'acme-key-0123456789abcdef';
const BETA = 'beta-key-0123456789abcdef';

/** A WAV header that says 1 sample per second over 40 KB of data: 20 000 s of "audio". */
function oneHertzWav(): Buffer {
  const n = 40000;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + n, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(1, 24);
  header.writeUInt32LE(2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(n, 40);
  return Buffer.concat([header, Buffer.alloc(n, 1)]);
}

/** Starts a server on an existing data folder (a restart). */
async function startOn(dataDir: string, config: Record<string, unknown>, options: { catalog?: TestCatalog; preparer?: AvatarPreparer } = {}): Promise<{ server: AvatarServer; url: string }> {
  const server = await createAvatarServer({ ...options, config: validateConfig({ host: '127.0.0.1', port: 0, dataDir, ...config }) });
  const { url } = await server.listen();
  return { server, url };
}

async function upload(url: string, path: string, file: Buffer, filename: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([file]), filename);
  const response = await fetch(`${url}${path}`, { method: 'POST', body: form, headers });
  return { status: response.status, body: await response.json() };
}

async function finished(url: string, id: string, headers: Record<string, string> = {}): Promise<any> {
  for (let i = 0; i < 200; i++) {
    const job = (await call(`${url}/api/v1/jobs/${id}`, { headers })).body;
    if (job.state === 'succeeded' || job.state === 'failed') return job;
    await sleep(50);
  }
  throw new Error('job did not finish');
}

/** Pids of this process's ffmpeg children (the server runs in this process). */
async function ffmpegChildren(): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const m = /^\d+ \((.*)\) \S (\d+)/.exec(stat);
    if (m && m[1] === 'ffmpeg' && Number(m[2]) === process.pid) pids.push(Number(name));
  }
  return pids;
}

let jpeg: Buffer;
let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'reliability-http-'));
  await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=s=160x160', '-frames:v', '1', '-y', join(scratch, 'face.jpg')]);
  jpeg = await readFile(join(scratch, 'face.jpg'));
});
after(() => rm(scratch, { recursive: true, force: true }));

describe('reliability: http', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ limits: { generationsPerMinute: 1000, idleTimeoutS: 3 }, urlExpiryHours: 0.001 });
  });
  after(() => s.close());

  it('an upload whose header claims hours of audio is refused before it is decoded', async () => {
    const r = await upload(s.url, '/api/v1/generate', oneHertzWav(), 'tiny.wav', { async: 'true' });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /20000 s long; the limit is 600 s/);
  });

  it('a body that stops arriving is cut off after the idle timeout', async () => {
    const port = Number(new URL(s.url).port);
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write('POST /api/v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"text":"he');
      });
      const t0 = performance.now();
      socket.on('close', () => resolve(performance.now() - t0));
      socket.on('error', () => undefined);
      setTimeout(() => {
        reject(new Error('the stalled request was never closed'));
        socket.destroy();
      }, 8000).unref();
    });
    assert.ok(closedAfter > 2000, `closed after ${Math.round(closedAfter)} ms, before the 3 s idle timeout`);
  });

  it('an expired download link is renewed by fetching the job again', async () => {
    const submitted = await call(`${s.url}/api/v1/generate`, { body: { text: 'Hi.', async: true, size: '64x64', fps: 10 } });
    assert.equal(submitted.status, 202);
    const job = await finished(s.url, submitted.body.id);
    assert.equal(job.state, 'succeeded');
    await sleep(3800); // the link lives 3.6 s
    assert.equal((await fetch(`${s.url}${job.result.url}`)).status, 410);
    const again = (await call(`${s.url}/api/v1/jobs/${submitted.body.id}`)).body;
    assert.notEqual(again.result.url, job.result.url);
    const download = await fetch(`${s.url}${again.result.url}`);
    assert.equal(download.status, 200);
    assert.equal(download.headers.get('content-type'), 'video/mp4');
  });

  it('fps and async in JSON must be a number and a boolean', async () => {
    for (const fps of ['25', [25], true]) {
      const r = await call(`${s.url}/api/v1/generate`, { body: { text: 'Hi.', fps } });
      assert.equal(r.status, 400, `fps ${JSON.stringify(fps)}`);
      assert.match(r.body.message, /"fps" must be a whole number/);
    }
    assert.equal((await call(`${s.url}/api/v1/generate`, { body: { text: 'Hi.', async: 'yes' } })).status, 400);
  });

  it('HEAD on the stream route answers the headers and renders nothing', async () => {
    const before = await (await fetch(`${s.url}/metrics`)).text();
    const head = await fetch(`${s.url}/api/v1/generate/stream?text=${encodeURIComponent('A long text. '.repeat(50))}&size=64x64`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'video/mp4');
    await sleep(500);
    const framesOf = (text: string) => Number(/frames_generated_total\{kind="stream"\} (\d+)/.exec(text)?.[1] ?? 0);
    assert.equal(framesOf(await (await fetch(`${s.url}/metrics`)).text()), framesOf(before));
    assert.equal(s.server.context.sessions, 0);
    assert.equal((await fetch(`${s.url}/api/v1/generate/stream?text=Hi&fps=abc`, { method: 'HEAD' })).status, 400);
  });

  it('error messages do not show server paths', () => {
    const { body } = toHttpError(new AvatarError('invalid_input', 'avatar "x" is broken: Input file is missing /srv/data/avatars/x/frames/frame_0000.jpg'));
    assert.equal(body.message, 'avatar "x" is broken: Input file is missing frame_0000.jpg');
    assert.match(toHttpError(new AvatarError('invalid_input', 'see /api/v1/jobs/1')).body.message, /\/api\/v1\/jobs\/1/);
  });
});

describe('reliability: tenants', () => {
  let dataDir: string;
  let catalog: TestCatalog;
  let preparer: AvatarPreparer;
  let s: { server: AvatarServer; url: string };
  const keys = { apiKeys: [{ key: ACME, tenant: 'acme' }, { key: BETA, tenant: 'beta' }], limits: { generationsPerMinute: 1000 } };
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'reliability-tenants-'));
    catalog = new TestCatalog();
    preparer = {
      prepare: async (_path, target) => void catalog.extra.set(target.id, { r: 1, g: 2, b: 3 }),
      remove: async (id) => void catalog.extra.delete(id),
    };
    s = await startOn(dataDir, keys, { catalog, preparer });
  });
  after(async () => {
    await s.server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('uploading an id another tenant owns neither fails nor reveals it; that avatar stays its owner\'s', async () => {
    const mine = await upload(s.url, '/api/v1/avatars', jpeg, 'me.jpg', { id: 'private_face' }, { authorization: `Bearer ${ACME}` });
    assert.equal(mine.status, 202);
    assert.equal((await finished(s.url, mine.body.id, { authorization: `Bearer ${ACME}` })).state, 'succeeded');
    const theirs = await upload(s.url, '/api/v1/avatars', jpeg, 'me.jpg', { id: 'private_face' }, { authorization: `Bearer ${BETA}` });
    assert.equal(theirs.status, 202);
    assert.notEqual(theirs.body.avatar, 'private_face');
    assert.equal(s.server.context.access.owner('private_face'), 'acme');
  });

  it('the ownership file is replaced whole, and a damaged one refuses the start', async () => {
    const file = join(dataDir, 'avatar-tenants.json');
    const saved = JSON.parse(await readFile(file, 'utf8')) as Record<string, string>;
    assert.equal(saved.private_face, 'acme');
    assert.deepEqual((await readdir(dataDir)).filter((n) => n.endsWith('.tmp')), []);
    const other = await mkdtemp(join(tmpdir(), 'reliability-damaged-'));
    try {
      // What a write cut short by a full disk leaves.
      await writeFile(join(other, 'avatar-tenants.json'), '{\n  "private_face": "ac');
      // A server that starts anyway is closed, so the failure does not keep the file running.
      const started = startOn(other, keys, { catalog, preparer }).then(async (s) => void (await s.server.close()));
      await assert.rejects(started, /avatar ownership file .* is damaged/);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('a write of the ownership file cut short by a full disk leaves the old file: after a restart the private avatar stays private', async (t) => {
    const folder = await mkdtemp(join(tmpdir(), 'reliability-full-disk-'));
    t.after(() => rm(folder, { recursive: true, force: true }));
    // An ownership file larger than the room left (16 KB below), with one private avatar.
    const owned: Record<string, string> = { private_face: 'acme' };
    for (let i = 0; i < 1500; i++) owned[`earlier_upload_${i}`] = 'acme';
    await writeFile(join(folder, 'avatar-tenants.json'), JSON.stringify(owned, null, 2));
    catalog.extra.set('private_face', { r: 9, g: 9, b: 9 });
    const first = await startOn(folder, keys, { catalog, preparer });
    // The disk fills: this process may write no file past 16 KB (the upload itself is 7 KB).
    const soft = execFileSync('prlimit', ['--pid', String(process.pid), '--fsize', '--raw', '--noheadings', '--output=SOFT']).toString().trim();
    execFileSync('prlimit', ['--pid', String(process.pid), '--fsize=16384:']);
    try {
      const r = await upload(first.url, '/api/v1/avatars', jpeg, 'me.jpg', { id: 'one_more' }, { authorization: `Bearer ${ACME}` });
      assert.ok(r.status >= 500, `the upload whose ownership could not be saved answered ${r.status}`);
    } finally {
      execFileSync('prlimit', ['--pid', String(process.pid), `--fsize=${soft}:`]);
    }
    await first.server.close();
    const second = await startOn(folder, keys, { catalog, preparer });
    try {
      const beta = await call(`${second.url}/api/v1/generate`, { body: { text: 'Hi.', avatar: 'private_face', size: '64x64' }, headers: { authorization: `Bearer ${BETA}` } });
      assert.equal(beta.status, 404);
      assert.equal((await call(`${second.url}/api/v1/avatars/private_face`, { method: 'DELETE', headers: { authorization: `Bearer ${ACME}` } })).status, 204);
    } finally {
      await second.server.close();
    }
  });

  it('the API key is taken from a URL only on the realtime route', async () => {
    const r = await call(`${s.url}/api/v1/avatars?api_key=${ACME}`);
    assert.equal(r.status, 400);
    assert.match(r.body.message, /in a header/);
    assert.doesNotMatch(JSON.stringify(r.body), new RegExp(ACME));
  });

  it('deleting an avatar deletes the photo it was made from', async () => {
    const auth = { authorization: `Bearer ${ACME}` };
    const r = await upload(s.url, '/api/v1/avatars', jpeg, 'me.jpg', { id: 'gone_face' }, auth);
    assert.equal((await finished(s.url, r.body.id, auth)).state, 'succeeded');
    const stored = join(dataDir, 'uploads', 'acme', 'gone_face.jpeg');
    await stat(stored);
    assert.equal((await call(`${s.url}/api/v1/avatars/gone_face`, { method: 'DELETE', headers: auth })).status, 204);
    await assert.rejects(stat(stored), /ENOENT/);
  });
});

describe('reliability: restart', () => {
  it('finished jobs answer after a restart; unfinished ones answer failed, give back their avatar id and leave no debris', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'reliability-restart-'));
    const config = { signingSecret: 'a-fixed-secret-for-this-test', limits: { generationsPerMinute: 1000 } };
    const catalog = new TestCatalog();
    const hanging: AvatarPreparer = { prepare: () => new Promise(() => undefined), remove: async () => undefined };
    const first = await startOn(dataDir, config, { catalog, preparer: hanging });
    const done = await call(`${first.url}/api/v1/generate`, { body: { text: 'Hi.', async: true, size: '64x64', fps: 10 } });
    assert.equal((await finished(first.url, done.body.id)).state, 'succeeded');
    const stuck = await upload(first.url, '/api/v1/avatars', jpeg, 'me.jpg', { id: 'half_made' });
    assert.equal(stuck.status, 202);
    await first.server.context.localJobs.flush();
    // The process "dies": the listener goes, nothing is cancelled or cleaned up.
    await first.server.app.close();
    const old = Date.now() / 1000 - 400 * 24 * 3600;
    await mkdir(join(dataDir, 'outputs', 'local'), { recursive: true });
    await writeFile(join(dataDir, 'outputs', 'local', '.x.mp4.123.456.part'), 'partial');
    await writeFile(join(dataDir, 'uploads', 'local', '.upload-123-456-abc'), 'partial');
    await writeFile(join(dataDir, 'uploads', 'local', 'ancient.jpeg'), 'old photo');
    await utimes(join(dataDir, 'uploads', 'local', 'ancient.jpeg'), old, old);

    const preparer: AvatarPreparer = { prepare: async (_p, t) => void catalog.extra.set(t.id, { r: 1, g: 1, b: 1 }), remove: async () => undefined };
    const second = await startOn(dataDir, config, { catalog, preparer });
    try {
      const kept = (await call(`${second.url}/api/v1/jobs/${done.body.id}`)).body;
      assert.equal(kept.state, 'succeeded');
      assert.equal((await fetch(`${second.url}${kept.result.url}`)).status, 200);
      const lost = await call(`${second.url}/api/v1/jobs/${stuck.body.id}`);
      assert.equal(lost.status, 200);
      assert.equal(lost.body.state, 'failed');
      assert.equal(lost.body.error.error, 'interrupted');
      assert.deepEqual(await readdir(join(dataDir, 'uploads', 'local')), [], 'no partial upload, no orphaned original, nothing past retention');
      assert.deepEqual((await readdir(join(dataDir, 'outputs', 'local'))).filter((n) => !/^[0-9a-f-]{36}\.mp4$/.test(n)), []);
      const again = await upload(second.url, '/api/v1/avatars', jpeg, 'me.jpg', { id: 'half_made' });
      assert.equal(again.status, 202, 'the id of the interrupted upload is free again');
    } finally {
      await second.server.close();
      await first.server.context.tts.close?.();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('reliability: streams', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ limits: { generationsPerMinute: 1000 } });
  });
  after(() => s.close());

  it('a stream\'s encoder runs below the server in priority, so realtime sessions come first', async () => {
    const client = new AbortController();
    const response = await fetch(`${s.url}/api/v1/generate/stream?text=${encodeURIComponent('A sentence to stream for a while. '.repeat(10))}&size=128x128`, { signal: client.signal });
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    try {
      assert.ok((await reader.read()).value);
      const pids = await ffmpegChildren();
      assert.ok(pids.length > 0, 'the stream runs an ffmpeg');
      for (const pid of pids) {
        // Field 19 of /proc/PID/stat, counted after the parenthesised command name.
        const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '').split(' ');
        assert.ok(Number(fields[16]) >= getPriority() + 5, `the encoder runs at nice ${fields[16]}, the server at ${getPriority()}`);
      }
    } finally {
      client.abort();
    }
    const deadline = performance.now() + 5000;
    while ((s.server.context.sessions > 0 || (await ffmpegChildren()).length > 0) && performance.now() < deadline) await sleep(50);
    assert.equal(s.server.context.sessions, 0, 'the aborted stream gave its slot back');
    assert.deepEqual(await ffmpegChildren(), [], 'the aborted stream\'s encoder ended');
  });

  it('a stream whose encoder dies ends as a broken transfer, not a short video that looks complete', async () => {
    const response = await fetch(`${s.url}/api/v1/generate/stream`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'This sentence is long enough to take a while to stream. '.repeat(30), size: '128x128' }),
    });
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    const first = await reader.read();
    assert.ok(first.value && first.value.length > 0);
    const pids = await ffmpegChildren();
    assert.ok(pids.length > 0, 'the stream runs an ffmpeg');
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    const outcome = await (async () => {
      for (;;) {
        const { done } = await reader.read();
        if (done) return 'complete';
      }
    })().catch(() => 'broken');
    assert.equal(outcome, 'broken');
    await sleep(200);
    assert.equal(s.server.context.sessions, 0, 'the failed stream gave its slot back');
  });
});

describe('reliability: unread streams', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ limits: { generationsPerMinute: 1000, idleTimeoutS: 2 } });
  });
  after(() => s.close());

  it('a stream whose client stops reading is cut by the idle timeout and frees its encoder and slot', async (t) => {
    const port = Number(new URL(s.url).port);
    // About 150 s of video, some MB: far more than the socket buffers hold.
    const text = encodeURIComponent('This sentence is long enough to take a while to stream. '.repeat(40));
    const client = spawn(PYTHON, [UNREAD_CLIENT, String(port), `/api/v1/generate/stream?text=${text}&size=512x512`], { stdio: ['pipe', 'pipe', 'inherit'] });
    t.after(() => client.kill());
    const lines = createInterface({ input: client.stdout! })[Symbol.asyncIterator]();
    const nextLine = async (what: string) => {
      const timer = setTimeout(() => client.kill(), 20_000);
      const { value } = await lines.next();
      clearTimeout(timer);
      assert.ok(typeof value === 'string', `the client ended before ${what}`);
      return value;
    };
    assert.match(await nextLine('its first bytes'), /^stopped \d+$/);
    const stoppedAt = performance.now();
    const deadline = stoppedAt + 15_000;
    while (s.server.context.sessions > 0 && performance.now() < deadline) await sleep(100);
    assert.equal(s.server.context.sessions, 0, 'the unread stream still holds its slot');
    const freedAfterMs = performance.now() - stoppedAt;
    while ((await ffmpegChildren()).length > 0 && performance.now() < deadline) await sleep(100);
    assert.deepEqual(await ffmpegChildren(), [], 'the unread stream\'s ffmpeg still runs');
    client.stdin!.end('read\n');
    const outcome = JSON.parse(await nextLine('its outcome')) as { status: string; bytes: number; terminated: boolean };
    assert.match(outcome.status, / 200 /);
    assert.equal(outcome.terminated, false, `the cut stream looks complete (${outcome.bytes} bytes)`);
    // The cut comes once the buffers are full and nothing has moved for the idle timeout.
    assert.ok(freedAfterMs > 1500, `freed after ${Math.round(freedAfterMs)} ms, before the idle timeout`);
  });
});
