import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageChannel, Worker } from 'node:worker_threads';
import { eachMessage, MessageBatcher } from '../src/core/message-batch.js';

/** Messages as they arrive at a port, one array per postMessage. */
function received(port: MessageChannel['port2']): unknown[][] {
  const batches: unknown[][] = [];
  port.on('message', (batch: unknown[]) => batches.push(batch));
  return batches;
}

const turn = () => new Promise((r) => setImmediate(r));
const settle = () => new Promise((r) => setTimeout(r, 20));

describe('message batches', () => {
  it('sends what is posted in one turn as one message, in order, with the transfers', async () => {
    const { port1, port2 } = new MessageChannel();
    const batches = received(port2);
    const batcher = new MessageBatcher<{ n: number; pcm?: Int16Array }>(port1);
    const pcm = new Int16Array([1, 2, 3]);
    batcher.post({ n: 1 });
    batcher.post({ n: 2, pcm }, [pcm.buffer]);
    batcher.post({ n: 3 });
    assert.equal(pcm.length, 3, 'nothing moves before the turn ends');
    await turn();
    assert.equal(pcm.length, 0, 'the transfer moved the samples (the buffer is detached here)');
    batcher.post({ n: 4 });
    await settle();
    assert.deepEqual(batches.map((b) => (b as { n: number }[]).map((m) => m.n)), [[1, 2, 3], [4]]);
    assert.deepEqual([...(batches[0]![1] as { pcm: Int16Array }).pcm], [1, 2, 3]);
    port1.close();
  });

  it('posts nothing for a turn without messages, and flush() sends at once', async () => {
    const { port1, port2 } = new MessageChannel();
    const batches = received(port2);
    const batcher = new MessageBatcher<number>(port1);
    batcher.flush();
    batcher.post(7);
    batcher.flush();
    await turn();
    await settle();
    assert.deepEqual(batches, [[7]], 'one message: the flush, and no empty one after it');
    port1.close();
  });

  it('hands every message of a batch to the handler even when one throws, then throws the first error', () => {
    const seen: number[] = [];
    const listener = eachMessage((n: number) => {
      seen.push(n);
      if (n % 2 === 0) throw new Error(`bad ${n}`);
    });
    assert.throws(() => listener([1, 2, 3, 4, 5]), /bad 2/);
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  });

  it('crosses threads: a worker answers a batch with one batch', async () => {
    const worker = new Worker(`
      const { parentPort } = require('node:worker_threads');
      parentPort.on('message', (batch) => parentPort.postMessage({ size: batch.length, replies: batch.map((m) => m * 2) }));
    `, { eval: true });
    const answers: { size: number; replies: number[] }[] = [];
    worker.on('message', (a: { size: number; replies: number[] }) => answers.push(a));
    const batcher = new MessageBatcher<number>(worker);
    for (let n = 1; n <= 12; n++) batcher.post(n);
    await new Promise((r) => setTimeout(r, 200));
    await worker.terminate();
    assert.deepEqual(answers, [{ size: 12, replies: [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24] }]);
  });
});
