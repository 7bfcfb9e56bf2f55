import { FlowProducer } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RedisConfig } from '../server/config.js';
import { ASSEMBLE_JOB, type SegmentPart, type SegmentScheduler } from '../server/segmented-jobs.js';
import { RENDER_QUEUE } from './redis-connection.js';

/** How long the parts of a segmented job are kept once done (the whole job keeps its own retention), s. */
const PARTS_KEPT_S = 3600;

/**
 * Segments as a BullMQ flow: every part (a segment's render, the audio encode) a job that
 * any worker may take, and the assembling job as their parent, which waits until all of
 * them are done (a part that fails for good fails the whole job).
 */
export class RedisSegmentScheduler implements SegmentScheduler {
  private readonly flows: FlowProducer;

  constructor(private readonly connection: Redis, private readonly config: RedisConfig, private readonly retentionMs: number) {
    this.flows = new FlowProducer({ connection, prefix: config.prefix });
    this.flows.on('error', () => undefined);
  }

  async schedule(tenant: string, parts: readonly SegmentPart[], assemble: Record<string, unknown>): Promise<string> {
    const retry = { attempts: this.config.attempts, backoff: { type: 'exponential', delay: 1000 } };
    const keep = { age: Math.ceil(this.retentionMs / 1000) };
    const node = await this.flows.add({
      name: ASSEMBLE_JOB, queueName: RENDER_QUEUE, data: { tenant, payload: assemble, meta: {} },
      opts: { ...retry, removeOnComplete: keep, removeOnFail: keep },
      children: parts.map(({ kind, payload }) => ({
        name: kind, queueName: RENDER_QUEUE, data: { tenant, payload, meta: {} },
        opts: { ...retry, failParentOnFailure: true, removeOnComplete: { age: PARTS_KEPT_S }, removeOnFail: { age: PARTS_KEPT_S } },
      })),
    });
    return node.job.id!;
  }

  /** Closes the producer and the connection it was given (BullMQ leaves that open). */
  async close(): Promise<void> {
    await this.flows.close();
    this.connection.disconnect();
  }
}
