import { pcmDurationMs } from '../core/speech.js';
import { framesForDuration, REST_MOUTH, type MouthFrame, type MouthParams, type MouthTracker } from '../visemes/mouth-params.js';
import { featuresAt } from './frame-features.js';

/** Window the features of one frame are measured over, ms (centred on the frame time). */
const WINDOW_MS = 40;
/** Below this level nothing is speech, whatever the running statistics say. */
const ABSOLUTE_GATE_DB = -55;
/** Speech sits at most this far below the running peak. */
const DYNAMIC_RANGE_DB = 30;

/** Options for the audio-driven tracker. */
export interface AudioTrackerOptions {
  readonly fps: number;
  /**
   * `streaming`: each frame uses at most one frame of audio past its own time, and the level
   * scale adapts as speech arrives. `offline`: the scale comes from the whole recording and
   * the smoothing looks both ways.
   */
  readonly mode: 'streaming' | 'offline';
}

/**
 * Mouth track from audio alone (uploaded files, external TTS, microphones): loudness drives
 * the jaw, high-frequency share separates fricatives (teeth, narrow opening) from vowels,
 * and a gate with hysteresis keeps the mouth closed and still in silence.
 */
export class AudioMouthTracker implements MouthTracker {
  private chunks: Int16Array[] = [];
  private pcm = new Int16Array(0);
  private sampleRate = 0;
  private nextFrame = 0;
  private finished = false;
  private peakDb = -20;
  private open = false;
  private previous: MouthParams = REST_MOUTH;
  private bufferStartSample = 0;

  constructor(private readonly options: AudioTrackerOptions) {}

  get totalFrames(): number {
    return framesForDuration(pcmDurationMs(this.bufferStartSample + this.bufferedSamples(), this.sampleRate || 1), this.options.fps);
  }

  push(part: { pcm: Int16Array; sampleRate: number }): void {
    if (this.sampleRate === 0) this.sampleRate = part.sampleRate;
    this.chunks.push(part.pcm);
  }

  finish(): void {
    this.finished = true;
  }

  takeReady(): MouthFrame[] {
    this.consolidate();
    if (this.sampleRate === 0) return [];
    const { fps, mode } = this.options;
    if (mode === 'offline' && !this.finished) return [];
    if (mode === 'offline' && this.nextFrame === 0) this.peakDb = this.globalPeakDb();
    const endMs = pcmDurationMs(this.bufferStartSample + this.pcm.length, this.sampleRate);
    const frameMs = 1000 / fps;
    const raw: { index: number; ptsMs: number; mouth: MouthParams; speaking: boolean }[] = [];
    const limit = this.totalFrames;
    for (; this.nextFrame < limit; this.nextFrame++) {
      const ptsMs = this.nextFrame * frameMs;
      if (!this.finished && ptsMs + frameMs > endMs) break;
      raw.push({ index: this.nextFrame, ptsMs, ...this.measure(ptsMs) });
    }
    const frames = mode === 'offline' ? smoothBothWays(raw) : raw;
    this.dropConsumedAudio();
    return frames;
  }

  private measure(ptsMs: number): { mouth: MouthParams; speaking: boolean } {
    const localMs = ptsMs - pcmDurationMs(this.bufferStartSample, this.sampleRate);
    const { levelDb, brightness } = featuresAt(this.pcm, this.sampleRate, localMs, WINDOW_MS);
    if (this.options.mode === 'streaming' && levelDb > this.peakDb) this.peakDb = levelDb;
    else if (this.options.mode === 'streaming') this.peakDb = Math.max(-30, this.peakDb - 0.02);
    const floorDb = Math.max(ABSOLUTE_GATE_DB, this.peakDb - DYNAMIC_RANGE_DB);
    // Hysteresis: opening needs 3 dB more than staying open, so noise near the gate cannot flutter.
    this.open = levelDb > floorDb + (this.open ? 0 : 3);
    if (!this.open) {
      this.previous = REST_MOUTH;
      return { mouth: REST_MOUTH, speaking: false };
    }
    const level = Math.min(1, Math.max(0, (levelDb - floorDb) / (this.peakDb - floorDb)));
    const fricative = Math.min(1, Math.max(0, (brightness - 0.35) / 0.4));
    const jaw = Math.pow(level, 0.8) * (1 - 0.7 * fricative);
    const target: MouthParams = {
      jawOpen: jaw,
      lipWidth: 0.45 + 0.35 * brightness,
      rounding: Math.max(0, 0.5 - brightness) * level,
      closure: Math.max(0, 1 - level * 3),
      teeth: Math.min(1, 0.3 * level + fricative),
      tongue: 0,
    };
    // Streaming: a light one-pole smoother (attack faster than release) instead of look-ahead.
    const mouth = this.options.mode === 'streaming' ? blend(this.previous, target, target.jawOpen > this.previous.jawOpen ? 0.7 : 0.5) : target;
    this.previous = mouth;
    return { mouth, speaking: true };
  }

  private globalPeakDb(): number {
    const frameMs = 1000 / this.options.fps;
    const levels: number[] = [];
    for (let t = 0; t < pcmDurationMs(this.pcm.length, this.sampleRate); t += frameMs) {
      levels.push(featuresAt(this.pcm, this.sampleRate, t, WINDOW_MS).levelDb);
    }
    levels.sort((a, b) => a - b);
    // The 95th percentile: robust to a single click or clipped burst.
    return levels.length ? Math.max(-40, levels[Math.floor(levels.length * 0.95)]!) : -20;
  }

  private bufferedSamples(): number {
    return this.pcm.length + this.chunks.reduce((n, c) => n + c.length, 0);
  }

  private consolidate(): void {
    if (this.chunks.length === 0) return;
    const merged = new Int16Array(this.bufferedSamples());
    merged.set(this.pcm, 0);
    let at = this.pcm.length;
    for (const c of this.chunks) {
      merged.set(c, at);
      at += c.length;
    }
    this.pcm = merged;
    this.chunks = [];
  }

  /** Streaming keeps only the audio that future frames still need. */
  private dropConsumedAudio(): void {
    if (this.options.mode === 'offline') return;
    const keepFromMs = (this.nextFrame * 1000) / this.options.fps - WINDOW_MS;
    const keepFrom = Math.floor((keepFromMs * this.sampleRate) / 1000) - this.bufferStartSample;
    if (keepFrom > this.sampleRate) {
      this.pcm = this.pcm.slice(keepFrom);
      this.bufferStartSample += keepFrom;
    }
  }
}

function blend(a: MouthParams, b: MouthParams, amount: number): MouthParams {
  const mix = (x: number, y: number) => x + (y - x) * amount;
  return {
    jawOpen: mix(a.jawOpen, b.jawOpen),
    lipWidth: mix(a.lipWidth, b.lipWidth),
    rounding: mix(a.rounding, b.rounding),
    closure: mix(a.closure, b.closure),
    teeth: mix(a.teeth, b.teeth),
    tongue: mix(a.tongue, b.tongue),
  };
}

/** Zero-phase smoothing (a [1 2 1]/4 kernel) that leaves silent frames exactly at rest. */
function smoothBothWays<T extends { mouth: MouthParams; speaking: boolean }>(frames: T[]): T[] {
  return frames.map((f, i) => {
    if (!f.speaking) return f;
    const prev = frames[i - 1]?.mouth ?? REST_MOUTH;
    const next = frames[i + 1]?.mouth ?? REST_MOUTH;
    return { ...f, mouth: blend(blend(prev, next, 0.5), f.mouth, 0.5) };
  });
}
