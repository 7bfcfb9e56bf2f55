/**
 * Records what a page really plays, for A/V checks that do not trust the page's own report:
 * every mouth patch drawn on the avatar canvas (how far it changes the pixels under it, read
 * back from the canvas) and every audio buffer started (its samples from the offset it starts
 * at, placed at the time it is heard on the audio clock).
 */

/** One picture drawn on the canvas: `activity` is the mean luma change its mouth patch made (0: no patch). */
export interface DrawnFrame {
  t: number;
  activity: number;
}

/** One audio buffer as started: heard from `at` (performance.now() ms), its samples from the start offset on. */
export interface StartedAudio {
  at: number;
  sampleRate: number;
  samples: number[];
}

// The probe runs in the page; these names exist there, not here.
declare const window: any;
declare const CanvasRenderingContext2D: any;
declare const AudioBufferSourceNode: any;

export interface Playout {
  draws: DrawnFrame[];
  audio: StartedAudio[];
}

/**
 * Installs the recorder; pass to `page.addInitScript` (it runs in the page, before the page's
 * own scripts, and must not use anything from this module's scope).
 */
export function installPlayoutProbe(canvasId: string): void {
  const probe: Playout = { draws: [], audio: [] };
  window.__playout = probe;
  const ctx2d = CanvasRenderingContext2D.prototype;
  const draw = ctx2d.drawImage;
  ctx2d.drawImage = function (this: any, ...args: unknown[]) {
    const image = args[0] as { width: number; height: number };
    if (this.canvas.id !== canvasId || args.length !== 3) return draw.apply(this, args);
    const [x, y] = [args[1] as number, args[2] as number];
    if (x === 0 && y === 0 && image.width === this.canvas.width) {
      draw.apply(this, args);
      probe.draws.push({ t: performance.now(), activity: 0 });
      return;
    }
    const before = this.getImageData(x, y, image.width, image.height).data;
    draw.apply(this, args);
    const after = this.getImageData(x, y, image.width, image.height).data;
    let sum = 0;
    for (let i = 0; i < after.length; i += 4) sum += Math.abs(after[i]! + after[i + 1]! + after[i + 2]! - before[i]! - before[i + 1]! - before[i + 2]!) / 3;
    const last = probe.draws[probe.draws.length - 1];
    if (last) last.activity = sum / (after.length / 4);
  };

  const source = AudioBufferSourceNode.prototype;
  const start = source.start;
  source.start = function (this: any, when = 0, offset = 0, duration?: number) {
    const buffer = this.buffer;
    const ctx = this.context;
    if (buffer) {
      const latencyMs = ((ctx.outputLatency || 0) + (ctx.baseLatency || 0)) * 1000;
      const at = performance.now() + (Math.max(when, ctx.currentTime) - ctx.currentTime) * 1000 + latencyMs;
      const data: Float32Array = buffer.getChannelData(0);
      const samples = Array.from(data.subarray(Math.round(offset * buffer.sampleRate)), (v) => Math.round(v * 32767));
      probe.audio.push({ at, sampleRate: buffer.sampleRate, samples });
    }
    return duration === undefined ? start.call(this, when, offset) : start.call(this, when, offset, duration);
  };
}

/** Mouth activity on a 10 ms grid from `from` for `bins` bins: each drawn picture held until the next. */
export function activityGrid(draws: readonly DrawnFrame[], from: number, bins: number): Float64Array {
  const out = new Float64Array(bins);
  let k = 0;
  let current = 0;
  for (let b = 0; b < bins; b++) {
    const t = from + b * 10;
    while (k < draws.length && draws[k]!.t <= t) current = draws[k++]!.activity;
    out[b] = current;
  }
  return out;
}

/** The sound heard from `from` for `ms`, as one 16-bit track at the buffers' sample rate. */
export function heardTrack(audio: readonly StartedAudio[], from: number, ms: number): { pcm: Int16Array; sampleRate: number } {
  const sampleRate = audio[0]?.sampleRate ?? 16000;
  const pcm = new Int16Array(Math.ceil((ms * sampleRate) / 1000));
  for (const a of audio) {
    const start = Math.round(((a.at - from) * sampleRate) / 1000);
    a.samples.forEach((v, i) => {
      const k = start + i;
      if (k >= 0 && k < pcm.length) pcm[k] = Math.max(-32768, Math.min(32767, pcm[k]! + v));
    });
  }
  return { pcm, sampleRate };
}

/** Pearson correlation of x[i] with y[i + lag] over the overlap. */
export function correlationAt(x: ArrayLike<number>, y: ArrayLike<number>, lag: number): number {
  let n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (let i = Math.max(0, -lag); i < x.length && i + lag < y.length; i++) {
    const a = x[i]!;
    const b = y[i + lag]!;
    n++;
    sx += a;
    sy += b;
    sxx += a * a;
    syy += b * b;
    sxy += a * b;
  }
  const cov = sxy - (sx * sy) / n;
  const den = Math.sqrt((sxx - (sx * sx) / n) * (syy - (sy * sy) / n));
  return den > 0 ? cov / den : 0;
}

/**
 * The lag (in bins, positive: `y` late) with the highest correlation within +/- maxLag,
 * refined between bins by a parabola through the peak; with the peak and median correlation.
 */
export function bestLag(x: ArrayLike<number>, y: ArrayLike<number>, maxLag: number): { lag: number; correlation: number; median: number } {
  const all = Array.from({ length: 2 * maxLag + 1 }, (_, k) => correlationAt(x, y, k - maxLag));
  let best = 0;
  for (let k = 1; k < all.length; k++) if (all[k]! > all[best]!) best = k;
  const [l, c, r] = [all[best - 1], all[best]!, all[best + 1]];
  const shift = l !== undefined && r !== undefined && l - 2 * c + r < 0 ? (0.5 * (l - r)) / (l - 2 * c + r) : 0;
  const sorted = [...all].sort((a, b) => a - b);
  return { lag: best - maxLag + shift, correlation: c, median: sorted[sorted.length >> 1]! };
}

/** Loudness heard on the same 10 ms grid (RMS per bin). */
export function loudnessGrid(track: { pcm: Int16Array; sampleRate: number }, bins: number): Float64Array {
  const step = track.sampleRate / 100;
  return Float64Array.from({ length: bins }, (_, b) => {
    let sum = 0;
    const start = Math.round(b * step);
    const end = Math.min(track.pcm.length, Math.round((b + 1) * step));
    for (let i = start; i < end; i++) sum += (track.pcm[i]! / 32768) ** 2;
    return end > start ? Math.sqrt(sum / (end - start)) : 0;
  });
}
