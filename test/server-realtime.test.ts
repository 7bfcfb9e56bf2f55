import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { MediaMessage, ServerEvent } from '../src/client/protocol.js';
import { resampleLinear } from '../src/audio/resample.js';
import { createTtsProvider } from '../src/tts/create-tts.js';
import { connectRealtime, startTestServer, type TestServer } from './helpers/server.js';
import { TestCatalog } from './helpers/test-catalog.js';

type Frame = Extract<MediaMessage, { kind: 'video' }> & { at: number };
type Audio = Extract<MediaMessage, { kind: 'audio' }>;

let s: TestServer;
before(async () => {
  s = await startTestServer({ realtime: { size: 256 }, avatarTenants: { secret: 'someone-else' } }, { catalog: new TestCatalog({ red: { r: 220, g: 30, b: 30 }, secret: { r: 0, g: 0, b: 255 } }) });
  await s.server.warmUp();
});
after(() => s.close());

async function session(query = 'avatar=default') {
  const frames: Frame[] = [];
  const audio: Audio[] = [];
  const events: (ServerEvent & { at: number })[] = [];
  const client = await connectRealtime(`${s.wsUrl}/api/v1/realtime?${query}`, {
    onFrame: (f) => frames.push({ ...f, at: performance.now() }),
    onAudio: (a) => audio.push(a),
    onEvent: (e) => events.push({ ...e, at: performance.now() }),
  });
  return { client, frames, audio, events };
}

