import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HttpError, toHttpError } from '../server/http-errors.js';
import type { JobError, JobHandlers, JobQueue, JobSpec, JobState, JobView, QueueCounts, SubmitOptions } from './job-queue.js';

/** Work a job does; reports progress through the callback and returns its result. */
type JobWork = (progress: (fraction: number) => void, signal: AbortSignal, jobId: string) => Promise<Record<string, unknown>>;

interface Job {
  id: string;
  tenant: string;
  kind: string;
  state: JobState;
  progress: number;
  createdAt: number;
  finishedAt?: number;
  error?: JobError;
  result?: Record<string, unknown>;
  /** Facts kept with a job for the server (never shown): what to clean up or re-sign. */
  meta: Record<string, string>;
  persist: boolean;
  work: JobWork;
  controller: AbortController;
  done: Promise<void>;
  settle: () => void;
}

/** A job found unfinished when the server started (its work died with the old process). */
export interface InterruptedJob {
  readonly id: string;
  readonly tenant: string;
  readonly kind: string;
  readonly meta: Readonly<Record<string, string>>;
}

/**
 * An in-process job queue: at most `concurrency` jobs run at once, the rest wait in order.
 * Jobs belong to a tenant and are only visible to it. Finished jobs are forgotten after
 * the retention time (their files are deleted by `sweepFiles`). With a `stateDir`, each
 * job's state is written there at every change (atomically), so after a restart finished
 * jobs still answer and unfinished ones answer as failed, never 404.
 */
export class InProcessJobQueue implements JobQueue {
  readonly backend = 'in-process' as const;
  private readonly jobs = new Map<string, Job>();
  private readonly waiting: Job[] = [];
  private running = 0;

  constructor(private readonly handlers: JobHandlers, private readonly concurrency: number, private readonly retentionMs: number, private readonly onFailure?: (kind: string, error: string) => void, private readonly stateDir?: string) {}

  submit(spec: JobSpec, options: SubmitOptions = {}): Promise<string> {
    return Promise.resolve(this.enqueue(spec.tenant, spec.kind, this.workOf(spec), options));
  }

  run(spec: JobSpec, signal?: AbortSignal): Promise<JobView> {
    return this.runWork(spec.tenant, spec.kind, this.workOf(spec), signal);
  }

  get(tenant: string, id: string): Promise<JobView | undefined> {
    return Promise.resolve(this.view(tenant, id));
  }

  counts(): Promise<QueueCounts> {
    return Promise.resolve({ waiting: this.depth, active: this.active, failed: [...this.jobs.values()].filter((j) => j.state === 'failed').length });
  }

  isReady(): boolean {
    return true;
  }

  get inFlight(): number {
    return this.depth + this.active;
  }

  private workOf(spec: JobSpec): JobWork {
    const handler = this.handlers[spec.kind];
    if (!handler) throw new HttpError(500, 'internal', `no handler for jobs of kind "${spec.kind}"`);
    return (progress, signal, id) => handler({ id, tenant: spec.tenant, payload: spec.payload }, progress, signal);
  }

  /**
   * Reads the jobs of earlier runs: finished ones come back as they were; queued or running
   * ones are marked failed (`interrupted`) and handed to `onInterrupted` to clean up after.
   */
  async restore(onInterrupted: (job: InterruptedJob) => Promise<void>): Promise<number> {
    if (!this.stateDir) return 0;
    await mkdir(this.stateDir, { recursive: true });
    let interrupted = 0;
    for (const name of await readdir(this.stateDir)) {
      const path = join(this.stateDir, name);
      if (!/^[0-9a-f-]{36}\.json$/.test(name)) {
        await rm(path, { force: true });
        continue;
      }
      let saved: SavedJob;
      try {
        saved = JSON.parse(await readFile(path, 'utf8')) as SavedJob;
      } catch {
        await rm(path, { force: true });
        continue;
      }
      const job: Job = { ...saved, meta: saved.meta ?? {}, persist: true, work: async () => ({}), controller: new AbortController(), done: Promise.resolve(), settle: () => undefined };
      this.jobs.set(job.id, job);
      if (job.state === 'queued' || job.state === 'running') {
        interrupted++;
        await onInterrupted({ id: job.id, tenant: job.tenant, kind: job.kind, meta: job.meta }).catch(() => undefined);
        this.finish(job, { error: { error: 'interrupted', message: 'the server restarted before this job finished; submit it again' } });
      }
    }
    return interrupted;
  }

  /** The server's facts of a job (see SubmitOptions.meta); undefined for unknown ids and other tenants' jobs. */
  meta(tenant: string, id: string): Readonly<Record<string, string>> | undefined {
    const job = this.jobs.get(id);
    return job && job.tenant === tenant ? job.meta : undefined;
  }

  /** Jobs waiting to start. */
  get depth(): number {
    return this.waiting.length;
  }

  /** Jobs running now. */
  get active(): number {
    return this.running;
  }

