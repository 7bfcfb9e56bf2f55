import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { rgbToI420 } from '../compose/color-convert.js';
import { AvatarError } from '../core/errors.js';
import { readManifest, readMouthFile } from '../avatars/manifest.js';
import { ffmpegErrorTail, runFfmpeg } from '../encode/ffmpeg.js';
import { seamRegion, seamScore } from './seam-metric.js';

/** The seam/ghost figures of one rendered video against the avatar it was rendered from. */
export interface GhostFigures {
  /** Mean per-frame seam score (see seam-metric.ts): 0 is clean; a misaligned paste scores tens. */
  readonly mean: number;
  /** 95th percentile over frames: ghosts come with head motion, so the worst frames matter. */
  readonly p95: number;
  readonly worst: number;
  readonly worstFrame: number;
  readonly frames: number;
  /**
   * Colour: the 99th percentile of chroma magnitude (|U-128| + |V-128|) around the lower
   * face, highest over the output's frames, and the same for the avatar's own frames. A
   * greyscale avatar has ~0 in both; colour from nowhere shows as output above source.
   */
  readonly chroma: { readonly output: number; readonly source: number };
}

/** Decoded I420 frames of a video at a given size. */
async function decodeI420(path: string, width: number, height: number): Promise<Uint8Array[]> {
  const { code, stdout, stderr } = await runFfmpeg(['-loglevel', 'error', '-i', path, '-map', '0:v:0', '-vf', `scale=${width}:${height},format=yuv420p`, '-f', 'rawvideo', 'pipe:1']);
  if (code !== 0) throw new AvatarError('invalid_input', `cannot decode video ${path}: ${ffmpegErrorTail(stderr)}`);
  const size = width * height * 1.5;
  const frames: Uint8Array[] = [];
  for (let o = 0; o + size <= stdout.length; o += size) frames.push(stdout.subarray(o, o + size));
  return frames;
}

/**
 * Scores a rendered video against the prepared avatar folder it was made from. Each output
 * frame is compared with the avatar frame it was built on, found as the one whose picture
 * above the nose (forehead, eyes, background: what no lip-sync renderer changes) is closest.
 */
export async function measureGhosting(video: string, avatarDir: string): Promise<GhostFigures> {
  const manifest = await readManifest(avatarDir);
  const { width, height } = manifest;
  const mouths = (await readMouthFile(avatarDir, manifest.frameCount)).frames;
  const names = (await readdir(join(avatarDir, 'frames'))).filter((n) => /\.(jpe?g|png)$/i.test(n)).sort();
  const sources = await Promise.all(names.map(async (n) => {
    const rgb = await sharp(join(avatarDir, 'frames', n)).removeAlpha().resize(width, height, { fit: 'fill' }).raw().toBuffer();
    return rgbToI420(new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.length), width, height);
  }));
  const outputs = await decodeI420(video, width, height);
  if (outputs.length === 0) throw new AvatarError('invalid_input', `${video} has no decodable frames`);
  const thumbs = sources.map((s, i) => upperThumb(s, width, mouths[i]!.ay));
  const scores: number[] = [];
  let chromaOut = 0;
  for (const out of outputs) {
    const thumb = upperThumb(out, width, mouths[0]!.ay);
    let best = 0;
    let bestSad = Infinity;
    for (let i = 0; i < thumbs.length; i++) {
      const sad = sadOf(thumb, thumbs[i]!);
      if (sad < bestSad) {
        bestSad = sad;
        best = i;
      }
    }
    scores.push(seamScore(out, sources[best]!, width, height, mouths[best]!).score);
    chromaOut = Math.max(chromaOut, chromaP99(out, width, height, mouths[best]!));
  }
  const chromaSrc = sources.reduce((m, s, i) => Math.max(m, chromaP99(s, width, height, mouths[i]!)), 0);
  const sorted = [...scores].sort((a, b) => a - b);
  const worst = sorted[sorted.length - 1]!;
  return {
    mean: round3(scores.reduce((a, b) => a + b, 0) / scores.length),
    p95: round3(sorted[Math.floor(0.95 * (sorted.length - 1))]!),
    worst: round3(worst), worstFrame: scores.indexOf(worst), frames: scores.length,
    chroma: { output: chromaOut, source: chromaSrc },
  };
}

/** Luma above `noseY` subsampled by 4 in each direction, for finding a frame's background. */
function upperThumb(i420: Uint8Array, width: number, noseY: number): Uint8Array {
  const rows = Math.max(4, Math.floor(noseY * 0.8));
  const tw = width >> 2;
  const th = rows >> 2;
  const out = new Uint8Array(tw * th);
  for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) out[y * tw + x] = i420[(y * 4) * width + x * 4]!;
  return out;
}

function sadOf(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) s += Math.abs(a[i]! - b[i]!);
  return s;
}

/** 99th percentile of |U-128| + |V-128| over the seam region of a face. */
function chromaP99(i420: Uint8Array, width: number, height: number, m: Parameters<typeof seamRegion>[0]): number {
  const r = seamRegion(m, width, height);
  const cw = width >> 1;
  const ch = height >> 1;
  const u = width * height;
  const v = u + cw * ch;
  const hist = new Uint32Array(256);
  let n = 0;
  for (let y = r.y0 >> 1; y < Math.min(ch, r.y1 >> 1); y++) {
    for (let x = r.x0 >> 1; x < Math.min(cw, r.x1 >> 1); x++) {
      const c = Math.min(255, Math.abs(i420[u + y * cw + x]! - 128) + Math.abs(i420[v + y * cw + x]! - 128));
      hist[c]!++;
      n++;
    }
  }
  let seen = 0;
  for (let c = 0; c < 256; c++) {
    seen += hist[c]!;
    if (seen >= 0.99 * n) return c;
  }
  return 0;
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
