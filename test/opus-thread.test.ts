import assert from 'node:assert/strict';
import type { Worker } from 'node:worker_threads';
import { describe, it } from 'node:test';
import { OpusThread } from '../src/transport/webrtc/opus-encoders.js';

function tone(phase: number): Int16Array {
  return Int16Array.from({ length: 960 }, (_, i) => Math.round(8000 * Math.sin(((phase + i) * 2 * Math.PI * 440) / 48000)));
}

describe('Opus thread', () => {
  it('answers each stream in order, and goes on with fresh encoders after the thread dies', async () => {
    const thread = new OpusThread();
    const a = thread.openStream();
    const b = thread.openStream();
    const answered: number[] = [];
    const sent = Array.from({ length: 10 }, (_, k) => (k % 2 ? b : a).encode(tone(960 * k)).then((p) => (answered.push(k), p)));
    const packets = await Promise.all(sent);
    assert.deepEqual(answered, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'answers come in the order asked');
    assert.ok(packets.every((p) => p.length > 0 && p.length < 400), `packet sizes ${packets.map((p) => p.length).join(' ')}`);
    // A crash of the thread: a frame sent to it as it dies fails, the streams carry on on a new one.
    const dying = (thread as unknown as { worker: Worker }).worker.terminate();
    const pending = a.encode(tone(0));
    await dying;
    await assert.rejects(pending, /Opus thread/, 'the frame sent as the thread died fails');
    const after = await Promise.all([a.encode(tone(0)), b.encode(tone(960))]);
    assert.ok(after.every((p) => p.length > 0));
    a.close();
    await assert.rejects(a.encode(tone(0)), /closed/);
    b.close();
  });
});
