/**
 * Reliability of realtime sessions against hostile and careless clients: each case
 * reproduces a way one tenant could crash the server, exhaust its memory or its slots,
 * and asserts the bounded behaviour.
 */
import { AvatarError } from '../src/core/errors.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SharpJpegEncoder } from '../src/compose/jpeg.js';
import type { Speech } from '../src/core/speech.js';
import { MEDIA_KIND, type ServerEvent } from '../src/client/protocol.js';
import type { AvatarPreparer } from '../src/avatars/avatar-preparer.js';
import type { RendererRequest } from '../src/avatars/catalog.js';
import { FramePacer } from '../src/pipeline/realtime/pacer.js';
import { RendererCache, type AvatarStage } from '../src/pipeline/realtime/avatar-stage.js';
import { MAX_SPEECH_AHEAD_MS, MAX_UNSENT_BYTES, RealtimeSession } from '../src/pipeline/realtime/session.js';
import { WebSocketTransport } from '../src/transport/websocket-transport.js';
import type { TtsProvider, TtsRequest } from '../src/tts/provider.js';
import type { Renderer } from '../src/render/renderer.js';
import type { MouthFrame } from '../src/visemes/mouth-params.js';
import { call, connectRealtime, startTestServer, type TestServer } from './helpers/server.js';
import { FlatColourRenderer, TestCatalog } from './helpers/test-catalog.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A catalog whose avatars' renderers fail once the avatar is removed, as a folder avatar's frames do. */
class RemovableCatalog extends TestCatalog {
  /** Whether a missing frame fails as an AvatarError (its message goes to the client) or as an unexpected error. */
  explained = false;

  override async createRenderer(id: string, request: RendererRequest): Promise<Renderer> {
    const renderer = await super.createRenderer(id, request);
    if (!this.extra.has(id)) return renderer;
    const catalog = this;
    return {
      name: 'removable', width: renderer.width, height: renderer.height, mouthRegion: (renderer as FlatColourRenderer).mouthRegion,
      render(frame: MouthFrame) {
        const missing = `Input file is missing /srv/avatars/${id}/frames/frame_${String(frame.index).padStart(4, '0')}.jpg`;
        if (!catalog.extra.has(id)) throw catalog.explained ? new AvatarError('invalid_input', `avatar "${id}" is broken: ${missing}`) : new Error(missing);
        return renderer.render(frame);
      },
    } as Renderer;
  }
}

/** A TTS engine that says every text as `seconds` of a tone per sentence, at once (synthesis cost is not what these tests measure). */
class ToneTts implements TtsProvider {
  readonly name = 'tone';
  synthesized = 0;
  constructor(private readonly seconds: number, private readonly sentences = 1) {}
  async *synthesize(_request: TtsRequest, signal?: AbortSignal): AsyncIterable<Speech> {
    for (let s = 0; s < this.sentences && !signal?.aborted; s++) {
      const sampleRate = 16000;
      const pcm = new Int16Array(sampleRate * this.seconds);
      for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin(i / 8));
      this.synthesized++;
      yield { pcm, sampleRate };
    }
  }
  async listVoices() { return []; }
  async checkVoice() {}
}

/** A transport that never delivers: every byte sent stays queued, like a client that never reads. */
class NeverReadingSocket {
  bufferedAmount = 0;
  readonly events: ServerEvent[] = [];
  audioBytes = 0;
  constructor(stuck = 0) {
    this.bufferedAmount = stuck;
  }
  send(data: Buffer | string): void {
    if (typeof data === 'string') this.events.push(JSON.parse(data) as ServerEvent);
    else if (data[0] === MEDIA_KIND.audio) this.audioBytes += data.length;
    this.bufferedAmount += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  }
}

/** A transport that delivers at once (a client that reads everything). */
class ReadingSocket extends NeverReadingSocket {
  override send(data: Buffer | string): void {
    super.send(data);
    this.bufferedAmount = 0;
  }
}

async function flatStage(fps = 25): Promise<AvatarStage> {
  const cache = new RendererCache(new TestCatalog({ flat: { r: 50, g: 90, b: 160 } }), new SharpJpegEncoder(70));
  return cache.get('flat', { width: 64, height: 64, fps });
}

