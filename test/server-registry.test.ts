import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { FolderAvatarPreparer } from '../src/avatars/folder-preparer.js';
import { AvatarRegistry } from '../src/avatars/registry.js';
import { i420ToRgb } from '../src/compose/color-convert.js';
import { ParametricRenderer } from '../src/render/parametric/parametric-renderer.js';
import { REST_MOUTH } from '../src/visemes/mouth-params.js';
import { ffprobe, tempDir } from './helpers/media.js';
import { call, connectRealtime, startTestServer, type TestServer } from './helpers/server.js';

/** The server with the real avatar registry and `prepare` behind its avatar routes. */
describe('serving prepared avatars (registry + prepare)', () => {
  let s: TestServer;
  let registry: AvatarRegistry;
  let dir: string;
  let cleanup: () => Promise<void>;
  let photo: Buffer;

  before(async () => {
    ({ dir, cleanup } = await tempDir('avatar-serve-registry-'));
    registry = await AvatarRegistry.open({ dirs: [join(dir, 'avatars')], rescanMs: 0 });
    s = await startTestServer({ limits: { generationsPerMinute: 100 } }, { catalog: registry, preparer: new FolderAvatarPreparer(join(dir, 'avatars'), registry) });
    const rest = new ParametricRenderer(256, 256).render({ index: 0, ptsMs: 0, speaking: false, mouth: REST_MOUTH });
    photo = await sharp(i420ToRgb(rest.data, 256, 256), { raw: { width: 256, height: 256, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
  });
  after(async () => {
    await s.close();
    registry.close();
    await cleanup();
  });

  async function upload(file: Buffer, filename: string, fields: Record<string, string>): Promise<{ status: number; body: any }> {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append('file', new Blob([file]), filename);
    const response = await fetch(`${s.url}/api/v1/avatars`, { method: 'POST', body: form });
    return { status: response.status, body: await response.json() };
  }

  async function finished(id: string): Promise<any> {
    for (let i = 0; i < 200; i++) {
      const job = (await call(`${s.url}/api/v1/jobs/${id}`)).body;
      if (job.state === 'succeeded' || job.state === 'failed') return job;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('job did not finish');
  }

  it('an uploaded photo becomes a warp avatar that generates MP4s and speaks in realtime sessions', async () => {
    const accepted = await upload(photo, 'portrait.jpg', { id: 'lena', name: 'Lena' });
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    const job = await finished(accepted.body.id);
    assert.equal(job.state, 'succeeded', JSON.stringify(job));
    const listed = (await call(`${s.url}/api/v1/avatars`)).body.avatars.find((a: { id: string }) => a.id === 'lena');
    assert.equal(listed?.renderer, 'warp');
    const manifest = JSON.parse(await readFile(join(dir, 'avatars', 'lena', 'avatar.json'), 'utf8')) as { name: string };
    assert.equal(manifest.name, 'Lena');

    const generated = await call(`${s.url}/api/v1/generate`, { body: { text: 'Hello from my own photo.', avatar: 'lena' } });
    assert.equal(generated.status, 200, JSON.stringify(generated.body));
    await writeFile(join(dir, 'lena.mp4'), generated.body as Buffer);
    const probe = await ffprobe(join(dir, 'lena.mp4'));
    assert.equal(probe.streams.find((x) => x.codec_type === 'video')?.width, 256);

    const frames: { speaking: boolean; jpeg: Uint8Array }[] = [];
    const client = await connectRealtime(`${s.wsUrl}/api/v1/realtime?avatar=lena`, { onFrame: (f) => frames.push(f) });
    try {
      client.speak('Good morning.');
      await client.waitFor('speech.ended');
      assert.ok(frames.filter((f) => f.speaking).length > 5, 'speaking frames of the photo avatar arrived');
    } finally {
      client.close();
    }
  });

  it('an upload without a face fails its job with the reason; delete removes the folder', async () => {
    const blank = await sharp({ create: { width: 200, height: 200, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    const accepted = await upload(blank, 'wall.jpg', { id: 'wall' });
    assert.equal(accepted.status, 202);
    const job = await finished(accepted.body.id);
    assert.equal(job.state, 'failed');
    assert.match(job.error.message, /no face found/);
    assert.equal((await call(`${s.url}/api/v1/avatars/lena`, { method: 'DELETE' })).status, 204);
    assert.deepEqual(await readdir(join(dir, 'avatars')), []);
    assert.equal((await call(`${s.url}/api/v1/generate`, { body: { text: 'Hi.', avatar: 'lena' } })).status, 404);
  });
});
