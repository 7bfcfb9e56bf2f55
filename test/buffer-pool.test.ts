import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BufferPool } from '../src/grpc/buffer-pool.js';

describe('BufferPool', () => {
  it('hands a given-back buffer out again for the same length only, and keeps no more bytes than its budget', () => {
    const pool = new BufferPool((length) => new Float32Array(length), 64);
    const a = pool.take(8); // 32 bytes
    const b = pool.take(8);
    assert.notEqual(a, b);
    pool.give(a);
    assert.notEqual(pool.take(4), a, 'another length gets a new buffer');
    assert.equal(pool.take(8), a);
    pool.give(a);
    pool.give(b);
    const c = pool.take(8);
    pool.give(c);
    pool.give(new Float32Array(8)); // over the 64-byte budget with a and b kept: dropped
    assert.deepEqual(new Set([pool.take(8), pool.take(8)]), new Set([a, b]));
    assert.notEqual(pool.take(8), a);
    pool.give(a);
    pool.clear();
    assert.notEqual(pool.take(8), a);
  });
});
