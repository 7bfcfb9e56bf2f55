import { pcmDurationMs, type PhonemeTiming } from '../core/speech.js';
import { framesForDuration, MOUTH_KEYS, REST_MOUTH, type MouthFrame, type MouthParams, type MouthTracker } from './mouth-params.js';
import { ipaToVisemes, VISEME_TARGETS, type Viseme } from './visemes.js';

/** A viseme held over a time span, ms. */
interface VisemeSegment {
  readonly viseme: Viseme;
  readonly startMs: number;
  readonly endMs: number;
}

/** How far a shape reaches into the future (anticipation) and the past (carry-over), ms. */
const ANTICIPATION_MS = 55;
const CARRYOVER_MS = 45;
/** Beyond this many time constants a segment has no influence: silence stays exactly still. */
const REACH = 3;
const LOOKAHEAD_MS = ANTICIPATION_MS * REACH;

/**
 * Mouth track from timed phonemes, with coarticulation: each viseme pulls the mouth towards
 * its target with its dominance, at full strength inside its span and with a Gaussian
 * fall-off before (anticipation) and after (carry-over). High-dominance visemes (p/b/m)
 * close the lips even between open vowels; far from speech only silence acts, so the mouth
 * is closed and motionless there.
 *
 * Times come from the audio sample count (never from wall clock or summed rounded
 * durations), so the track cannot drift from the audio however long the speech runs.
 */
export class PhonemeMouthTracker implements MouthTracker {
  private readonly segments: VisemeSegment[] = [];
  private audioEndMs = 0;
  private samples = 0;
  private sampleRate = 0;
  private nextFrame = 0;
  private finished = false;

  constructor(private readonly fps: number) {}

  get totalFrames(): number {
    return framesForDuration(this.audioEndMs, this.fps);
  }

  push(part: { pcm: Int16Array; sampleRate: number; phonemes?: readonly PhonemeTiming[] }): void {
    if (this.sampleRate === 0) this.sampleRate = part.sampleRate;
    const offsetMs = pcmDurationMs(this.samples, this.sampleRate);
    for (const p of part.phonemes ?? []) {
      const visemes = ipaToVisemes(p.ipa);
      const span = (p.endMs - p.startMs) / Math.max(1, visemes.length);
      visemes.forEach((viseme, i) => this.append(viseme, offsetMs + p.startMs + i * span, offsetMs + p.startMs + (i + 1) * span));
    }
    this.samples += part.pcm.length;
    this.audioEndMs = pcmDurationMs(this.samples, this.sampleRate);
    this.append('sil', this.audioEndMs, this.audioEndMs);
  }

  /** Appends a segment, filling any gap before it with silence. */
  private append(viseme: Viseme, startMs: number, endMs: number): void {
    const last = this.segments[this.segments.length - 1];
    const lastEnd = last?.endMs ?? 0;
    if (startMs > lastEnd + 0.5) this.segments.push({ viseme: 'sil', startMs: lastEnd, endMs: startMs });
    if (endMs > startMs) this.segments.push({ viseme, startMs: Math.max(startMs, lastEnd), endMs });
  }

  finish(): void {
    this.finished = true;
  }

  takeReady(): MouthFrame[] {
    const ready: MouthFrame[] = [];
    const limit = this.totalFrames;
    for (; this.nextFrame < limit; this.nextFrame++) {
      const ptsMs = (this.nextFrame * 1000) / this.fps;
      if (!this.finished && ptsMs + LOOKAHEAD_MS > this.audioEndMs) break;
      ready.push(this.frameAt(this.nextFrame, ptsMs));
    }
    this.forgetBefore((this.nextFrame * 1000) / this.fps - CARRYOVER_MS * REACH);
    return ready;
  }

  /** Mouth parameters at one instant. Exposed for tests and for other trackers. */
  mouthAt(tMs: number): { mouth: MouthParams; speaking: boolean } {
    const sums = { jawOpen: 0, lipWidth: 0, rounding: 0, closure: 0, teeth: 0, tongue: 0 };
    let total = 0;
    let speaking = false;
    for (const s of this.segments) {
      if (s.startMs - ANTICIPATION_MS * REACH > tMs) break;
      const weight = influence(s, tMs, VISEME_TARGETS[s.viseme].carryoverMs ?? CARRYOVER_MS);
      if (weight === 0) continue;
      if (tMs >= s.startMs && tMs < s.endMs && s.viseme !== 'sil') speaking = true;
      const target = VISEME_TARGETS[s.viseme];
      // Dominance holds fully inside a segment and fades with the square of its weight
      // outside, so a lip closure (p/b/m) is reached on the consonant without swallowing
      // the vowels next to it.
      const dominance = weight === 1 ? target.dominance : 1 + (target.dominance - 1) * weight * weight;
      const w = weight * dominance;
      for (const k of MOUTH_KEYS) sums[k] += w * target.mouth[k];
      total += w;
    }
    if (total === 0) return { mouth: REST_MOUTH, speaking: false };
    const mouth = { ...REST_MOUTH };
    for (const k of MOUTH_KEYS) mouth[k] = sums[k] / total;
    return { mouth, speaking };
  }

  private frameAt(index: number, ptsMs: number): MouthFrame {
    const { mouth, speaking } = this.mouthAt(ptsMs);
    return { index, ptsMs, mouth, speaking };
  }

  private forgetBefore(tMs: number): void {
    let drop = 0;
    while (drop < this.segments.length && this.segments[drop]!.endMs < tMs) drop++;
    if (drop > 64) this.segments.splice(0, drop);
  }
}

/** Weight of a segment at time tMs: 1 inside, Gaussian fall-off outside, 0 beyond reach. */
function influence(s: VisemeSegment, tMs: number, carryoverMs: number): number {
  if (tMs < s.startMs) {
    const d = (s.startMs - tMs) / ANTICIPATION_MS;
    return d > REACH ? 0 : Math.exp(-d * d);
  }
  if (tMs >= s.endMs) {
    const d = (tMs - s.endMs) / carryoverMs;
    return d > REACH ? 0 : Math.exp(-d * d);
  }
  return 1;
}
