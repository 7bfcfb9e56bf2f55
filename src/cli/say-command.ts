import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { AvatarError } from '../core/errors.js';
import { say, type SayProgress } from '../say.js';
import { openRegistry } from './avatar-dirs.js';

/** `avatar say`: text (argument or file) to an MP4. */
export async function runSay(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o', default: 'avatar.mp4' },
      'text-file': { type: 'string' },
      audio: { type: 'string' },
      'avatars-dir': { type: 'string' },
      lang: { type: 'string', default: 'auto' },
      voice: { type: 'string' },
      rate: { type: 'string' },
      pitch: { type: 'string' },
      avatar: { type: 'string', default: 'default' },
      fps: { type: 'string', default: '25' },
      size: { type: 'string' },
      encoder: { type: 'string' },
      tts: { type: 'string' },
      'audio-out': { type: 'string' },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', short: 'q', default: false },
    },
  });
  if (values.audio && (positionals.length > 0 || values['text-file'])) throw new AvatarError('invalid_input', 'give either text or --audio, not both');
  if (positionals.length > 0 && values['text-file']) throw new AvatarError('invalid_input', 'give the text either as an argument or with --text-file, not both');
  let text = positionals.join(' ');
  if (values['text-file']) {
    try {
      text = await readFile(values['text-file'], 'utf8');
    } catch (e) {
      throw new AvatarError('invalid_input', `cannot read --text-file ${values['text-file']}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const registry = values.avatar === 'default' ? undefined : await openRegistry(values['avatars-dir']);
  const showProgress = !values.quiet && !values.json;
  const progress = showProgress ? progressPrinter() : undefined;
  try {
    const result = await say({
      text,
      output: values.output,
      language: values.lang,
      avatar: values.avatar,
      ...(registry ? { catalog: registry } : {}),
      ...(values.audio ? { audio: values.audio } : {}),
      fps: numberOption('fps', values.fps, true),
      size: values.size,
      signal: controller.signal,
      ...(values.voice ? { voice: values.voice } : {}),
      ...(values.rate ? { rate: numberOption('rate', values.rate, false, 0.3, 3) } : {}),
      ...(values.pitch ? { pitch: numberOption('pitch', values.pitch, false, 0, 100) } : {}),
      ...(values.encoder ? { encoder: values.encoder } : {}),
      ...(values.tts ? { tts: values.tts } : {}),
      ...(values['audio-out'] ? { audioOut: values['audio-out'] } : {}),
      ...(progress ? { onProgress: progress } : {}),
    });
    progress?.({ done: true });
    if (values.json) {
      const round = (v: number) => Math.round(v * 10) / 10;
      process.stdout.write(`${JSON.stringify({
        output: result.output,
        tts_ms: round(result.ttsMs),
        render_ms: round(result.renderMs),
        encode_ms: round(result.encodeMs),
        total_ms: round(result.totalMs),
        audio_s: Math.round(result.audioS * 1000) / 1000,
        realtime_factor: Math.round(result.realtimeFactor * 1000) / 1000,
        encoder: result.encoder,
        renderer: result.renderer,
        ...(result.executionProvider ? { execution_provider: result.executionProvider } : {}),
        frames: result.frames,
        fps: result.fps,
        size: `${result.width}x${result.height}`,
        language: result.language,
        voice: result.voice,
      })}\n`);
    } else if (!values.quiet) {
      const engine = result.executionProvider ? `, ${result.renderer} on ${result.executionProvider}` : '';
      process.stderr.write(`wrote ${result.output}: ${result.audioS.toFixed(1)} s, ${result.frames} frames${engine}, ${result.encoder}, ${(result.totalMs / 1000).toFixed(2)} s (${(1 / result.realtimeFactor).toFixed(1)}x real time)\n`);
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    registry?.close();
  }
}

function numberOption(name: string, raw: string, integer: boolean, min = -Infinity, max = Infinity): number {
  const v = Number(raw);
  if (!Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    const range = Number.isFinite(min) ? ` from ${min} to ${max}` : '';
    throw new AvatarError('invalid_input', `--${name} must be a ${integer ? 'whole ' : ''}number${range}, got "${raw}"`);
  }
  return v;
}

/** Progress on stderr: a live line on a terminal, a line per sentence otherwise (long scripts only). */
function progressPrinter(): (p: SayProgress | { done: true }) => void {
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  return (p) => {
    if ('done' in p) {
      if (tty && lastLine) process.stderr.write('\n');
      return;
    }
    if (p.sentences < 3) return;
    const pct = Math.round((100 * p.sentencesDone) / p.sentences);
    const line = `rendering: ${p.sentencesDone}/${p.sentences} sentences (${pct}%), ${p.frames} frames, ${(p.audioMs / 1000).toFixed(1)} s of speech`;
    if (tty) {
      process.stderr.write(`\r${line}`);
      lastLine = 1;
    } else {
      process.stderr.write(`${line}\n`);
    }
  };
}
