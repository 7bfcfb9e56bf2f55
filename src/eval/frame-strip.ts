import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AvatarError } from '../core/errors.js';
import { ffmpegErrorTail, runFfmpeg } from '../encode/ffmpeg.js';

/** How a strip is laid out. */
export interface StripLayout {
  /** Frames shown (evenly spaced over the video). */
  readonly tiles: number;
  readonly columns: number;
  /** Width of one tile in pixels (height follows the video's shape). */
  readonly tileWidth: number;
}

const DEFAULT_LAYOUT: StripLayout = { tiles: 12, columns: 6, tileWidth: 240 };

/**
 * Writes a PNG of frames spread evenly over a video, tiled in rows, so a person can judge a
 * render by eye (doubled edges, patches, colour) without playing it.
 */
export async function writeFrameStrip(video: string, png: string, frameCount: number, layout: StripLayout = DEFAULT_LAYOUT): Promise<void> {
  const step = Math.max(1, Math.floor(frameCount / layout.tiles));
  const rows = Math.ceil(Math.min(layout.tiles, Math.ceil(frameCount / step)) / layout.columns);
  await mkdir(dirname(png), { recursive: true });
  const filter = `select=not(mod(n\\,${step})),scale=${layout.tileWidth}:-2,tile=${layout.columns}x${rows}`;
  const { code, stderr } = await runFfmpeg(['-loglevel', 'error', '-y', '-i', video, '-map', '0:v:0', '-vf', filter, '-frames:v', '1', '-update', '1', png]);
  if (code !== 0) throw new AvatarError('ffmpeg_failed', `cannot write the frame strip of ${video}: ${ffmpegErrorTail(stderr)}`);
}
