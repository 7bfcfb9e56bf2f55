import type { PipeDirection } from './process-launcher.js';

/** Messages from a server process to its spawner process. */
export type SpawnerRequest = {
  readonly type: 'launch';
  readonly id: number;
  readonly command: string;
  readonly args: readonly string[];
  readonly stdio: readonly PipeDirection[];
  /** Absolute niceness to give the child. */
  readonly niceness?: number;
};

/**
 * Messages from the spawner process, in this order for each launch: one `pipe` per piped
 * descriptor (the pipe itself travels as the message's handle), then `launched` or
 * `failed`; after `launched`, one `exit`.
 */
export type SpawnerReply =
  | { readonly type: 'pipe'; readonly id: number; readonly fd: number }
  | { readonly type: 'launched'; readonly id: number; readonly pid: number }
  | { readonly type: 'failed'; readonly id: number; readonly code: string; readonly message: string }
  | { readonly type: 'exit'; readonly id: number; readonly code: number | null; readonly signal: NodeJS.Signals | null };
