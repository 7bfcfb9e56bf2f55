import { mkdir } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join, relative } from 'node:path';
import { readAudioSpeech } from '../audio/read-audio-speech.js';
import { encodeWav } from '../audio/wav.js';
import { BuiltinAvatarCatalog, type AvatarCatalog } from '../avatars/catalog.js';
import { AvatarError } from '../core/errors.js';
import { concatSpeech, type Speech } from '../core/speech.js';
import { say, writeFileAtomic } from '../say.js';
import { createTtsProvider } from '../tts/create-tts.js';
import { detectLanguage, resolveLanguage } from '../tts/language.js';
import type { TtsProvider } from '../tts/provider.js';
import { mouthTrackAgreement } from './mouth-accuracy.js';
import { runChecks, type EvalReport, type LanguageFigures, type LatencyFigures, type ScenarioResult } from './result.js';
import { resolveMediaPath, type Scenario, type Suite } from './scenario.js';
import { writeFrameStrip } from './frame-strip.js';
import { measureGhosting } from './ghost-analysis.js';
import { findMouthTrack } from './mouth-finder.js';
import { renderSpeechSession, silence, type RenderFigures } from './session-render.js';
import { ServerTransport } from './server-transport.js';
import { analyzeTalkingHead } from './video-metrics.js';

/** Transports the evaluator can drive today. */
export const SUPPORTED_TRANSPORTS = ['file', 'stream', 'realtime'] as const;
/** Where the real-media suite looks for its media unless told (`--media DIR`). */
export const DEFAULT_MEDIA_DIR = '../shared/media';
/** Pause inserted between the utterances of a session, ms. */
const UTTERANCE_GAP_MS = 500;

/** How to run a suite. */
export interface RunOptions {
  /** Report folder; videos go to `<outDir>/videos`, generated speech to `<outDir>/audio`. */
  readonly outDir: string;
  /** Where avatars are looked up (default: the built-in avatars). */
  readonly catalog?: AvatarCatalog;
  readonly tts?: TtsProvider;
  readonly signal?: AbortSignal;
  /** Called before and after each scenario. */
  readonly onProgress?: (event: { scenario: Scenario; index: number; total: number; result?: ScenarioResult }) => void;
  /** The `stream` transport's server (runSuite starts one on first use and stops it). */
  readonly stream?: ServerTransport;
  /** Folder that `media:` paths of scenarios lie in. */
  readonly mediaDir?: string;
  /** Avatars whose source `prepare` refused, with the reason (scenarios with `avatarSource`). */
  readonly refused?: ReadonlyMap<string, string>;
  /** The prepared folder of an avatar, for the seam/ghost measure (undefined: not a folder). */
  readonly avatarDir?: (id: string) => string | undefined;
}

