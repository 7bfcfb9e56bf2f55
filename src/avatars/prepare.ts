import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import sharp from 'sharp';
import { AvatarError, throwIfAborted } from '../core/errors.js';
import { avatarIdFromName as idFromName, checkAvatarId } from '../core/avatar-id.js';
import { MeshFaceLandmarker, type FaceGeometry, type FaceLandmarker } from './face-landmarks.js';
import { buildFaceTrack, FaceTrackError, type FrameFaces } from './face-track.js';
import { qualityProblems, SMALL_FACE_SHARE } from './quality-gates.js';
import type { Bounds } from '../core/geometry.js';
import { AVATAR_FORMAT_VERSION, frameFileName, type AvatarManifest, type MouthFile } from './manifest.js';
import { extractAudio, fitSize, probeSource, readImageRgb, readVideoFrames, type MediaInfo, type RgbImage } from './media-source.js';

/** What to prepare and how. */
export interface PrepareOptions {
  /** A photo or a video of one person. */
  readonly input: string;
  /** Folder that holds avatar folders (default `./avatars`). */
  readonly outputDir?: string;
  /** Display name; the id is derived from it (default: the file name). */
  readonly name?: string;
  /** Id to use instead of one derived from the name. */
  readonly id?: string;
  /** Frame rate of the extracted frames (video; default 25). */
  readonly fps?: number;
  /** JPEG quality of stored frames, 1-100 (default 90). */
  readonly quality?: number;
  /** Redo an avatar that exists (else it is skipped), and accept a source that fails the quality gates (with warnings). */
  readonly force?: boolean;
  /** Cut of the video to use. */
  readonly startMs?: number;
  readonly durationMs?: number;
  /** Longest side of stored frames (default 1024). */
  readonly maxSide?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: PrepareProgress) => void;
  /** Landmark model (default: the built-in face mesh). */
  readonly landmarker?: FaceLandmarker;
  /**
   * Framing: `face` cuts a talking head around the face (track), `none` keeps the whole
   * picture, `auto` (default) frames the face when it is small in the picture.
   */
  readonly crop?: PrepareCrop;
}

export type PrepareCrop = 'auto' | 'face' | 'none';
export const PREPARE_CROPS: readonly PrepareCrop[] = ['auto', 'face', 'none'];

/** Progress of one avatar. */
export interface PrepareProgress {
  readonly id: string;
  readonly framesDone: number;
  /** Expected frame count (an estimate for videos). */
  readonly framesTotal: number;
}

/** Figures of one prepared avatar (the `--output-json` entries). */
export interface PrepareResult {
  readonly id: string;
  readonly name: string;
  readonly input: string;
  readonly dir: string;
  readonly kind: 'image' | 'video';
  readonly renderer: 'warp' | 'select';
  readonly frames: number;
  readonly bytes: number;
  readonly ms: number;
  /** Frames measured per second of wall time. */
  readonly framesPerSecond: number;
  /** True when the avatar existed and `force` was off. */
  readonly skipped: boolean;
  /** Frames whose face was interpolated from neighbours. */
  readonly filledFrames: number;
  /** Quality gates the source failed, accepted because of `force`. */
  readonly warnings: string[];
  /** The part of the source used (x, y, width, height in source pixels), when framed around the face. */
  readonly crop?: readonly [number, number, number, number];
}

/** Shortest usable video. */
export const MIN_VIDEO_MS = 1000;
const PREPARE_FPS_RANGE = [1, 60] as const;

/** An avatar id from a display name or file name: `Anna Smith.mp4` -> `anna_smith`. */
export function avatarIdFromName(name: string): string {
  const id = idFromName(name);
  if (!id) throw new AvatarError('invalid_input', `cannot make an avatar id from "${name}"; pass --name with letters or digits`);
  return id;
}

/** Files of a folder that `prepare` takes (by extension; content is checked when prepared). */
export async function listPrepareInputs(folder: string): Promise<string[]> {
  const media = /\.(mp4|mov|mkv|webm|avi|m4v|jpe?g|png|webp)$/i;
  const entries = await readdir(folder, { withFileTypes: true });
  return entries.filter((e) => e.isFile() && media.test(e.name)).map((e) => join(folder, e.name)).sort();
}

/**
 * Turns a photo (renderer `warp`) or a video (renderer `select`) into an avatar folder:
 * avatar.json, frames/, crop_rects.json, mouth.json and, for videos with sound, audio.wav.
 * The folder is built under a temporary name and renamed into place when complete, so a
 * failure or an abort leaves nothing behind and an existing avatar stays intact.
 */
