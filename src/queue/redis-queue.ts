import { randomUUID } from 'node:crypto';
import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RedisConfig } from '../server/config.js';
import { HttpError } from '../server/http-errors.js';
import type { JobError, JobQueue, JobSpec, JobState, JobView, QueueCounts, SubmitOptions } from './job-queue.js';
import { cancelChannel, openCommandConnection, REDIS_CALL_TIMEOUT_MS, RENDER_QUEUE } from './redis-connection.js';
import { readStream, streamKey, type StreamEntry } from './redis-stream-channel.js';

/** What a job carries in Redis. */
export interface StoredJobData {
  readonly tenant: string;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly meta: Readonly<Record<string, string>>;
}

/** First wait before a retry, ms; doubled at each further try. */
const RETRY_BACKOFF_MS = 1000;
/** How often a waiting caller looks at its job, ms. */
const POLL_MS = 40;

/**
 * The job queue in Redis (BullMQ): jobs outlive every process, `avatar worker` processes run
 * them (a worker that dies mid-job loses its lock and another takes the job over), and any
 * API process answers for any job. Retryable failures are tried again with exponential
 * backoff. This side only submits, reads and cancels; it never runs a job.
 */
export class RedisJobQueue implements JobQueue {
  readonly backend = 'redis' as const;
  private waiting = 0;

  private constructor(private readonly queue: Queue<StoredJobData>, private readonly client: Redis, private readonly config: RedisConfig, private readonly retentionMs: number) {}

  /** Connects (throws when Redis cannot be reached now). */
  static async open(config: RedisConfig, retentionMs: number): Promise<RedisJobQueue> {
    const client = await openCommandConnection(config);
    const queue = new Queue<StoredJobData>(RENDER_QUEUE, { connection: client, prefix: config.prefix });
    queue.on('error', () => undefined); // Surfaced per call as 503 by `guard`.
    return new RedisJobQueue(queue, client, config, retentionMs);
  }

  readonly streams = {
    read: (jobId: string, signal: AbortSignal): AsyncGenerator<StreamEntry> => this.readStream(jobId, signal),
  };

