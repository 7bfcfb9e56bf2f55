import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { RealtimeClient, type RealtimeHandlers, type WebSocketConstructor } from '../../src/client/realtime-client.js';
import { createAvatarServer, type AvatarServer, type AvatarServerOptions } from '../../src/server/app.js';
import { validateConfig } from '../../src/server/config.js';

/** A server on a free loopback port with its data in a fresh temporary folder. */
export interface TestServer {
  readonly url: string;
  readonly wsUrl: string;
  readonly server: AvatarServer;
  readonly dataDir: string;
  close(): Promise<void>;
}

/** Starts a real server (real TTS, ffmpeg, sockets) on port 0; `config` overrides the defaults. */
export async function startTestServer(config: Record<string, unknown> = {}, options: Omit<AvatarServerOptions, 'config'> = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'avatar-serve-test-'));
  const server = await createAvatarServer({ ...options, config: validateConfig({ host: '127.0.0.1', port: 0, dataDir, logLevel: 'silent', ...config }) });
  const { url } = await server.listen();
  return {
    url, wsUrl: url.replace(/^http/, 'ws'), server, dataDir,
    async close() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Opens a realtime session with the `ws` package. */
export function connectRealtime(url: string, handlers: RealtimeHandlers = {}): Promise<RealtimeClient> {
  return RealtimeClient.connect(url, handlers, WebSocket as unknown as WebSocketConstructor);
}

/** A JSON request; returns status, headers and the parsed body (or text). */
export async function call(url: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const response = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    ...(init.body !== undefined ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) } : {}),
  });
  const type = response.headers.get('content-type') ?? '';
  const body = type.includes('json') ? await response.json() : type.startsWith('video/') ? Buffer.from(await response.arrayBuffer()) : await response.text();
  return { status: response.status, headers: response.headers, body };
}
