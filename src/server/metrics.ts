import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { QueueCounts } from '../queue/job-queue.js';

/** Prefix of the server's own metrics; prom-client's process and Node.js metrics keep their standard names. */
export const METRIC_PREFIX = 'avatar_';

type Labels = Record<string, string>;

/** Upper bounds (seconds) for latencies that should stay well under a second. */
const LATENCY_BUCKETS_S = [0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5];
/** Upper bounds (seconds) for encoder delays: a frame takes a few ms on an idle core, tens when the cores are busy. */
const ENCODE_BUCKETS_S = [0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16];
/** Upper bounds (seconds) for whole generations. */
const GENERATION_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Upper bounds (seconds) for HTTP requests (a synchronous generate lasts as long as its render). */
const HTTP_BUCKETS_S = [0.005, 0.025, 0.1, 0.5, 1, 5, 30, 120];

/** A histogram fed in milliseconds (the project's unit) and exposed in seconds (Prometheus' base unit). */
export class MillisecondsHistogram {
  constructor(private readonly histogram: Histogram<string>) {}
  /** Records one duration, in milliseconds. */
  observe(ms: number, labels: Labels = {}): void {
    if (Number.isFinite(ms)) this.histogram.observe(labels, ms / 1000);
  }
  /** Observations so far for exactly these labels. */
  async count(labels: Labels = {}): Promise<number> {
    const data = await this.histogram.get();
    return data.values.find((v) => v.metricName?.endsWith('_count') && sameLabels(v.labels as Labels, labels))?.value ?? 0;
  }
}

/** A counter of events, with the value readable back (tests, health reports). */
export class EventCounter {
  constructor(private readonly counter: Counter<string>) {}
  inc(labels: Labels = {}, by = 1): void {
    if (by > 0) this.counter.inc(labels, by);
  }
  /** The count for exactly these labels. */
  async get(labels: Labels = {}): Promise<number> {
    const data = await this.counter.get();
    return data.values.find((v) => sameLabels(v.labels as Labels, labels))?.value ?? 0;
  }
}

function sameLabels(a: Labels, b: Labels): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => String(a[k]) === b[k]);
}

/**
 * The server's metrics in their own prom-client registry (so several servers in one process
 * do not collide), with prom-client's default process and Node.js metrics, event-loop lag
 * included: lag delays every realtime frame.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly ttsLatency: MillisecondsHistogram;
  readonly firstFrameLatency: MillisecondsHistogram;
  readonly totalGeneration: MillisecondsHistogram;
  readonly httpRequests: MillisecondsHistogram;
  readonly framesTotal: EventCounter;
  readonly lateFrames: EventCounter;
  readonly errors: EventCounter;
  /** WebRTC video rate changes, by direction (`down`, `up`) and reason (`loss`, `estimate`, `clear`). */
  readonly webrtcRateChanges: EventCounter;
  /** WebRTC video feedback from receivers, by kind (`report`, `estimate` (REMB), `nack`). */
  readonly webrtcFeedback: EventCounter;
  /** WebRTC video: from a frame written to its encoder to its first RTP packet out. */
  readonly webrtcEncodeDelay: MillisecondsHistogram;
  private frameWindow: { at: number; frames: number }[] = [];
  private framesSoFar = 0;

  /** `sessions` and `queue` are read at scrape time (the queue's counts cover every process that shares it). */
  constructor(sessions: () => number, queue: () => Promise<QueueCounts>) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const histogram = (name: string, help: string, buckets: number[], labelNames: string[]) =>
      new MillisecondsHistogram(new Histogram({ name: METRIC_PREFIX + name, help, buckets, labelNames, registers }));
    const counter = (name: string, help: string, labelNames: string[]) => new EventCounter(new Counter({ name: METRIC_PREFIX + name, help, labelNames, registers }));
    this.ttsLatency = histogram('tts_latency_seconds', 'Time from a request to its first synthesized speech', LATENCY_BUCKETS_S, ['encoder']);
    this.firstFrameLatency = histogram('first_frame_latency_seconds', 'Time from a request to its first video frame (stream bytes, or the first speaking frame of a session)', LATENCY_BUCKETS_S, ['encoder']);
    this.totalGeneration = histogram('generation_duration_seconds', 'Wall time of a whole generation, by H.264 encoder', GENERATION_BUCKETS_S, ['encoder']);
    this.httpRequests = histogram('http_request_duration_seconds', 'HTTP requests by method, route and status', HTTP_BUCKETS_S, ['method', 'route', 'status_code']);
    this.framesTotal = counter('frames_generated_total', 'Video frames produced, by kind of output', ['kind']);
    this.lateFrames = counter('realtime_late_frames_total', 'Realtime frames sent later than one frame interval or skipped', []);
    this.errors = counter('errors_total', 'Errors by kind', ['kind']);
    this.webrtcEncodeDelay = histogram('webrtc_encode_delay_seconds', 'WebRTC video: time from a frame written to its encoder to its first RTP packet', ENCODE_BUCKETS_S, []);
    this.webrtcFeedback = counter('webrtc_receiver_feedback_total', 'WebRTC video feedback from receivers, by kind (report, estimate, nack)', ['kind']);
    this.webrtcRateChanges = counter('webrtc_video_rate_changes_total', 'WebRTC video rate changes from receiver feedback, by direction and reason', ['direction', 'reason']);
    const metrics = this;
    new Gauge({ name: `${METRIC_PREFIX}frames_per_second`, help: 'Frames generated per second over the last 5 s', registers, collect() { this.set(metrics.fps()); } });
    new Gauge({ name: `${METRIC_PREFIX}active_sessions`, help: 'Open realtime sessions and streams', registers, collect() { this.set(sessions()); } });
    // One read of the queue per scrape, shared by its gauges; a queue out of reach leaves them unset.
    let counts: Promise<QueueCounts | undefined> | undefined;
    const read = () => (counts ??= queue().catch(() => undefined).finally(() => setImmediate(() => (counts = undefined))));
    const queueGauge = (name: string, help: string, pick: (c: QueueCounts) => number) =>
      new Gauge({ name: METRIC_PREFIX + name, help, registers, async collect() { const c = await read(); if (c) this.set(pick(c)); } });
    queueGauge('queue_depth', 'Jobs waiting in the generation queue (retries waiting for their backoff included)', (c) => c.waiting);
    queueGauge('queue_waiting', 'Jobs waiting to start (the same as queue_depth; the name autoscalers look for)', (c) => c.waiting);
    queueGauge('queue_active', 'Jobs running now, in every worker', (c) => c.active);
    queueGauge('queue_failed', 'Jobs that failed for good and are still kept', (c) => c.failed);
  }

  /** Counts produced frames (all kinds of output). */
  countFrames(n: number, labels: Labels = {}): void {
    this.framesTotal.inc(labels, n);
    this.framesSoFar += n;
  }

  /** Records the frame count now; called once a second so the rate covers a steady window. */
  sampleFrames(): void {
    const now = performance.now();
    this.frameWindow.push({ at: now, frames: this.framesSoFar });
    this.frameWindow = this.frameWindow.filter((s) => now - s.at <= 5000);
  }

  private fps(): number {
    this.sampleFrames();
    const now = performance.now();
    const first = this.frameWindow[0]!;
    const spanMs = now - first.at;
    return spanMs > 0 ? ((this.framesSoFar - first.frames) * 1000) / spanMs : 0;
  }

  /** The exposition's content type. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Prometheus exposition text. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