  /** Queues work and returns the job's id at once. */
  private enqueue(tenant: string, kind: string, work: JobWork, options: SubmitOptions = {}): string {
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    const job: Job = { id: randomUUID(), tenant, kind, state: 'queued', progress: 0, createdAt: Date.now(), meta: options.meta ?? {}, persist: options.persist ?? true, work, controller: new AbortController(), done, settle };
    this.jobs.set(job.id, job);
    this.save(job);
    this.waiting.push(job);
    this.pump();
    return job.id;
  }

  /** Queues work and waits for it to finish; returns the job's view (state succeeded or failed). */
  private async runWork(tenant: string, kind: string, work: JobWork, signal?: AbortSignal): Promise<JobView> {
    const id = this.enqueue(tenant, kind, work, { persist: false });
    const job = this.jobs.get(id)!;
    const cancel = () => this.cancelNow(id);
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      await job.done;
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
    return view(job);
  }

  /** The job as its tenant sees it, at once; undefined for unknown ids and other tenants' jobs. */
  view(tenant: string, id: string): JobView | undefined {
    const job = this.jobs.get(id);
    return job && job.tenant === tenant ? view(job) : undefined;
  }

  /** Stops a queued or running job (a queued one never starts). */
  cancel(id: string): Promise<void> {
    this.cancelNow(id);
    return Promise.resolve();
  }

  private cancelNow(id: string): void {
    const job = this.jobs.get(id);
    if (!job || job.state === 'succeeded' || job.state === 'failed') return;
    job.controller.abort();
    const at = this.waiting.indexOf(job);
    if (at >= 0) {
      this.waiting.splice(at, 1);
      this.finish(job, { error: { error: 'aborted', message: 'the job was cancelled' } });
    }
  }

  /** Forgets finished jobs older than the retention. */
  forgetExpired(now = Date.now()): void {
    for (const [id, job] of this.jobs) {
      if (job.finishedAt !== undefined && now - job.finishedAt > this.retentionMs) {
        this.jobs.delete(id);
        if (job.persist && this.stateDir) void rm(join(this.stateDir, `${id}.json`), { force: true }).catch(() => undefined);
      }
    }
  }

  /** Cancels everything (server shutdown) and waits for running jobs to stop. */
  async close(): Promise<void> {
    const all = [...this.jobs.values()];
    for (const job of all) this.cancelNow(job.id);
    await Promise.all(all.map((j) => j.done));
    await this.writes;
  }

  private pump(): void {
    while (this.running < this.concurrency && this.waiting.length) {
      const job = this.waiting.shift()!;
      this.running++;
      job.state = 'running';
      this.save(job);
      job.work((f) => (job.progress = Math.max(job.progress, Math.min(1, f))), job.controller.signal, job.id)
        .then((result) => this.finish(job, { result }), (e: unknown) => this.finish(job, { error: toHttpError(e).body, status: toHttpError(e).status }))
        .finally(() => {
          this.running--;
          this.pump();
        });
    }
  }

  private finish(job: Job, outcome: { result?: Record<string, unknown>; error?: JobError; status?: number }): void {
    job.finishedAt = Date.now();
    if (outcome.error) {
      job.state = 'failed';
      job.error = outcome.error;
      this.onFailure?.(job.kind, outcome.error.error);
    } else {
      job.state = 'succeeded';
      job.progress = 1;
      job.result = outcome.result ?? {};
    }
    this.save(job);
    job.settle();
  }

  private writes: Promise<void> = Promise.resolve();

  /** Writes the job's state (temp file, then rename), one write after another. */
  private save(job: Job): void {
    if (!job.persist || !this.stateDir) return;
    const dir = this.stateDir;
    const saved: SavedJob = {
      id: job.id, tenant: job.tenant, kind: job.kind, state: job.state, progress: job.progress, createdAt: job.createdAt, meta: job.meta,
      ...(job.finishedAt !== undefined ? { finishedAt: job.finishedAt } : {}), ...(job.error ? { error: job.error } : {}), ...(job.result ? { result: job.result } : {}),
    };
    this.writes = this.writes.then(async () => {
      const path = join(dir, `${job.id}.json`);
      const temp = `${path}.tmp`;
      await mkdir(dir, { recursive: true });
      await writeFile(temp, JSON.stringify(saved));
      await rename(temp, path);
    }).catch((e: unknown) => {
      process.stderr.write(`avatar serve: cannot save job ${job.id}: ${(e as Error).message}\n`);
    });
  }

  /** Resolves once every state change so far is on disk. */
  flush(): Promise<void> {
    return this.writes;
  }
}

type SavedJob = Pick<Job, 'id' | 'tenant' | 'kind' | 'state' | 'progress' | 'createdAt' | 'finishedAt' | 'error' | 'result' | 'meta'>;

function view(job: Job): JobView {
  return {
    id: job.id, kind: job.kind, state: job.state, progress: Math.round(job.progress * 1000) / 1000,
    createdAt: new Date(job.createdAt).toISOString(),
    ...(job.finishedAt !== undefined ? { finishedAt: new Date(job.finishedAt).toISOString() } : {}),
    ...(job.error ? { error: job.error } : {}),
    ...(job.result ? { result: job.result } : {}),
  };
}
