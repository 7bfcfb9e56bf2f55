import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What ffprobe reports about one stream. */
export interface ProbedStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  r_frame_rate?: string;
  duration?: string;
  nb_frames?: string;
  sample_rate?: string;
}

/** Streams and container duration of a media file, from the real ffprobe. */
export async function ffprobe(path: string): Promise<{ streams: ProbedStream[]; format: { duration: string; format_name: string } }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', path]);
  return JSON.parse(stdout) as { streams: ProbedStream[]; format: { duration: string; format_name: string } };
}

/** A fresh temporary folder, removed by the returned cleanup. */
export async function tempDir(prefix = 'avatar-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Path of the `avatar` executable of this checkout. */
export const AVATAR_BIN = new URL('../../../bin/avatar.js', import.meta.url).pathname;

/** Runs the avatar CLI; never throws on a non-zero exit. */
export async function avatarCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [AVATAR_BIN, ...args], { env: { ...process.env, ...env }, timeout: timeoutMs });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}
