import type { FrameMouth } from '../avatar-input.js';
import type { MouthParams } from '../../visemes/mouth-params.js';

/** Source frames examined around the best openness match. */
const NEIGHBOURS = 40;
/** Cost of cutting to an unrelated source frame instead of staying or moving on by one. */
const SWITCH_COST = 0.006;
/** Source frames considered per output frame when planning a run. */
const CANDIDATES = 12;
/** Weight of lip width against openness. */
const WIDTH_WEIGHT = 0.3;
/** Jaw opening (jawOpen x (1 - closure)) that maps to the widest mouth of the source. */
const FULL_OPEN = 0.75;
/** Below this opening (jawOpen x (1 - closure)) the mouth is at rest. */
const REST_OPENING = 0.02;
/** Weight of the head-pose difference (yaw, pitch; see FaceShape) between donor and background. */
const POSE_WEIGHT = 6;
/**
 * Cost of changing the donor of a mouth at rest while it stays at rest: high, so silence is
 * still unless the head has turned so far that the donor no longer fits it.
 */
const REST_SWITCH_COST = 0.3;

/**
 * The source frames' measured mouth shapes, sorted by openness, so that the best match for
 * wanted mouth parameters is found by binary search plus a few neighbours (O(log n)).
 * Openness and width are normalised by the median mouth width and mapped onto the range
 * the video actually shows (3rd to 97th percentile), so a person who barely opens their
 * mouth still gets their closed and open frames used.
 */
export class MouthShapeIndex {
  private readonly open: Float64Array;
  private readonly width: Float64Array;
  private readonly byOpen: Int32Array;
  private readonly openRange: readonly [number, number];
  private readonly widthRange: readonly [number, number];
  /** Head pose per frame (yaw, pitch), when the avatar has face shapes. */
  private readonly yaw: Float64Array | undefined;
  private readonly pitch: Float64Array | undefined;
  /** Closed-mouth frames a rest may be shown from (the one nearest the background's pose). */
  private readonly restPool: readonly number[];
  /** The frame shown whenever the mouth is at rest: always the same, so silence is still. */
  readonly restFrame: number;

  constructor(mouths: readonly FrameMouth[]) {
    if (mouths.length === 0) throw new Error('no source frames');
    const scale = percentile(mouths.map((m) => m.width), 0.5) || 1;
    this.open = Float64Array.from(mouths, (m) => m.open / scale);
    this.width = Float64Array.from(mouths, (m) => m.width / scale);
    this.byOpen = Int32Array.from(mouths.keys()).sort((a, b) => this.open[a]! - this.open[b]!);
    this.openRange = [percentile([...this.open], 0.03), percentile([...this.open], 0.97)];
    this.widthRange = [percentile([...this.width], 0.05), percentile([...this.width], 0.95)];
    const posed = mouths.every((m) => m.face);
    this.yaw = posed ? Float64Array.from(mouths, (m) => m.face!.yaw) : undefined;
    this.pitch = posed ? Float64Array.from(mouths, (m) => m.face!.pitch) : undefined;
    this.restFrame = this.bestCost(this.target({ jawOpen: 0, lipWidth: 0.5, rounding: 0, closure: 1, teeth: 0, tongue: 0 }), -1).index;
    // One frame for every rest: a donor chosen by pose changed the mouth in silence more than
    // the aligned, jaw-masked paste of one frame shows of a turned head.
    this.restPool = [this.restFrame];
  }

  /** Cost of showing donor frame `i` on background frame `background` (-1: unknown): their head-pose difference. */
  poseCost(i: number, background: number): number {
    if (!this.yaw || !this.pitch || background < 0) return 0;
    const dy = this.yaw[i]! - this.yaw[background]!;
    const dp = this.pitch[i]! - this.pitch[background]!;
    return POSE_WEIGHT * (dy * dy + dp * dp);
  }

  /** Candidates for a mouth at rest on a background: the closed-mouth frames by pose. */
  private restCandidates(background: number): { index: number; cost: number }[] {
    if (this.restPool.length === 1) return [{ index: this.restPool[0]!, cost: 0 }];
    return this.restPool.map((i) => ({ index: i, cost: this.poseCost(i, background) }))
      .sort((a, b) => a.cost - b.cost).slice(0, CANDIDATES);
  }

  /** Wanted normalised openness and width for mouth parameters. */
  target(mouth: MouthParams): { open: number; width: number } {
    const closure = mouth.closure < 0 ? 0 : mouth.closure > 1 ? 1 : mouth.closure;
    const a = Math.min(1, (mouth.jawOpen * (1 - closure * closure * (3 - 2 * closure))) / FULL_OPEN);
    const w = Math.max(0, Math.min(1, mouth.lipWidth - 0.6 * mouth.rounding));
    const [oLo, oHi] = this.openRange;
    const [wLo, wHi] = this.widthRange;
    return { open: oLo + (oHi - oLo) * a, width: wLo + (wHi - wLo) * w };
  }

