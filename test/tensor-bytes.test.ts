import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeInto, exactUnitBytes, outputBytes } from '../src/grpc/tensor-bytes.js';

/** What the contract says a UINT8 output byte is: trunc(v * 255 + 0.5) in float64, clamped to 0..255, NaN 0. */
function expectedByte(v: number): number {
  const x = v * 255 + 0.5;
  return x >= 255 ? 255 : x > 0 ? Math.trunc(x) : 0;
}

describe('model output as UINT8 bytes (WebAssembly kernel)', () => {
  it('rounds, clamps and drops rows like the contract, ties, NaN and infinities included, for plane lengths that are not whole vectors', () => {
    const n = 2;
    const size = 13; // 13 x 13 planes: kept rows make 117 values, not a multiple of 16
    const firstRow = 4;
    const values = new Float32Array(n * 3 * size * size);
    const specials = [NaN, Infinity, -Infinity, -0.2, 1.3, 0, 1, 0.5 / 255, 1.5 / 255, 127.5 / 255, 254.5 / 255];
    for (let i = 0; i < values.length; i++) values[i] = i < specials.length * 9 ? specials[i % specials.length]! : ((i * 7919) % 1000) / 999;
    // The specials at the start of the kept rows of each plane (whole vectors) and at their end (the tail).
    for (let k = 0; k < n * 3; k++) {
      values.set(specials, k * size * size + firstRow * size);
      values.set(specials, (k + 1) * size * size - specials.length);
    }
    const bytes = outputBytes(values, n, size, firstRow, 'UINT8');
    const kept = (size - firstRow) * size;
    assert.equal(bytes.length, n * 3 * kept);
    for (let k = 0; k < n * 3; k++) {
      for (let i = 0; i < kept; i++) {
        const v = values[k * size * size + firstRow * size + i]!;
        assert.equal(bytes[k * kept + i], expectedByte(v), `plane ${k}, value ${i} (${v})`);
      }
    }
    // 254.5 / 255 as float32 lies just under the tie.
    assert.deepEqual([...bytes.subarray(0, specials.length)], [0, 255, 0, 0, 255, 0, 255, 1, 2, 128, 254]);
  });

  it('FLOAT32 from row 0 is the values themselves; from a later row, those rows of each plane', () => {
    const values = Float32Array.from({ length: 3 * 16 }, (_, i) => i / 47);
    assert.deepEqual(new Float32Array(outputBytes(values, 1, 4, 0, 'FLOAT32').buffer.slice(0)), values);
    const rows = outputBytes(values, 1, 4, 3, 'FLOAT32');
    assert.deepEqual([...new Float32Array(rows.buffer, rows.byteOffset, rows.length / 4)], [...values.subarray(12, 16), ...values.subarray(28, 32), ...values.subarray(44, 48)]);
  });

  it('UINT8 tensors decode to k / 255 exactly, at any offset and length, and pixel floats encode back to the same bytes', () => {
    const bytes = Uint8Array.from({ length: 3 * 256 + 7 }, (_, i) => (i * 37) % 256);
    const out = new Float32Array(bytes.length + 5).fill(-1);
    decodeInto(bytes, 'UINT8', out, 3);
    assert.deepEqual([...out.subarray(0, 3)], [-1, -1, -1]);
    assert.deepEqual([...out.subarray(bytes.length + 3)], [-1, -1]);
    for (let i = 0; i < bytes.length; i++) assert.equal(out[3 + i], Math.fround(bytes[i]! / 255), `byte ${bytes[i]}`);
    const floats = out.subarray(3, 3 + bytes.length);
    // Unaligned float bytes, as a protobuf field may hand them out.
    const unaligned = new Uint8Array(floats.byteLength + 1).subarray(1);
    unaligned.set(new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength));
    assert.deepEqual(exactUnitBytes(unaligned), Buffer.from(bytes));
  });

  it('a tensor is sent as bytes only when every value is some k / 255', () => {
    const floats = Float32Array.from({ length: 5000 }, (_, i) => (i % 256) / 255);
    const asBytes = (f: Float32Array) => exactUnitBytes(new Uint8Array(f.buffer, f.byteOffset, f.byteLength));
    assert.ok(asBytes(floats));
    for (const odd of [0.5, NaN, -1 / 255, 1.0000001, 2, -0.0000001]) {
      for (const at of [3, 4999]) {
        const copy = floats.slice();
        copy[at] = odd;
        assert.equal(asBytes(copy), undefined, `${odd} at ${at}`);
      }
    }
  });

  it('tensors of more than one pass through the kernels\' memory (1M values) convert whole, value by value', () => {
    const length = (1 << 20) * 2 + 37;
    const bytes = Uint8Array.from({ length }, (_, i) => (i * 131 + (i >> 20)) % 256);
    const floats = new Float32Array(length);
    decodeInto(bytes, 'UINT8', floats, 0);
    for (let i = 0; i < length; i++) if (floats[i] !== Math.fround(bytes[i]! / 255)) assert.fail(`value ${i}: ${floats[i]} for byte ${bytes[i]}`);
    const back = exactUnitBytes(new Uint8Array(floats.buffer));
    assert.ok(back);
    for (let i = 0; i < length; i++) if (back[i] !== bytes[i]) assert.fail(`byte ${i}: ${back[i]}, expected ${bytes[i]}`);
    floats[(1 << 20) + 5] = 0.3; // in the second pass
    assert.equal(exactUnitBytes(new Uint8Array(floats.buffer)), undefined);
  });
});

