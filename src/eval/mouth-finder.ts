import { AvatarError } from '../core/errors.js';
import { MeshFaceLandmarker, type FaceLandmarker } from '../avatars/face-landmarks.js';
import { ffmpegErrorTail, runFfmpeg } from '../encode/ffmpeg.js';
import { probeMedia } from '../encode/media-probe.js';
import type { Region } from './sync-analysis.js';

/** Most frames measured by the face mesh per video (the rest are interpolated). */
const MAX_MEASURED = 160;
/** Sampled frames that must show a face. */
const MIN_FOUND_SHARE = 0.5;

/**
 * Where the mouth is in every frame of a video: a box of one size whose top-left corner
 * follows the mouth, so that head motion is not read as mouth motion.
 */
export interface MouthTrack {
  readonly width: number;
  readonly height: number;
  /** Top-left corner of the box per frame. */
  readonly origins: readonly (readonly [number, number])[];
  /** The box that holds the mouth in every frame (for reports and fixed-box analyses). */
  readonly bounds: Region;
}

/**
 * Finds and follows the mouth of a talking-head video with the face mesh: measured on up to
 * MAX_MEASURED frames spread over the video, interpolated between them and smoothed over
 * three measurements. The box is a little wider than the lips and reaches from above the
 * upper lip to below the lower lip of a mouth open wide, like the renderers' own mouth box.
 * Throws invalid_input when too few measured frames show a face.
 */
export async function findMouthTrack(video: string, landmarker?: FaceLandmarker): Promise<MouthTrack> {
  const probe = await probeMedia(video);
  if (!probe.video) throw new AvatarError('invalid_input', `${video} has no video stream`);
  const { width, height } = probe.video;
  const frameCount = await countFrames(video);
  if (frameCount === 0) throw new AvatarError('invalid_input', `${video} has no decodable frames`);
  const step = Math.max(1, Math.ceil(frameCount / MAX_MEASURED));
  // Only the measured frames are decoded: a long video never sits in memory whole.
  const { code, stdout, stderr } = await runFfmpeg(['-loglevel', 'error', '-i', video, '-map', '0:v:0', '-vf', `select=not(mod(n\\,${step})),format=rgb24`, '-vsync', '0', '-f', 'rawvideo', 'pipe:1']);
  if (code !== 0) throw new AvatarError('invalid_input', `cannot decode video ${video}: ${ffmpegErrorTail(stderr)}`);
  const size = width * height * 3;
  const mesh = landmarker ?? (await MeshFaceLandmarker.get());
  const samples: { frame: number; cx: number; cy: number; mw: number; below: number }[] = [];
  let sampled = 0;
  for (let o = 0; o + size <= stdout.length; o += size) {
    const frame = sampled++ * step;
    const face = (await mesh.detect(new Uint8Array(stdout.buffer, stdout.byteOffset + o, size), width, height))[0];
    if (!face) continue;
    const { center: [cx, cy], width: mw } = face.mouth;
    samples.push({ frame, cx, cy, mw, below: face.chin[1] - cy });
  }
  if (samples.length === 0 || samples.length < sampled * MIN_FOUND_SHARE) {
    throw new AvatarError('invalid_input', `${video}: the face mesh found a face in ${samples.length} of ${sampled} sampled frames; pass the mouth box with --mouth x,y,w,h`);
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
  const mw = median(samples.map((s) => s.mw));
  const below = median(samples.map((s) => s.below));
  const even = (v: number) => Math.round(v / 2) * 2;
  const w = Math.min(width, Math.max(8, even(mw * 1.6)));
  const h = Math.min(height, Math.max(8, even(Math.max(mw * 0.9, below * 0.9))));
  const smooth = (key: 'cx' | 'cy') => samples.map((_, k) => {
    const around = samples.slice(Math.max(0, k - 1), k + 2).map((s) => s[key]);
    return around.reduce((a, b) => a + b, 0) / around.length;
  });
  const xs = smooth('cx');
  const ys = smooth('cy');
  const origins = Array.from({ length: frameCount }, (_, f): [number, number] => {
    let k = samples.findIndex((s) => s.frame >= f);
    if (k < 0) k = samples.length - 1;
    const j = Math.max(0, samples[k]!.frame > f ? k - 1 : k);
    const span = samples[k]!.frame - samples[j]!.frame;
    const t = span > 0 ? (f - samples[j]!.frame) / span : 0;
    const cx = xs[j]! + (xs[k]! - xs[j]!) * Math.min(1, Math.max(0, t));
    const cy = ys[j]! + (ys[k]! - ys[j]!) * Math.min(1, Math.max(0, t));
    return [
      Math.max(0, Math.min(width - w, Math.round(cx - w / 2))),
      Math.max(0, Math.min(height - h, Math.round(cy - h * 0.35))),
    ];
  });
  const x0 = Math.min(...origins.map((o) => o[0]));
  const y0 = Math.min(...origins.map((o) => o[1]));
  const x1 = Math.max(...origins.map((o) => o[0])) + w;
  const y1 = Math.max(...origins.map((o) => o[1])) + h;
  return { width: w, height: h, origins, bounds: [x0, y0, x1 - x0, y1 - y0] };
}

/** Frames of a video, counted by decoding (container frame counts can be missing or wrong). */
async function countFrames(video: string): Promise<number> {
  const { code, stdout, stderr } = await runFfmpeg(['-loglevel', 'error', '-i', video, '-map', '0:v:0', '-vf', 'scale=2:2,format=gray', '-f', 'rawvideo', 'pipe:1']);
  if (code !== 0) throw new AvatarError('invalid_input', `cannot decode video ${video}: ${ffmpegErrorTail(stderr)}`);
  return Math.floor(stdout.length / 4);
}

/** A track that holds one box still over `frames` frames. */
export function fixedMouthTrack(region: Region, frames: number): MouthTrack {
  const [x, y, w, h] = region;
  return { width: w, height: h, origins: Array.from({ length: frames }, () => [x, y] as const), bounds: region };
}
