import { AvatarError } from '../core/errors.js';
import { ffmpegErrorTail, runFfmpeg } from '../encode/ffmpeg.js';
import { bt1359Verdict, fineEnvelope, measureAvOffset, type AvOffset } from './av-offset.js';
import { summarizePitch, type PitchSummary } from './pitch.js';
import { probeMedia, type MediaProbe } from '../encode/media-probe.js';
import { decodeRegionLuma, frameMotion, motionBySpan, mouthActivity, type Region } from './sync-analysis.js';
import type { MouthTrack } from './mouth-finder.js';

/** Sample rate the audio of a video is analysed at. */
const ANALYSIS_RATE = 16000;
/** Window each end of a video is measured over for drift, ms. */
const DRIFT_WINDOW_MS = 10000;
/** Fewer silent frames than this and stillness is not judged. */
export const MIN_SILENT_FRAMES = 5;

/** Everything the evaluator measures on one talking-head video. */
export interface VideoAnalysis {
  readonly probe: MediaProbe;
  readonly fps: number;
  readonly frames: number;
  readonly sync: Omit<AvOffset, 'offsetsMs' | 'correlations'> & { verdict: ReturnType<typeof bt1359Verdict> };
  /** Offsets over the first and last 10 s and their difference (last minus first); absent under 20 s. */
  readonly drift?: { firstMs: number; lastMs: number; driftMs: number };
  readonly stillness: {
    /** Mean mouth-region motion (luma units per pixel per frame) in silence and in speech. */
    readonly silentMotion: number;
    readonly speechMotion: number;
    /** silentMotion / speechMotion: 0 is a mouth at rest in every pause; 1 moves as in speech. */
    readonly ratio: number | null;
    readonly silentFrames: number;
    readonly speechFrames: number;
  };
  readonly voice: PitchSummary;
  readonly validity: {
    readonly hasVideo: boolean;
    readonly hasAudio: boolean;
    readonly videoCodec: string | undefined;
    readonly audioCodec: string | undefined;
    readonly videoMs: number;
    readonly audioMs: number;
    /** Video minus audio duration, ms (stream durations from ffprobe, else decoded lengths). */
    readonly avDurationDiffMs: number;
  };
  /** Per-frame series for plots: audio loudness (linear) and mouth activity, each scaled to 0..1. */
  readonly series: { envelope: number[]; activity: number[]; offsetsMs: number[]; correlations: number[] };
}

/** Parses `x,y,w,h` into a region; throws invalid_input for anything else. */
export function parseMouthBox(text: string): Region {
  const parts = text.split(',').map((p) => p.trim());
  const nums = parts.map(Number);
  if (parts.length !== 4 || nums.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new AvatarError('invalid_input', `--mouth must be four whole numbers x,y,w,h (pixels), got "${text}"`);
  }
  const [x, y, w, h] = nums as [number, number, number, number];
  if (w < 8 || h < 8) throw new AvatarError('invalid_input', `--mouth box ${w}x${h} is too small: at least 8x8 pixels`);
  return [x, y, w, h];
}

/** Decodes the audio track of a media file to mono PCM at `sampleRate`. */
export async function decodeAudioTrack(path: string, sampleRate = ANALYSIS_RATE): Promise<Int16Array> {
  const { code, stdout, stderr } = await runFfmpeg(['-loglevel', 'error', '-i', path, '-vn', '-f', 's16le', '-ac', '1', '-ar', String(sampleRate), 'pipe:1']);
  if (code !== 0) throw new AvatarError('invalid_input', `cannot decode the audio of ${path}: ${ffmpegErrorTail(stderr)}`);
  const bytes = stdout.byteLength & ~1;
  return new Int16Array(stdout.buffer.slice(stdout.byteOffset, stdout.byteOffset + bytes));
}

/**
 * Measures lip sync, drift, stillness, voice pitch and stream validity of any talking-head
 * video with an audio track, given the mouth's box in video pixels or a track of it.
 */
