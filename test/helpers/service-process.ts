import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { AVATAR_BIN } from './media.js';

/** A free TCP port on the loopback interface (bound, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** `avatar serve --role ROLE` as a child process, with its output kept. */
export class ServiceProcess {
  output = '';
  private constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
  }

  /** Starts the service and waits for its banner's last line; rejects with its output if it exits or stalls. */
  static async start(args: string[], timeoutMs = 60_000): Promise<ServiceProcess> {
    const p = new ServiceProcess(spawn(process.execPath, [AVATAR_BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start-up banner within ${timeoutMs} ms:\n${p.output}`)), timeoutMs);
      const check = () => {
        if (p.output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      };
      p.child.stdout?.on('data', check);
      p.child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`avatar serve ${args.join(' ')} exited with ${code}:\n${p.output}`));
      });
    });
    return p;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends a signal and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill(signal);
    await exited;
  }
}
