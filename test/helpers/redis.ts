import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { AVATAR_BIN } from './media.js';

export { dropPrefix } from '../../src/queue/redis-connection.js';

/** The Redis the tests share (scripts/test-all.sh starts one when none runs): REDIS_URL, else the local default. */
export const SHARED_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test run uses, so runs on one Redis never see each other's keys. */
export function uniquePrefix(name: string): string {
  return `avatar-test-${name}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** Throws with what to do when the shared Redis does not answer (a test never skips for want of it). */
export async function requireRedis(url = SHARED_REDIS_URL): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    throw new Error(`these tests need Redis at ${url} (scripts/test-all.sh installs and starts redis-server): ${(e as Error).message}`);
  } finally {
    client.disconnect();
  }
}


/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A child process whose output lines can be awaited. */
export class WatchedProcess {
  private output = '';
  private readonly waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    const take = (chunk: Buffer) => {
      this.output += chunk.toString();
      for (const w of [...this.waiters]) {
        const m = this.output.match(w.pattern);
        if (m) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Everything printed so far. */
  get text(): string {
    return this.output;
  }

  /** Resolves with the first match of `pattern` in the output (past or future); rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const m = this.output.match(pattern);
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${String(pattern)} within ${timeoutMs} ms; output:\n${this.output.slice(-2000)}`)), timeoutMs);
      this.waiters.push({ pattern, resolve: (found) => { clearTimeout(timer); resolve(found); } });
    });
  }

  /** Sends `signal` (if still running) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** A redis-server of the test's own (a port and folder nobody else uses), with an append-only file so a restart keeps every acknowledged write. */
export async function startRedisServer(dir: string, port: number): Promise<WatchedProcess> {
  const server = new WatchedProcess(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], { stdio: ['ignore', 'pipe', 'pipe'] }));
  await server.waitFor(/Ready to accept connections/, 15_000);
  return server;
}

/** An `avatar worker` process. */
export function startWorker(configFile: string, avatarsDir: string, env: NodeJS.ProcessEnv = {}): WatchedProcess {
  return new WatchedProcess(spawn(process.execPath, [AVATAR_BIN, 'worker', '--config', configFile, '--avatars-dir', avatarsDir], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  }));
}

/** An `avatar serve` process; resolves once it listens (its URL in `url`). */
export async function startApiProcess(configFile: string, avatarsDir: string): Promise<{ process: WatchedProcess; url: string }> {
  const watched = new WatchedProcess(spawn(process.execPath, [AVATAR_BIN, 'serve', '--port', '0', '--config', configFile, '--avatars-dir', avatarsDir], {
    env: process.env, stdio: ['ignore', 'pipe', 'pipe'],
  }));
  const [, url] = await watched.waitFor(/listening on (http:\/\/\S+)/, 60_000);
  return { process: watched, url: url! };
}
