/** What the avatar does when nobody is talking to it, at one instant. */
export interface IdlePose {
  /** Eyelid closure, 0 open, 1 shut. */
  readonly blink: number;
  /** Gaze offset of the irises, design units. */
  readonly gazeX: number;
  readonly gazeY: number;
  /** Whole-head offset, output pixels (whole numbers). */
  readonly headX: number;
  readonly headY: number;
}

const BLINK_CLOSE_MS = 70;
const BLINK_HOLD_MS = 40;
const BLINK_OPEN_MS = 90;

/** A small deterministic PRNG (mulberry32): the same seed gives the same life every time. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Blinks every 2-5.5 s, glances now and then, and a slow sway and breathing motion of the
 * head. Schedules are generated lazily from a seed, so any frame's pose is reproducible.
 */
export class IdleMotion {
  private readonly blinks: number[] = [];
  private readonly glances: { at: number; x: number; y: number }[] = [{ at: 0, x: 0, y: 0 }];
  private readonly blinkRandom: () => number;
  private readonly glanceRandom: () => number;

  constructor(private readonly scale: number, seed = 7) {
    this.blinkRandom = rng(seed);
    this.glanceRandom = rng(seed * 31 + 1);
  }

  at(tMs: number): IdlePose {
    return { blink: this.blinkAt(tMs), ...this.gazeAt(tMs), ...this.headAt(tMs) };
  }

  private blinkAt(tMs: number): number {
    while ((this.blinks[this.blinks.length - 1] ?? -Infinity) < tMs + 10000) {
      const last = this.blinks[this.blinks.length - 1] ?? 0;
      this.blinks.push(last + 2000 + this.blinkRandom() * 3500);
    }
    // Past blinks are done with: long sessions keep the schedule short.
    while (this.blinks.length > 1 && this.blinks[0]! < tMs - 1000) this.blinks.shift();
    for (const start of this.blinks) {
      if (start > tMs) break;
      const d = tMs - start;
      if (d < BLINK_CLOSE_MS) return d / BLINK_CLOSE_MS;
      if (d < BLINK_CLOSE_MS + BLINK_HOLD_MS) return 1;
      if (d < BLINK_CLOSE_MS + BLINK_HOLD_MS + BLINK_OPEN_MS) return 1 - (d - BLINK_CLOSE_MS - BLINK_HOLD_MS) / BLINK_OPEN_MS;
    }
    return 0;
  }

  private gazeAt(tMs: number): { gazeX: number; gazeY: number } {
    while (this.glances[this.glances.length - 1]!.at < tMs + 10000) {
      const last = this.glances[this.glances.length - 1]!;
      const r = this.glanceRandom();
      // Mostly look at the viewer; sometimes glance aside briefly.
      const away = r < 0.45;
      this.glances.push({ at: last.at + 1200 + this.glanceRandom() * 2800, x: away ? (this.glanceRandom() - 0.5) * 7 : 0, y: away ? (this.glanceRandom() - 0.5) * 3 : 0 });
    }
    while (this.glances.length > 2 && this.glances[1]!.at < tMs - 1000) this.glances.shift();
    let i = 0;
    while (i + 1 < this.glances.length && this.glances[i + 1]!.at <= tMs) i++;
    const cur = this.glances[i]!;
    const prev = this.glances[i - 1] ?? cur;
    // Saccades take ~40 ms.
    const k = Math.min(1, (tMs - cur.at) / 40);
    return { gazeX: prev.x + (cur.x - prev.x) * k, gazeY: prev.y + (cur.y - prev.y) * k };
  }

  private headAt(tMs: number): { headX: number; headY: number } {
    const s = tMs / 1000;
    const sway = 2.2 * Math.sin((2 * Math.PI * s) / 5.3) + 0.8 * Math.sin((2 * Math.PI * s) / 2.3 + 1.1);
    const breathe = 1.4 * Math.sin((2 * Math.PI * s) / 4.1 + 0.4);
    return { headX: Math.round(sway * this.scale), headY: Math.round(breathe * this.scale) };
  }
}
