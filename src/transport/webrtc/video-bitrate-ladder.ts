/** Why the video rate changed. */
export type BitrateChangeReason = 'loss' | 'estimate' | 'clear';

/** A new video rate to apply. */
export interface BitrateChange {
  readonly kbps: number;
  readonly reason: BitrateChangeReason;
}

/** Limits of one session's video rate. */
export interface BitrateLadderOptions {
  /** Highest rate, kbit/s: where a session starts and what a clean path returns to. */
  readonly maxKbps: number;
  /** Lowest rate, kbit/s (below it the picture falls apart; losses beyond it are borne). */
  readonly minKbps: number;
}

/** Each rung is this share of the one above it. */
const RUNG_RATIO = 0.7;
/** A receiver report losing more than this share of packets steps the rate down. */
const LOSS_DOWN = 0.08;
/** Beyond this share, two rungs at once. */
const LOSS_DOWN_FAST = 0.2;
/** Reports losing more than this share hold the rate (neither clean nor bad enough to fall). */
const LOSS_CLEAN = 0.02;
/** Fewest ms between two changes: each restarts the encoder (a keyframe), and reports lag a change by about a second. */
const MIN_CHANGE_GAP_MS = 2000;
/** Ms of clean reports (and no lower estimate) before stepping one rung up. */
const CLEAN_BEFORE_UP_MS = 3000;
/** A receiver estimate (REMB) older than this no longer caps the rate, ms. */
const ESTIMATE_TTL_MS = 5000;
/** Share of the receiver's estimate the video may use (audio, headers and retransmissions take the rest). */
const ESTIMATE_SHARE = 0.85;

/**
 * Picks a session's video rate from a ladder between a floor and the configured rate, from
 * what the receiver reports: RTCP receiver reports (fraction lost) and its estimate of the
 * path (REMB), when it sends one. Loss or a lower estimate step the rate down at once (two
 * rungs on heavy loss); the rate climbs one rung at a time after 3 s of clean reports.
 * Changes are at least 2 s apart. Times are the caller's clock, ms.
 */
export class VideoBitrateLadder {
  /** Rates from the top (maxKbps) down to the floor, kbit/s. */
  readonly rungs: readonly number[];
  private rung = 0;
  private lastChangeAt = -Infinity;
  private troubleAt = -Infinity;
  private estimate: { kbps: number; at: number } | undefined;

  constructor(options: BitrateLadderOptions) {
    const floor = Math.min(options.minKbps, options.maxKbps);
    const rungs = [options.maxKbps];
    while (rungs[rungs.length - 1]! * RUNG_RATIO > floor * 1.05) rungs.push(Math.round(rungs[rungs.length - 1]! * RUNG_RATIO));
    if (rungs[rungs.length - 1] !== floor) rungs.push(floor);
    this.rungs = rungs;
  }

  /** The rate in force, kbit/s. */
  get kbps(): number {
    return this.rungs[this.rung]!;
  }

  /** A receiver report on the video: `fractionLost` from 0 to 1 since its last report. */
  report(fractionLost: number, nowMs: number): BitrateChange | undefined {
    if (fractionLost > LOSS_CLEAN) this.troubleAt = nowMs;
    if (fractionLost > LOSS_DOWN) return this.moveTo(this.rung + (fractionLost > LOSS_DOWN_FAST ? 2 : 1), 'loss', nowMs);
    return this.maybeClimb(nowMs);
  }

  /** The receiver's estimate of what the path carries (REMB), kbit/s. */
  receiverEstimate(kbps: number, nowMs: number): BitrateChange | undefined {
    this.estimate = { kbps, at: nowMs };
    const allowed = this.highestRungWithin(kbps * ESTIMATE_SHARE);
    if (allowed > this.rung) {
      this.troubleAt = nowMs;
      return this.moveTo(allowed, 'estimate', nowMs);
    }
    return this.maybeClimb(nowMs);
  }

  private maybeClimb(nowMs: number): BitrateChange | undefined {
    if (this.rung === 0 || nowMs - Math.max(this.troubleAt, this.lastChangeAt) < CLEAN_BEFORE_UP_MS) return undefined;
    const estimate = this.estimate && nowMs - this.estimate.at < ESTIMATE_TTL_MS ? this.estimate.kbps * ESTIMATE_SHARE : Infinity;
    if (this.rungs[this.rung - 1]! > estimate) return undefined;
    return this.moveTo(this.rung - 1, 'clear', nowMs);
  }

  /** Index of the highest rung at or below `kbps` (the floor when none is). */
  private highestRungWithin(kbps: number): number {
    const index = this.rungs.findIndex((r) => r <= kbps);
    return index < 0 ? this.rungs.length - 1 : index;
  }

  private moveTo(rung: number, reason: BitrateChangeReason, nowMs: number): BitrateChange | undefined {
    const target = Math.max(0, Math.min(this.rungs.length - 1, rung));
    if (target === this.rung || nowMs - this.lastChangeAt < MIN_CHANGE_GAP_MS) return undefined;
    this.rung = target;
    this.lastChangeAt = nowMs;
    return { kbps: this.kbps, reason };
  }
}