export async function analyzeTalkingHead(path: string, mouth: Region | MouthTrack, options: { maxLagFrames?: number } = {}): Promise<VideoAnalysis> {
  const probe = await probeMedia(path);
  if (!probe.video) throw new AvatarError('invalid_input', `${path} has no video stream`);
  if (!probe.audio) throw new AvatarError('invalid_input', `${path} has no audio stream: lip sync needs the sound`);
  const [x, y, bw, bh] = 'origins' in mouth ? mouth.bounds : mouth;
  if (x + bw > probe.video.width || y + bh > probe.video.height) {
    throw new AvatarError('invalid_input', `mouth box ${x},${y},${bw},${bh} lies outside the ${probe.video.width}x${probe.video.height} video`);
  }
  const { frames, fps } = 'origins' in mouth ? await decodeTrackedLuma(path, mouth) : await decodeRegionLuma(path, mouth);
  const [w, h] = 'origins' in mouth ? [mouth.width, mouth.height] : [bw, bh];
  if (frames.length < 10) throw new AvatarError('invalid_input', `${path} has only ${frames.length} decodable frames`);
  const pcm = await decodeAudioTrack(path);
  const frameMs = 1000 / fps;
  const { linear } = fineEnvelope(pcm, ANALYSIS_RATE, frameMs);
  const envelope = Float64Array.from(frames, (_, i) => linear[Math.min(linear.length - 1, Math.round(i * frameMs))] ?? 0);
  const activity = mouthActivity(frames, envelope, w, h);
  const motion = frameMotion(frames, w, h);
  const offset = measureAvOffset(activity, pcm, ANALYSIS_RATE, fps, options);

  let drift: VideoAnalysis['drift'];
  const windowFrames = Math.round(DRIFT_WINDOW_MS / frameMs);
  if (frames.length >= 2 * windowFrames) {
    const first = measureAvOffset(activity, pcm, ANALYSIS_RATE, fps, { ...options, toFrame: windowFrames });
    const last = measureAvOffset(activity, pcm, ANALYSIS_RATE, fps, { ...options, fromFrame: frames.length - windowFrames });
    drift = { firstMs: first.offsetMs, lastMs: last.offsetMs, driftMs: last.offsetMs - first.offsetMs };
  }

  const { silentMotion, speechMotion, silentFrames, speechFrames } = motionBySpan(motion, envelope);

  const videoMs = probe.video.durationMs ?? frames.length * frameMs;
  const audioMs = probe.audio.durationMs ?? (pcm.length * 1000) / ANALYSIS_RATE;
  const { offsetsMs, correlations, ...syncFigures } = offset;
  return {
    probe, fps, frames: frames.length,
    sync: { ...syncFigures, verdict: bt1359Verdict(offset.offsetMs) },
    ...(drift ? { drift } : {}),
    stillness: {
      silentMotion, speechMotion,
      ratio: silentFrames >= MIN_SILENT_FRAMES && speechMotion > 0 ? silentMotion / speechMotion : null,
      silentFrames, speechFrames,
    },
    voice: summarizePitch(pcm, ANALYSIS_RATE),
    validity: {
      hasVideo: true, hasAudio: true, videoCodec: probe.video.codec, audioCodec: probe.audio.codec,
      videoMs, audioMs, avDurationDiffMs: videoMs - audioMs,
    },
    series: { envelope: scaled(envelope), activity: scaled(activity), offsetsMs, correlations },
  };
}

/**
 * Luma of the tracked mouth box in every frame: the track's bounds are cut out by ffmpeg,
 * and each frame's box is taken from them where the track puts it (the last origin holds
 * for frames past the track's end).
 */
async function decodeTrackedLuma(path: string, track: MouthTrack): Promise<{ frames: Uint8Array[]; fps: number }> {
  const [bx, by, bw] = track.bounds;
  const { frames: cut, fps } = await decodeRegionLuma(path, track.bounds);
  const frames = cut.map((full, i) => {
    const [ox, oy] = track.origins[Math.min(i, track.origins.length - 1)]!;
    const box = new Uint8Array(track.width * track.height);
    for (let y = 0; y < track.height; y++) {
      const from = (oy - by + y) * bw + (ox - bx);
      box.set(full.subarray(from, from + track.width), y * track.width);
    }
    return box;
  });
  return { frames, fps };
}

/** A series scaled so its 99th percentile is 1, rounded for compact reports. */
function scaled(x: Float64Array): number[] {
  const sorted = Array.from(x).sort((a, b) => a - b);
  const top = sorted[Math.floor(0.99 * (sorted.length - 1))] || 1;
  return Array.from(x, (v) => Math.round(Math.min(1.5, v / top) * 1000) / 1000);
}
