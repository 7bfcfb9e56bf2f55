import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { AvatarError } from '../core/errors.js';
import { locateFfmpeg, runFfmpeg, type FfmpegInfo } from './ffmpeg.js';

/** An H.264 encoder and the ffmpeg arguments that drive it. */
export interface H264Encoder {
  readonly name: string;
  /** Arguments placed before the first input (device set-up). */
  readonly globalArgs: readonly string[];
  /** Arguments placed after the inputs (codec, filters, rate control). */
  readonly outputArgs: readonly string[];
}

/** Hardware encoders first: they cost no CPU. libx264 is the software floor. */
export const ENCODER_PREFERENCE = ['h264_nvenc', 'h264_vaapi', 'h264_qsv', 'h264_videotoolbox', 'libx264', 'libopenh264'] as const;

/** Encoders that need no device or driver beyond the ffmpeg binary itself. */
const SOFTWARE_ENCODERS: ReadonlySet<string> = new Set(['libx264', 'libopenh264']);

const VAAPI_DEVICE = process.env.AVATAR_VAAPI_DEVICE ?? '/dev/dri/renderD128';

/** The ffmpeg arguments for a named encoder, tuned for speed at good quality. */
export function encoderSpec(name: string): H264Encoder {
  switch (name) {
    case 'h264_nvenc':
      return { name, globalArgs: [], outputArgs: ['-c:v', name, '-preset', 'fast', '-rc', 'vbr', '-cq', '23', '-b:v', '0'] };
    case 'h264_vaapi':
      return { name, globalArgs: ['-vaapi_device', VAAPI_DEVICE], outputArgs: ['-vf', 'format=nv12,hwupload', '-c:v', name, '-qp', '23'] };
    case 'h264_qsv':
      return { name, globalArgs: [], outputArgs: ['-c:v', name, '-preset', 'veryfast', '-global_quality', '23'] };
    case 'h264_videotoolbox':
      return { name, globalArgs: [], outputArgs: ['-c:v', name, '-b:v', '2500k', '-realtime', '1'] };
    case 'libx264':
      return { name, globalArgs: [], outputArgs: ['-c:v', name, '-preset', 'veryfast', '-crf', '23'] };
    case 'libopenh264':
      return { name, globalArgs: [], outputArgs: ['-c:v', name, '-b:v', '2500k'] };
    default:
      throw new AvatarError('unknown_encoder', `unknown encoder "${name}": use one of ${ENCODER_PREFERENCE.join(', ')}`);
  }
}

/** Encoder names this ffmpeg build was compiled with (not proof that they work). */
export async function listedEncoders(): Promise<Set<string>> {
  const { stdout } = await runFfmpeg(['-encoders']);
  const names = new Set<string>();
  for (const line of stdout.toString().split('\n')) {
    const m = /^\s*V[.A-Z]{5}\s+(\S+)/.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}

/** True when a one-frame test encode with this encoder succeeds. */
export async function encoderWorks(spec: H264Encoder): Promise<boolean> {
  const { code } = await runFfmpeg([
    '-loglevel', 'error', ...spec.globalArgs,
    '-f', 'lavfi', '-i', 'color=c=gray:s=256x256:r=25',
    '-frames:v', '1', '-pix_fmt', 'yuv420p', ...spec.outputArgs, '-f', 'null', '-',
  ]);
  return code === 0;
}

interface ProbeCache {
  [ffmpegKey: string]: { encoder: string; probedAt: string };
}

let chosen: Promise<H264Encoder> | undefined;

/**
 * The fastest H.264 encoder that really works here, found by a one-frame test encode with
 * each candidate the build lists (a GPU is no proof of NVENC). The answer is cached in
 * memory and in `~/.cache/realtime-avatar/encoders.json` (see probeEncoder).
 * `forced` (or `$AVATAR_ENCODER`) skips the search but is still checked.
 */
export function chooseEncoder(forced?: string): Promise<H264Encoder> {
  const wanted = forced ?? process.env.AVATAR_ENCODER;
  if (wanted) return checkForced(wanted);
  chosen ??= probeEncoder().catch((err: unknown) => {
    chosen = undefined;
    throw err;
  });
  return chosen;
}

async function checkForced(name: string): Promise<H264Encoder> {
  const spec = encoderSpec(name);
  if (!(await listedEncoders()).has(name)) {
    throw new AvatarError('unknown_encoder', `encoder "${name}" is not in this ffmpeg build`);
  }
  if (!(await encoderWorks(spec))) {
    throw new AvatarError('unknown_encoder', `encoder "${name}" is listed by ffmpeg but fails a test encode on this machine`);
  }
  return spec;
}

/**
 * Finds the encoder without the in-memory answer: the cache file's entry for this ffmpeg
 * binary (and device list) when it still passes a one-frame test encode, otherwise a search
 * whose winner replaces the entry. A cached encoder is re-checked because a driver or device
 * can go away without changing the key. `cacheFile`: where the answers are kept.
 */
export async function probeEncoder(options: { cacheFile?: string } = {}): Promise<H264Encoder> {
  const file = options.cacheFile ?? cacheFile();
  const ffmpeg = await locateFfmpeg();
  const key = cacheKey(ffmpeg);
  const cache = readCache(file);
  const cached = cache[key];
  if (cached && ENCODER_PREFERENCE.includes(cached.encoder as (typeof ENCODER_PREFERENCE)[number])) {
    const spec = encoderSpec(cached.encoder);
    // A software encoder works as long as the same ffmpeg binary (the key) is there; only
    // hardware ones can lose their device or driver, so only they are test-encoded again.
    if (SOFTWARE_ENCODERS.has(spec.name) || (await encoderWorks(spec))) return spec;
  }
  const listed = await listedEncoders();
  const candidates = ENCODER_PREFERENCE.filter((n) => listed.has(n)).map(encoderSpec);
  const results = await Promise.all(candidates.map(encoderWorks));
  const winner = candidates.find((_, i) => results[i]);
  if (!winner) {
    throw new AvatarError('ffmpeg_failed', `no working H.264 encoder in ${ffmpeg.path} (tried ${candidates.map((c) => c.name).join(', ') || 'none listed'})`);
  }
  cache[key] = { encoder: winner.name, probedAt: new Date().toISOString() };
  writeCache(file, cache);
  return winner;
}

function cacheFile(): string {
  const base = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return join(base, 'realtime-avatar', 'encoders.json');
}

function cacheKey(ffmpeg: FfmpegInfo): string {
  let stamp = '';
  try {
    const s = statSync(ffmpeg.path);
    stamp = `${s.size}:${s.mtimeMs}`;
  } catch {
    stamp = ffmpeg.version;
  }
  // Devices come and go with drivers and containers: the host's device list is part of the key.
  const devices = ['/dev/dri', '/dev/nvidia0', '/dev/nvidiactl']
    .map((path) => {
      try {
        return statSync(path).mtimeMs.toString();
      } catch {
        return 'none';
      }
    })
    .join(',');
  return `${ffmpeg.path}|${stamp}|${devices}`;
}

function readCache(file: string): ProbeCache {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ProbeCache;
  } catch {
    return {};
  }
}

function writeCache(file: string, cache: ProbeCache): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(cache, null, 2));
  } catch {
    // A read-only home only costs a re-probe next time.
  }
}
