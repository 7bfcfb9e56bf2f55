import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AvatarRegistry } from '../src/avatars/registry.js';
import { withoutServerPaths } from '../src/core/server-paths.js';
import { prettySink } from '../src/server/logging.js';
import { AVATAR_BIN, tempDir } from './helpers/media.js';
import { writeSeedLayoutAvatar } from './helpers/onnx-avatar.js';
import { call, connectRealtime, startTestServer, type TestServer } from './helpers/server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('client-facing messages', () => {
  it('name files by their last component, never by their absolute server path; URLs stay', () => {
    assert.equal(withoutServerPaths('cannot read /srv/avatar-data/uploads/acme/.audio-1: denied'), 'cannot read .audio-1: denied');
    assert.equal(withoutServerPaths(`ffmpeg failed on ${process.cwd()}/avatar-data/x.mp4`), 'ffmpeg failed on x.mp4');
    assert.equal(withoutServerPaths('cannot open /tmp/avatar-serve-test-abc/out.mp4'), 'cannot open out.mp4');
    assert.equal(withoutServerPaths('fetch the job at /api/v1/jobs/123 or http://host/home/x'), 'fetch the job at /api/v1/jobs/123 or http://host/home/x');
    assert.equal(withoutServerPaths('cannot read /nfs/share/avatars/x/frame_0001.jpg (missing)'), 'cannot read frame_0001.jpg (missing)');
    assert.equal(withoutServerPaths('a 512/512 ratio and /s units stay'), 'a 512/512 ratio and /s units stay');
    assert.equal(withoutServerPaths('see file:///srv/data/x.jpg'), 'see x.jpg');
    assert.equal(withoutServerPaths('C:\\data\\avatars\\x.jpg or C:/data/y.jpg is missing'), 'x.jpg or y.jpg is missing');
    assert.equal(withoutServerPaths('at 10:30/11:00, http://host/a/b'), 'at 10:30/11:00, http://host/a/b');
    assert.equal(withoutServerPaths('speech server said: Cannot POST /v1/audio/speech (404)'), 'speech server said: Cannot POST /v1/audio/speech (404)');
  });

  it('an error about a file in an avatar folder names the file, not where the server keeps it', async (t) => {
    const { dir, cleanup } = await tempDir('avatar-serve-paths-');
    t.after(cleanup);
    await writeSeedLayoutAvatar(join(dir, 'avatars', 'bad_model'), { size: 96, frames: 3, model: new Uint8Array(200).fill(7) });
    const registry = await AvatarRegistry.open({ dirs: [join(dir, 'avatars')], rescanMs: 0 });
    t.after(() => registry.close());
    const s = await startTestServer({}, { catalog: registry });
    t.after(() => s.close());
    const r = await call(`${s.url}/api/v1/generate`, { body: { text: 'Hi.', avatar: 'bad_model', size: '64x64' } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /model model_best\.onnx cannot be loaded/);
    assert.ok(!r.body.message.includes(dir), r.body.message);
  });
});

describe('logs', () => {
  const lines: string[] = [];
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ logLevel: 'info', logFormat: 'json' }, { logSink: { write: (line: string) => lines.push(line) } });
  });
  after(() => s.close());

  it('are JSON lines with a request id, echoed in x-request-id; a plain client id is kept; no query strings or keys', async () => {
    const mine = await call(`${s.url}/api/v1/jobs/nope?token=secret-in-query`, { headers: { 'x-request-id': 'trace-42', authorization: 'Bearer secret-header' } });
    assert.equal(mine.status, 404);
    assert.equal(mine.headers.get('x-request-id'), 'trace-42');
    const fresh = await call(`${s.url}/api/v1/jobs/nope`, { headers: { 'x-request-id': 'bad id with spaces' } });
    assert.match(fresh.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    await sleep(50);
    const entries = lines.map((l) => JSON.parse(l) as Record<string, any>);
    const completed = entries.find((e) => e.reqId === 'trace-42' && e.msg === 'request completed');
    assert.ok(completed, lines.join(''));
    assert.equal(completed.level, 30);
    assert.equal(completed.res.statusCode, 404);
    const incoming = entries.find((e) => e.reqId === 'trace-42' && e.msg === 'incoming request')!;
    assert.deepEqual(incoming.req, { method: 'GET', url: '/api/v1/jobs/nope', ip: '127.0.0.1' });
    assert.ok(!lines.join('').includes('secret'), 'credentials never reach the log');
    assert.ok(entries.some((e) => e.reqId === fresh.headers.get('x-request-id')));
  });

  it('skip probes and scrapes at info, and log realtime sessions with their session id', async () => {
    const before = lines.length;
    await call(`${s.url}/health`);
    await call(`${s.url}/metrics`);
    assert.equal(lines.length, before);
    let frames = 0;
    const client = await connectRealtime(`${s.wsUrl}/api/v1/realtime`, { onFrame: () => frames++ });
    const sessionId = client.session!.sessionId;
    for (let i = 0; i < 100 && frames < 2; i++) await sleep(20);
    client.close();
    for (let i = 0; i < 100 && !lines.some((l) => l.includes('realtime session ended')); i++) await sleep(20);
    const ended = lines.map((l) => JSON.parse(l) as Record<string, any>).find((e) => e.msg === 'realtime session ended');
    assert.ok(ended);
    assert.equal(ended.sessionId, sessionId);
    assert.ok(ended.reqId);
    assert.ok(ended.frames >= 1);
  });

  it('are short readable lines in pretty format', () => {
    const out: string[] = [];
    const sink = prettySink({ write: (l: string) => out.push(l) });
    sink.write(`${JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 1, 12, 30, 5, 7), pid: 1, hostname: 'h', reqId: 'r-1', msg: 'slow', ms: 12 })}\n`);
    assert.deepEqual(out, ['12:30:05.007 WARN  [r-1] slow ms=12\n']);
  });
});

