import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Mean absolute luma change from each frame to the next of a video (index i: frame i to
 * i + 1; every coded frame once, none repeated for timing), decoded at `size` x `size` in gray: where a join that restarts the idle motion
 * or swaps segments would show as a jump.
 */
export async function frameChanges(path: string, size: number): Promise<number[]> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', path, '-vsync', 'passthrough', '-vf', `scale=${size}:${size}`, '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], { encoding: 'buffer', maxBuffer: 256 << 20 });
  const pixels = size * size;
  const diffs: number[] = [];
  for (let f = 1; f < stdout.length / pixels; f++) {
    let sum = 0;
    for (let i = 0; i < pixels; i++) sum += Math.abs(stdout[f * pixels + i]! - stdout[(f - 1) * pixels + i]!);
    diffs.push(sum / pixels);
  }
  return diffs;
}

/** Frame indexes where segments of these frame counts meet (the first frame of each later segment). */
export function joinFrames(segmentFrames: readonly number[]): number[] {
  return segmentFrames.slice(0, -1).map((_, i) => segmentFrames.slice(0, i + 1).reduce((a, b) => a + b, 0));
}

/** The largest frame change at a join, and the largest anywhere else. */
export function changesAtJoins(diffs: readonly number[], joins: readonly number[]): { atJoins: number[]; largestInside: number } {
  const inside = diffs.filter((_, i) => !joins.includes(i + 1));
  return { atJoins: joins.map((at) => diffs[at - 1]!), largestInside: Math.max(...inside) };
}
