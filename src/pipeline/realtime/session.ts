import { randomUUID } from 'node:crypto';
import type { ServerEvent } from '../../client/protocol.js';
import { AvatarError, describeError, type ErrorDescription } from '../../core/errors.js';
import type { AudioConditioning } from '../../render/renderer.js';
import type { TtsProvider } from '../../tts/provider.js';
import { REST_MOUTH, type MouthFrame, type MouthParams } from '../../visemes/mouth-params.js';
import type { AvatarStage } from './avatar-stage.js';
import { parseClientMessage, type SessionCommand } from './client-messages.js';
import { FramePacer } from './pacer.js';
import type { RealtimePicture, RealtimeTransport } from './transport.js';
import { StreamedAudioUtterance, TextUtterance, type SpeechTimeline, type Utterance } from './utterance.js';

/** What a session needs from the server. */
export interface SessionDeps {
  readonly tts: TtsProvider;
  /** Resolves an avatar id the caller may use to its stage (throws AvatarError otherwise). */
  stageFor(avatar: string): Promise<AvatarStage>;
  readonly maxTextChars: number;
  /** A client that takes no frame for this long (all skipped for backpressure) is dropped, ms (default 30 s). */
  readonly stallTimeoutMs?: number;
  onFirstFrame?(latencyMs: number, ttsMs: number | undefined): void;
  onFrame?(late: boolean): void;
  onError?(kind: string): void;
  /** The session ended itself (a failure, or a client that does not read): the transport should close. */
  onEnded?(reason: ErrorDescription): void;
}

/** Figures of a session so far. */
export interface SessionStats {
  readonly frames: number;
  readonly speechFrames: number;
  readonly lateTicks: number;
  readonly skippedSlots: number;
  readonly droppedForBackpressure: number;
}

interface Placed {
  readonly mouth: MouthParams;
  readonly speaking: boolean;
  readonly utterance: string;
  readonly audio?: Float32Array;
}

/** Client send buffer beyond which frames are skipped rather than queued. */
const MAX_BUFFERED_BYTES = 1 << 20;
const MAX_QUEUED_UTTERANCES = 16;
/**
 * Bytes queued for a client beyond which the session ends: a client that does not read
 * must not make the server hold its audio and events (frames are skipped well before).
 */
export const MAX_UNSENT_BYTES = 8 << 20;
/** Speech placed ahead of the clock beyond which text waits to be synthesized and streamed audio is refused, ms. */
export const MAX_SPEECH_AHEAD_MS = 30_000;
/** Frames are produced up to this long before they are due (at most half an interval), then sent on time. */
const PRODUCE_LEAD_MS = 20;
/**
 * Every session's clock starts on this grid (an Opus frame): their audio frames fall due in
 * the same turns of the event loop, and at 25 fps their video frames in one of two, so what
 * they post to the Opus and painter threads travels in few messages (MessageBatcher). A
 * grid of a whole video frame (40 ms) would put every session's frame in one turn: their
 * encoders would then all wake at once (frame lateness p95 5 -> 15 ms at 12 sessions).
 */
const CLOCK_GRID_MS = 20;

/**
 * One realtime session: a steady stream of JPEG frames from connect to close, idle when
 * silent and speaking when asked, with speech audio sent ahead with presentation times on
 * the same clock (slot n is at n * 1000 / fps ms). Utterances play one after another;
 * `interrupt` drops everything not yet shown, so the very next frame is idle again.
 */
export class RealtimeSession implements SpeechTimeline {
  readonly id = randomUUID();
  readonly fps: number;
  private readonly pacer: FramePacer;
  private readonly timeline = new Map<number, Placed>();
  private timelineEnd = 0;
  private readonly queue: Utterance[] = [];
  private current: { utterance: Utterance; controller: AbortController } | undefined;
  private firstSlots = new Map<string, { slot: number; utterance: Utterance }>();
  private endings: { slot: number; id: string }[] = [];
  /** Utterances announced with speech.started and not yet ended. */
  private readonly open = new Set<string>();
  private audioIn: StreamedAudioUtterance | undefined;
  private position = 0;
  private direction = 1;
  private closed = false;
  private counts = { frames: 0, speechFrames: 0, dropped: 0 };
  /** When frames started being skipped for backpressure, without one sent since. */
  private stalledSince: number | undefined;

