import { spawn } from 'node:child_process';
import { getPriority, setPriority } from 'node:os';
import type { Duplex } from 'node:stream';

/**
 * How a descriptor of a launched process is connected: `in` is a pipe the caller writes
 * (the child reads it), `out` one the caller reads, `ignore` is /dev/null.
 */
export type PipeDirection = 'in' | 'out' | 'ignore';

/** How a launched process ended. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** What a process needs besides its command line. */
export interface LaunchOptions {
  /** One entry per descriptor from 0 (stdin); at least three. */
  readonly stdio: readonly PipeDirection[];
  /** Scheduling niceness above the caller's (0 = as the caller; higher yields the CPU to others; capped at 19). */
  readonly niceness?: number;
}

/** A running child process. */
export interface LaunchedProcess {
  readonly pid: number;
  /** The pipes by descriptor number; `null` where the descriptor is ignored. */
  readonly stdio: readonly (Duplex | null)[];
  /** Settles once the process has exited and its pipes have closed; never rejects. */
  readonly closed: Promise<ProcessExit>;
  /** Sends `signal` (default SIGTERM); nothing once the process has exited. */
  kill(signal?: NodeJS.Signals): void;
}

/** Starts child processes. */
export interface ProcessLauncher {
  /** Resolves once the process runs; rejects when it cannot start (no such program). */
  launch(command: string, args: readonly string[], options: LaunchOptions): Promise<LaunchedProcess>;
  /** Releases what the launcher holds (running children are left to run). */
  close(): void;
}

/**
 * Starts children from this process with `child_process.spawn`. Spawning forks this
 * process and waits until the child has run `exec`, blocking the event loop for that long:
 * milliseconds for a small process on an idle machine, tens of them for a large one on a
 * busy machine.
 */
export class DirectProcessLauncher implements ProcessLauncher {
  launch(command: string, args: readonly string[], options: LaunchOptions): Promise<LaunchedProcess> {
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, { stdio: options.stdio.map((d) => (d === 'ignore' ? 'ignore' : 'pipe')) });
      const closed = new Promise<ProcessExit>((done) => child.once('close', (code, signal) => done({ code, signal })));
      child.once('error', reject);
      child.once('spawn', () => {
        child.off('error', reject);
        // An error after the start (a failed kill) must not become an unhandled 'error'.
        child.on('error', () => undefined);
        const pid = child.pid!;
        if (options.niceness) applyNiceness(pid, niceAbove(options.niceness));
        const stdio = options.stdio.map((d, fd) => (d === 'ignore' ? null : (child.stdio[fd] as Duplex)));
        for (const [fd, direction] of options.stdio.entries()) if (direction === 'in') stdio[fd]?.on('error', () => undefined);
        resolve({
          pid,
          stdio,
          closed,
          kill: (signal: NodeJS.Signals = 'SIGTERM') => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          },
        });
      });
    });
  }

  close(): void {}
}

/** The niceness `relative` steps below this process's priority (19 at most). */
export function niceAbove(relative: number): number {
  return Math.min(19, getPriority() + relative);
}

/** Sets a process's niceness; where that is not permitted, it keeps the one it has. */
export function applyNiceness(pid: number, niceness: number): void {
  try {
    setPriority(pid, niceness);
  } catch {
    // Not permitted here.
  }
}

let current: ProcessLauncher = new DirectProcessLauncher();

/** The launcher that encoders use in this process. */
export function processLauncher(): ProcessLauncher {
  return current;
}

/** Chooses how encoders start their processes (a long-running server spawns from a small helper process). */
export function useProcessLauncher(launcher: ProcessLauncher): void {
  if (current !== launcher) current.close();
  current = launcher;
}
