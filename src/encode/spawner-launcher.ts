import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { niceAbove, type LaunchedProcess, type LaunchOptions, type ProcessExit, type ProcessLauncher } from './process-launcher.js';
import type { SpawnerReply, SpawnerRequest } from './spawner-protocol.js';

interface Launch {
  readonly options: LaunchOptions;
  readonly pipes: (Duplex | null)[];
  resolve(process: LaunchedProcess): void;
  reject(error: Error): void;
  /** Set once launched: called with the exit when it comes. */
  exited?: (exit: ProcessExit) => void;
}

/**
 * Starts children through a small spawner process and receives their pipes from it, so a
 * large server process never forks: its event loop (every live session's pacing) does not
 * stall while a child starts. The spawner is started on first use and again if it dies;
 * children whose exit it could not report end with code `null` once their pipes close.
 */
export class SpawnerProcessLauncher implements ProcessLauncher {
  private spawner: ChildProcess | undefined;
  private nextId = 1;
  private readonly launches = new Map<number, Launch>();

  launch(command: string, args: readonly string[], options: LaunchOptions): Promise<LaunchedProcess> {
    const spawner = this.ensureSpawner();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.launches.set(id, { options, pipes: options.stdio.map(() => null), resolve, reject });
      this.updateRef();
      const request: SpawnerRequest = { type: 'launch', id, command, args, stdio: options.stdio, ...(options.niceness ? { niceness: niceAbove(options.niceness) } : {}) };
      spawner.send(request, (e) => {
        if (e) this.fail(id, e);
      });
    });
  }

  /** The spawner's process id, once started. */
  get spawnerPid(): number | undefined {
    return this.spawner?.pid;
  }

  close(): void {
    const spawner = this.spawner;
    this.spawner = undefined;
    spawner?.disconnect();
  }

  private ensureSpawner(): ChildProcess {
    if (this.spawner?.connected) return this.spawner;
    const spawner = fork(new URL('./spawner-process.js', import.meta.url), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json', execArgv: [],
    });
    spawner.on('message', (message: SpawnerReply, handle?: Socket) => this.onReply(message, handle));
    spawner.on('error', () => undefined);
    spawner.once('exit', () => {
      if (this.spawner === spawner) this.spawner = undefined;
      for (const id of [...this.launches.keys()]) this.fail(id, new Error('the spawner process exited'));
    });
    this.spawner = spawner;
    return spawner;
  }

  private onReply(message: SpawnerReply, handle: Socket | undefined): void {
    const launch = this.launches.get(message.id);
    if (!launch) {
      handle?.destroy();
      return;
    }
    switch (message.type) {
      case 'pipe':
        if (handle) launch.pipes[message.fd] = handle;
        break;
      case 'launched':
        launch.resolve(this.running(message.pid, launch));
        break;
      case 'failed':
        this.fail(message.id, Object.assign(new Error(`spawn ${message.message}`), { code: message.code }));
        break;
      case 'exit':
        this.launches.delete(message.id);
        this.updateRef();
        launch.exited?.({ code: message.code, signal: message.signal });
        break;
    }
  }

  /** A failed launch rejects; a running child whose exit will never be reported ends with code null. */
  private fail(id: number, error: Error): void {
    const launch = this.launches.get(id);
    if (!launch) return;
    this.launches.delete(id);
    this.updateRef();
    if (launch.exited) launch.exited({ code: null, signal: null });
    else {
      for (const pipe of launch.pipes) pipe?.destroy();
      launch.reject(error);
    }
  }

  private running(pid: number, launch: Launch): LaunchedProcess {
    let exit: ProcessExit | undefined;
    const exited = new Promise<ProcessExit>((resolve) => {
      launch.exited = (e) => {
        exit = e;
        resolve(e);
      };
    });
    for (const [fd, direction] of launch.options.stdio.entries()) {
      const pipe = launch.pipes[fd];
      if (!pipe || direction !== 'in') continue;
      // Nothing comes back on an input pipe; reading it lets it close when the child exits.
      pipe.on('error', () => undefined);
      pipe.resume();
    }
    const pipesClosed = launch.pipes.map((pipe) => (pipe ? new Promise<void>((resolve) => (pipe.closed ? resolve() : pipe.once('close', () => resolve()))) : undefined));
    const closed = Promise.all([exited, ...pipesClosed]).then(([e]) => e);
    return {
      pid,
      stdio: launch.pipes,
      closed,
      kill: (signal: NodeJS.Signals = 'SIGTERM') => {
        if (exit) return;
        try {
          process.kill(pid, signal);
        } catch {
          // Already gone.
        }
      },
    };
  }

  /** The spawner keeps this process alive only while it has children to report on. */
  private updateRef(): void {
    const spawner = this.spawner;
    if (!spawner) return;
    const channel = spawner.channel as { ref?: () => void; unref?: () => void } | undefined | null;
    if (this.launches.size > 0) {
      spawner.ref();
      channel?.ref?.();
    } else {
      spawner.unref();
      channel?.unref?.();
    }
  }
}
