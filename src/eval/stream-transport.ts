import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AvatarCatalog } from '../avatars/catalog.js';
import { AvatarError } from '../core/errors.js';
import type { AvatarServer } from '../server/app.js';

/** What a client of the progressive stream saw. */
export interface StreamFigures {
  /** From sending the request to the first byte of video. */
  readonly firstByteMs: number;
  /** From sending the request to the last byte. */
  readonly totalMs: number;
  readonly bytes: number;
  /** The server's `X-Content-Duration`. */
  readonly durationS: number;
  readonly width: number;
  readonly height: number;
}

/**
 * The `stream` transport: a real server in this process on a loopback port, asked for
 * `POST /api/v1/generate/stream` over HTTP like any client, with the fragmented MP4 saved
 * as it arrives. Started on first use, shared by the scenarios of a run.
 */
export class StreamTransport {
  private server: Promise<{ server: AvatarServer; url: string; dataDir: string }> | undefined;

  constructor(private readonly catalog: AvatarCatalog) {}

  /** Streams `text` spoken by `avatar` into `output`; resolves once the last byte is written. */
  async render(request: { text: string; language: string; avatar: string; fps: number }, output: string, signal?: AbortSignal): Promise<StreamFigures> {
    const { url } = await this.start();
    const started = performance.now();
    const response = await fetch(`${url}/api/v1/generate/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
      ...(signal ? { signal } : {}),
    });
    if (!response.ok || !response.body) {
      const body = await response.text().catch(() => '');
      throw new AvatarError('invalid_input', `stream request failed: HTTP ${response.status} ${body.slice(0, 200)}`);
    }
    const file = createWriteStream(output);
    let firstByteMs = 0;
    let bytes = 0;
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        if (bytes === 0) firstByteMs = performance.now() - started;
        bytes += chunk.length;
        if (!file.write(chunk)) await once(file, 'drain');
      }
    } finally {
      file.end();
      await once(file, 'close');
    }
    const [width, height] = (response.headers.get('x-video-size') ?? '0x0').split('x').map(Number);
    return {
      firstByteMs, totalMs: performance.now() - started, bytes,
      durationS: Number(response.headers.get('x-content-duration') ?? 0), width: width ?? 0, height: height ?? 0,
    };
  }

  async close(): Promise<void> {
    const started = this.server;
    this.server = undefined;
    if (!started) return;
    const { server, dataDir } = await started;
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }

  private start(): Promise<{ server: AvatarServer; url: string; dataDir: string }> {
    this.server ??= (async () => {
      // Loaded here: runs without the stream transport never load the server.
      const { createAvatarServer } = await import('../server/app.js');
      const { validateConfig } = await import('../server/config.js');
      const dataDir = await mkdtemp(join(tmpdir(), 'avatar-eval-serve-'));
      const server = await createAvatarServer({
        config: validateConfig({ host: '127.0.0.1', port: 0, dataDir, limits: { generationsPerMinute: 10_000 } }),
        catalog: this.catalog,
      });
      const { url } = await server.listen();
      return { server, url, dataDir };
    })();
    return this.server;
  }
}
