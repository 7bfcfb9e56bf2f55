/**
 * `npm run loadtest -- --queue`: the Redis queue under load, with its own `avatar serve` and
 * `avatar worker` processes on a queue prefix of its own (keys removed at the end), so it
 * never touches another user of the same Redis.
 *
 *   npm run loadtest -- --queue [--jobs 8] [--workers 2] [--redis redis://127.0.0.1:6379]
 *                       [--size 512] [--fps 25] [--script-seconds 60] [--segment-seconds 10]
 *
 * 1. After one warm-up job per worker, N generate jobs submitted at once against M workers: throughput, wait in the queue
 *    p50/p95 (from BullMQ's own timestamps), each worker's share.
 * 2. One long script (`--script-seconds` of speech; 0 skips 2 and 3) through POST /generate
 *    with 2 workers, then with 1 (both warmed by it): wall time of each and their ratio; twice, first
 *    with the workers sharing every core, then (Linux, 2 cores or more) with each worker on a
 *    core of its own (`taskset`), as workers given a CPU each are deployed.
 * 3. The same script through /generate/stream with 2 workers: first bytes, first video
 *    fragment, total time.
 * Both long videos get the lip-sync offset of every segment (src/eval/segment-sync.ts), so
 * a join that shifts picture against sound shows as a jump. Reports; never fails on time.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { BuiltinAvatarCatalog } from '../src/avatars/catalog.js';
import { offsetsBySpan } from '../src/eval/segment-sync.js';
import { dropPrefix } from '../src/queue/redis-connection.js';

const AVATAR = new URL('../../bin/avatar.js', import.meta.url).pathname;
const SENTENCES = [
  'Hello, and welcome to the queue test.',
  'The weather is lovely, and the forecast says it will stay that way.',
  'Please tell me more about what you are looking for today.',
  'I can speak any text you type, in several languages, at any length.',
];

const percentile = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]! : NaN);
const fmt = (v: number, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : '-');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const out = (line: string) => process.stdout.write(`${line}\n`);

/** A child process whose output is kept and can be waited on. */
class Child {
  text = '';
  readonly exited: Promise<void>;
  private readonly child;