  /** A stream job's entries, on a connection of its own (reads block it); a Redis out of reach ends the read with an error. */
  private async *readStream(jobId: string, signal: AbortSignal): AsyncGenerator<StreamEntry> {
    const reader = this.client.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: 1 });
    reader.on('error', () => undefined);
    const stop = () => reader.disconnect();
    signal.addEventListener('abort', stop, { once: true });
    try {
      const waiting = async () => ['waiting', 'delayed', 'prioritized', 'paused'].includes(await this.queue.getJobState(jobId).catch(() => 'unknown'));
      yield* readStream(reader, streamKey(this.config, jobId), signal, waiting);
    } finally {
      signal.removeEventListener('abort', stop);
      reader.disconnect();
    }
  }

  /** The connection for other shared state (rate limits, the signing secret), with the same fail-fast behaviour. */
  get connection(): Redis {
    return this.client;
  }

  async submit(spec: JobSpec, options: SubmitOptions = {}): Promise<string> {
    const id = randomUUID();
    const keepS = Math.ceil(this.retentionMs / 1000);
    // A job tied to one request is not kept past a day (its caller has the answer).
    const keep = { age: options.persist === false ? Math.min(keepS, 86400) : keepS };
    await this.guard(this.queue.add(spec.kind, { tenant: spec.tenant, payload: spec.payload, meta: options.meta ?? {} }, {
      jobId: id, attempts: options.retry === false ? 1 : this.config.attempts, backoff: { type: 'exponential', delay: RETRY_BACKOFF_MS },
      removeOnComplete: keep, removeOnFail: keep,
    }));
    return id;
  }

  async run(spec: JobSpec, signal?: AbortSignal): Promise<JobView> {
    this.waiting++;
    try {
      const id = await this.submit(spec, { persist: false });
      let cancelled = false;
      for (;;) {
        if (signal?.aborted && !cancelled) {
          cancelled = true;
          await this.cancel(id);
        }
        const view = await this.get(spec.tenant, id);
        if (!view) return { id, kind: spec.kind, state: 'failed', progress: 0, createdAt: new Date().toISOString(), error: { error: 'aborted', message: 'the job was cancelled' } };
        if (view.state === 'succeeded' || view.state === 'failed') return view;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    } finally {
      this.waiting--;
    }
  }

  async get(tenant: string, id: string): Promise<JobView | undefined> {
    // State first, then the job: a job read first and found finished a moment later would
    // show as succeeded without its result.
    const state = await this.guard(this.queue.getJobState(id));
    if (state === 'unknown') return undefined;
    const job = await this.guard(Job.fromId<StoredJobData>(this.queue, id));
    if (!job || job.data.tenant !== tenant) return undefined;
    const view = viewOf(job, stateOf(state));
    // A job that handed its work on (a segmented generation's plan) answers as the job that finishes it.
    const next = view.state === 'succeeded' ? view.result?.continuedBy : undefined;
    if (typeof next !== 'string') return view;
    const continued = await this.get(tenant, next);
    return continued ? { ...continued, id: view.id, kind: view.kind, createdAt: view.createdAt } : { ...view, state: 'running', progress: 0.5 };
  }

  /** The server's facts of a job (see SubmitOptions.meta); undefined for unknown ids and other tenants' jobs. */
  async meta(tenant: string, id: string): Promise<Readonly<Record<string, string>> | undefined> {
    const job = await this.guard(Job.fromId<StoredJobData>(this.queue, id));
    return job && job.data.tenant === tenant ? job.data.meta : undefined;
  }

  /** Stops a job: a waiting one is removed, a running one is aborted by its worker. */
  async cancel(id: string): Promise<void> {
    const removed = await this.guard(this.queue.remove(id)).catch(() => 0);
    if (!removed) await this.guard(this.client.publish(cancelChannel(this.config), id)).catch(() => undefined);
  }

  async counts(): Promise<QueueCounts> {
    const c = await this.guard(this.queue.getJobCounts('waiting', 'delayed', 'prioritized', 'paused', 'active', 'failed'));
    return { waiting: (c.waiting ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) + (c.paused ?? 0), active: c.active ?? 0, failed: c.failed ?? 0 };
  }

  isReady(): boolean {
    return this.client.status === 'ready';
  }

  get inFlight(): number {
    return this.waiting;
  }

  async close(): Promise<void> {
    await this.queue.close().catch(() => undefined);
    this.client.disconnect();
  }

  /** A call to Redis, or a 503 `queue_unavailable` when Redis is unreachable or does not answer in time. */
  private async guard<T>(call: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out')), REDIS_CALL_TIMEOUT_MS);
    });
    try {
      return await Promise.race([call, timeout]);
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw queueUnavailable();
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The 503 every queue call answers while Redis cannot be reached. */
export function queueUnavailable(): HttpError {
  const error = new HttpError(503, 'queue_unavailable', 'the job queue cannot be reached right now; retry shortly');
  (error as HttpError & { retryAfterS: number }).retryAfterS = 2;
  return error;
}

function stateOf(state: string): JobState {
  switch (state) {
    case 'completed': return 'succeeded';
    case 'failed': return 'failed';
    case 'active': case 'waiting-children': return 'running';
    default: return 'queued';
  }
}

/** A worker stores a failure as the JSON of its client-safe body; anything else is an internal error. */
function errorOf(reason: string | undefined): JobError {
  try {
    const parsed = JSON.parse(reason ?? '') as Partial<JobError>;
    if (typeof parsed.error === 'string' && typeof parsed.message === 'string') return { error: parsed.error, message: parsed.message };
  } catch {
    // not a worker's body
  }
  return { error: 'internal', message: 'the job failed' };
}

function viewOf(job: Job<StoredJobData>, state: JobState): JobView {
  const progress = typeof job.progress === 'number' ? job.progress : 0;
  return {
    id: job.id!, kind: job.name, state, progress: state === 'succeeded' ? 1 : Math.round(progress * 1000) / 1000,
    createdAt: new Date(job.timestamp).toISOString(),
    ...(job.finishedOn && (state === 'succeeded' || state === 'failed') ? { finishedAt: new Date(job.finishedOn).toISOString() } : {}),
    ...(state === 'failed' ? { error: errorOf(job.failedReason) } : {}),
    ...(state === 'succeeded' ? { result: (job.returnvalue ?? {}) as Record<string, unknown> } : {}),
  };
}
