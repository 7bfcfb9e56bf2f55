import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { BuiltinAvatarCatalog, type AvatarCatalog } from '../src/avatars/catalog.js';
import { AvatarRegistry } from '../src/avatars/registry.js';
import { AvatarError } from '../src/core/errors.js';
import type { Speech } from '../src/core/speech.js';
import { startFakeSpeechServer, type FakeSpeechServer } from '../src/testing/openai-speech-server.js';
import { TestCatalog } from '../src/testing/test-catalog.js';
import { EspeakTtsProvider } from '../src/tts/espeak.js';
import { OpenAiCompatibleTtsProvider } from '../src/tts/openai-compatible.js';
import type { TtsProvider } from '../src/tts/provider.js';
import { TtsPool } from '../src/tts/tts-pool.js';
import { tempDir } from './helpers/media.js';

/**
 * The AvatarCatalog and TtsProvider contracts, run against every implementation: the
 * built-in catalog, the registry of prepared folders and the test catalog; espeak-ng, the
 * OpenAI-compatible provider against a local server speaking that API, and the pool.
 */

const isCode = (code: string) => (e: unknown) => e instanceof AvatarError && e.code === code;

describe('AvatarCatalog contract', () => {
  let cleanup: () => Promise<void>;
  const catalogs: Record<string, AvatarCatalog> = {};

  before(async () => {
    const made = await tempDir();
    cleanup = made.cleanup;
    const dir = join(made.dir, 'anna');
    await mkdir(join(dir, 'frames'), { recursive: true });
    const jpeg = await sharp({ create: { width: 96, height: 64, channels: 3, background: '#a08070' } }).jpeg().toBuffer();
    for (let i = 0; i < 2; i++) await writeFile(join(dir, 'frames', `frame_000${i}.jpg`), jpeg);
    const mouth = { cx: 48, cy: 44, width: 20, open: 0, ax: 48, ay: 34, chinY: 58 };
    const line = (dy: number) => [[38, 44 + dy], [48, 44 + dy], [58, 44 + dy]];
    await writeFile(join(dir, 'mouth.json'), JSON.stringify({ version: 1, frames: [mouth, mouth], lips: { upperInner: line(0), lowerInner: line(0), upperOuter: line(-3), lowerOuter: line(3) } }));
    await writeFile(join(dir, 'avatar.json'), JSON.stringify({ id: 'anna', name: 'Anna', version: 1, renderer: 'warp', fps: 25, width: 96, height: 64, frameCount: 2, source: { file: 'anna.jpg', kind: 'image' }, created: '2026-01-01T00:00:00Z' }));
    catalogs.builtin = new BuiltinAvatarCatalog();
    catalogs.registry = await AvatarRegistry.open({ dirs: [made.dir], rescanMs: 0 });
    catalogs.test = new TestCatalog({ blue: { r: 0, g: 0, b: 255 } });
  });

  after(async () => {
    (catalogs.registry as AvatarRegistry | undefined)?.close();
    await cleanup();
  });

  for (const name of ['builtin', 'registry', 'test']) {
    it(`${name}: every listed avatar is found by id and renders at its own size`, async () => {
      const catalog = catalogs[name]!;
      const listed = catalog.list();
      assert.ok(listed.some((a) => a.id === 'default'), 'the built-in avatar is always there');
      for (const summary of listed) {
        assert.deepEqual(catalog.get(summary.id), summary);
        if (summary.status !== 'ready') continue;
        const renderer = await catalog.createRenderer(summary.id, { fps: 25 });
        assert.equal(renderer.width, summary.width, `${summary.id} width`);
        assert.equal(renderer.height, summary.height, `${summary.id} height`);
      }
    });

    it(`${name}: unknown avatars are unknown_avatar, bad ids invalid_input`, async () => {
      const catalog = catalogs[name]!;
      assert.equal(catalog.get('nobody_here'), undefined);
      await assert.rejects(catalog.createRenderer('nobody_here', { fps: 25 }), isCode('unknown_avatar'));
      await assert.rejects(catalog.createRenderer('../etc', { fps: 25 }), isCode('invalid_input'));
    });
  }
});

describe('TtsProvider contract', () => {
  let server: FakeSpeechServer;
  const providers: Record<string, TtsProvider> = {};

  before(async () => {
    server = await startFakeSpeechServer({ voices: ['alloy', 'nova'], sampleRate: 24000 });
    providers.espeak = new EspeakTtsProvider();
    providers.openai = new OpenAiCompatibleTtsProvider({ baseUrl: server.baseUrl });
    providers.pool = new TtsPool([new EspeakTtsProvider(), new EspeakTtsProvider()]);
  });

  after(async () => {
    await Promise.all(Object.values(providers).map((p) => p.close?.() ?? Promise.resolve()));
    await server.close();
  });

  const text = 'The first sentence is short. The second one is a little longer than the first. Third.';

  for (const name of ['espeak', 'openai', 'pool']) {
    it(`${name}: yields one part per sentence, in order, on one sample clock`, async () => {
      const parts: Speech[] = [];
      for await (const part of providers[name]!.synthesize({ text, language: 'en' })) parts.push(part);
      assert.equal(parts.length, 3);
      const rate = parts[0]!.sampleRate;
      assert.ok(parts.every((p) => p.sampleRate === rate), 'one sample rate for every part');
      const ms = parts.map((p) => (p.pcm.length * 1000) / p.sampleRate);
      assert.ok(ms[1]! > ms[0]! && ms[0]! > ms[2]!, `part lengths follow the sentences (${ms.map((m) => m.toFixed(0)).join(', ')} ms)`);
      for (const part of parts) {
        if (!part.phonemes) continue;
        const duration = (part.pcm.length * 1000) / part.sampleRate;
        let last = 0;
        for (const ph of part.phonemes) {
          assert.ok(ph.startMs >= last - 1e-6 && ph.endMs >= ph.startMs && ph.endMs <= duration + 1, `phoneme ${ph.ipa} at ${ph.startMs}-${ph.endMs} ms lies in order within the part (${duration} ms)`);
          last = ph.startMs;
        }
      }
    });

    it(`${name}: aborting stops synthesis with an aborted error and no further parts`, async () => {
      const controller = new AbortController();
      const parts: Speech[] = [];
      const before = server.requests.length;
      await assert.rejects((async () => {
        for await (const part of providers[name]!.synthesize({ text, language: 'en' }, controller.signal)) {
          parts.push(part);
          controller.abort();
        }
      })(), isCode('aborted'));
      assert.equal(parts.length, 1);
      if (name === 'openai') assert.equal(server.requests.length - before, 1, 'no request after the abort');
    });

    it(`${name}: an unknown voice is refused with unknown_voice`, async () => {
      await assert.rejects(providers[name]!.checkVoice('no-such-voice', 'en'), isCode('unknown_voice'));
    });
  }
});
