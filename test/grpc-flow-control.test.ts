import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { describe, it } from 'node:test';
import { acceptLargeClientFrames } from '../src/grpc/flow-control.js';
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

  it('leaves http2.connect working for other clients of the process, its (authority, listener) form included', async () => {
    acceptLargeClientFrames();
    const server = http2.createServer((_req, res) => res.end('ok'));
    const announced = new Promise<http2.Settings>((resolve) => server.on('session', (s) => s.once('remoteSettings', resolve)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    let session: http2.ClientHttp2Session | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        session = http2.connect(`http://127.0.0.1:${port}`, () => resolve());
        session.once('error', reject);
      });
      assert.equal((await announced).maxFrameSize, (1 << 24) - 1);
      const body = await new Promise<string>((resolve, reject) => {
        const req = session!.request({ ':path': '/' });
        let text = '';
        req.on('data', (d: Buffer) => (text += d.toString()));
        req.on('end', () => resolve(text));
        req.on('error', reject);
        req.end();
      });
      assert.equal(body, 'ok');
    } finally {
      session?.close();
      server.close();
    }
  });
});

