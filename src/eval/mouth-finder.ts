import { AvatarError } from '../core/errors.js';
import { MeshFaceLandmarker, type FaceLandmarker } from '../avatars/face-landmarks.js';
import { ffmpegErrorTail, runFfmpeg } from '../encode/ffmpeg.js';
import { probeMedia } from '../encode/media-probe.js';
import type { Region } from './sync-analysis.js';

/** Frames sampled across the video to follow the mouth. */
const SAMPLES = 12;
/** Sampled frames that must show a face. */
const MIN_FOUND_SHARE = 0.5;

/**
 * Finds the mouth of a talking-head video with the face mesh: the mouth is measured on
 * frames spread over the whole video, and the box covers where it was in all of them (a
 * mouth box like the renderers' own: a little wider than the lips, from the upper lip down
 * past the lower lip), so a head that moves keeps its mouth inside. Throws invalid_input
 * when too few sampled frames show a face.
 */
export async function findMouthRegion(video: string, landmarker?: FaceLandmarker): Promise<Region> {
  const probe = await probeMedia(video);
  if (!probe.video) throw new AvatarError('invalid_input', `${video} has no video stream`);
  const { width, height } = probe.video;
  const durationS = Math.max(0.04, (probe.video.durationMs ?? probe.durationMs) / 1000);
  const rate = Math.min(probe.video.fps || 25, SAMPLES / durationS);
  const { code, stdout, stderr } = await runFfmpeg(['-loglevel', 'error', '-i', video, '-map', '0:v:0', '-vf', `fps=${rate.toFixed(4)},format=rgb24`, '-f', 'rawvideo', 'pipe:1']);
  if (code !== 0) throw new AvatarError('invalid_input', `cannot decode video ${video}: ${ffmpegErrorTail(stderr)}`);
  const mesh = landmarker ?? (await MeshFaceLandmarker.get());
  const size = width * height * 3;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  let sampled = 0;
  let found = 0;
  for (let o = 0; o + size <= stdout.length; o += size) {
    sampled++;
    const face = (await mesh.detect(new Uint8Array(stdout.buffer, stdout.byteOffset + o, size), width, height))[0];
    if (!face) continue;
    found++;
    const { center: [cx, cy], width: mw } = face.mouth;
    const below = Math.max(mw * 0.6, (face.chin[1] - cy) * 0.65);
    x0 = Math.min(x0, cx - mw * 0.8);
    x1 = Math.max(x1, cx + mw * 0.8);
    y0 = Math.min(y0, cy - mw * 0.35);
    y1 = Math.max(y1, cy + below);
  }
  if (found === 0 || found < sampled * MIN_FOUND_SHARE) {
    throw new AvatarError('invalid_input', `${video}: the face mesh found a face in ${found} of ${sampled} sampled frames; pass the mouth box with --mouth x,y,w,h`);
  }
  const even = (v: number) => Math.round(v / 2) * 2;
  const x = Math.max(0, even(x0));
  const y = Math.max(0, even(y0));
  const w = Math.max(8, Math.min(width - x, even(x1 - x0)));
  const h = Math.max(8, Math.min(height - y, even(y1 - y0)));
  return [x, y, w, h];
}
