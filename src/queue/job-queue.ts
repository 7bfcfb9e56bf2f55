import type { StreamEntry } from './redis-stream-channel.js';

/** Where a job is in its life. */
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed';

/** A failure as clients see it (the body of an HTTP error). */
export interface JobError {
  readonly error: string;
  readonly message: string;
}

/** What a client sees of a job. */
export interface JobView {
  readonly id: string;
  readonly kind: string;
  readonly state: JobState;
  /** 0..1 */
  readonly progress: number;
  readonly createdAt: string;
  readonly finishedAt?: string;
  readonly error?: JobError;
  readonly result?: Record<string, unknown>;
}

/**
 * A job as data: whoever runs it (this process or a worker on another machine) finds its
 * handler by `kind` and gets everything else from `payload`, which must survive JSON.
 */
export interface JobSpec {
  readonly tenant: string;
  readonly kind: string;
  readonly payload: Readonly<Record<string, unknown>>;
}

/** What a job is submitted with. */
export interface SubmitOptions {
  /** Facts kept with a job for the server (never shown): what to clean up after it. */
  readonly meta?: Record<string, string>;
  /** Kept so the job survives a restart (default true; false for work tied to one request). */
  readonly persist?: boolean;
  /** Whether a retryable failure is tried again (default true; false for work whose output already left, such as a stream). */
  readonly retry?: boolean;
}

/** A job handed to its handler. */
export interface RunningJob {
  readonly id: string;
  readonly tenant: string;
  readonly payload: Readonly<Record<string, unknown>>;
}

/** Runs one kind of job: reports progress (0..1) and returns the job's result. */
export type JobHandler = (job: RunningJob, progress: (fraction: number) => void, signal: AbortSignal) => Promise<Record<string, unknown>>;

/** Handlers by job kind. */
export type JobHandlers = Readonly<Record<string, JobHandler>>;

/** Jobs by state across the whole queue (every process that shares it). */
export interface QueueCounts {
  /** Waiting to start, retries waiting for their backoff included. */
  readonly waiting: number;
  readonly active: number;
  /** Failed for good and not yet forgotten. */
  readonly failed: number;
}

/**
 * Where generations and avatar preparations wait and run. `in-process` runs them in this
 * process (the default); `redis` keeps them in Redis (BullMQ), where `avatar worker`
 * processes run them and every API process sees them. Calls that need the queue's store
 * throw a 503 HttpError (`queue_unavailable`) while it cannot be reached.
 */
export interface JobQueue {
  readonly backend: 'in-process' | 'redis';
  /** Queues a job; resolves to its id once the job is stored. */
  submit(spec: JobSpec, options?: SubmitOptions): Promise<string>;
  /** Queues a job and waits for it to end; `signal` cancels it. Resolves to the final view (succeeded or failed). */
  run(spec: JobSpec, signal?: AbortSignal): Promise<JobView>;
  /** The job as its tenant sees it; undefined for unknown ids and other tenants' jobs. */
  get(tenant: string, id: string): Promise<JobView | undefined>;
  counts(): Promise<QueueCounts>;
  /** Whether the queue can take work now (its store is reachable). */
  isReady(): boolean;
  /**
   * The bytes of progressive-stream jobs that run elsewhere, entry by entry (head, data,
   * then end or error); absent where streams are rendered by the process that holds the client.
   */
  readonly streams?: { read(jobId: string, signal: AbortSignal): AsyncGenerator<StreamEntry> };
  /** Stops a job: a waiting one never starts, a running one is aborted. */
  cancel(id: string): Promise<void>;
  /** Jobs this process runs or waits on now (what a drain waits for). */
  readonly inFlight: number;
  /** Stops what this process runs or waits on and lets go of the store. */
  close(): Promise<void>;
}
