import { Worker } from 'node:worker_threads';
import { eachMessage, MessageBatcher } from '../../core/message-batch.js';
import type { OpusThreadReply, OpusThreadRequest } from './opus-thread.js';

/** Restarts of a thread that dies allowed within RESTART_WINDOW_MS before it is given up. */
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 10_000;

/** One session's Opus stream: frames encoded in order, each answered by its packet. */
export interface OpusFrameEncoder {
  /** Encodes one 20 ms frame (48 kHz mono); the PCM may be reused once this returns. */
  encode(pcm: Int16Array): Promise<Buffer>;
  /** Frees the encoder; encodes still pending are answered with an error. */
  close(): void;
}

/**
 * An Opus thread (opus-thread.ts) and the streams open on it: started with the first
 * stream, let go (unref'd) while none is open, and started again with its streams re-opened
 * if it ever exits. A process shares one (`openOpusEncoder`).
 */
export class OpusThread {
  private worker: Worker | undefined;
  /** Requests of one turn (every session's frames due then) travel together. */
  private requests: MessageBatcher<OpusThreadRequest> | undefined;
  /** When the thread last died, in the window that MAX_RESTARTS counts over. */
  private deaths: number[] = [];
  /** Set once the thread keeps dying: every encode fails with it. */
  private failure: Error | undefined;
  private nextStream = 1;
  private nextSeq = 1;
  private readonly open = new Set<number>();
  private readonly pending = new Map<number, { stream: number; resolve: (b: Buffer) => void; reject: (e: Error) => void }>();

  openStream(): OpusFrameEncoder {
    const stream = this.nextStream++;
    this.open.add(stream);
    this.post({ kind: 'open', stream });
    return {
      encode: (pcm) => this.encode(stream, pcm),
      close: () => this.close(stream),
    };
  }

  private encode(stream: number, pcm: Int16Array): Promise<Buffer> {
    if (!this.open.has(stream)) return Promise.reject(new Error('the Opus encoder is closed'));
    if (this.failure) return Promise.reject(this.failure);
    const seq = this.nextSeq++;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { stream, resolve, reject });
      this.post({ kind: 'encode', stream, seq, pcm: pcm.slice() });
    });
  }

  private close(stream: number): void {
    if (!this.open.delete(stream)) return;
    this.post({ kind: 'close', stream });
    for (const [seq, p] of this.pending) {
      if (p.stream !== stream) continue;
      this.pending.delete(seq);
      p.reject(new Error('the Opus encoder is closed'));
    }
    if (this.open.size === 0) this.worker?.unref();
  }

  private post(request: OpusThreadRequest): void {
    if (this.failure) return;
    const worker = this.thread();
    worker.ref();
    if (request.kind === 'encode') this.requests!.post(request, [request.pcm.buffer as ArrayBuffer]);
    else this.requests!.post(request);
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./opus-thread.js', import.meta.url));
    worker.on('message', eachMessage((reply: OpusThreadReply) => {
      const p = this.pending.get(reply.seq);
      if (!p) return;
      this.pending.delete(reply.seq);
      if ('packet' in reply) p.resolve(Buffer.from(reply.packet.buffer, reply.packet.byteOffset, reply.packet.byteLength));
      else p.reject(new Error(reply.error));
    }));
    const lost = (why: string) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      const error = new Error(`the Opus thread ${why}`);
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
      const now = Date.now();
      this.deaths = [...this.deaths.filter((t) => now - t < RESTART_WINDOW_MS), now];
      if (this.deaths.length > MAX_RESTARTS) {
        // It dies as it starts (a broken install): stop, and say why at every encode.
        this.failure = new Error(`the Opus thread ${why}, ${this.deaths.length} times in ${RESTART_WINDOW_MS / 1000} s: audio is off`);
        return;
      }
      // Streams still open go on, each with a fresh encoder, on a new thread.
      try {
        for (const stream of this.open) this.post({ kind: 'open', stream });
      } catch (e) {
        this.failure = new Error(`the Opus thread cannot start: ${(e as Error).message}`);
      }
    };
    worker.on('error', (e) => lost(`failed: ${e.message}`));
    worker.on('exit', (code) => lost(`exited (${code})`));
    this.worker = worker;
    this.requests = new MessageBatcher(worker);
    return worker;
  }
}

let shared: OpusThread | undefined;

/** An Opus encoder for one stream, on the process's Opus thread. */
export function openOpusEncoder(): OpusFrameEncoder {
  shared ??= new OpusThread();
  return shared.openStream();
}
