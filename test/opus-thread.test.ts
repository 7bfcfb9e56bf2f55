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
    const sent = Array.from({ length: 10 }, (_, k) => (k % 2 ? b : a).encode(tone(960 * k)));
    const packets = await Promise.all(sent);
    assert.ok(packets.every((p) => p.length > 0 && p.length < 400), `packet sizes ${packets.map((p) => p.length).join(' ')}`);
    // A crash of the thread: what it was encoding fails, the streams carry on on a new one.
    const pending = a.encode(tone(0));
    await (thread as unknown as { worker: Worker }).worker.terminate();
    await pending.then(() => undefined, () => undefined);
    const after = await Promise.all([a.encode(tone(0)), b.encode(tone(960))]);
    assert.ok(after.every((p) => p.length > 0));
    a.close();
    await assert.rejects(a.encode(tone(0)), /closed/);
    b.close();
  });
});
