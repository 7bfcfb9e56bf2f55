/**
 * A small Prometheus text-format registry: counters, gauges and histograms with labels.
 * Values are kept in memory; `render()` produces the exposition text for `GET /metrics`.
 */
type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys.map((k) => `${k}="${String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',');
}

function formatLine(name: string, key: string, value: number): string {
  return `${name}${key ? `{${key}}` : ''} ${Number.isFinite(value) ? value : 0}`;
}

/** A metric that renders itself. */
interface Metric {
  render(): string;
}

/** A value that only goes up (events, errors). */
export class Counter implements Metric {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [key, value] of this.values) lines.push(formatLine(this.name, key, value));
    return lines.join('\n');
  }
}

/** A value read at scrape time or set by its owner. */
export class Gauge implements Metric {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string, private readonly collect?: () => number, private readonly type: 'gauge' | 'counter' = 'gauge') {}
  set(value: number, labels: Labels = {}): void {
    this.values.set(labelKey(labels), value);
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    if (this.collect) lines.push(formatLine(this.name, '', this.collect()));
    for (const [key, value] of this.values) lines.push(formatLine(this.name, key, value));
    return lines.join('\n');
  }
}

/** Distribution of observations in cumulative buckets (upper bounds, ms). */
export class Histogram implements Metric {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}
  observe(value: number, labels: Labels = {}): void {
    const key = labelKey(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }
  /** Observations so far for these labels. */
  count(labels: Labels = {}): number {
    return this.series.get(labelKey(labels))?.count ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [key, s] of this.series) {
      const sep = key ? ',' : '';
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{${key}${sep}le="${b}"} ${s.counts[i]}`));
      lines.push(`${this.name}_bucket{${key}${sep}le="+Inf"} ${s.count}`);
      lines.push(formatLine(`${this.name}_sum`, key, s.sum));
      lines.push(formatLine(`${this.name}_count`, key, s.count));
    }
    return lines.join('\n');
  }
}

const LATENCY_BUCKETS_MS = [10, 25, 50, 100, 150, 200, 300, 500, 1000, 2000, 5000];
const GENERATION_BUCKETS_MS = [100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000];

/** The server's metrics. Frames are counted as they are produced; the rate is over the last window. */
export class ServerMetrics {
  readonly ttsLatency = new Histogram('tts_latency_ms', 'Time from a request to its first synthesized speech, ms', LATENCY_BUCKETS_MS);
  readonly firstFrameLatency = new Histogram('first_frame_latency_ms', 'Time from a request to its first video frame (stream bytes, or speaking frame of a session), ms', LATENCY_BUCKETS_MS);
  readonly totalGeneration = new Histogram('total_generation_ms', 'Wall time of a whole generation, ms', GENERATION_BUCKETS_MS);
  readonly framesTotal = new Counter('frames_generated_total', 'Video frames produced');
  readonly lateFrames = new Counter('realtime_late_frames_total', 'Realtime frames sent later than one frame interval or skipped');
  readonly errors = new Counter('errors_total', 'Errors by kind');
  readonly requests = new Counter('http_requests_total', 'HTTP requests by route and status');
  private frameWindow: { at: number; frames: number }[] = [];
  private framesSoFar = 0;
  readonly framesPerSecond = new Gauge('frames_per_second', 'Frames generated per second over the last 5 s', () => this.fps());
  readonly activeSessions: Gauge;
  readonly queueDepth: Gauge;
  readonly memory = new Gauge('process_resident_memory_bytes', 'Resident set size of the server process', () => process.memoryUsage().rss);
  readonly cpu = new Gauge('process_cpu_seconds_total', 'CPU time of the server process (user + system), s', () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  }, 'counter');
  readonly heap = new Gauge('process_heap_used_bytes', 'V8 heap in use', () => process.memoryUsage().heapUsed);

  constructor(sessions: () => number, queue: () => number) {
    this.activeSessions = new Gauge('active_sessions', 'Open realtime sessions and streams', sessions);
    this.queueDepth = new Gauge('queue_depth', 'Jobs waiting in the generation queue', queue);
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

  /** Prometheus exposition text. */
  render(): string {
    const all: Metric[] = [
      this.ttsLatency, this.firstFrameLatency, this.totalGeneration, this.framesTotal, this.lateFrames, this.framesPerSecond,
      this.activeSessions, this.queueDepth, this.errors, this.requests, this.memory, this.heap, this.cpu,
    ];
    return `${all.map((m) => m.render()).join('\n')}\n`;
  }
}
