import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chooseEncoder, ENCODER_PREFERENCE, encoderSpec, encoderWorks, listedEncoders, probeEncoder } from '../src/encode/encoder-probe.js';
import { locateFfmpeg } from '../src/encode/ffmpeg.js';
import { tempDir } from './helpers/media.js';

let dir = '';
let cleanup: () => Promise<void> = async () => undefined;
before(async () => ({ dir, cleanup } = await tempDir('avatar-encoder-cache-')));
after(() => cleanup());

/** The encoder the search must pick: the first of the preference order that passes a test encode. */
async function expectedWinner(): Promise<string> {
  const listed = await listedEncoders();
  for (const name of ENCODER_PREFERENCE) if (listed.has(name) && (await encoderWorks(encoderSpec(name)))) return name;
  throw new Error('no working encoder here');
}

describe('encoder probing with a cache of its own (never the user\'s)', () => {
  it('with no cache, searches, picks the first working encoder in preference order and writes it down', async () => {
    const file = join(dir, 'fresh', 'encoders.json');
    const chosen = await probeEncoder({ cacheFile: file });
    assert.equal(chosen.name, await expectedWinner());
    const cache = JSON.parse(await readFile(file, 'utf8')) as Record<string, { encoder: string }>;
    assert.deepEqual(Object.values(cache).map((e) => e.encoder), [chosen.name]);
  });

  it('a stale cache entry (an encoder that no longer works here) is searched again and replaced', async () => {
    const file = join(dir, 'stale', 'encoders.json');
    await probeEncoder({ cacheFile: file });
    const cache = JSON.parse(await readFile(file, 'utf8')) as Record<string, { encoder: string; probedAt: string }>;
    const [key] = Object.keys(cache);
    // Written when this machine had a GPU: NVENC fails a test encode here (no device).
    assert.equal(await encoderWorks(encoderSpec('h264_nvenc')), false);
    await writeFile(file, JSON.stringify({ [key!]: { encoder: 'h264_nvenc', probedAt: '2020-01-01T00:00:00Z' } }));
    const chosen = await probeEncoder({ cacheFile: file });
    assert.equal(chosen.name, await expectedWinner());
    const rewritten = JSON.parse(await readFile(file, 'utf8')) as Record<string, { encoder: string }>;
    assert.equal(rewritten[key!]!.encoder, chosen.name, 'the stale entry was replaced');
  });

  it('an unreadable or foreign cache file is ignored, not trusted', async () => {
    const file = join(dir, 'junk', 'encoders.json');
    await probeEncoder({ cacheFile: file });
    const key = Object.keys(JSON.parse(await readFile(file, 'utf8')) as object)[0]!;
    await writeFile(file, JSON.stringify({ [key]: { encoder: 'rm -rf /', probedAt: 'x' } }));
    assert.equal((await probeEncoder({ cacheFile: file })).name, await expectedWinner());
    await writeFile(file, '{ not json');
    assert.equal((await probeEncoder({ cacheFile: file })).name, await expectedWinner());
  });
});

describe('encoder probing', () => {
  it('finds ffmpeg and picks an encoder that passes a real test encode', async () => {
    const ffmpeg = await locateFfmpeg();
    assert.match(ffmpeg.version, /^ffmpeg version/);
    process.env.XDG_CACHE_HOME = join(dir, 'xdg');
    const encoder = await chooseEncoder();
    assert.ok(await encoderWorks(encoder), `${encoder.name} works`);
    assert.match(await readFile(join(dir, 'xdg', 'realtime-avatar', 'encoders.json'), 'utf8'), new RegExp(encoder.name), 'the test\'s own cache was used');
  });

  it('does not trust a listed hardware encoder without a device', async () => {
    const listed = await listedEncoders();
    // This machine has no GPU: a listed NVENC must fail its test encode, so it is never chosen.
    if (listed.has('h264_nvenc')) assert.equal(await encoderWorks(encoderSpec('h264_nvenc')), false);
    assert.notEqual((await chooseEncoder()).name, 'h264_nvenc');
  });

  it('rejects unknown and non-working forced encoders', async () => {
    await assert.rejects(chooseEncoder('h264_magic'), /unknown encoder/);
    const listed = await listedEncoders();
    if (listed.has('h264_vaapi')) await assert.rejects(chooseEncoder('h264_vaapi'), /fails a test encode/);
    assert.equal((await chooseEncoder('libx264')).name, 'libx264');
  });
});