export async function prepareAvatar(options: PrepareOptions): Promise<PrepareResult> {
  const started = performance.now();
  const input = resolve(options.input);
  const inputStat = await stat(input).catch(() => undefined);
  if (!inputStat?.isFile()) throw new AvatarError('invalid_input', `${options.input}: no such file`);
  const name = options.name ?? basename(input, extname(input));
  const id = options.id ?? avatarIdFromName(name);
  checkAvatarId(id);
  const fps = options.fps ?? 25;
  if (!Number.isFinite(fps) || fps < PREPARE_FPS_RANGE[0] || fps > PREPARE_FPS_RANGE[1]) {
    throw new AvatarError('invalid_input', `--fps must be from ${PREPARE_FPS_RANGE[0]} to ${PREPARE_FPS_RANGE[1]}, got ${options.fps}`);
  }
  const quality = options.quality ?? 90;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new AvatarError('invalid_input', `--quality must be 1-100, got ${options.quality}`);
  const outputDir = resolve(options.outputDir ?? 'avatars');
  const dest = join(outputDir, id);
  const base = { id, name, input, dir: dest };
  if (!options.force && (await stat(join(dest, 'avatar.json')).catch(() => undefined))) {
    return { ...base, kind: 'image', renderer: 'warp', frames: 0, bytes: 0, ms: 0, framesPerSecond: 0, skipped: true, filledFrames: 0, warnings: [] };
  }
  const info = await probeSource(input);
  const work = join(outputDir, `.${id}.partial-${process.pid}-${randomBytes(3).toString('hex')}`);
  await mkdir(join(work, 'frames'), { recursive: true }).catch((e: Error) => {
    throw new AvatarError('output_unwritable', `cannot create ${outputDir}: ${e.message}`);
  });
  try {
    const built = await buildAvatarFolder(work, { ...options, input, fps, quality }, id, name, info);
    await writeFile(join(work, 'avatar.json'), JSON.stringify(built.manifest, null, 2) + '\n');
    await swapInto(work, dest);
    const ms = performance.now() - started;
    return {
      ...base, kind: info.kind, renderer: info.kind === 'image' ? 'warp' : 'select', frames: built.manifest.frameCount, bytes: built.bytes,
      ms, framesPerSecond: (built.manifest.frameCount * 1000) / ms, skipped: false, filledFrames: built.filledFrames,
      warnings: built.warnings, ...(built.crop ? { crop: built.crop } : {}),
    };
  } catch (e) {
    await rm(work, { recursive: true, force: true });
    if (e instanceof FaceTrackError) throw new AvatarError('invalid_input', `${options.input}: ${e.message}`);
    if (options.signal?.aborted) throw new AvatarError('aborted', 'prepare was cancelled', { cause: e });
    throw e;
  }
}

interface BuiltFolder {
  manifest: AvatarManifest;
  bytes: number;
  filledFrames: number;
  warnings: string[];
  crop?: readonly [number, number, number, number];
}

async function buildAvatarFolder(
  work: string,
  options: PrepareOptions & { input: string; fps: number; quality: number },
  id: string,
  name: string,
  info: MediaInfo,
): Promise<BuiltFolder> {
  const landmarker = options.landmarker ?? (await MeshFaceLandmarker.get());
  const crop = await chooseCrop(options, info, landmarker);
  const { width, height } = fitSize(crop ? crop[2] : info.width, crop ? crop[3] : info.height, options.maxSide ?? 1024);
  const faces: FrameFaces[] = [];
  let firstFace: FaceGeometry | undefined;
  let bytes = 0;
  const writes: Promise<void>[] = [];
  const store = async (image: RgbImage, index: number) => {
    const jpeg = await sharp(image.rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: options.quality }).toBuffer();
    bytes += jpeg.length;
    await writeFile(join(work, 'frames', frameFileName(index)), jpeg);
  };
  const measure = async (image: RgbImage, index: number) => {
    const found = await landmarker.detect(image.rgb, width, height);
    faces.push(found);
    firstFace ??= found[0];
    // JPEG encoding runs on libuv threads while the next frame is measured here.
    writes.push(store(image, index));
    if (writes.length >= 4) await writes.shift();
  };

  const expected = info.kind === 'image' ? 1 : Math.max(1, Math.round((Math.min(options.durationMs ?? Infinity, (info.durationMs ?? 0) - (options.startMs ?? 0)) * options.fps) / 1000));
  let index = 0;
  if (info.kind === 'image') {
    await measure(await readImageRgb(options.input, width, height, crop), index++);
    options.onProgress?.({ id, framesDone: 1, framesTotal: 1 });
  } else {
    const frames = readVideoFrames(options.input, { width, height, fps: options.fps, ...cut(options), ...(crop ? { crop } : {}), ...(options.signal ? { signal: options.signal } : {}) });
    for await (const frame of frames) {
      throwIfAborted(options.signal);
      await measure(frame, index++);
      if (index % 5 === 0) options.onProgress?.({ id, framesDone: index, framesTotal: Math.max(expected, index) });
    }
    options.onProgress?.({ id, framesDone: index, framesTotal: index });
  }
  await Promise.all(writes);
  const minFrames = info.kind === 'image' ? 1 : Math.ceil((MIN_VIDEO_MS * options.fps) / 1000);
  if (index < minFrames) {
    throw new AvatarError('invalid_input', `${options.input}: too short (${index} frames at ${options.fps} fps; at least ${MIN_VIDEO_MS} ms is needed)`);
  }
  const problems = qualityProblems(faces.map((f) => f[0]));
  if (problems.length && !options.force) {
    throw new AvatarError('invalid_input', `${options.input}: cannot make an avatar that looks right: ${problems.join('; ')} (--force makes it anyway)`);
  }
  const track = buildFaceTrack(faces, options.fps, {
    maxGapFrames: Math.round(options.fps / 2), secondFaceArea: 0.25, maxSecondFaceFrames: Math.floor(faces.length * 0.1),
  });
  const lips = firstFace!.mouth;
  const mouthFile: MouthFile = {
    version: AVATAR_FORMAT_VERSION,
    frames: track.mouths,
    lips: { upperInner: lips.upperInner, lowerInner: lips.lowerInner, upperOuter: lips.upperOuter, lowerOuter: lips.lowerOuter },
  };
  await writeFile(join(work, 'mouth.json'), JSON.stringify(mouthFile) + '\n');
  await writeFile(join(work, 'crop_rects.json'), JSON.stringify(track.cropRects) + '\n');
  if (info.hasAudio) await extractAudio(options.input, join(work, 'audio.wav'), options.startMs, options.durationMs);
  const manifest: AvatarManifest = {
    id, name, version: AVATAR_FORMAT_VERSION, renderer: info.kind === 'image' ? 'warp' : 'select',
    fps: info.kind === 'image' ? 25 : options.fps, width, height, frameCount: index,
    source: {
      file: basename(options.input), kind: info.kind,
      ...(options.startMs ? { startMs: options.startMs } : {}), ...(options.durationMs ? { durationMs: options.durationMs } : {}),
    },
    created: new Date().toISOString(),
  };
  return { manifest, bytes, filledFrames: track.filledFrames, warnings: problems, ...(crop ? { crop } : {}) };
}

