import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AvatarRegistry } from '../src/avatars/registry.js';
import { generateModel } from '../src/render/onnx/model-init.js';
import { writeSeedLayoutAvatar } from './helpers/onnx-avatar.js';
import { ffprobe, tempDir } from './helpers/media.js';
import { connectRealtime, startTestServer, type TestServer } from './helpers/server.js';

/**
 * A neural (onnx) avatar served like any other: a progressive stream and a realtime
 * session, with the model's audio input fed by the pipeline. The model is a tiny seed320
 * one with random weights, in seed 002's folder layout (checkpoint/model_best.onnx).
 */
describe('onnx avatar served over the stream and realtime transports', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => undefined;
  let registry: AvatarRegistry;
  let s: TestServer;

  before(async () => {
    ({ dir, cleanup } = await tempDir('avatar-onnx-serve-'));
    await writeSeedLayoutAvatar(join(dir, 'neural'), { size: 256, frames: 6, model: generateModel('seed320', 'tiny').bytes });
    registry = await AvatarRegistry.open({ dirs: [dir], rescanMs: 0 });
    assert.equal(registry.get('neural')?.renderer, 'onnx');
    s = await startTestServer({}, { catalog: registry });
  });

  after(async () => {
    await s?.close();
    registry?.close();
    await cleanup();
  });

  it('streams a playable fragmented MP4 of the whole speech', async () => {
    const response = await fetch(`${s.url}/api/v1/generate/stream`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'Hello from a neural avatar. It speaks in a stream.', avatar: 'neural' }),
    });
    assert.equal(response.status, 200);
    const body = Buffer.from(await response.arrayBuffer());
    const path = join(dir, 'stream.mp4');
    await writeFile(path, body);
    const probe = await ffprobe(path);
    const video = probe.streams.find((x) => x.codec_type === 'video');
    const audio = probe.streams.find((x) => x.codec_type === 'audio');
    assert.equal(video?.width, 256);
    assert.ok(audio, 'the stream carries the speech');
    assert.ok(Number(probe.format.duration) > 2, `a whole utterance streamed (${probe.format.duration} s)`);
  });

  it('speaks in a realtime session: speaking frames arrive and differ from the idle picture', async () => {
    const frames: { speaking: boolean; jpeg: Uint8Array }[] = [];
    const client = await connectRealtime(`${s.wsUrl}/api/v1/realtime?avatar=neural&size=256&fps=5`, { onFrame: (f) => frames.push({ speaking: f.speaking, jpeg: f.patch ? f.patch.jpeg : f.jpeg }) });
    try {
      client.speak('Good morning to you, and welcome. This avatar is drawn by a neural model.');
      const ended = await client.waitFor('speech.ended', () => true, 60000);
      assert.equal((ended as { reason: string }).reason, 'done');
    } finally {
      client.close();
    }
    const speaking = frames.filter((f) => f.speaking);
    const idle = frames.filter((f) => !f.speaking);
    assert.ok(speaking.length > 3, `speaking frames arrived (${speaking.length})`);
    const idleJpegs = new Set(idle.map((f) => Buffer.from(f.jpeg).toString('base64')));
    assert.ok(speaking.some((f) => !idleJpegs.has(Buffer.from(f.jpeg).toString('base64'))), 'the model changed the picture while speaking');
  });
});