  constructor(private stage: AvatarStage, private readonly transport: RealtimeTransport, private readonly deps: SessionDeps) {
    this.fps = stage.fps;
    this.pacer = new FramePacer(stage.fps, (slot, dueAt) => this.produce(slot, dueAt), Math.min(PRODUCE_LEAD_MS, 500 / stage.fps), undefined, (e) => {
      const body = describeError(e);
      this.end({ error: body.error === 'internal' ? 'render_failed' : body.error, message: `the session's frames could not be produced: ${body.message}` });
    });
  }

  /** The avatar shown now. */
  get avatar(): string {
    return this.stage.avatar;
  }

  /** Ends the session from the server side: an `error` event with the reason, then the transport is told to close. */
  end(reason: ErrorDescription): void {
    if (this.closed) return;
    this.deps.onError?.(reason.error);
    this.event({ type: 'error', ...reason });
    this.close();
    this.deps.onEnded?.(reason);
  }

  get stats(): SessionStats {
    const p = this.pacer.stats;
    return { frames: this.counts.frames, speechFrames: this.counts.speechFrames, lateTicks: p.late, skippedSlots: p.skipped, droppedForBackpressure: this.counts.dropped };
  }

  start(): void {
    this.event({ type: 'session.started', sessionId: this.id, avatar: this.stage.avatar, fps: this.fps, width: this.stage.width, height: this.stage.height, frameMs: 1000 / this.fps });
    this.pacer.start(CLOCK_GRID_MS);
    this.transport.startClock?.(this.pacer.origin);
  }

  close(): void {
    this.closed = true;
    this.pacer.stop();
    this.stopSpeech();
    for (const waiter of this.roomWaiters.splice(0)) waiter();
  }

  private inbox: Promise<void> = Promise.resolve();

  /**
   * Handles one client message (a text frame or a binary PCM frame), strictly in arrival
   * order. Bad input gets an `error` event; the session goes on.
   */
  handle(data: Buffer, isBinary: boolean): Promise<void> {
    this.inbox = this.inbox.then(() => this.handleNow(data, isBinary));
    return this.inbox;
  }

  private async handleNow(data: Buffer, isBinary: boolean): Promise<void> {
    try {
      await this.apply(parseClientMessage(data, isBinary, this.deps));
    } catch (e) {
      const body = describeError(e);
      this.deps.onError?.(body.error);
      this.event({ type: 'error', ...body });
    }
  }

  private async apply(command: SessionCommand): Promise<void> {
    switch (command.kind) {
      case 'speak':
        this.enqueue(new TextUtterance(command.id, this.deps.tts, { text: command.text, language: command.language, ...(command.voice ? { voice: command.voice } : {}) }));
        return;
      case 'interrupt':
        this.interrupt();
        return;
      case 'audio.start':
        this.audioIn?.end();
        this.audioIn = new StreamedAudioUtterance(command.id, command.sampleRate, command.echo);
        this.enqueue(this.audioIn);
        return;
      case 'audio.chunk':
        if (!this.audioIn) throw new AvatarError('invalid_input', 'binary audio must come between audio.start and audio.end');
        if (this.aheadMs() > MAX_SPEECH_AHEAD_MS) {
          throw new AvatarError('invalid_input', `audio arrives faster than real time: more than ${MAX_SPEECH_AHEAD_MS / 1000} s is already scheduled; this chunk was dropped`);
        }
        this.audioIn.push(command.pcm);
        return;
      case 'audio.end':
        if (!this.audioIn) throw new AvatarError('invalid_input', 'audio.end without audio.start');
        this.audioIn.end();
        this.audioIn = undefined;
        return;
      case 'avatar':
        this.stage = await this.deps.stageFor(command.avatar);
        this.event({ type: 'avatar.changed', avatar: command.avatar, ptsMs: this.slotMs(this.pacer.nextIndex) });
        return;
      case 'ping':
        this.event({ type: 'pong', ...(command.t !== undefined ? { t: command.t } : {}), ptsMs: performance.now() - this.pacer.origin });
        return;
    }
  }