/** Frames looked at to decide the framing of a video. */
const FRAMING_SAMPLES = 8;

/**
 * The part of the source to keep (source pixels), or undefined for all of it: with `face`,
 * or with `auto` when the face is narrower than SMALL_FACE_SHARE of the picture, a head and
 * shoulders frame around every face found in a few frames (the whole face track).
 */
async function chooseCrop(options: PrepareOptions & { fps: number }, info: MediaInfo, landmarker: FaceLandmarker): Promise<[number, number, number, number] | undefined> {
  const mode = options.crop ?? 'auto';
  if (mode === 'none') return undefined;
  const { width, height } = fitSize(info.width, info.height, 1024);
  const boxes: Bounds[] = [];
  if (info.kind === 'image') {
    const face = (await landmarker.detect((await readImageRgb(options.input, width, height)).rgb, width, height))[0];
    if (face) boxes.push(face.box);
  } else {
    const span = Math.min(options.durationMs ?? Infinity, (info.durationMs ?? 1000) - (options.startMs ?? 0));
    const fps = Math.max(0.2, (FRAMING_SAMPLES * 1000) / Math.max(1000, span));
    for await (const frame of readVideoFrames(options.input, { width, height, fps, ...cut(options), ...(options.signal ? { signal: options.signal } : {}) })) {
      const face = (await landmarker.detect(frame.rgb, width, height))[0];
      if (face) boxes.push(face.box);
    }
  }
  if (boxes.length === 0) return undefined;
  const s = info.width / width;
  const x0 = Math.min(...boxes.map((b) => b[0])) * s;
  const y0 = Math.min(...boxes.map((b) => b[1])) * s;
  const x1 = Math.max(...boxes.map((b) => b[2])) * s;
  const y1 = Math.max(...boxes.map((b) => b[3])) * s;
  const faceW = (x1 - x0);
  if (mode === 'auto' && faceW >= SMALL_FACE_SHARE * info.width) return undefined;
  // Head and shoulders: the face about a third of the width, a little above the middle.
  const w = Math.min(info.width, faceW * 3);
  const h = Math.min(info.height, Math.max((y1 - y0) * 2.6, w * 0.75));
  const cx = (x0 + x1) / 2;
  const cy = y0 + (y1 - y0) * 0.75;
  const even = (v: number) => Math.max(2, Math.floor(v / 2) * 2);
  const cw = even(w);
  const ch = even(h);
  const left = even(Math.max(0, Math.min(info.width - cw, cx - cw / 2)));
  const top = even(Math.max(0, Math.min(info.height - ch, cy - ch / 2)));
  return [left, top, Math.min(cw, info.width - left), Math.min(ch, info.height - top)];
}

function cut(options: PrepareOptions): { startMs?: number; durationMs?: number } {
  return { ...(options.startMs ? { startMs: options.startMs } : {}), ...(options.durationMs ? { durationMs: options.durationMs } : {}) };
}

/** Moves a finished folder into place; an existing one is replaced only once the new one is complete. */
async function swapInto(work: string, dest: string): Promise<void> {
  const old = `${dest}.old-${process.pid}-${randomBytes(3).toString('hex')}`;
  const hadOld = await rename(dest, old).then(() => true, () => false);
  await rename(work, dest);
  if (hadOld) await rm(old, { recursive: true, force: true });
}
