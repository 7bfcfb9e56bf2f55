import * as grpc from '@grpc/grpc-js';
import { ServiceError } from './proto-loading.js';

/**
 * Bounded admission in front of a fixed number of workers per device: a request runs at
 * once when its device has a free worker, waits when not, and is refused with
 * RESOURCE_EXHAUSTED when `queueSize` requests already wait (never an unbounded backlog).
 */
export class AdmissionQueue {
  private readonly running = new Map<number, number>();
  private readonly waiting = new Map<number, (() => void)[]>();
  private waitingCount = 0;

  constructor(private readonly workersPerDevice: number, private readonly queueSize: number) {}

  /** Requests waiting for a worker, all devices together. */
  get queued(): number {
    return this.waitingCount;
  }

  /** Reserves a place in the queue before the work's device is known; throws when full. */
  reserve(): { release(): void } {
    if (this.waitingCount >= this.queueSize) {
      throw new ServiceError(grpc.status.RESOURCE_EXHAUSTED, `inference queue is full (${this.queueSize} requests waiting, server.queue_size): retry later`);
    }
    this.waitingCount++;
    let done = false;
    return {
      release: () => {
        if (done) return;
        done = true;
        this.waitingCount--;
      },
    };
  }

  /** Runs `work` on one of `device`'s workers, waiting for one to be free. */
  async run<T>(device: number, work: () => Promise<T>): Promise<T> {
    if ((this.running.get(device) ?? 0) >= this.workersPerDevice) {
      await new Promise<void>((resolve) => {
        let list = this.waiting.get(device);
        if (!list) this.waiting.set(device, (list = []));
        list.push(resolve);
      });
    } else {
      this.running.set(device, (this.running.get(device) ?? 0) + 1);
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.get(device)?.shift();
      if (next) next(); // the worker passes straight to the next waiting request
      else this.running.set(device, (this.running.get(device) ?? 1) - 1);
    }
  }
}
