import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AvatarError } from '../core/errors.js';
import { prepareInWorker } from '../avatars/prepare-in-worker.js';
import { listPrepareInputs, prepareAvatar, PREPARE_CROPS, type PrepareCrop, type PrepareOptions, type PrepareProgress, type PrepareResult } from '../avatars/prepare.js';
import { avatarsDir } from './avatar-dirs.js';
import { ProgressBars } from './progress-bars.js';

/** `avatar prepare <image|video|folder>`: photos and videos into avatar folders. */
export async function runPrepare(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      fps: { type: 'string', default: '25' },
      quality: { type: 'string', default: '90' },
      workers: { type: 'string', default: '1' },
      force: { type: 'boolean', default: false },
      crop: { type: 'string', default: 'auto' },
      'output-json': { type: 'string' },
      start: { type: 'string' },
      duration: { type: 'string' },
      'avatars-dir': { type: 'string' },
      model: { type: 'string' },
      contract: { type: 'string' },
      'audio-encoder': { type: 'string' },
      quiet: { type: 'boolean', short: 'q', default: false },
    },
  });
  if (values.model || values.contract) return attachModelTo(positionals, values);
  if (positionals.length !== 1) throw new AvatarError('invalid_input', 'give one photo, video or folder to prepare (see: avatar --help)');
  const input = positionals[0]!;
  const inputStat = await stat(input).catch(() => undefined);
  if (!inputStat) throw new AvatarError('invalid_input', `${input}: no such file or folder`);
  const inputs = inputStat.isDirectory() ? await listPrepareInputs(input) : [input];
  if (inputs.length === 0) throw new AvatarError('invalid_input', `${input}: no photos or videos in this folder`);
  if (values.name && inputs.length > 1) throw new AvatarError('invalid_input', '--name names one avatar; a folder makes one avatar per file, named after it');
  const workers = integer('workers', values.workers, 1, 16);
  if (!(PREPARE_CROPS as readonly string[]).includes(values.crop)) throw new AvatarError('invalid_input', `--crop must be one of ${PREPARE_CROPS.join(', ')}, got "${values.crop}"`);
  const common: Omit<PrepareOptions, 'input'> = {
    outputDir: avatarsDir(values['avatars-dir']),
    fps: integer('fps', values.fps, 1, 60),
    quality: integer('quality', values.quality, 1, 100),
    force: values.force,
    crop: values.crop as PrepareCrop,
    ...(values.name ? { name: values.name } : {}),
    ...(values.start ? { startMs: seconds('start', values.start) } : {}),
    ...(values.duration ? { durationMs: seconds('duration', values.duration) } : {}),
  };
  const bars = values.quiet ? undefined : new ProgressBars(process.stderr);
  const results: PrepareResult[] = [];
  const failures: { input: string; error: string }[] = [];
  const runOne = async (file: string) => {
    try {
      const result = workers > 1
        ? await prepareInWorker({ ...common, input: file }, (p) => bars?.update(p.id, p.framesDone, p.framesTotal))
        : await prepareAvatar({ ...common, input: file, onProgress: (p: PrepareProgress) => bars?.update(p.id, p.framesDone, p.framesTotal) });
      results.push(result);
      for (const w of result.warnings) process.stderr.write(`warning: ${result.id}: ${w} (made anyway: --force)\n`);
      bars?.finish(result.id, result.skipped
        ? `skipped: ${result.dir} exists (use --force to redo it)`
        : `${result.frames} frames, ${(result.bytes / 1e6).toFixed(1)} MB, ${(result.ms / 1000).toFixed(1)} s (${result.framesPerSecond.toFixed(1)} frames/s), renderer ${result.renderer}`);
    } catch (e) {
      // One input: its error is the command's error, printed once by the caller.
      if (inputs.length === 1) throw e;
      const message = e instanceof Error ? e.message : String(e);
      failures.push({ input: file, error: message });
      bars?.fail(file, message);
    }
  };
  const queue = [...inputs];
  await Promise.all(Array.from({ length: Math.min(workers, queue.length) }, async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) await runOne(next);
  }));
  const made = results.filter((r) => !r.skipped);
  if (!values.quiet) {
    process.stderr.write(`prepared ${made.length}, skipped ${results.length - made.length}, failed ${failures.length}` +
      (made.length ? `; ${made.reduce((n, r) => n + r.frames, 0)} frames in ${(Math.max(...made.map((r) => r.ms)) / 1000).toFixed(1)} s` : '') + '\n');
  }
  if (values['output-json']) {
    await writeFile(values['output-json'], JSON.stringify({ avatars: results, failures }, null, 2) + '\n');
  }
  return failures.length ? 1 : 0;
}

/**
 * `avatar prepare --model FILE --contract NAME TARGET`: TARGET is an avatar id in the
 * avatars folder, an avatar folder (also the earlier systems' layout), or a photo or video
 * that is prepared first; the model is checked and attached (renderer `onnx`).
 */
async function attachModelTo(positionals: readonly string[], values: { model?: string; contract?: string; 'audio-encoder'?: string; 'avatars-dir'?: string; name?: string; fps: string; quality: string; force: boolean; quiet: boolean }): Promise<number> {
  if (!values.model || !values.contract) throw new AvatarError('invalid_input', '--model FILE and --contract NAME go together (contracts: wav2lip96, ultralight160, seed320)');
  if (positionals.length !== 1) throw new AvatarError('invalid_input', 'give one avatar (id or folder), photo or video to attach the model to');
  const { attachModel, isAvatarFolder } = await import('../avatars/attach-model.js');
  const target = positionals[0]!;
  const targetStat = await stat(target).catch(() => undefined);
  let dir: string;
  if (targetStat?.isDirectory()) {
    if (!(await isAvatarFolder(target))) throw new AvatarError('invalid_input', `${target} is not an avatar folder (no avatar.json, no frames/)`);
    dir = target;
  } else if (targetStat?.isFile()) {
    const made = await prepareAvatar({
      input: target, outputDir: avatarsDir(values['avatars-dir']), fps: integer('fps', values.fps, 1, 60),
      quality: integer('quality', values.quality, 1, 100), force: values.force, ...(values.name ? { name: values.name } : {}),
    });
    dir = made.dir;
  } else {
    dir = join(avatarsDir(values['avatars-dir']), target);
    if (!(await isAvatarFolder(dir))) throw new AvatarError('invalid_input', `no avatar "${target}" in ${avatarsDir(values['avatars-dir'])} and no such file or folder`);
  }
  const result = await attachModel(dir, values.model, values.contract, values['audio-encoder']);
  if (!values.quiet) process.stderr.write(`attached ${values.model} (${result.contract}) to avatar "${result.id}" in ${result.dir}: renderer onnx\n`);
  return 0;
}

function integer(name: string, raw: string, min: number, max: number): number {
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw new AvatarError('invalid_input', `--${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return v;
}

/** `12.5` seconds or `00:01:02.5` to ms. */
function seconds(name: string, raw: string): number {
  const parts = raw.split(':').map(Number);
  if (parts.length > 3 || parts.some((p) => !Number.isFinite(p) || p < 0)) throw new AvatarError('invalid_input', `--${name} must be seconds or hh:mm:ss, got "${raw}"`);
  return Math.round(parts.reduce((t, p) => t * 60 + p, 0) * 1000);
}