describe('reliability: realtime', () => {
  it('a tick that fails is reported and stops the pacer, never an unhandled rejection', async () => {
    const errors: unknown[] = [];
    let ticks = 0;
    const pacer = new FramePacer(50, () => {
      ticks++;
      throw new Error('renderer gone');
    }, 0, undefined, (e) => errors.push(e));
    pacer.start();
    await sleep(200);
    assert.equal(errors.length, 1);
    assert.equal(ticks, 1, 'a failing pacer does not keep ticking');
    pacer.stop();
  });

  describe('deleting an avatar while sessions show it', () => {
    let s: TestServer;
    let catalog: RemovableCatalog;
    before(async () => {
      catalog = new RemovableCatalog({ mine: { r: 200, g: 40, b: 40 } });
      const preparer: AvatarPreparer = { prepare: async () => undefined, remove: async (id) => void catalog.extra.delete(id) };
      s = await startTestServer({ realtime: { size: 128 } }, { catalog, preparer });
    });
    after(() => s.close());

    it('ends those sessions with an error event; the server and other sessions go on', async () => {
      const events: ServerEvent[] = [];
      let closed = false;
      const victim = await connectRealtime(`${s.wsUrl}/api/v1/realtime?avatar=mine`, { onEvent: (e) => events.push(e), onClose: () => (closed = true) });
      let otherFrames = 0;
      const other = await connectRealtime(`${s.wsUrl}/api/v1/realtime?avatar=default`, { onFrame: () => otherFrames++ });
      await sleep(300);
      assert.equal((await call(`${s.url}/api/v1/avatars/mine`, { method: 'DELETE' })).status, 204);
      // Idle frames not yet cached would now be read from deleted files.
      await sleep(1500);
      const error = events.find((e) => e.type === 'error') as { error: string; message: string } | undefined;
      assert.ok(error, 'the session is told');
      assert.equal(error.error, 'avatar_deleted');
      assert.ok(closed, 'the session is closed');
      const before = otherFrames;
      await sleep(400);
      assert.ok(otherFrames > before, 'other sessions keep streaming');
      assert.equal((await call(`${s.url}/health`)).status, 200);
      assert.equal(s.server.context.sessions, 1);
      other.close();
      victim.close();
    });
  });

  /** A session whose avatar's frames vanish once it has started: how it ended and the error event the client got. */
  async function sessionWhoseFramesVanish(t: { after(fn: () => void): void }, explained: boolean): Promise<{ ended: string | undefined; message: string }> {
    const catalog = new RemovableCatalog({ gone: { r: 1, g: 2, b: 3 } });
    catalog.explained = explained;
    const stage = await new RendererCache(catalog, new SharpJpegEncoder(70)).get('gone', { width: 64, height: 64, fps: 25 });
    catalog.extra.delete('gone');
    const socket = new ReadingSocket();
    let ended: { error: string } | undefined;
    const session = new RealtimeSession(stage, new WebSocketTransport(socket), { tts: new ToneTts(1), maxTextChars: 100, stageFor: async () => stage, onEnded: (r) => (ended = r) });
    // A failed assertion must not leave the pacer ticking (the file would never end).
    t.after(() => session.close());
    session.start();
    await sleep(300);
    const error = socket.events.find((e) => e.type === 'error') as { message: string } | undefined;
    return { ended: ended?.error, message: error?.message ?? '' };
  }

  it('a session whose renderer fails ends with an error event that names no server path', async (t) => {
    const { ended, message } = await sessionWhoseFramesVanish(t, false);
    assert.equal(ended, 'render_failed');
    assert.doesNotMatch(message, /\/srv\//);
  });

  it('an explained render failure tells the client its reason with file names, not server paths', async (t) => {
    const { ended, message } = await sessionWhoseFramesVanish(t, true);
    assert.equal(ended, 'invalid_input');
    assert.match(message, /avatar "gone" is broken: Input file is missing frame_\d{4}\.jpg/);
    assert.doesNotMatch(message, /\/srv\//);
  });

  it('a client that never reads holds little and is dropped once nothing gets through', async (t) => {
    const socket = new NeverReadingSocket();
    let ended: { error: string } | undefined;
    const session = new RealtimeSession(await flatStage(), new WebSocketTransport(socket), { tts: new ToneTts(20, 3), maxTextChars: 100, stallTimeoutMs: 500, stageFor: async () => { throw new Error('no'); }, onEnded: (r) => (ended = r) });
    t.after(() => session.close());
    session.start();
    for (let i = 0; i < 10; i++) await session.handle(Buffer.from(JSON.stringify({ type: 'speak', text: 'a long speech' })), false);
    await sleep(1500);
    assert.equal(ended?.error, 'slow_client');
    assert.ok(socket.bufferedAmount < MAX_UNSENT_BYTES, `held ${socket.bufferedAmount} bytes for a client that never read`);
  });

  it('unsent bytes past the cap end the session at the next send', async (t) => {
    const socket = new NeverReadingSocket(MAX_UNSENT_BYTES - 1000);
    let ended: { error: string } | undefined;
    const session = new RealtimeSession(await flatStage(), new WebSocketTransport(socket), { tts: new ToneTts(5), maxTextChars: 100, stageFor: async () => { throw new Error('no'); }, onEnded: (r) => (ended = r) });
    t.after(() => session.close());
    session.start();
    await session.handle(Buffer.from(JSON.stringify({ type: 'speak', text: 'hello' })), false);
    await sleep(300);
    assert.equal(ended?.error, 'slow_client');
    assert.ok(socket.audioBytes < 100_000, `${socket.audioBytes} bytes of audio queued past the cap`);
  });

  it('a client whose frames stay unsent is dropped after the stall timeout', async (t) => {
    const socket = new NeverReadingSocket(2 << 20);
    let ended: { error: string } | undefined;
    const session = new RealtimeSession(await flatStage(), new WebSocketTransport(socket), { tts: new ToneTts(1), maxTextChars: 100, stallTimeoutMs: 300, stageFor: async () => { throw new Error('no'); }, onEnded: (r) => (ended = r) });
    t.after(() => session.close());
    session.start();
    await sleep(1000);
    assert.equal(ended?.error, 'slow_client');
  });

  it('speech is synthesized and sent no more than the cap ahead of the clock', async (t) => {
    const socket = new ReadingSocket();
    const tts = new ToneTts(10, 12);
    const session = new RealtimeSession(await flatStage(), new WebSocketTransport(socket), { tts, maxTextChars: 100, stageFor: async () => { throw new Error('no'); } });
    t.after(() => session.close());
    session.start();
    await session.handle(Buffer.from(JSON.stringify({ type: 'speak', text: 'two minutes of speech' })), false);
    await sleep(600);
    const sentS = socket.audioBytes / 2 / 16000;
    assert.ok(sentS <= MAX_SPEECH_AHEAD_MS / 1000 + 10 + 1, `sent ${sentS.toFixed(1)} s of audio within 0.6 s`);
    assert.ok(tts.synthesized <= 5, `synthesized ${tts.synthesized} sentences ahead`);
  });

  it('PCM pushed faster than real time is refused beyond the cap, with an error event', async (t) => {
    const socket = new ReadingSocket();
    const session = new RealtimeSession(await flatStage(), new WebSocketTransport(socket), { tts: new ToneTts(1), maxTextChars: 100, stageFor: async () => { throw new Error('no'); } });
    t.after(() => session.close());
    session.start();
    await session.handle(Buffer.from(JSON.stringify({ type: 'audio.start', sampleRate: 16000 })), false);
    const chunk = Buffer.alloc(64000); // 2 s of 16 kHz audio
    for (let i = 0; i < 60; i++) await session.handle(chunk, true); // 120 s, at once
    const echoedS = socket.audioBytes / 2 / 16000;
    assert.ok(echoedS <= MAX_SPEECH_AHEAD_MS / 1000 + 4, `took ${echoedS.toFixed(1)} s of audio at once`);
    assert.ok(socket.events.some((e) => e.type === 'error' && /faster than real time/.test((e as { message: string }).message)));
  });

  describe('session limit', () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer({ realtime: { size: 128 }, limits: { maxRealtimeSessions: 3 } }, { catalog: new TestCatalog({ slow: { r: 9, g: 9, b: 9 } }) });
    });
    after(() => s.close());

    it('holds under simultaneous opens (slots are reserved before the stage is built)', async () => {
      // A size never used before: every open waits for the stage to be built.
      const opens = await Promise.allSettled(Array.from({ length: 8 }, () => connectRealtime(`${s.wsUrl}/api/v1/realtime?avatar=slow&size=96`)));
      const ok = opens.filter((o) => o.status === 'fulfilled');
      assert.equal(ok.length, 3, `${ok.length} of 8 opened with a limit of 3`);
      assert.equal(s.server.context.sessions, 3);
      for (const o of ok) (o as PromiseFulfilledResult<{ close(): void }>).value.close();
      await sleep(300);
      assert.equal(s.server.context.sessions, 0, 'refused and closed sessions give their slots back');
    });
  });

  it('the stage cache is bounded (least recently used goes first)', async () => {
    const cache = new RendererCache(new TestCatalog({ a: { r: 1, g: 1, b: 1 } }), new SharpJpegEncoder(70), 2);
    const first = await cache.get('a', { width: 32, height: 32, fps: 10 });
    await cache.get('a', { width: 64, height: 64, fps: 10 });
    assert.equal(await cache.get('a', { width: 32, height: 32, fps: 10 }), first, 'touch the first again');
    await cache.get('a', { width: 96, height: 96, fps: 10 });
    assert.equal(cache.size, 2);
    assert.equal(await cache.get('a', { width: 32, height: 32, fps: 10 }), first, 'the recently used stage stayed');
    for (let i = 1; i <= 20; i++) await cache.get('a', { width: 32, height: 32, fps: i });
    assert.equal(cache.size, 2);
  });
});
