import { fineEnvelope, measureAvOffset } from './av-offset.js';
import { decodeRegionLuma, mouthActivity, type Region } from './sync-analysis.js';
import { decodeAudioTrack } from './video-metrics.js';

/** Sample rate the audio is analysed at. */
const ANALYSIS_RATE = 16000;

/** Lip-sync offset of one span of frames. */
export interface SpanOffset {
  readonly fromFrame: number;
  readonly toFrame: number;
  /** BT.1359 sign: positive when the sound comes before the picture, ms. */
  readonly offsetMs: number;
  readonly confidence: number;
}

/**
 * Lip-sync offsets of consecutive spans of a video (the segments of a video rendered in
 * parts): the same analysis as the evaluator's (mouth activity against loudness), the
 * video decoded once and each span measured on its own frames. A join that shifted
 * picture against sound shows as a jump between neighbouring spans.
 */
export async function offsetsBySpan(path: string, mouth: Region, spanFrames: readonly number[], maxLagFrames = 10): Promise<SpanOffset[]> {
  const [, , w, h] = mouth;
  const { frames, fps } = await decodeRegionLuma(path, mouth);
  const pcm = await decodeAudioTrack(path, ANALYSIS_RATE);
  const frameMs = 1000 / fps;
  const { linear } = fineEnvelope(pcm, ANALYSIS_RATE, frameMs);
  const envelope = Float64Array.from(frames, (_, i) => linear[Math.min(linear.length - 1, Math.round(i * frameMs))] ?? 0);
  const activity = mouthActivity(frames, envelope, w, h);
  const offsets: SpanOffset[] = [];
  let from = 0;
  for (const count of spanFrames) {
    const to = Math.min(frames.length, from + count);
    const { offsetMs, confidence } = measureAvOffset(activity, pcm, ANALYSIS_RATE, fps, { fromFrame: from, toFrame: to, maxLagFrames });
    offsets.push({ fromFrame: from, toFrame: to, offsetMs, confidence });
    from = to;
  }
  return offsets;
}
