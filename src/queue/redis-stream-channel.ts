import type { Redis } from 'ioredis';
import type { RedisConfig } from '../server/config.js';
import { RENDER_QUEUE } from './redis-connection.js';

/** How long a finished stream's entries stay readable (a late reader, a retry of the read), ms. */
const KEPT_AFTER_END_MS = 60_000;
/** Longest a reader waits for the next entry before it takes the stream for lost, ms. */
const READ_TIMEOUT_MS = 30_000;

/** What a stream job sends before its bytes: what the response headers say. */
export interface StreamHead {
  readonly width: number;
  readonly height: number;
  readonly durationS: number;
  readonly durationEstimated: boolean;
}

/** One entry of a job's output stream. */
export type StreamEntry =
  | { readonly type: 'head'; readonly head: StreamHead }
  | { readonly type: 'data'; readonly bytes: Buffer }
  | { readonly type: 'end' }
  | { readonly type: 'error'; readonly error: string; readonly message: string };

/** Where a worker writes a progressive stream's bytes for the API process that holds the client. */
export interface StreamWriter {
  /** True when this job already wrote here (a job taken over after its worker died: its client has half a video). */
  started(): Promise<boolean>;
  write(entry: StreamEntry): Promise<void>;
}

/** The Redis stream (XADD/XREAD) that carries a job's bytes, one key per job. */
export function streamKey(config: RedisConfig, jobId: string): string {
  return `${config.prefix}:${RENDER_QUEUE}:out:${jobId}`;
}

/** Writes entries to a job's Redis stream (worker side). */
export class RedisStreamWriter implements StreamWriter {
  constructor(private readonly client: Redis, private readonly key: string) {}

  async started(): Promise<boolean> {
    return (await this.client.xlen(this.key)) > 0;
  }

  async write(entry: StreamEntry): Promise<void> {
    const fields: (string | Buffer)[] = ['type', entry.type];
    if (entry.type === 'head') fields.push('head', JSON.stringify(entry.head));
    else if (entry.type === 'data') fields.push('bytes', entry.bytes);
    else if (entry.type === 'error') fields.push('error', entry.error, 'message', entry.message);
    await this.client.xadd(this.key, '*', ...fields);
    if (entry.type === 'end' || entry.type === 'error') await this.client.pexpire(this.key, KEPT_AFTER_END_MS);
    else if (entry.type === 'head') await this.client.pexpire(this.key, 3600_000);
  }
}

/**
 * Reads a job's stream entries in order (API side), on a connection of its own (XREAD
 * blocks it). Ends after `end` or `error`; throws when nothing arrives for READ_TIMEOUT_MS,
 * unless `waiting` says the job has yet to start (it waits behind other jobs).
 */
export async function* readStream(client: Redis, key: string, signal: AbortSignal, waiting?: () => Promise<boolean>): AsyncGenerator<StreamEntry> {
  let last = '0';
  for (;;) {
    if (signal.aborted) return;
    const answer = await client.xreadBuffer('COUNT', 64, 'BLOCK', READ_TIMEOUT_MS, 'STREAMS', key, last);
    if (!answer) {
      if (last === '0' && (await waiting?.())) continue;
      throw new Error('the stream stopped: no data from the worker');
    }
    for (const [, entries] of answer) {
      for (const [id, raw] of entries) {
        last = id.toString();
        const fields = new Map<string, Buffer>();
        for (let i = 0; i + 1 < raw.length; i += 2) fields.set(raw[i]!.toString(), raw[i + 1]!);
        const type = fields.get('type')?.toString();
        if (type === 'head') yield { type, head: JSON.parse(fields.get('head')!.toString()) as StreamHead };
        else if (type === 'data') yield { type, bytes: fields.get('bytes')! };
        else if (type === 'end') return yield { type };
        else if (type === 'error') return yield { type, error: fields.get('error')!.toString(), message: fields.get('message')!.toString() };
      }
    }
  }
}