  private enqueue(utterance: Utterance): void {
    if (this.queue.length >= MAX_QUEUED_UTTERANCES) throw new AvatarError('invalid_input', `too many utterances queued (at most ${MAX_QUEUED_UTTERANCES}); send interrupt or wait`);
    this.queue.push(utterance);
    if (!this.current) void this.playNext();
  }

  private async playNext(): Promise<void> {
    const utterance = this.queue.shift();
    if (!utterance || this.closed) return;
    const controller = new AbortController();
    this.current = { utterance, controller };
    try {
      await utterance.play(this, controller.signal);
      if (!controller.signal.aborted && this.open.has(utterance.id)) this.endings.push({ slot: Math.max(this.timelineEnd, this.pacer.nextIndex), id: utterance.id });
    } catch (e) {
      if (!controller.signal.aborted) {
        const body = describeError(e);
        this.deps.onError?.(body.error);
        this.event({ type: 'error', ...body });
        this.event({ type: 'speech.ended', id: utterance.id, ptsMs: this.slotMs(this.pacer.nextIndex), reason: 'error' });
        this.firstSlots.delete(utterance.id);
        this.open.delete(utterance.id);
      }
    } finally {
      if (this.current?.utterance === utterance) this.current = undefined;
    }
    if (!this.current) void this.playNext();
  }

  /** Stops all speech: nothing placed from the next slot on is shown, queued utterances are dropped. */
  private interrupt(): void {
    const ids = [...this.open];
    this.stopSpeech();
    const at = this.pacer.nextIndex;
    for (const id of ids) this.event({ type: 'speech.ended', id, ptsMs: this.slotMs(at), reason: 'interrupted' });
  }

  private stopSpeech(): void {
    this.queue.length = 0;
    this.current?.controller.abort();
    this.current = undefined;
    this.audioIn?.end();
    this.audioIn = undefined;
    this.timeline.clear();
    this.timelineEnd = this.pacer.nextIndex;
    this.firstSlots.clear();
    this.endings = [];
    this.open.clear();
  }

  private readonly roomWaiters: (() => void)[] = [];

  /** Speech placed ahead of the next frame, ms. */
  private aheadMs(): number {
    return Math.max(0, this.timelineEnd - this.pacer.nextIndex) * 1000 / this.fps;
  }