/** Status and body of a WebSocket upgrade request that the server refuses. */
function upgradeStatus(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('upgrade', () => reject(new Error('the server accepted the upgrade')));
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Mean of the R, G, B channels of a JPEG. */
async function meanColour(jpeg: Uint8Array): Promise<number[]> {
  const { channels } = await sharp(jpeg).stats();
  return channels.slice(0, 3).map((c) => c.mean);
}

describe('realtime session', () => {
  it('streams idle frames at a steady rate from connect, with consecutive indices and pts on one clock', async () => {
    const { client, frames, events } = await session();
    await sleep(1200);
    client.close();
    const started = events.find((e) => e.type === 'session.started') as Extract<ServerEvent, { type: 'session.started' }>;
    assert.equal(started.fps, 25);
    assert.equal(started.width, 256);
    assert.ok(frames.length >= 22 && frames.length <= 32, `${frames.length} frames in 1.2 s`);
    for (let i = 1; i < frames.length; i++) {
      assert.ok(frames[i]!.index > frames[i - 1]!.index);
      assert.equal(frames[i]!.ptsMs, (frames[i]!.index * 1000) / 25);
    }
    assert.ok(frames.every((f) => !f.speaking));
    const meta = await sharp(frames[0]!.jpeg).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.equal(meta.width, 256);
  });

  it('speak: speech.started, speaking frames with moving mouth, audio with pts on the frame clock, speech.ended', async () => {
    const { client, frames, audio, events } = await session();
    await sleep(300);
    const asked = performance.now();
    client.speak('Hello there, how are you?', { id: 'u1' });
    const ended = (await client.waitFor('speech.ended')) as Extract<ServerEvent, { type: 'speech.ended' }>;
    client.close();
    const startedEvent = events.find((e) => e.type === 'speech.started') as Extract<ServerEvent, { type: 'speech.started' }>;
    assert.equal(startedEvent.id, 'u1');
    assert.equal(ended.reason, 'done');
    const speaking = frames.filter((f) => f.speaking);
    assert.ok(speaking.length > 20, `${speaking.length} speaking frames`);
    const firstUtteranceFrame = frames.find((f) => f.ptsMs >= startedEvent.ptsMs)!;
    assert.ok(firstUtteranceFrame.at - asked < 1000, 'speech starts promptly');
    // Speaking frames of the drawn avatar come as the idle picture plus a mouth patch.
    assert.ok(speaking.every((f) => f.patch && f.patch.y > 0 && f.patch.jpeg.length > 0), 'speaking frames carry a mouth patch');
    const sizes = new Set(speaking.map((f) => f.patch!.jpeg.length));
    assert.ok(sizes.size > 5, 'the mouth moves: speaking patches differ');
    const patch = await sharp(speaking[10]!.patch!.jpeg).metadata();
    const base = await sharp(speaking[10]!.jpeg).metadata();
    assert.equal(base.width, 256);
    assert.ok(patch.width! < 256 && speaking[10]!.patch!.x + patch.width! <= 256 && speaking[10]!.patch!.y + patch.height! <= 256, 'the patch lies inside the picture');
    assert.ok(audio.length > 0);
    assert.equal(audio[0]!.ptsMs, startedEvent.ptsMs, 'audio starts with the first frame of the utterance');
    const audioMs = audio.reduce((sum, a) => sum + (a.pcm.length * 1000) / a.sampleRate, 0);
    assert.ok(Math.abs(ended.ptsMs - startedEvent.ptsMs - audioMs) <= 80, `video ${ended.ptsMs - startedEvent.ptsMs} ms vs audio ${audioMs} ms`);
    for (let i = 1; i < audio.length; i++) assert.ok(Math.abs(audio[i]!.ptsMs - (audio[i - 1]!.ptsMs + (audio[i - 1]!.pcm.length * 1000) / audio[i - 1]!.sampleRate)) < 50);
  });

  it('interrupt stops speech within one frame and says so', async () => {
    const { client, frames } = await session();
    client.speak('This is a long sentence that will be interrupted before it can finish speaking its words.');
    await client.waitFor('speech.started');
    await sleep(600);
    client.interrupt();
    const ended = (await client.waitFor('speech.ended')) as Extract<ServerEvent, { type: 'speech.ended' }>;
    await sleep(300);
    client.close();
    assert.equal(ended.reason, 'interrupted');
    const after = frames.filter((f) => f.ptsMs >= ended.ptsMs);
    assert.ok(after.length >= 5);
    assert.ok(after.every((f) => !f.speaking), 'no speaking frame after the interrupt point');
    const lastSpeaking = frames.filter((f) => f.speaking).pop()!;
    assert.ok(ended.ptsMs - lastSpeaking.ptsMs <= 40 + 1e-6, 'the interrupt took effect at the next frame');
  });

  it('switches avatar mid-session at the next frame, without a gap', async () => {
    const { client, frames } = await session();
    await sleep(300);
    client.switchAvatar('red');
    const changed = (await client.waitFor('avatar.changed')) as Extract<ServerEvent, { type: 'avatar.changed' }>;
    await sleep(300);
    client.close();
    const before = frames.filter((f) => f.ptsMs < changed.ptsMs).pop()!;
    const after = frames.find((f) => f.ptsMs >= changed.ptsMs)!;
    // Loading the new avatar happens beside the running session: frames keep coming (a
    // slot may be skipped only if the machine itself is overloaded).
    assert.ok(after.index - before.index <= 2, `frames kept flowing during the switch (slots ${before.index} -> ${after.index})`);
    const during = frames.filter((f) => f.index > frames[0]!.index);
    const skipped = during.reduce((n, f, i) => n + (i ? f.index - during[i - 1]!.index - 1 : 0), 0);
    assert.ok(skipped <= 2, `${skipped} slots skipped`);
    const [r, g] = await meanColour(after.jpeg);
    assert.ok(r! > 150 && g! < 80, `frame after the switch is the red avatar (${r}, ${g})`);
  });

  it('streamed PCM drives the mouth (audio.start / binary / audio.end) and is echoed in sync', async () => {
    const tts = createTtsProvider('espeak');
    let pcm: Int16Array = new Int16Array(0);
    for await (const part of tts.synthesize({ text: 'Testing the microphone path.', language: 'en' })) pcm = resampleLinear(part.pcm, part.sampleRate, 16000);
    const { client, frames, audio, events } = await session();
    client.startAudio({ sampleRate: 16000, echo: true, id: 'mic' });
    for (let at = 0; at < pcm.length; at += 640) {
      client.sendAudio(pcm.subarray(at, at + 640));
      await sleep(20);
    }
    client.endAudio();
    const ended = (await client.waitFor('speech.ended')) as Extract<ServerEvent, { type: 'speech.ended' }>;
    client.close();
    const started = events.find((e) => e.type === 'speech.started') as Extract<ServerEvent, { type: 'speech.started' }>;
    assert.equal(started.source, 'audio');
    assert.equal(ended.reason, 'done');
    assert.ok(frames.filter((f) => f.speaking).length > 10, 'speaking frames from audio alone');
    assert.equal(audio.reduce((n, a) => n + a.pcm.length, 0), pcm.length, 'every sample echoed');
    assert.equal(audio[0]!.ptsMs, started.ptsMs);
  });

  it('bad messages get error events and the session keeps streaming', async () => {
    const { client, frames, events } = await session();
    const socket = (client as unknown as { socket: { send(d: unknown): void } }).socket;
    socket.send('not json');
    socket.send(JSON.stringify({ type: 'dance' }));
    socket.send(JSON.stringify({ type: 'speak', text: '' }));
    socket.send(JSON.stringify({ type: 'speak', text: 'x'.repeat(6000) }));
    socket.send(new Uint8Array([1, 2, 3]));
    client.switchAvatar('../../etc');
    client.switchAvatar('secret');
    await sleep(400);
    const count = frames.length;
    await sleep(300);
    client.close();
    const errors = events.filter((e) => e.type === 'error') as Extract<ServerEvent, { type: 'error' }>[];
    assert.equal(errors.length, 7, JSON.stringify(errors));
    assert.match(errors.map((e) => e.message).join('\n'), /JSON[\s\S]*unknown message type[\s\S]*nothing to say[\s\S]*limit[\s\S]*binary audio[\s\S]*avatar id[\s\S]*unknown avatar "secret"/, 'errors come in message order');
    assert.ok(frames.length > count, 'frames keep coming');
  });

  it('refuses bad sessions before the upgrade with a JSON reason', async () => {
    const refused = await upgradeStatus(`${s.url}/api/v1/realtime?avatar=nobody`);
    assert.equal(refused.status, 404);
    assert.match(refused.body, /unknown avatar/);
    await assert.rejects(connectRealtime(`${s.wsUrl}/api/v1/realtime?avatar=nobody`));
    await assert.rejects(connectRealtime(`${s.wsUrl}/api/v1/realtime?avatar=default&fps=500`));
    await assert.rejects(connectRealtime(`${s.wsUrl}/api/v1/realtime?avatar=secret`), 'another tenant\'s avatar does not exist for this caller');
    const { client, frames } = await session();
    await sleep(200);
    client.close();
    assert.ok(frames.length > 0, 'the server still serves sessions');
  });
});
