/**
 * `npm run bench:spawn`: how long starting an encoder process stalls the event loop of a
 * server-sized process (a few hundred MB of live objects), started directly or through the
 * spawner process, with both cores kept busy as under load. Prints figures; never fails on time.
 *
 *   npm run bench:spawn [-- --launches 30 --heap-mb 300]
 */
import { Worker } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import { DirectProcessLauncher, type ProcessLauncher } from '../src/encode/process-launcher.js';
import { SpawnerProcessLauncher } from '../src/encode/spawner-launcher.js';
import { locateFfmpeg } from '../src/encode/ffmpeg.js';

const { values } = parseArgs({ options: { launches: { type: 'string', default: '30' }, 'heap-mb': { type: 'string', default: '300' } } });
const LAUNCHES = Number(values.launches);

/** Live objects like a server's: many small ones, so the page tables are many. */
function fillHeap(mb: number): unknown[] {
  const keep: unknown[] = [];
  for (let i = 0; i < mb * 6000; i++) keep.push({ index: i, samples: [i, i + 1, i + 2] });
  return keep;
}

/** Longest gap between 1 ms ticks while `work` runs: what a paced session would see as lateness. */
async function worstGapMs(work: () => Promise<void>): Promise<number> {
  let worst = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 1);
  await work();
  clearInterval(ticker);
  return worst;
}

async function measure(name: string, launcher: ProcessLauncher, ffmpeg: string): Promise<void> {
  const inCall: number[] = [];
  const gaps: number[] = [];
  for (let i = 0; i < LAUNCHES; i++) {
    gaps.push(await worstGapMs(async () => {
      const t0 = performance.now();
      const pending = launcher.launch(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'nullsrc=s=16x16:d=0.04', '-f', 'null', '-'], { stdio: ['in', 'ignore', 'ignore'] });
      inCall.push(performance.now() - t0);
      const child = await pending;
      child.stdio[0]!.end();
      await child.closed;
    }));
  }
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const q = (xs: number[], p: number) => sorted(xs)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  console.log(`${name.padEnd(16)} in the call p50 ${q(inCall, 0.5).toFixed(2)} ms, max ${q(inCall, 1).toFixed(2)} ms; worst event-loop gap per launch p50 ${q(gaps, 0.5).toFixed(1)} ms, p95 ${q(gaps, 0.95).toFixed(1)} ms, max ${q(gaps, 1).toFixed(1)} ms`);
}

async function main(): Promise<void> {
  const heap = fillHeap(Number(values['heap-mb']));
  const { path: ffmpeg } = await locateFfmpeg();
  // Two busy threads: the cores are as contended as beside live sessions and encoders.
  const busy = [0, 1].map(() => new Worker('for (;;) {}', { eval: true }));
  console.log(`spawn bench: ${LAUNCHES} ffmpeg launches, RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB, two busy threads`);
  const spawner = new SpawnerProcessLauncher();
  await measure('direct', new DirectProcessLauncher(), ffmpeg);
  await measure('spawner process', spawner, ffmpeg);
  await measure('direct', new DirectProcessLauncher(), ffmpeg);
  await measure('spawner process', spawner, ffmpeg);
  spawner.close();
  await Promise.all(busy.map((w) => w.terminate()));
  void heap;
}

await main();
