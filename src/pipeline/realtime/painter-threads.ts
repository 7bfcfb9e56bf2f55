import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CatalogDescription } from '../../avatars/catalog-description.js';
import type { RendererRequest } from '../../avatars/catalog.js';
import type { FrameRect } from '../../compose/jpeg.js';
import type { VideoFrame } from '../../core/frame.js';
import { AvatarError, type AvatarErrorCode } from '../../core/errors.js';
import { eachMessage, MessageBatcher } from '../../core/message-batch.js';
import type { EncoderInput, FramePainter, PaintRequest } from './frame-painter.js';
import type { PainterCommand, PainterReply } from './painter-protocol.js';

/** Encoder input sockets live in `$TMPDIR/avatar-frames-PID-XXXXXX` (mode 0700). */
const SOCKET_DIR_PREFIX = 'avatar-frames-';
/** A socket folder's name, with the PID of the process that made it. */
const SOCKET_DIR_NAME = new RegExp(`^${SOCKET_DIR_PREFIX}(\\d+)-`);

/**
 * Removes the socket folders of processes that are gone (a server killed before it could
 * remove its own). A folder of a live process, or of another user, is left alone.
 */
function removeOrphanSocketDirs(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(SOCKET_DIR_NAME.exec(name)?.[1]);
    if (!pid || pid === process.pid || processAlive(pid)) continue;
    try {
      rmSync(join(dir, name), { recursive: true, force: true });
    } catch {
      // Another user's, or already gone.
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, under another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Pending {
  resolve(reply: PainterReply): void;
  reject(error: Error): void;
}

/** One worker thread and the commands it has not answered yet. */
class PainterThread {
  readonly worker: Worker;
  /** Every command goes through it (commands of one turn travel together). */
  readonly commands: MessageBatcher<PainterCommand>;
  readonly pending = new Map<number, Pending>();
  /** Stages opened on it and not closed: new stages go to the thread with fewest. */
  stages = 0;
  alive = true;

  constructor(description: CatalogDescription, jpegQuality: number, onExit: (thread: PainterThread) => void) {
    this.worker = new Worker(new URL('./painter-thread.js', import.meta.url), { workerData: { catalog: description, jpegQuality } });
    // Painter threads never keep the process alive: a server that closes may simply exit.
    this.worker.unref();
    this.commands = new MessageBatcher(this.worker);
    this.worker.on('message', eachMessage((reply: PainterReply) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      waiter?.resolve(reply);
    }));
    const die = (error: Error) => {
      if (!this.alive) return;
      this.alive = false;
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
      onExit(this);
    };
    this.worker.on('error', (e) => die(new Error(`a realtime painter thread failed: ${e.message}`)));
    this.worker.on('exit', (code) => die(new Error(`a realtime painter thread stopped (exit ${code})`)));
  }
}

/**
 * Worker threads that draw and compress realtime speech frames, so a server's event loop
 * only paces, mixes and sends while the drawing runs on the other cores. Raw frames for
 * video encoders (WebRTC) never come back: the thread writes them into the encoder's input
 * (`openEncoderInput`), a Unix socket in a private temporary folder. Each stage (one
 * avatar at one size and rate) lives on one thread, the least busy when it was opened.
 * Avatars whose renderer is driven by audio paint on the caller's thread: their inference
 * runs off-thread already, and their audio features are computed where the speech is.
 */
export class PainterThreads {
  private readonly threads: PainterThread[] = [];
  private nextId = 1;
  private nextStage = 1;
  private closed = false;
  /** Where encoder input sockets are made (created on first use, removed on close). */
  private socketDir: string | undefined;
  private nextInput = 1;
  /** A stage's painter that is garbage collected (no session or cache holds it) frees its thread's renderer. */
  private readonly released = new FinalizationRegistry<{ thread: PainterThread; stage: number }>(({ thread, stage }) => this.closeStage(thread, stage));

  constructor(private readonly description: CatalogDescription, private readonly jpegQuality: number, private readonly size: number) {
    if (!(size >= 1)) throw new RangeError('painter threads: at least one thread');
  }

  /** Threads running now. */
  get running(): number {
    return this.threads.length;
  }

  /**
   * A painter on one of the threads for `avatar` at `request`, its speech region measured
   * there (unless `measureRegion` is false: a stage for video encoders only); undefined when the avatar's renderer is driven by audio (paint it here). Throws
   * the catalog's errors (unknown avatar, invalid size) as AvatarErrors.
   */
  async open(avatar: string, request: RendererRequest, loopFrames: number, measureRegion = true): Promise<FramePainter | undefined> {
    const thread = this.pick();
    const stage = this.nextStage++;
    thread.stages++;
    let opened: PainterReply;
    try {
      opened = await this.ask(thread, { op: 'open', id: 0, stage, avatar, request, loopFrames, measureRegion });
    } catch (e) {
      thread.stages--;
      throw e;
    }
    if ('audioDriven' in opened) {
      thread.stages--;
      return undefined;
    }
    if (!('opened' in opened)) throw new Error('painter thread: unexpected reply to open');
    const painter = new ThreadFramePainter(this, thread, stage, opened.opened);
    this.released.register(painter, { thread, stage }, painter);
    return painter;
  }

  /** Tells every thread that an avatar changed or went (its next stage reads it afresh). */
  forget(avatar: string): void {
    for (const thread of this.threads) thread.commands.post({ op: 'forget', avatar });
  }

  /** Stops every thread; painters still held fail their next paint. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.splice(0).map((t) => t.worker.terminate()));
    if (this.socketDir) rmSync(this.socketDir, { recursive: true, force: true });
  }

  /** @internal A fresh path for an encoder input socket. */
  inputPath(): string {
    // Made again if it went: a server in another PID namespace sharing the folder takes
    // this process's PID for a dead one.
    if (!this.socketDir || !existsSync(this.socketDir)) {
      removeOrphanSocketDirs(tmpdir());
      this.socketDir = mkdtempSync(join(tmpdir(), `${SOCKET_DIR_PREFIX}${process.pid}-`));
    }
    return join(this.socketDir, `${this.nextInput++}.sock`);
  }

  /** @internal Tells a thread to drop an encoder input (no answer). */
  closeInput(thread: PainterThread, path: string): void {
    if (thread.alive) thread.commands.post({ op: 'closeInput', path });
  }

  /** @internal A painter's request, answered by its thread. */
  ask(thread: PainterThread, command: PainterCommand & { id: number }): Promise<PainterReply> {
    if (!thread.alive) return Promise.reject(new Error('the realtime painter thread of this avatar stopped'));
    const id = this.nextId++;
    return new Promise<PainterReply>((resolve, reject) => {
      thread.pending.set(id, { resolve, reject });
      thread.commands.post({ ...command, id } as PainterCommand);
    }).then((reply) => {
      if ('error' in reply) throw reply.error.code ? new AvatarError(reply.error.code as AvatarErrorCode, reply.error.message) : new Error(reply.error.message);
      return reply;
    });
  }

  /** @internal */
  closeStage(thread: PainterThread, stage: number): void {
    if (!thread.alive) return;
    thread.stages--;
    thread.commands.post({ op: 'close', stage });
  }

  /** @internal */
  unregister(painter: ThreadFramePainter): void {
    this.released.unregister(painter);
  }

  private pick(): PainterThread {
    if (this.closed) throw new Error('the realtime painter threads are closed');
    if (this.threads.length < this.size) {
      const thread = new PainterThread(this.description, this.jpegQuality, (dead) => {
        const at = this.threads.indexOf(dead);
        if (at >= 0) this.threads.splice(at, 1);
      });
      this.threads.push(thread);
      return thread;
    }
    return this.threads.reduce((best, t) => (t.stages < best.stages ? t : best));
  }
}

/** A stage painted on a painter thread. */
class ThreadFramePainter implements FramePainter {
  readonly width: number;
  readonly height: number;
  readonly speechRegion: FrameRect | undefined;
  private closed = false;

  constructor(private readonly threads: PainterThreads, private readonly thread: PainterThread, private readonly stage: number, opened: { width: number; height: number; speechRegion?: FrameRect }) {
    this.width = opened.width;
    this.height = opened.height;
    this.speechRegion = opened.speechRegion;
  }

  get usable(): boolean {
    return this.thread.alive && !this.closed;
  }

  async paint(request: PaintRequest): Promise<Buffer> {
    const reply = await this.threads.ask(this.thread, { op: 'paint', id: 0, stage: this.stage, request });
    if (!('jpeg' in reply)) throw new Error('painter thread: unexpected reply to paint');
    return Buffer.from(reply.jpeg.buffer, reply.jpeg.byteOffset, reply.jpeg.byteLength);
  }

  async paintRaw(request: PaintRequest): Promise<VideoFrame> {
    const reply = await this.threads.ask(this.thread, { op: 'paintRaw', id: 0, stage: this.stage, request });
    if (!('i420' in reply)) throw new Error('painter thread: unexpected reply to paintRaw');
    return { width: this.width, height: this.height, data: reply.i420, ptsMs: request.ptsMs };
  }

  async openEncoderInput(): Promise<EncoderInput> {
    const path = this.threads.inputPath();
    await this.threads.ask(this.thread, { op: 'openInput', id: 0, path });
    let open = true;
    return {
      url: `unix:${path}`,
      write: async (request) => {
        if (!open) return false;
        const reply = await this.threads.ask(this.thread, { op: 'paintInto', id: 0, stage: this.stage, path, request });
        if (!('written' in reply)) throw new Error('painter thread: unexpected reply to paintInto');
        return reply.written;
      },
      close: () => {
        if (!open) return;
        open = false;
        this.threads.closeInput(this.thread, path);
      },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.threads.unregister(this);
    this.threads.closeStage(this.thread, this.stage);
  }
}
