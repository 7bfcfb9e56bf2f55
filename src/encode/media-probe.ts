import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { AvatarError } from '../core/errors.js';
import { locateFfmpeg, runFfmpeg } from './ffmpeg.js';

/** What a media file holds, as a player would see it. */
export interface MediaProbe {
  readonly container: string;
  readonly durationMs: number;
  readonly video?: { codec: string; width: number; height: number; fps: number; durationMs: number | undefined; frames: number | undefined };
  readonly audio?: { codec: string; sampleRate: number; channels: number; durationMs: number | undefined };
  /** `ffprobe`, or `ffmpeg` when no ffprobe was found (stream durations are then unknown). */
  readonly tool: 'ffprobe' | 'ffmpeg';
}

interface FfprobeJson {
  streams?: { codec_type?: string; codec_name?: string; width?: number; height?: number; r_frame_rate?: string; avg_frame_rate?: string; duration?: string; nb_frames?: string; sample_rate?: string; channels?: number }[];
  format?: { duration?: string; format_name?: string };
}

/**
 * Streams and durations of a media file: ffprobe (`$AVATAR_FFPROBE`, beside the ffmpeg in
 * use, or on PATH) when there is one, else ffmpeg's own stream description. Throws
 * `invalid_input` for missing or unreadable files.
 */
export async function probeMedia(path: string): Promise<MediaProbe> {
  try {
    await access(path);
  } catch {
    throw new AvatarError('invalid_input', `no such file: ${path}`);
  }
  const ffprobe = await locateFfprobe();
  if (ffprobe) {
    const json = await new Promise<FfprobeJson | undefined>((resolve) => {
      execFile(ffprobe, ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', path], { maxBuffer: 16 << 20 }, (err, stdout) => {
        if (err) return resolve(undefined);
        try {
          resolve(JSON.parse(stdout) as FfprobeJson);
        } catch {
          resolve(undefined);
        }
      });
    });
    if (!json?.format) throw new AvatarError('invalid_input', `cannot read media file ${path}: ffprobe does not recognise it`);
    const v = json.streams?.find((s) => s.codec_type === 'video');
    const a = json.streams?.find((s) => s.codec_type === 'audio');
    const ms = (s: string | undefined) => (s !== undefined && Number.isFinite(Number(s)) ? Number(s) * 1000 : undefined);
    return {
      container: json.format.format_name ?? 'unknown',
      durationMs: ms(json.format.duration) ?? 0,
      tool: 'ffprobe',
      ...(v ? { video: { codec: v.codec_name ?? '?', width: v.width ?? 0, height: v.height ?? 0, fps: rate(v.avg_frame_rate) || rate(v.r_frame_rate), durationMs: ms(v.duration), frames: v.nb_frames ? Number(v.nb_frames) : undefined } } : {}),
      ...(a ? { audio: { codec: a.codec_name ?? '?', sampleRate: Number(a.sample_rate ?? 0), channels: a.channels ?? 0, durationMs: ms(a.duration) } } : {}),
    };
  }
  const { stderr } = await runFfmpeg(['-i', path]);
  const input = /Input #0, ([^,\n]+)/.exec(stderr);
  if (!input) throw new AvatarError('invalid_input', `cannot read media file ${path}: ffmpeg does not recognise it`);
  const d = /Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/.exec(stderr);
  const vm = /Stream #[^\n]*Video: (\w+)[^\n]*?, (\d+)x(\d+)[^\n]*?(\d+(?:\.\d+)?) (?:fps|tbr)/.exec(stderr);
  const am = /Stream #[^\n]*Audio: (\w+)[^\n]*?, (\d+) Hz, (mono|stereo|[\d.]+)/.exec(stderr);
  return {
    container: input[1]!, tool: 'ffmpeg',
    durationMs: d ? (Number(d[1]) * 3600 + Number(d[2]) * 60 + Number(d[3])) * 1000 : 0,
    ...(vm ? { video: { codec: vm[1]!, width: Number(vm[2]), height: Number(vm[3]), fps: Number(vm[4]), durationMs: undefined, frames: undefined } } : {}),
    ...(am ? { audio: { codec: am[1]!, sampleRate: Number(am[2]), channels: am[3] === 'mono' ? 1 : am[3] === 'stereo' ? 2 : Number.parseInt(am[3]!, 10), durationMs: undefined } } : {}),
  };
}

function rate(r: string | undefined): number {
  if (!r) return 0;
  const [n, d] = r.split('/').map(Number);
  return n && d ? n / d : 0;
}

let ffprobePath: Promise<string | undefined> | undefined;

/** The ffprobe to use, or undefined when there is none. Cached per process. */
export function locateFfprobe(): Promise<string | undefined> {
  ffprobePath ??= (async () => {
    const candidates: string[] = [];
    if (process.env.AVATAR_FFPROBE) candidates.push(process.env.AVATAR_FFPROBE);
    try {
      const { path } = await locateFfmpeg();
      if (path.includes('/')) candidates.push(path.replace(/ffmpeg([^/]*)$/, 'ffprobe$1'));
    } catch {
      // No ffmpeg: PATH is the last chance.
    }
    candidates.push('ffprobe');
    for (const c of candidates) if (await runs(c)) return c;
    return undefined;
  })();
  return ffprobePath;
}

function runs(path: string): Promise<boolean> {
  return new Promise((resolve) => execFile(path, ['-version'], (err) => resolve(!err)));
}