  /** Best source frame for the mouth, given the frame chosen before (-1: none) and the background frame (-1: unknown). */
  best(mouth: MouthParams, previous: number, background = -1): number {
    if (atRest(mouth)) {
      const rest = this.restCandidates(background);
      const stay = rest.find((c) => c.index === previous);
      return stay && stay.cost <= rest[0]!.cost + REST_SWITCH_COST ? previous : rest[0]!.index;
    }
    return this.bestCost(this.target(mouth), previous, background).index;
  }

  /**
   * The cheapest sequence of source frames for a run of mouths (Viterbi over the `CANDIDATES`
   * best-fitting frames of each), so a cut happens where it costs least over the whole run
   * rather than wherever a greedy choice drifts. `previous` is the frame shown just before.
   */
  plan(mouths: readonly MouthParams[], previous: number, backgrounds: readonly number[] = []): number[] {
    if (mouths.length === 0) return [];
    const rest = mouths.map(atRest);
    const states = mouths.map((m, t) => (rest[t] ? this.restCandidates(backgrounds[t] ?? -1) : this.candidates(this.target(m), backgrounds[t] ?? -1)));
    // A rest that goes on keeps the donor shown before (when it is a rest candidate at all).
    let costs = states[0]!.map((s) => s.cost + (rest[0] && this.restPool.includes(previous) ? this.restTransition(previous, s.index) : this.transition(previous, s.index)));
    const back: Int32Array[] = [];
    for (let t = 1; t < states.length; t++) {
      const from = states[t - 1]!;
      const here = states[t]!;
      const step = new Int32Array(here.length);
      const next = here.map((s, k) => {
        let best = Infinity;
        for (let j = 0; j < from.length; j++) {
          const c = costs[j]! + (rest[t] && rest[t - 1] ? this.restTransition(from[j]!.index, s.index) : this.transition(from[j]!.index, s.index));
          if (c < best) {
            best = c;
            step[k] = j;
          }
        }
        return best + s.cost;
      });
      back.push(step);
      costs = next;
    }
    let k = costs.indexOf(Math.min(...costs));
    const path = new Array<number>(states.length);
    for (let t = states.length - 1; t >= 0; t--) {
      path[t] = states[t]![k]!.index;
      if (t > 0) k = back[t - 1]![k]!;
    }
    return path;
  }

  private restTransition(from: number, to: number): number {
    return from === to ? 0 : REST_SWITCH_COST;
  }

  private transition(from: number, to: number): number {
    return from < 0 || to === from || to === from + 1 ? 0 : SWITCH_COST;
  }

  /** The best-fitting frames for a wanted shape, with their fit cost (no switching cost). */
  private candidates(want: { open: number; width: number }, background: number): { index: number; cost: number }[] {
    const oSpan = Math.max(1e-3, this.openRange[1] - this.openRange[0]);
    const wSpan = Math.max(1e-3, this.widthRange[1] - this.widthRange[0]);
    const at = this.lowerBound(want.open);
    const found: { index: number; cost: number }[] = [];
    for (let k = Math.max(0, at - NEIGHBOURS); k < Math.min(this.byOpen.length, at + NEIGHBOURS); k++) {
      const i = this.byOpen[k]!;
      const o = (this.open[i]! - want.open) / oSpan;
      const w = (this.width[i]! - want.width) / wSpan;
      found.push({ index: i, cost: o * o + WIDTH_WEIGHT * w * w + this.poseCost(i, background) });
    }
    return found.sort((a, b) => a.cost - b.cost).slice(0, CANDIDATES);
  }

  private bestCost(want: { open: number; width: number }, previous: number, background = -1): { index: number; cost: number } {
    const oSpan = Math.max(1e-3, this.openRange[1] - this.openRange[0]);
    const wSpan = Math.max(1e-3, this.widthRange[1] - this.widthRange[0]);
    const cost = (i: number) => {
      const o = (this.open[i]! - want.open) / oSpan;
      const w = (this.width[i]! - want.width) / wSpan;
      const moves = previous >= 0 && Math.abs(i - previous) > 1 ? SWITCH_COST : 0;
      return o * o + WIDTH_WEIGHT * w * w + moves + this.poseCost(i, background);
    };
    const at = this.lowerBound(want.open);
    let best = this.byOpen[Math.min(at, this.byOpen.length - 1)]!;
    let bestCost = Infinity;
    for (let k = Math.max(0, at - NEIGHBOURS); k < Math.min(this.byOpen.length, at + NEIGHBOURS); k++) {
      const i = this.byOpen[k]!;
      const c = cost(i);
      if (c < bestCost) {
        bestCost = c;
        best = i;
      }
    }
    // Staying on, or moving on by one from, the previous frame is always a candidate.
    for (const i of [previous, previous + 1]) {
      if (i >= 0 && i < this.open.length && cost(i) < bestCost) {
        bestCost = cost(i);
        best = i;
      }
    }
    return { index: best, cost: bestCost };
  }

  private lowerBound(value: number): number {
    let lo = 0;
    let hi = this.byOpen.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.open[this.byOpen[mid]!]! < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function atRest(mouth: MouthParams): boolean {
  return mouth.jawOpen * (1 - mouth.closure) < REST_OPENING;
}

function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))] ?? 0;
}