describe('readiness and drain', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  it('/ready says 200 while taking work; draining refuses new work but lets open sessions finish', async () => {
    const ready = await call(`${s.url}/ready`);
    assert.equal(ready.status, 200);
    assert.equal(ready.body.ready, true);
    let frames = 0;
    const client = await connectRealtime(`${s.wsUrl}/api/v1/realtime`, { onFrame: () => frames++ });
    const drained = s.server.drain(20_000);
    const notReady = await call(`${s.url}/ready`);
    assert.equal(notReady.status, 503);
    assert.match(notReady.body.message, /draining/);
    const health = await call(`${s.url}/health`);
    assert.equal(health.status, 200, 'still alive');
    assert.equal(health.body.draining, true);
    const refused = await call(`${s.url}/api/v1/generate`, { body: { text: 'Hello.' } });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error, 'draining');
    assert.equal(refused.headers.get('retry-after'), '5');
    assert.equal((await call(`${s.url}/api/v1/jobs/00000000-0000-0000-0000-000000000000`)).status, 404, 'job status still answers');
    const before = frames;
    await sleep(300);
    assert.ok(frames > before, 'the open session keeps streaming');
    client.close();
    const outcome = await drained;
    assert.equal(outcome.drained, true);
    assert.ok(outcome.waitedMs < 15_000);
  });
});

describe('avatar serve on SIGTERM', () => {
  it('stops taking work, lets the open session run for the grace period, then exits 0 (and names the bundled ffmpeg when it is the one in use)', async () => {
    const { dir, cleanup } = await tempDir();
    const child = spawn(process.execPath, [AVATAR_BIN, 'serve', '--port', '0'], {
      // No ffmpeg on PATH: the npm-bundled build is used, and the banner must say so.
      env: { ...process.env, PATH: '/nonexistent', AVATAR_FFMPEG: '', AVATAR_DATA_DIR: dir, AVATAR_HOME: dir, AVATAR_SHUTDOWN_GRACE_SECONDS: '2', AVATAR_LOG_FORMAT: 'json' },
    });
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      for (let i = 0; i < 600 && !/avatar upload/.test(out); i++) await sleep(100);
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      assert.ok(url, out);
      assert.match(out, /encoder\s+\S+, ffmpeg bundled with the npm package/);
      assert.match(out, /note: ffmpeg is the build bundled with the npm package \(version \S+, from 2018\): install a current system ffmpeg/);
      let closedWith: number | undefined;
      let frames = 0;
      await connectRealtime(`${url.replace(/^http/, 'ws')}/api/v1/realtime`, { onFrame: () => frames++, onClose: (code) => (closedWith = code) });
      child.kill('SIGTERM');
      for (let i = 0; i < 50 && (await call(`${url}/ready`)).status === 200; i++) await sleep(20);
      assert.equal((await call(`${url}/ready`)).status, 503);
      assert.equal((await call(`${url}/health`)).status, 200);
      assert.equal((await call(`${url}/api/v1/generate/stream?text=Hi`)).status, 503);
      const during = frames;
      await sleep(500);
      assert.ok(frames > during, 'the session still gets frames while draining');
      const t0 = performance.now();
      assert.equal(await exited, 0, out);
      assert.ok(performance.now() - t0 < 10_000);
      assert.ok(closedWith !== undefined, 'the session was closed at the end of the grace period');
      assert.match(out, /taking no new work/);
      assert.match(out, /grace period over/);
      const jsonLines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
      assert.ok(jsonLines.some((e) => e.msg === 'drain grace period over: ending what is left' && e.sessions === 1), out);
    } finally {
      child.kill('SIGKILL');
      await cleanup();
    }
  });
});
