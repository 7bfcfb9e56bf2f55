import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { AvatarPreparer, PrepareTarget } from '../src/avatars/avatar-preparer.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';
import { TestCatalog } from './helpers/test-catalog.js';

const run = promisify(execFile);

/** A preparer double: checks it got a readable file, then adds a flat avatar to the catalog (or fails on request). */
class RecordingPreparer implements AvatarPreparer {
  readonly calls: { inputPath: string; target: PrepareTarget; bytes: number }[] = [];
  constructor(private readonly catalog: TestCatalog) {}
  async prepare(inputPath: string, target: PrepareTarget): Promise<void> {
    const bytes = (await stat(inputPath)).size;
    this.calls.push({ inputPath, target, bytes });
    if (target.name.includes('fail')) throw new Error('no face found in the picture');
    this.catalog.extra.set(target.id, { r: 10, g: 120, b: 200 });
  }
  async remove(id: string): Promise<void> {
    this.catalog.extra.delete(id);
  }
}

let s: TestServer;
let bare: TestServer;
let preparer: RecordingPreparer;
let jpeg: Buffer;
let mp4: Buffer;

before(async () => {
  const catalog = new TestCatalog();
  preparer = new RecordingPreparer(catalog);
  s = await startTestServer({ limits: { imageUploadMB: 0.05, videoUploadMB: 1, generationsPerMinute: 100 } }, { catalog, preparer });
  bare = await startTestServer();
  const jpegPath = join(s.dataDir, 'face.jpg');
  const mp4Path = join(s.dataDir, 'face.mp4');
  await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=s=160x160', '-frames:v', '1', '-y', jpegPath]);
  await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=s=160x160:r=25', '-t', '1', '-pix_fmt', 'yuv420p', '-y', mp4Path]);
  jpeg = await readFile(jpegPath);
  mp4 = await readFile(mp4Path);
});
after(async () => {
  await s.close();
  await bare.close();
});

async function upload(server: TestServer, file: Buffer, filename: string, fields: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([file]), filename);
  const response = await fetch(`${server.url}/api/v1/avatars`, { method: 'POST', body: form });
  return { status: response.status, body: await response.json() };
}

async function finished(server: TestServer, id: string): Promise<any> {
  for (let i = 0; i < 100; i++) {
    const job = (await call(`${server.url}/api/v1/jobs/${id}`)).body;
    if (job.state === 'succeeded' || job.state === 'failed') return job;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('job did not finish');
}

describe('/api/v1/avatars', () => {
  it('lists the avatars with their details', async () => {
    const { status, body } = await call(`${s.url}/api/v1/avatars`);
    assert.equal(status, 200);
    assert.deepEqual(body.avatars.map((a: { id: string }) => a.id), ['default']);
    assert.equal(body.avatars[0].builtin, true);
  });

  it('without a preparer, upload and delete answer 501 with the reason', async () => {
    const r = await upload(bare, jpeg, 'me.jpg');
    assert.equal(r.status, 501);
    assert.match(r.body.message, /no avatar preparer configured/);
    assert.equal((await call(`${bare.url}/api/v1/avatars/default`, { method: 'DELETE' })).status, 409);
  });

  it('a photo upload is stored, prepared as a job, then listed, usable and deletable', async () => {
    const accepted = await upload(s, jpeg, 'My Face.jpg', { name: 'Ana' });
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    assert.equal(accepted.body.avatar, 'ana');
    const job = await finished(s, accepted.body.id);
    assert.equal(job.state, 'succeeded', JSON.stringify(job));
    assert.deepEqual({ kind: job.result.kind, format: job.result.format, width: job.result.width }, { kind: 'image', format: 'jpeg', width: 160 });
    const [callArgs] = preparer.calls.slice(-1);
    assert.deepEqual(callArgs!.target, { id: 'ana', name: 'Ana', tenant: 'local' });
    assert.equal(callArgs!.bytes, jpeg.length);
    const list = (await call(`${s.url}/api/v1/avatars`)).body.avatars.map((a: { id: string }) => a.id);
    assert.ok(list.includes('ana'));
    assert.equal((await call(`${s.url}/api/v1/generate/stream`, { body: { text: 'Hi.', avatar: 'ana', size: 64 } })).status, 200);
    assert.equal((await upload(s, jpeg, 'x.jpg', { id: 'ana' })).status, 409, 'ids are unique');
    assert.equal((await call(`${s.url}/api/v1/avatars/ana`, { method: 'DELETE' })).status, 204);
    assert.equal((await call(`${s.url}/api/v1/avatars/ana`, { method: 'DELETE' })).status, 404);
  });

  it('a video upload is accepted by content; a failing preparation fails the job with its reason', async () => {
    const ok = await upload(s, mp4, 'clip.bin', { id: 'clip' });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    assert.equal((await finished(s, ok.body.id)).result.kind, 'video');
    const bad = await upload(s, jpeg, 'x.jpg', { id: 'broken_one', name: 'will fail' });
    const job = await finished(s, bad.body.id);
    assert.equal(job.state, 'failed');
    assert.match(job.error.message, /could not prepare avatar "broken_one": no face found/);
    const list = (await call(`${s.url}/api/v1/avatars`)).body.avatars.map((a: { id: string }) => a.id);
    assert.ok(!list.includes('broken_one'));
  });

  it('judges files by content and size, never by name, and rejects bad ids', async () => {
    const text = Buffer.from('this is not a picture at all, just text pretending');
    const renamed = await upload(s, text, 'face.jpg');
    assert.equal(renamed.status, 415);
    assert.match(renamed.body.message, /judged by its content/);
    const truncated = await upload(s, Buffer.concat([jpeg.subarray(0, 3), Buffer.alloc(200)]), 'face.jpg', { id: 'trunc' });
    assert.equal(truncated.status, 400);
    assert.match(truncated.body.message, /not a readable image/);
    const big = Buffer.concat([jpeg, Buffer.alloc(60 * 1024)]);
    const tooBig = await upload(s, big, 'big.jpg', { id: 'big' });
    assert.equal(tooBig.status, 413);
    assert.match(tooBig.body.message, /image uploads are limited to 0\.0 MB|image uploads are limited/);
    const huge = await upload(s, Buffer.concat([mp4, Buffer.alloc(1100 * 1024)]), 'huge.mp4', { id: 'huge' });
    assert.equal(huge.status, 413);
    const badId = await upload(s, jpeg, 'x.jpg', { id: '../../etc' });
    assert.equal(badId.status, 400);
    assert.match(badId.body.message, /avatar id/);
    const noFile = await fetch(`${s.url}/api/v1/avatars`, { method: 'POST', body: (() => { const f = new FormData(); f.append('id', 'x'); return f; })() });
    assert.equal(noFile.status, 400);
    assert.equal((await call(`${s.url}/api/v1/avatars`, { body: { file: 'x' } })).status, 415);
    assert.equal((await call(`${s.url}/health`)).status, 200);
  });
});
