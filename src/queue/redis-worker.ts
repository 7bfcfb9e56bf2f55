import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { AvatarError } from '../core/errors.js';
import type { RedisConfig } from '../server/config.js';
import { toHttpError } from '../server/http-errors.js';
import type { JobHandlers } from './job-queue.js';
import { cancelChannel, openBlockingConnection, RENDER_QUEUE } from './redis-connection.js';
import type { StoredJobData } from './redis-queue.js';

/** Smallest progress step written to Redis (fewer writes; a client polls anyway). */
const PROGRESS_STEP = 0.02;

/** What a worker reports as it goes (the `avatar worker` command logs these). */
export interface WorkerEvents {
  started?(id: string, kind: string): void;
  finished?(id: string, kind: string, outcome: 'succeeded' | 'failed' | 'retry', error?: string): void;
}

/**
 * Runs jobs of the Redis queue with `handlers`, `concurrency` at a time. A job's lock is
 * renewed while it runs; a worker killed mid-job stops renewing it and the job goes back
 * to waiting for another worker (after `config.lockMs`). Cancellations published by API
 * processes abort the job's signal.
 */
export class RedisJobWorker {
  private readonly worker: Worker<StoredJobData>;
  private readonly subscriber: Redis;
  /** BullMQ leaves a connection it was given open: it is closed here after the worker. */
  private readonly connection: Redis;

  constructor(config: RedisConfig, handlers: JobHandlers, concurrency: number, events: WorkerEvents = {}) {
    this.connection = openBlockingConnection(config);
    this.worker = new Worker<StoredJobData>(RENDER_QUEUE, async (job, _token, signal) => runJob(job, handlers, signal ?? new AbortController().signal, events), {
      connection: this.connection, prefix: config.prefix, concurrency,
      lockDuration: config.lockMs, stalledInterval: config.lockMs, maxStalledCount: 2,
    });
    this.worker.on('error', () => undefined); // Connection errors: the worker reconnects on its own.
    this.subscriber = openBlockingConnection(config);
    void this.subscriber.subscribe(cancelChannel(config)).catch(() => undefined);
    this.subscriber.on('message', (_channel: string, id: string) => void this.worker.cancelJob(id, 'cancelled'));
  }

  /** Resolves once the worker is connected and taking jobs. */
  waitUntilReady(): Promise<unknown> {
    return this.worker.waitUntilReady();
  }

  /** Jobs running in this worker now. */
  get running(): number {
    return (this.worker as unknown as { jobsInProgress?: Set<unknown> }).jobsInProgress?.size ?? 0;
  }

  /**
   * Takes no new jobs and waits up to `graceMs` for the running ones to finish; after that
   * it lets go of them (their locks lapse and other workers take them over). Resolves to
   * whether everything finished in time.
   */
  async drain(graceMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const finished = this.worker.close().then(() => true);
    const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs)));
    const drained = await Promise.race([finished, late]);
    clearTimeout(timer);
    if (!drained) await this.worker.close(true);
    await this.subscriber.quit().catch(() => undefined);
    this.connection.disconnect();
    return drained;
  }
}

async function runJob(job: Job<StoredJobData>, handlers: JobHandlers, signal: AbortSignal, events: WorkerEvents): Promise<Record<string, unknown>> {
  const id = job.id!;
  const handler = handlers[job.name];
  if (!handler) throw new UnrecoverableError(JSON.stringify({ error: 'internal', message: `this worker runs no jobs of kind "${job.name}"` }));
  events.started?.(id, job.name);
  let reported = 0;
  const progress = (fraction: number) => {
    if (fraction - reported < PROGRESS_STEP && fraction < 1) return;
    reported = fraction;
    void job.updateProgress(fraction).catch(() => undefined);
  };
  try {
    const result = await handler({ id, tenant: job.data.tenant, payload: job.data.payload }, progress, signal);
    events.finished?.(id, job.name, 'succeeded');
    return result;
  } catch (e) {
    const { body } = toHttpError(signal.aborted ? new AvatarError('aborted', 'the job was cancelled') : e);
    const retry = e instanceof AvatarError && e.retryable && !signal.aborted && job.attemptsMade + 1 < (job.opts.attempts ?? 1);
    events.finished?.(id, job.name, retry ? 'retry' : 'failed', body.error);
    throw retry ? new Error(JSON.stringify(body)) : new UnrecoverableError(JSON.stringify(body));
  }
}
