import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { AVATAR_BIN, tempDir } from './helpers/media.js';
import { ManualClock } from './helpers/manual-clock.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';
import { TestCatalog } from './helpers/test-catalog.js';

const ACME = 'acme-key-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';

let s: TestServer;
/** The rate limiter's time: it moves only when a test says so. */
const clock = new ManualClock(1_000_000);
before(async () => {
  s = await startTestServer(
    {
      apiKeys: [{ key: ACME, tenant: 'acme' }, { key: GLOBEX, tenant: 'globex' }],
      avatarTenants: { acme_face: 'acme', globex_face: 'globex' },
      limits: { generationsPerMinute: 3 },
    },
    { catalog: new TestCatalog({ acme_face: { r: 200, g: 0, b: 0 }, globex_face: { r: 0, g: 200, b: 0 } }), clock },
  );
});
after(() => s.close());

const as = (key: string) => ({ authorization: `Bearer ${key}` });

describe('API keys and tenants', () => {
  it('requires a key on /api routes (Bearer or x-api-key); health and metrics stay open', async () => {
    const none = await call(`${s.url}/api/v1/avatars`);
    assert.equal(none.status, 401);
    assert.match(none.body.message, /API key is required/);
    assert.equal((await call(`${s.url}/api/v1/avatars`, { headers: as('wrong-key-0123456789') })).status, 401);
    assert.equal((await call(`${s.url}/api/v1/avatars`, { headers: as(ACME) })).status, 200);
    assert.equal((await call(`${s.url}/api/v1/avatars`, { headers: { 'x-api-key': GLOBEX } })).status, 200);
    assert.equal((await call(`${s.url}/health`)).status, 200);
    assert.equal((await call(`${s.url}/metrics`)).status, 200);
  });

  it('a tenant sees and uses only its own avatars (and the shared ones)', async () => {
    const acme = (await call(`${s.url}/api/v1/avatars`, { headers: as(ACME) })).body.avatars.map((a: { id: string }) => a.id).sort();
    const globex = (await call(`${s.url}/api/v1/avatars`, { headers: as(GLOBEX) })).body.avatars.map((a: { id: string }) => a.id).sort();
    assert.deepEqual(acme, ['acme_face', 'default']);
    assert.deepEqual(globex, ['default', 'globex_face']);
    const denied = await call(`${s.url}/api/v1/generate/stream`, { headers: as(GLOBEX), body: { text: 'hi', avatar: 'acme_face' } });
    assert.equal(denied.status, 404, 'another tenant\'s avatar does not exist for this caller');
    const forbiddenDelete = await call(`${s.url}/api/v1/avatars/acme_face`, { method: 'DELETE', headers: as(GLOBEX) });
    assert.equal(forbiddenDelete.status, 404);
  });

  it('jobs and outputs belong to their tenant', async () => {
    const accepted = await call(`${s.url}/api/v1/generate`, { headers: as(ACME), body: { text: 'Private.', async: true, size: 128, avatar: 'acme_face' } });
    assert.equal(accepted.status, 202);
    const id = accepted.body.id;
    assert.equal((await call(`${s.url}/api/v1/jobs/${id}`, { headers: as(GLOBEX) })).status, 404);
    let job: any;
    for (let i = 0; i < 200; i++) {
      job = (await call(`${s.url}/api/v1/jobs/${id}`, { headers: as(ACME) })).body;
      if (job.state !== 'queued' && job.state !== 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(job.state, 'succeeded');
    assert.match(job.result.url, /^\/api\/v1\/outputs\/acme\//);
    // The signature binds the tenant: the same file under another tenant's path is refused.
    const moved = job.result.url.replace('/outputs/acme/', '/outputs/globex/');
    assert.equal((await call(`${s.url}${moved}`)).status, 403);
    assert.equal((await call(`${s.url}${job.result.url}`)).status, 200);
  });

  it('rate-limits generations per key with 429 and Retry-After; other keys are unaffected', async () => {
    // Three per minute; the jobs test above used one of acme's.
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 3; i++) {
      last = await call(`${s.url}/api/v1/generate`, { headers: as(ACME), body: { text: 'Again.', async: true, size: 64 } });
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [202, 202, 429]);
    assert.match(last!.body.message, /at most 3 generations per minute/);
    assert.ok(Number(last!.headers.get('retry-after')) >= 1);
    assert.equal((await call(`${s.url}/api/v1/generate`, { headers: as(GLOBEX), body: { text: 'Mine.', async: true, size: 64 } })).status, 202);
    // The window slides: a minute later acme may generate again, and only as often as allowed.
    await clock.advance(59_999);
    assert.equal((await call(`${s.url}/api/v1/generate`, { headers: as(ACME), body: { text: 'Still no.', async: true, size: 64 } })).status, 429);
    await clock.advance(1);
    assert.equal((await call(`${s.url}/api/v1/generate`, { headers: as(ACME), body: { text: 'Now yes.', async: true, size: 64 } })).status, 202);
  });

  it('realtime sessions need a key too (header or api_key query)', async () => {
    const open = (url: string, headers: Record<string, string> = {}) => new Promise<number>((resolve) => {
      const ws = new WebSocket(url, { headers });
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => undefined);
    });
    assert.equal(await open(`${s.wsUrl}/api/v1/realtime`), 401);
    assert.equal(await open(`${s.wsUrl}/api/v1/realtime`, as(ACME)), 101);
    assert.equal(await open(`${s.wsUrl}/api/v1/realtime?api_key=${ACME}`), 101);
    assert.equal(await open(`${s.wsUrl}/api/v1/realtime?avatar=globex_face&api_key=${ACME}`), 404);
  });
});

describe('avatar serve command', () => {
  it('without API keys listens on loopback only and says so in its banner', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const child = spawn(process.execPath, [AVATAR_BIN, 'serve', '--host', '0.0.0.0', '--port', '0'], { env: { ...process.env, AVATAR_DATA_DIR: dir } });
      let out = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no banner: ${out}`)), 30000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (/avatar upload/.test(out)) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      assert.match(out, /listening on http:\/\/127\.0\.0\.1:\d+/);
      assert.match(out, /listens on 127\.0\.0\.1 only \(not 0\.0\.0\.0\)/);
      assert.match(out, /auth\s+off/);
      assert.match(out, /encoder\s+\S+/);
      assert.match(out, /avatars\s+1 \(default\)/);
    } finally {
      await cleanup();
    }
  });

  it('rejects a bad configuration at start with every problem listed', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const config = join(dir, 'avatar.yaml');
      await writeFile(config, 'port: 99999\napiKeys:\n  - key: short\n    tenant: acme\nlimits:\n  maxFps: nope\ncolour: blue\nwebrtc:\n  videoKbps: 300\n  minVideoKbps: 400\n');
      const run = (args: string[]) => new Promise<{ code: number | null; err: string }>((resolve) => {
        const child = spawn(process.execPath, [AVATAR_BIN, 'serve', ...args]);
        let err = '';
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('exit', (code) => resolve({ code, err }));
      });
      const bad = await run(['--config', config]);
      assert.equal(bad.code, 2);
      for (const problem of [/unknown setting "colour"/, /port must be a whole number from 0 to 65535/, /apiKeys\[0\]\.key must be a string of at least 16/, /limits\.maxFps/, /webrtc\.minVideoKbps \(400\) must not exceed webrtc\.videoKbps \(300\)/]) assert.match(bad.err, problem);
      await writeFile(config, 'port: [unclosed\n');
      const broken = await run(['--config', config]);
      assert.equal(broken.code, 2);
      assert.match(broken.err, /not valid YAML/);
      const missing = await run(['--config', join(dir, 'none.yaml')]);
      assert.equal(missing.code, 2);
      assert.match(missing.err, /cannot read config file/);
    } finally {
      await cleanup();
    }
  });
});
