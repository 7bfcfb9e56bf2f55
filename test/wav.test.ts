import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeWav, encodeWav, looksLikeWav } from '../src/audio/wav.js';
import { AvatarError } from '../src/core/errors.js';

/** Builds a RIFF/WAVE file by hand: a `fmt ` chunk and a `data` chunk (optionally with a forced size field). */
function buildWav(opts: {
  formatTag: number;
  channels: number;
  sampleRate: number;
  bits: number;
  data: Buffer;
  dataSizeField?: number;
  riffSizeField?: number;
  extraChunk?: Buffer;
}): Buffer {
  const blockAlign = (opts.channels * opts.bits) / 8;
  const fmt = Buffer.alloc(8 + 16);
  fmt.write('fmt ', 0, 'ascii');
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(opts.formatTag, 8);
  fmt.writeUInt16LE(opts.channels, 10);
  fmt.writeUInt32LE(opts.sampleRate, 12);
  fmt.writeUInt32LE(opts.sampleRate * blockAlign, 16);
  fmt.writeUInt16LE(blockAlign, 20);
  fmt.writeUInt16LE(opts.bits, 22);
  const dataHeader = Buffer.alloc(8);
  dataHeader.write('data', 0, 'ascii');
  dataHeader.writeUInt32LE(opts.dataSizeField ?? opts.data.length, 4);
  const extra = opts.extraChunk ?? Buffer.alloc(0);
  const head = Buffer.alloc(12);
  head.write('RIFF', 0, 'ascii');
  head.writeUInt32LE(opts.riffSizeField ?? 4 + fmt.length + extra.length + dataHeader.length + opts.data.length, 4);
  head.write('WAVE', 8, 'ascii');
  return Buffer.concat([head, fmt, extra, dataHeader, opts.data]);
}

function expectInvalidInput(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AvatarError, `expected an AvatarError, got ${String(e)}`);
    assert.equal(e.code, 'invalid_input');
    return true;
  });
}

describe('encodeWav / decodeWav round trip', () => {
  it('round-trips 16-bit mono PCM exactly, sample rate included', () => {
    const pcm = new Int16Array(5000);
    for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(Math.sin(i / 7) * 30000) + (i % 13) - 6;
    pcm[0] = -32768;
    pcm[1] = 32767;
    const wav = encodeWav({ pcm, sampleRate: 22050 });
    assert.equal(wav.length, 44 + pcm.length * 2);
    assert.ok(looksLikeWav(wav));
    assert.equal(wav.toString('ascii', 0, 4), 'RIFF');
    assert.equal(wav.readUInt32LE(4), wav.length - 8);
    const back = decodeWav(wav);
    assert.equal(back.sampleRate, 22050);
    assert.deepEqual(Array.from(back.pcm), Array.from(pcm));
  });

  it('round-trips a PCM view with a non-zero byteOffset and an empty signal', () => {
    const backing = new Int16Array([9, 9, 100, -200, 300, 9]);
    const view = backing.subarray(2, 5);
    const back = decodeWav(encodeWav({ pcm: view, sampleRate: 16000 }));
    assert.deepEqual(Array.from(back.pcm), [100, -200, 300]);
    assert.equal(back.sampleRate, 16000);

    const empty = decodeWav(encodeWav({ pcm: new Int16Array(0), sampleRate: 24000 }));
    assert.equal(empty.pcm.length, 0);
    assert.equal(empty.sampleRate, 24000);
  });

  it('decodes bytes handed over as a Uint8Array view into a larger buffer', () => {
    const wav = encodeWav({ pcm: new Int16Array([1, 2, 3, -4]), sampleRate: 8000 });
    const big = new Uint8Array(wav.length + 10);
    big.set(wav, 7);
    const back = decodeWav(big.subarray(7, 7 + wav.length));
    assert.deepEqual(Array.from(back.pcm), [1, 2, 3, -4]);
  });
});