  // SpeechTimeline, used by utterances.
  waitForRoom(signal: AbortSignal): Promise<void> {
    if (this.closed || signal.aborted || this.aheadMs() < MAX_SPEECH_AHEAD_MS) return Promise.resolve();
    return new Promise((resolve) => {
      this.roomWaiters.push(resolve);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  freeSlot(lead: number): number {
    return Math.max(this.timelineEnd, this.pacer.nextIndex + lead);
  }

  place(utterance: string, start: number, frames: readonly MouthFrame[]): void {
    if (this.current?.utterance.id !== utterance) return;
    for (const frame of frames) {
      const slot = start + frame.index;
      if (slot < this.pacer.nextIndex) continue;
      this.timeline.set(slot, { mouth: frame.mouth, speaking: frame.speaking, utterance, ...(frame.audio ? { audio: frame.audio } : {}) });
      if (slot >= this.timelineEnd) this.timelineEnd = slot + 1;
    }
  }

  sendAudio(pcm: Int16Array, sampleRate: number, ptsMs: number): void {
    if (this.closed || !this.withinUnsentCap()) return;
    this.transport.sendAudio(pcm, sampleRate, ptsMs);
  }

  audioConditioning(): AudioConditioning | undefined {
    return this.stage.createAudioConditioning();
  }

  started(utterance: string, slot: number): void {
    const current = this.current?.utterance;
    if (!current || current.id !== utterance) return;
    this.firstSlots.set(utterance, { slot, utterance: current });
    this.open.add(utterance);
    this.event({ type: 'speech.started', id: utterance, ptsMs: this.slotMs(slot), source: current.source });
  }

  /** Produces the frame of one slot ahead of time, and sends it when it is due (or hands it at once to a transport that paces frames itself). */
  private async produce(slot: number, dueAt: number): Promise<void> {
    this.advanceMotion();
    const placed = this.timeline.get(slot);
    if (placed) this.timeline.delete(slot);
    const stage = this.stage;
    const still = !placed || (!placed.speaking && sameMouth(placed.mouth, REST_MOUTH));
    let late = false;
    if (this.roomWaiters.length && this.aheadMs() < MAX_SPEECH_AHEAD_MS) for (const waiter of this.roomWaiters.splice(0)) waiter();
    if (!this.withinUnsentCap()) return;
    if (this.transport.bufferedBytes > MAX_BUFFERED_BYTES) {
      this.counts.dropped++;
      late = true;
      this.stalledSince ??= performance.now();
      const stallMs = this.deps.stallTimeoutMs ?? 30_000;
      if (performance.now() - this.stalledSince > stallMs) {
        this.end({ error: 'slow_client', message: `the client took no frame for ${Math.round(stallMs / 1000)} s` });
        return;
      }
    } else {
      this.stalledSince = undefined;
      const picture = await this.picture(stage, still ? undefined : placed);
      const wait = this.transport.pacesFrames ? 0 : dueAt - performance.now();
      if (wait >= 1) await new Promise((resolve) => setTimeout(resolve, wait));
      if (this.closed) {
        if ('i420' in picture) picture.i420.release?.();
        return;
      }
      this.transport.sendFrame(picture, slot, this.slotMs(slot), Boolean(placed?.speaking));
      this.counts.frames++;
      if (!still) this.counts.speechFrames++;
    }
    this.deps.onFrame?.(late);
    for (const [id, first] of this.firstSlots) {
      if (first.slot <= slot) {
        this.deps.onFirstFrame?.(performance.now() - first.utterance.requestedAt, first.utterance.ttsMs);
        this.firstSlots.delete(id);
      }
    }
    while (this.endings.length && this.endings[0]!.slot <= slot + 1) {
      const ending = this.endings.shift()!;
      this.open.delete(ending.id);
      this.event({ type: 'speech.ended', id: ending.id, ptsMs: this.slotMs(slot + 1), reason: 'done' });
    }
  }

  /** The picture of the current position in the transport's format; idle when nothing is placed. */
  private async picture(stage: AvatarStage, placed: Placed | undefined): Promise<RealtimePicture> {
    if (this.transport.pictureFormat === 'i420') return stage.rawFrame(this.position, placed?.mouth, placed?.audio);
    return placed ? stage.speechFrame(this.position, placed.mouth, placed.audio) : { jpeg: await stage.idleJpeg(this.position) };
  }

  /** Walks the idle loop forwards then backwards, one position per slot. */
  private advanceMotion(): void {
    const last = this.stage.loopFrames - 1;
    let next = this.position + this.direction;
    if (next > last || next < 0) {
      this.direction = -this.direction;
      next = this.position + this.direction;
    }
    this.position = Math.max(0, Math.min(last, next));
  }

  private slotMs(slot: number): number {
    return (slot * 1000) / this.fps;
  }

  private event(event: ServerEvent): void {
    if (!this.closed && (event.type === 'error' || this.withinUnsentCap())) this.transport.sendEvent(event);
  }

  /** False (and the session ended) once the client has left more than MAX_UNSENT_BYTES unread. */
  private withinUnsentCap(): boolean {
    if (this.transport.bufferedBytes <= MAX_UNSENT_BYTES) return true;
    this.end({ error: 'slow_client', message: `the client is not reading: more than ${MAX_UNSENT_BYTES >> 20} MB are waiting to be sent` });
    return false;
  }
}

function sameMouth(a: MouthParams, b: MouthParams): boolean {
  return a.jawOpen === b.jawOpen && a.lipWidth === b.lipWidth && a.rounding === b.rounding && a.closure === b.closure && a.teeth === b.teeth && a.tongue === b.tongue;
}