/** Runs every scenario of a suite in order and gathers the report (gold comparison not included). */
export async function runSuite(suite: Suite, options: RunOptions): Promise<EvalReport> {
  const started = performance.now();
  const results: ScenarioResult[] = [];
  const stream = options.stream ?? new ServerTransport(options.catalog ?? new BuiltinAvatarCatalog());
  try {
    for (const [index, scenario] of suite.scenarios.entries()) {
      options.onProgress?.({ scenario, index, total: suite.scenarios.length });
      const result = await runScenario(scenario, { ...options, stream });
      results.push(result);
      options.onProgress?.({ scenario, index, total: suite.scenarios.length, result });
    }
  } finally {
    if (!options.stream) await stream.close();
  }
  return {
    format: 'realtime-avatar-eval/1',
    suite: suite.name, suitePath: suite.path,
    createdAt: new Date().toISOString(),
    machine: { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown' },
    durationMs: performance.now() - started,
    passed: results.every((r) => r.status === 'passed' || r.status === 'skipped'),
    scenarios: results,
  };
}

/** Why a scenario cannot run with this catalog and these transports, or undefined when it can. */
export function skipReason(scenario: Scenario, catalog: AvatarCatalog): string | undefined {
  if (!(SUPPORTED_TRANSPORTS as readonly string[]).includes(scenario.transport)) {
    return `transport "${scenario.transport}" is not supported by the evaluator yet (supported: ${SUPPORTED_TRANSPORTS.join(', ')})`;
  }
  if (scenario.transport === 'stream' && scenario.kind !== 'text') return `the stream transport takes one text; "${scenario.kind}" scenarios run on the file transport`;
  if (scenario.transport === 'realtime' && scenario.kind !== 'text' && scenario.kind !== 'session') return `the realtime transport speaks texts; "${scenario.kind}" scenarios run on the file transport`;
  const avatar = catalog.get(scenario.avatar);
  if (!avatar) return `avatar "${scenario.avatar}" is not in the catalog (known: ${catalog.list().map((a) => a.id).join(', ') || 'none'})`;
  if (avatar.status === 'broken') return `avatar "${scenario.avatar}" is broken: ${avatar.reason ?? 'no reason given'}`;
  if (scenario.renderer && avatar.renderer !== scenario.renderer) {
    return `avatar "${scenario.avatar}" uses renderer "${avatar.renderer}", the scenario asks for "${scenario.renderer}"`;
  }
  return undefined;
}

/** Runs one scenario; failures of the run become an `error` result, never an exception. */
export async function runScenario(scenario: Scenario, options: RunOptions): Promise<ScenarioResult> {
  const catalog = options.catalog ?? new BuiltinAvatarCatalog();
  const base = {
    id: scenario.id, title: scenario.title, kind: scenario.kind, avatar: scenario.avatar,
    renderer: catalog.get(scenario.avatar)?.renderer ?? scenario.renderer, transport: scenario.transport, fps: scenario.fps,
  };
  const refusal = options.refused?.get(scenario.avatar);
  if (scenario.expectRefused) {
    return refusal
      ? { ...base, status: 'passed', reason: `refused as expected: ${refusal}`, checks: [] }
      : { ...base, status: 'failed', reason: `prepare accepted ${scenario.avatarSource ?? scenario.avatar}, which it should refuse`, checks: [] };
  }
  if (refusal) return { ...base, status: 'error', reason: `prepare refused the avatar: ${refusal}`, checks: [] };
  const reason = skipReason(scenario, catalog);
  if (reason) return { ...base, status: 'skipped', reason, checks: [] };
  try {
    const videos = join(options.outDir, 'videos');
    await mkdir(videos, { recursive: true });
    const output = join(videos, `${scenario.id}.mp4`);
    const made = await render(scenario, catalog, output, options);
    const track = scenario.mouth === 'mesh' ? await findMouthTrack(output) : undefined;
    const mouthRegion = track?.bounds ?? made.figures.mouthRegion;
    const { series, probe: _probe, ...analysis } = await analyzeTalkingHead(output, track ?? mouthRegion);
    const accuracy = made.ttsSpeech ? mouthTrackAgreement(made.ttsSpeech, scenario.fps) : undefined;
    const avatarDir = scenario.ghost ? options.avatarDir?.(scenario.avatar) : undefined;
    const ghost = avatarDir ? await measureGhosting(output, avatarDir) : undefined;
    const strip = join(options.outDir, 'strips', `${scenario.id}.png`);
    await writeFrameStrip(output, strip, analysis.frames);
    const checks = runChecks(scenario.checks, { analysis, ...(accuracy ? { accuracy } : {}), ...(ghost ? { ghost } : {}) });
    return {
      ...base,
      status: checks.every((c) => c.passed !== false) ? 'passed' : 'failed',
      video: relative(options.outDir, output),
      mouthRegion: [...mouthRegion],
      strip: relative(options.outDir, strip),
      ...(ghost ? { ghost } : {}),
      ...(made.language ? { language: made.language } : {}),
      latency: latencyOf(made.figures),
      analysis,
      ...(accuracy ? { accuracy } : {}),
      checks, series,
    };
  } catch (e) {
    if (options.signal?.aborted) throw e;
    return { ...base, status: 'error', reason: e instanceof Error ? e.message : String(e), checks: [] };
  }
}

interface Rendered {
  readonly figures: RenderFigures;
  readonly language?: LanguageFigures;
  /** TTS speech with phoneme timings, for audio-driven runs (the accuracy reference). */
  readonly ttsSpeech?: Speech;
}

async function render(scenario: Scenario, catalog: AvatarCatalog, output: string, options: RunOptions): Promise<Rendered> {
  const tts = options.tts ?? createTtsProvider();
  const signal = options.signal;
  if (scenario.transport === 'realtime') {
    const renderer = await catalog.createRenderer(scenario.avatar, { fps: scenario.fps });
    const transport = options.stream ?? new ServerTransport(catalog);
    const utterances = scenario.utterances.map((u) => ({ text: u.text, language: resolveLanguage(u.language, u.text).code }));
    const r = await transport.realtime({ utterances, avatar: scenario.avatar, fps: scenario.fps }, output);
    // Seen from the client: the first speaking frame after `speak`; the rest is the server's.
    return {
      figures: {
        ttsMs: NaN, renderMs: NaN, encodeMs: NaN, firstFrameMs: r.firstFrameMs, totalMs: r.totalMs,
        frames: r.frames, audioS: r.audioS, encoder: 'realtime (JPEG)', width: r.width, height: r.height, mouthRegion: renderer.mouthRegion,
      },
      language: languageFigures(scenario.utterances, utterances.map((u) => u.language), utterances.map(() => '?')),
    };
  }
  switch (scenario.kind) {
    case 'text': {
      const u = scenario.utterances[0]!;
      const renderer = await catalog.createRenderer(scenario.avatar, { fps: scenario.fps });
      if (scenario.transport === 'stream') {
        const transport = options.stream ?? new ServerTransport(catalog);
        const language = resolveLanguage(u.language, u.text).code;
        const r = await transport.render({ text: u.text, language, avatar: scenario.avatar, fps: scenario.fps }, output, signal);
        // Seen from the client: TTS, render and encode times are the server's and not visible.
        return {
          figures: {
            ttsMs: NaN, renderMs: NaN, encodeMs: NaN, firstFrameMs: r.firstByteMs, totalMs: r.totalMs,
            frames: Math.round(r.durationS * scenario.fps), audioS: r.durationS, encoder: 'stream',
            width: r.width, height: r.height, mouthRegion: renderer.mouthRegion,
          },
          language: languageFigures([u], [language], ['?']),
        };
      }
      const r = await say({ text: u.text, output, language: u.language, avatar: scenario.avatar, catalog, fps: scenario.fps, tts, ...(signal ? { signal } : {}) });
      return {
        figures: { ...r, mouthRegion: renderer.mouthRegion },
        language: languageFigures([u], [r.language], [r.voice ?? '?']),
      };
    }
    case 'session': {
      const used: string[] = [];
      const voices: string[] = [];
      async function* speech(): AsyncGenerator<Speech> {
        for (const [i, u] of scenario.utterances.entries()) {
          const language = resolveLanguage(u.language, u.text).code;
          used.push(language);
          let voice = '?';
          let rate = 0;
          for await (const part of tts.synthesize({ text: u.text, language }, signal)) {
            voice = part.voice ?? voice;
            rate = part.sampleRate;
            yield part;
          }
          voices.push(voice);
          if (i < scenario.utterances.length - 1 && rate) yield silence(UTTERANCE_GAP_MS, rate);
        }
      }
      const figures = await renderSpeechSession({ speech: speech(), arrival: 'pieces', catalog, avatar: scenario.avatar, fps: scenario.fps, output, ...(signal ? { signal } : {}) });
      return { figures, language: languageFigures(scenario.utterances, used, voices) };
    }
    case 'audio': {
      // The project's own speech, written to a WAV file and read back as plain audio: the
      // audio-only tracker never sees the phoneme timings it is scored against.
      const u = scenario.utterances[0]!;
      const language = resolveLanguage(u.language, u.text).code;
      const parts: Speech[] = [];
      for await (const part of tts.synthesize({ text: u.text, language }, signal)) parts.push(part);
      if (parts.length === 0) throw new AvatarError('tts_failed', 'the TTS produced no audio');
      const ttsSpeech = concatSpeech(parts);
      const audioDir = join(options.outDir, 'audio');
      await mkdir(audioDir, { recursive: true });
      const wav = join(audioDir, `${scenario.id}.wav`);
      await writeFileAtomic(wav, encodeWav(ttsSpeech));
      const figures = await renderSpeechSession({ speech: decodedFile(wav, signal), arrival: 'whole', catalog, avatar: scenario.avatar, fps: scenario.fps, output, ...(signal ? { signal } : {}) });
      return { figures, ttsSpeech, language: languageFigures([u], [language], [ttsSpeech.voice ?? '?']) };
    }
    case 'audio-file': {
      const file = resolveMediaPath(scenario.audioFile!, options.mediaDir ?? DEFAULT_MEDIA_DIR);
      const figures = await renderSpeechSession({ speech: decodedFile(file, signal, scenario.audioMaxMs), arrival: 'whole', catalog, avatar: scenario.avatar, fps: scenario.fps, output, ...(signal ? { signal } : {}) });
      return { figures };
    }
  }
}

async function* decodedFile(path: string, signal: AbortSignal | undefined, maxMs?: number): AsyncGenerator<Speech> {
  const speech = await readAudioSpeech(path, { label: path, ...(signal ? { signal } : {}) });
  const keep = maxMs === undefined ? speech.pcm.length : Math.round((maxMs * speech.sampleRate) / 1000);
  yield keep < speech.pcm.length ? { ...speech, pcm: speech.pcm.slice(0, keep) } : speech;
}

function languageFigures(utterances: readonly { text: string; language: string }[], used: string[], voices: string[]): LanguageFigures {
  const detected = utterances.map((u) => detectLanguage(u.text));
  return {
    requested: utterances.map((u) => u.language), used, detected, voices,
    match: used.length === detected.length && used.every((l, i) => l === detected[i]),
  };
}

function latencyOf(f: RenderFigures): LatencyFigures {
  return {
    ttsMs: f.ttsMs, firstFrameMs: f.firstFrameMs, renderMs: f.renderMs, encodeMs: f.encodeMs, totalMs: f.totalMs,
    renderFps: f.renderMs > 0 ? (f.frames * 1000) / f.renderMs : 0,
    encodeFps: f.encodeMs > 0 ? (f.frames * 1000) / f.encodeMs : 0,
    realtimeFactor: f.audioS > 0 ? f.totalMs / (f.audioS * 1000) : 0,
    audioS: f.audioS, frames: f.frames, encoder: f.encoder,
  };
}
