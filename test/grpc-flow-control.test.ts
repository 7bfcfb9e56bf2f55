import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { describe, it } from 'node:test';
import { InferencePool } from '../src/grpc/inference-pool.js';

describe('HTTP/2 settings of the inference client', () => {
  it('announces the largest frame size and a wide window, so batch outputs arrive in few frames', async () => {
    const server = http2.createServer();
    const announced = new Promise<http2.Settings>((resolve) => server.on('session', (s) => s.once('remoteSettings', resolve)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    // The pool asks every server for its Health at once: that call opens the connection.
    const pool = await InferencePool.connect({ urls: [`127.0.0.1:${port}`], timeoutMs: 2000, maxRetries: 0, balancing: 'round-robin', healthIntervalMs: 60_000, maxMessageBytes: 64 << 20 });
    try {
      const settings = await announced;
      assert.equal(settings.maxFrameSize, (1 << 24) - 1);
      assert.ok((settings.initialWindowSize ?? 0) >= 1 << 29, `initial window ${settings.initialWindowSize}`);
    } finally {
      pool.close();
      server.close();
    }
  });
});
