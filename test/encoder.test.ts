import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseEncoder, encoderSpec, encoderWorks, listedEncoders } from '../src/encode/encoder-probe.js';
import { locateFfmpeg } from '../src/encode/ffmpeg.js';

describe('encoder probing', () => {
  it('finds ffmpeg and picks an encoder that passes a real test encode', async () => {
    const ffmpeg = await locateFfmpeg();
    assert.match(ffmpeg.version, /^ffmpeg version/);
    const encoder = await chooseEncoder();
    assert.ok(await encoderWorks(encoder), `${encoder.name} works`);
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