describe('decodeWav on hand-built files', () => {
  it('decodes 24-bit stereo to mono 16-bit by averaging the channels', () => {
    // Frames of [left, right] 24-bit values; expected mono = average / 256.
    const frames: [number, number][] = [
      [0, 0],
      [256 * 1000, 256 * 3000], // -> 2000
      [-256 * 1000, -256 * 1000], // -> -1000
      [8388607, 8388607], // max -> 32767.99 -> 32767 (clamped)
      [-8388608, -8388608], // min -> -32768
      [256 * 10000, -256 * 10000], // -> 0
    ];
    const data = Buffer.alloc(frames.length * 6);
    frames.forEach(([l, r], i) => {
      data.writeIntLE(l, i * 6, 3);
      data.writeIntLE(r, i * 6 + 3, 3);
    });
    const wav = buildWav({ formatTag: 1, channels: 2, sampleRate: 48000, bits: 24, data });
    const out = decodeWav(wav);
    assert.equal(out.sampleRate, 48000);
    assert.deepEqual(Array.from(out.pcm), [0, 2000, -1000, 32767, -32768, 0]);
  });

  it('decodes 32-bit float mono, scaling [-1, 1] to 16-bit and clamping overs', () => {
    const values = [0, 0.5, -0.5, 1, -1, 1.5, -2, 0.25];
    const data = Buffer.alloc(values.length * 4);
    values.forEach((v, i) => data.writeFloatLE(v, i * 4));
    const wav = buildWav({ formatTag: 3, channels: 1, sampleRate: 24000, bits: 32, data });
    const out = decodeWav(wav);
    assert.equal(out.sampleRate, 24000);
    const expected = [0, 16384, -16384, 32767, -32767, 32767, -32768, 8192];
    assert.equal(out.pcm.length, expected.length);
    out.pcm.forEach((s, i) => assert.ok(Math.abs(s - expected[i]!) <= 1, `sample ${i}: ${s} vs ${expected[i]}`));
  });

  it('skips unknown chunks (LIST) between fmt and data', () => {
    const list = Buffer.alloc(8 + 5 + 1); // odd size: padded to even
    list.write('LIST', 0, 'ascii');
    list.writeUInt32LE(5, 4);
    list.write('INFOx', 8, 'ascii');
    const data = Buffer.alloc(4);
    data.writeInt16LE(1234, 0);
    data.writeInt16LE(-1234, 2);
    const wav = buildWav({ formatTag: 1, channels: 1, sampleRate: 22050, bits: 16, data, extraChunk: list });
    assert.deepEqual(Array.from(decodeWav(wav).pcm), [1234, -1234]);
  });

  it('reads to the end of the file when the data size is 0xFFFFFFFF (streaming header)', () => {
    const n = 777;
    const data = Buffer.alloc(n * 2);
    for (let i = 0; i < n; i++) data.writeInt16LE((i * 37) % 20000 - 10000, i * 2);
    const wav = buildWav({ formatTag: 1, channels: 1, sampleRate: 24000, bits: 16, data, dataSizeField: 0xffffffff, riffSizeField: 0xffffffff });
    const out = decodeWav(wav);
    assert.equal(out.sampleRate, 24000);
    assert.equal(out.pcm.length, n);
    assert.equal(out.pcm[n - 1], ((n - 1) * 37) % 20000 - 10000);
    assert.equal(out.pcm[0], -10000);
  });

  it('reads to the end of the file when the data size is 0', () => {
    const data = Buffer.alloc(6);
    data.writeInt16LE(5, 0);
    data.writeInt16LE(6, 2);
    data.writeInt16LE(7, 4);
    const out = decodeWav(buildWav({ formatTag: 1, channels: 1, sampleRate: 8000, bits: 16, data, dataSizeField: 0 }));
    assert.deepEqual(Array.from(out.pcm), [5, 6, 7]);
  });
});

describe('decodeWav rejects what is not a usable WAV', () => {
  it('garbage bytes -> invalid_input', () => {
    const garbage = Buffer.alloc(1000);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 131 + 7) & 0xff;
    expectInvalidInput(() => decodeWav(garbage));
    expectInvalidInput(() => decodeWav(new Uint8Array(0)));
    expectInvalidInput(() => decodeWav(Buffer.from('RIFF')));
    expectInvalidInput(() => decodeWav(Buffer.from('ID3\u0003 an mp3 file, not a wav')));
  });

  it('RIFF/WAVE header without chunks -> invalid_input', () => {
    const head = Buffer.alloc(12);
    head.write('RIFF', 0, 'ascii');
    head.writeUInt32LE(4, 4);
    head.write('WAVE', 8, 'ascii');
    expectInvalidInput(() => decodeWav(head));
  });

  it('data before fmt -> invalid_input', () => {
    const b = Buffer.alloc(12 + 8 + 4);
    b.write('RIFF', 0, 'ascii');
    b.writeUInt32LE(b.length - 8, 4);
    b.write('WAVE', 8, 'ascii');
    b.write('data', 12, 'ascii');
    b.writeUInt32LE(4, 16);
    expectInvalidInput(() => decodeWav(b));
  });

  it('unsupported encodings (A-law, 12-bit) -> invalid_input', () => {
    expectInvalidInput(() => decodeWav(buildWav({ formatTag: 6, channels: 1, sampleRate: 8000, bits: 8, data: Buffer.alloc(10) })));
    expectInvalidInput(() => decodeWav(buildWav({ formatTag: 1, channels: 1, sampleRate: 8000, bits: 12, data: Buffer.alloc(12) })));
  });

  it('a WAV cut off inside its fmt chunk -> invalid_input (not a RangeError)', () => {
    const whole = encodeWav({ pcm: new Int16Array([1, 2, 3]), sampleRate: 8000 });
    expectInvalidInput(() => decodeWav(whole.subarray(0, 26)));
  });
});