  /** `cores`: the CPUs (a taskset list, e.g. "1") the process and its children may run on; all when absent. */
  constructor(args: string[], env: NodeJS.ProcessEnv, cores?: string) {
    const command = cores === undefined ? [process.execPath, AVATAR, ...args] : ['taskset', '--cpu-list', cores, process.execPath, AVATAR, ...args];
    this.child = spawn(command[0]!, command.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (d: Buffer) => (this.text += d.toString());
    this.child.stdout.on('data', take);
    this.child.stderr.on('data', take);
    this.exited = new Promise((r) => this.child.once('exit', () => r()));
  }

  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(this.text);
      if (m) return m;
      if (Date.now() > until || this.child.exitCode !== null) throw new Error(`no ${String(pattern)}: ${this.text.slice(-1500)}`);
      await sleep(50);
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}

/** Runs the queue load test; resolves to the exit code. */
export async function runQueueLoad(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      queue: { type: 'boolean' }, jobs: { type: 'string', default: '8' }, workers: { type: 'string', default: '2' },
      redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }, size: { type: 'string', default: '512' },
      fps: { type: 'string', default: '25' }, 'script-seconds': { type: 'string', default: '60' }, 'segment-seconds': { type: 'string', default: '10' },
    },
  });
  const jobs = Number(values.jobs);
  const workerCount = Number(values.workers);
  const size = Number(values.size);
  const fps = Number(values.fps);
  const scriptS = Number(values['script-seconds']);
  for (const [name, v, min] of [['--jobs', jobs, 1], ['--workers', workerCount, 1], ['--size', size, 32], ['--fps', fps, 1], ['--script-seconds', scriptS, 0]] as const) {
    if (!Number.isFinite(v) || v < min) throw new Error(`${name} must be a number >= ${min}`);
  }
  const prefix = `avatar-loadtest-${process.pid}-${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'avatar-queue-load-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(config, `dataDir: ${join(dir, 'data')}\nlogLevel: warn\nlimits:\n  generationsPerMinute: 100000\nredis:\n  url: ${values.redis}\n  prefix: ${prefix}\n  segmentSeconds: ${Number(values['segment-seconds'])}\n`);
  const children: Child[] = [];
  const startWorker = async (cores?: string) => {
    const w = new Child(['worker', '--config', config, '--avatars-dir', join(dir, 'avatars'), '--concurrency', '1'], {}, cores);
    children.push(w);
    await w.waitFor(/ready: pid/);
    return w;
  };
  const queue = new Queue('render', { connection: { url: values.redis }, prefix });
  out(`queue loadtest: ${jobs} jobs against ${workerCount} workers, ${size}px ${fps} fps; long script ${scriptS} s; Redis ${values.redis} prefix ${prefix}`);
  out(`machine load at start (1/5/15 min): ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  try {
    const api = new Child(['serve', '--port', '0', '--config', config, '--avatars-dir', join(dir, 'avatars')], {});
    children.push(api);
    const url = (await api.waitFor(/listening on (http:\/\/\S+)/))[1]!;
    const workers = await Promise.all(Array.from({ length: workerCount }, () => startWorker()));
    // One job per worker first: the first job of a process pays its start-up (TTS engines, avatar, encoder probe).
    await Promise.all(workers.map(async (_, i) => finished(url, ((await (await post(url, '/api/v1/generate', { text: SENTENCES[i % SENTENCES.length], async: true, size, fps })).json()) as { id: string }).id)));
    await manyJobs(url, queue, workers, jobs, size, fps);
    if (scriptS > 0) {
      const text = scriptOf(scriptS);
      const render = async () => {
        const t0 = Date.now();
        const r = (await (await post(url, '/api/v1/generate', { text, async: true, size, fps })).json()) as { id: string };
        const job = await finished(url, r.id);
        if (job.state !== 'succeeded' || !job.result) throw new Error(`the long script failed: ${JSON.stringify(job.error)}`);
        return { wallMs: Date.now() - t0, id: r.id, result: job.result };
      };
      for (const w of workers.splice(0)) await w.stop('SIGTERM');
      await longScript(url, queue, render, startWorker, dir, size, fps, undefined);
      if (pinnable()) await longScript(url, queue, render, startWorker, dir, size, fps, ['0', '1']);
      else out('\n(each worker on a core of its own: skipped, as taskset or a second core is missing)');
      await longStream(url, queue, text, size, fps, startWorker, dir);
    }
  } finally {
    await Promise.all(children.map((c) => c.stop('SIGKILL')));
    await queue.close();
    await dropPrefix(values.redis, prefix);
    rmSync(dir, { recursive: true, force: true });
  }
  out(`machine load at end (1/5/15 min): ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  return 0;
}

async function post(url: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function finished(url: string, id: string): Promise<{ state: string; result?: Record<string, unknown>; error?: unknown }> {
  for (;;) {
    const job = (await (await fetch(`${url}/api/v1/jobs/${id}`)).json()) as { state: string; result?: Record<string, unknown>; error?: unknown };
    if (job.state === 'succeeded' || job.state === 'failed') return job;
    await sleep(100);
  }
}

/** N short generations at once: throughput, queue wait, worker shares. */
async function manyJobs(url: string, queue: Queue, workers: Child[], n: number, size: number, fps: number): Promise<void> {
  const t0 = Date.now();
  const ids = await Promise.all(Array.from({ length: n }, async (_, i) => {
    const r = await post(url, '/api/v1/generate', { text: SENTENCES[i % SENTENCES.length], async: true, size, fps });
    const body = (await r.json()) as { id?: string; message?: string };
    if (!body.id) throw new Error(`submit refused: ${r.status} ${body.message ?? ''}`);
    return body.id;
  }));
  const results = await Promise.all(ids.map((id) => finished(url, id)));
  const wallMs = Date.now() - t0;
  const stored = await Promise.all(ids.map((id) => queue.getJob(id)));
  const waits = stored.map((j) => (j?.processedOn ?? NaN) - (j?.timestamp ?? NaN));
  const runs = stored.map((j) => (j?.finishedOn ?? NaN) - (j?.processedOn ?? NaN));
  const failed = results.filter((r) => r.state !== 'succeeded').length;
  out('');
  out(`${n} generate jobs, ${workers.length} workers: ${fmt(wallMs)} ms wall, ${fmt((n * 60_000) / wallMs, 1)} jobs/min, ${failed} failed`);
  out(`  wait in the queue p50/p95   ${fmt(percentile(waits, 50))} / ${fmt(percentile(waits, 95))} ms`);
  out(`  render time p50/p95         ${fmt(percentile(runs, 50))} / ${fmt(percentile(runs, 95))} ms`);
  for (const [i, w] of workers.entries()) {
    const count = ids.filter((id) => w.text.includes(`started generate ${id}`)).length;
    out(`  worker ${i + 1} share               ${count} jobs (${fmt((100 * count) / n)} %)`);
  }
}

/** A script of about `seconds` of speech (espeak speaks these sentences at about 18.5 characters a second). */
function scriptOf(seconds: number): string {
  const parts: string[] = [];
  for (let chars = 0, i = 0; chars < seconds * 18.5; i++) {
    parts.push(SENTENCES[i % SENTENCES.length]!);
    chars += SENTENCES[i % SENTENCES.length]!.length + 1;
  }
  return parts.join(' ');
}

/** Whether workers can be given a core each: Linux's taskset and at least two cores. */
function pinnable(): boolean {
  return availableParallelism() >= 2 && spawnSync('taskset', ['--version']).status === 0;
}

type LongRender = () => Promise<{ wallMs: number; id: string; result: Record<string, unknown> }>;

/**
 * The long script through POST /generate with 2 fresh workers, then with 1 (both warmed by
 * the same script first). `cores`: each worker runs on its own core (as when every worker is given one
 * core of its own, e.g. a container with a pinned CPU); absent, both share every core.
 */
async function longScript(url: string, queue: Queue, render: LongRender, startWorker: (cores?: string) => Promise<Child>, dir: string, size: number, fps: number, cores: readonly [string, string] | undefined): Promise<void> {
  const pair = [await startWorker(cores?.[0]), await startWorker(cores?.[1])];
  // Both warm for this script: two at once, so each worker plans one (a first long synthesis
  // in a process runs slower) and renders segments.
  await Promise.all([render(), render()]);
  const two = await render();
  await pair[1]!.stop('SIGTERM');
  const one = await render();
  await pair[0]!.stop('SIGTERM');
  const segmentFrames = two.result.segmentFrames as number[];
  out('');
  out(`long script (${fmt(Number(two.result.durationS), 1)} s of speech, ${segmentFrames.length} segments) through POST /generate, ${cores ? 'each worker on a core of its own' : 'the workers sharing every core'}:`);
  out(`  wall time, 1 worker         ${fmt(one.wallMs)} ms`);
  out(`  wall time, 2 workers        ${fmt(two.wallMs)} ms (ratio ${fmt(two.wallMs / one.wallMs, 2)}x; goal <= 0.6x)`);
  out(`    where it went (2 workers)  ${await phases(queue, two.id)}`);
  out(`    where it went (1 worker)   ${await phases(queue, one.id)}`);
  if (cores) return;
  const mp4 = join(dir, 'long.mp4');
  writeFileSync(mp4, Buffer.from(await (await fetch(`${url}${String(two.result.url)}`)).arrayBuffer()));
  await reportOffsets(mp4, await mouthOf(size, fps), segmentFrames);
}

/** The long script through /generate/stream with 2 workers, warmed as long-running workers are. */
async function longStream(url: string, queue: Queue, text: string, size: number, fps: number, startWorker: () => Promise<Child>, dir: string): Promise<void> {
  const workers = [await startWorker(), await startWorker()];
  // Warmed as a long-running worker is (its first jobs, a stream segment's renderer kept).
  await Promise.all([0, 1, 2].map(async (i) => finished(url, ((await (await post(url, '/api/v1/generate', { text: SENTENCES[i]!, async: true, size, fps })).json()) as { id: string }).id)));
  await Promise.all([0, 1, 2, 3].map(async (i) => (await post(url, '/api/v1/generate/stream', { text: SENTENCES[i]!, size, fps })).arrayBuffer()));
  const earlier = new Set((await queue.getJobs(['completed'])).map((j) => j.id));
  const t0 = performance.now();
  const requestedAt = Date.now();
  const response = await post(url, '/api/v1/generate/stream', { text, size, fps });
  if (!response.ok || !response.body) throw new Error(`the stream was refused: ${response.status} ${await response.text()}`);
  const chunks: Buffer[] = [];
  let firstByteMs = NaN;
  let firstFragmentMs = NaN;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (chunks.length === 0) firstByteMs = performance.now() - t0;
    chunks.push(Buffer.from(value));
    if (Number.isNaN(firstFragmentMs) && Buffer.from(value).includes('moof')) firstFragmentMs = performance.now() - t0;
  }
  const totalMs = performance.now() - t0;
  const stream = join(dir, 'long-stream.mp4');
  writeFileSync(stream, Buffer.concat(chunks));
  const parts = (await queue.getJobs(['completed'])).filter((j) => j.name === 'stream-segment' && !earlier.has(j.id)).sort((a, b) => a.data.payload.index - b.data.payload.index);
  out('');
  out(`the same script through /generate/stream, 2 workers (${parts.length} segments):`);
  out(`  first bytes                 ${fmt(firstByteMs)} ms (goal <= 300 ms)`);
  out(`  first video fragment        ${fmt(firstFragmentMs)} ms`);
  const first = parts[0];
  if (first) out(`    first segment: queued at ${fmt(first.timestamp - requestedAt)} ms, taken by a worker at ${fmt((first.processedOn ?? NaN) - requestedAt)} ms, done at ${fmt((first.finishedOn ?? NaN) - requestedAt)} ms`);
  out(`  whole stream                ${fmt(totalMs)} ms for ${response.headers.get('x-content-duration')} s of video`);
  await reportOffsets(stream, await mouthOf(size, fps), parts.map((j) => j.returnvalue.frames as number));
  for (const w of workers) await w.stop('SIGTERM');
}

/** Plan (speech), segments, audio and joining of a segmented generation, from BullMQ's timestamps. */
async function phases(queue: Queue, planId: string): Promise<string> {
  const plan = await queue.getJob(planId);
  const assemble = await queue.getJob(String(plan?.returnvalue?.continuedBy));
  const done = (await queue.getJobs(['completed'])).filter((j) => j.data.payload.dir === `.segments-${planId}`);
  const segments = done.filter((j) => j.name === 'render-segment');
  const audio = done.find((j) => j.name === 'encode-segmented-audio');
  if (!plan || !assemble || !segments.length) return '(jobs no longer in Redis)';
  const t0 = plan.timestamp;
  const span = (from: number | undefined, to: number | undefined) => `${fmt((from ?? NaN) - t0)}-${fmt((to ?? NaN) - t0)} ms`;
  return `plan (speech, split) ${span(plan.processedOn, plan.finishedOn)}, ${segments.length} segments ${span(Math.min(...segments.map((j) => j.processedOn ?? NaN)), Math.max(...segments.map((j) => j.finishedOn ?? NaN)))}, ${audio ? `audio ${span(audio.processedOn, audio.finishedOn)}, ` : ''}joining ${span(assemble.processedOn, assemble.finishedOn)}`;
}

/** Where the built-in avatar's mouth is, at this size. */
async function mouthOf(size: number, fps: number): Promise<readonly [number, number, number, number]> {
  return (await new BuiltinAvatarCatalog().createRenderer('default', { fps, width: size, height: size })).mouthRegion;
}

async function reportOffsets(path: string, mouth: readonly [number, number, number, number], segmentFrames: readonly number[]): Promise<void> {
  const offsets = await offsetsBySpan(path, [...mouth] as [number, number, number, number], segmentFrames);
  out('  lip-sync offset per segment (BT.1359 sign, ms; confidence):');
  for (const [i, o] of offsets.entries()) {
    const jump = i > 0 ? `, jump at the join ${fmt(o.offsetMs - offsets[i - 1]!.offsetMs)} ms` : '';
    out(`    segment ${i + 1}: frames ${o.fromFrame}-${o.toFrame - 1}: ${fmt(o.offsetMs)} ms (${fmt(o.confidence, 2)})${jump}`);
  }
}

