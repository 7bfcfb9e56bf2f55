/**
 * `npm run bench:jpeg`: cost of the realtime frame path at 512x512 on this machine: render,
 * I420 to RGB, JPEG of a whole frame, JPEG of the measured mouth patch, and the CPU per
 * speaking frame as sessions send it (render + patch). Prints figures; never fails on time.
 */
import { i420ToRgb, SharpJpegEncoder } from '../src/compose/jpeg.js';
import { ParametricRenderer } from '../src/render/parametric/parametric-renderer.js';
import { AvatarStage } from '../src/pipeline/realtime/avatar-stage.js';

const SIZE = 512;
const N = 300;

async function cpuMsPer(n: number, work: (i: number) => Promise<void> | void): Promise<{ cpuMs: number; wallMs: number }> {
  for (let i = 0; i < 20; i++) await work(i);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await work(i);
  const c = process.cpuUsage(c0);
  return { cpuMs: (c.user + c.system) / 1000 / n, wallMs: (performance.now() - t0) / n };
}

async function main(): Promise<void> {
  const renderer = new ParametricRenderer(SIZE, SIZE);
  const jpeg = new SharpJpegEncoder(80);
  const mouth = (i: number) => ({ jawOpen: (i % 10) / 10, lipWidth: 0.5, rounding: 0.2, closure: 0, teeth: 0.4, tongue: 0.1 });
  const frame = renderer.render({ index: 0, ptsMs: 0, mouth: mouth(5), speaking: true });
  const rgb = new Uint8ClampedArray(SIZE * SIZE * 3);
  const t0 = performance.now();
  const stage = await AvatarStage.local('default', new ParametricRenderer(SIZE, SIZE), 25, jpeg);
  const measureMs = performance.now() - t0;
  const region = stage.patchRegion;
  for (let p = 0; p < stage.loopFrames; p++) await stage.idleJpeg(p);
  const rows: [string, { cpuMs: number; wallMs: number }][] = [
    ['render (parametric)', await cpuMsPer(N, (i) => renderer.render({ index: i, ptsMs: i * 40, mouth: mouth(i), speaking: true }).release?.())],
    ['I420 -> RGB, whole frame', await cpuMsPer(N, () => i420ToRgb(frame, rgb))],
    ['JPEG whole frame (incl. RGB)', await cpuMsPer(N, async () => void (await jpeg.encode(frame)))],
    ['JPEG mouth patch (incl. RGB)', await cpuMsPer(N, async () => void (await jpeg.encode(frame, region)))],
    ['speaking frame as sent (render + patch)', await cpuMsPer(N, async (i) => void (await stage.speechFrame(i % stage.loopFrames, mouth(i))))],
    ['idle frame as sent (cached)', await cpuMsPer(N, async (i) => void (await stage.idleJpeg(i % stage.loopFrames)))],
  ];
  const whole = await jpeg.encode(frame);
  const patch = await jpeg.encode(frame, region);
  process.stdout.write(`realtime frame path at ${SIZE}x${SIZE} (JPEG quality 80, sharp), ${N} runs each\n`);
  process.stdout.write(`mouth patch region ${region ? `${region[2]}x${region[3]} at (${region[0]}, ${region[1]})` : 'none'}, measured in ${measureMs.toFixed(0)} ms; JPEG bytes: whole ${whole.length}, patch ${patch.length}\n`);
  for (const [name, r] of rows) process.stdout.write(`${name.padEnd(42)} ${r.cpuMs.toFixed(2).padStart(6)} ms CPU  ${r.wallMs.toFixed(2).padStart(6)} ms wall\n`);
}

await main();
