import { readdir, stat } from 'node:fs/promises';
import { cpus } from 'node:os';
import { basename, extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BuiltinAvatarCatalog, type AvatarCatalog } from '../avatars/catalog.js';
import { AvatarRegistry } from '../avatars/registry.js';
import { AvatarError } from '../core/errors.js';
import { ensureFixtureAvatar, isFixtureAvatar } from '../eval/avatar-fixtures.js';
import { compareReports, formatComparison, loadReport } from '../eval/compare.js';
import { compareWithGold, goldFromReport, loadGold } from '../eval/gold.js';
import { writeComparison, writeReport } from '../eval/report-html.js';
import type { EvalReport, ScenarioResult } from '../eval/result.js';
import { DEFAULT_MEDIA_DIR, runSuite } from '../eval/scenario-runner.js';
import { loadSuite, MEDIA_PREFIX, resolveMediaPath, type Scenario, type ScenarioChecks, type Suite } from '../eval/scenario.js';
import { findMouthTrack } from '../eval/mouth-finder.js';
import { prepareAvatar } from '../avatars/prepare.js';
import { analyzeTalkingHead, parseMouthBox } from '../eval/video-metrics.js';
import { writeFileAtomic } from '../say.js';
export { EVAL_HELP } from './eval-help.js';

/** Checks applied to a user's own recordings (no TTS reference, so no accuracy floor). */
const AUDIO_DIR_CHECKS: ScenarioChecks = { maxAbsOffsetMs: 40, maxStillnessRatio: 0.1, maxAvDurationDiffMs: 45 };
const AUDIO_EXTENSIONS = new Set(['.wav', '.wave']);


/** `avatar eval`: runs a suite (or scores a video, or compares two runs) and writes the report. */
export async function runEval(argv: readonly string[], options: { catalog?: AvatarCatalog } = {}): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      suite: { type: 'string' },
      out: { type: 'string', default: 'eval-report' },
      json: { type: 'boolean', default: false },
      gold: { type: 'string' },
      'no-gold': { type: 'boolean', default: false },
      'write-gold': { type: 'string' },
      'audio-dir': { type: 'string' },
      video: { type: 'string' },
      mouth: { type: 'string' },
      compare: { type: 'string' },
      quiet: { type: 'boolean', short: 'q', default: false },
      'avatars-dir': { type: 'string' },
      media: { type: 'string' },
    },
  });
  const out = resolve(values.out);
  const log = (line: string) => values.quiet || process.stderr.write(`${line}\n`);

  if (values.compare !== undefined) {
    if (positionals.length !== 1) throw new AvatarError('invalid_input', 'usage: avatar eval --compare BEFORE.json AFTER.json');
    const [beforePath, afterPath] = [values.compare, positionals[0]!];
    const comparison = compareReports(await loadReport(beforePath), await loadReport(afterPath), { before: beforePath, after: afterPath });
    process.stdout.write(values.json ? `${JSON.stringify(comparison, null, 1)}\n` : formatComparison(comparison));
    log(`wrote ${await writeComparison(out, comparison)}`);
    return comparison.regressions ? 1 : 0;
  }
  if (positionals.length) throw new AvatarError('invalid_input', `unexpected argument "${positionals[0]}" (see: avatar --help)`);

  if (values.video !== undefined || values.mouth !== undefined) {
    if (!values.video) throw new AvatarError('invalid_input', '--mouth goes with --video: avatar eval --video FILE [--mouth x,y,w,h]');
    return scoreVideo(values.video, values.mouth, out, values.json, log);
  }

  const suite = await chooseSuite(values.suite, values['audio-dir']);
  const goldPath = values['no-gold'] ? undefined : (values.gold ?? suite.gold);
  // Read the gold file before the run, so a bad path fails in a second, not after the suite.
  const gold = goldPath && (values.gold || (await exists(goldPath))) ? await loadGold(goldPath) : undefined;
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let report: EvalReport;
  const avatarsDir = resolve(values['avatars-dir'] ?? join(out, 'avatars'));
  const mediaDir = resolve(values.media ?? DEFAULT_MEDIA_DIR);
  const refused = new Map<string, string>();
  const registry = options.catalog ? undefined : await evalRegistry(suite, avatarsDir, mediaDir, refused, log);
  try {
    log(`avatar eval: suite ${suite.name}, ${suite.scenarios.length} scenarios, report in ${out}`);
    const started = performance.now();
    report = await runSuite(suite, {
      outDir: out, catalog: options.catalog ?? registry ?? new BuiltinAvatarCatalog(), signal: controller.signal,
      mediaDir, refused, avatarDir: (id) => (registry?.get(id) && !registry.get(id)!.builtin ? join(avatarsDir, id) : undefined),
      onProgress: ({ scenario, index, total, result }) => {
        if (result) log(`[${index + 1}/${total}] ${scenario.id}: ${describe(result)} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
      },
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    registry?.close();
  }
  if (gold && goldPath) {
    const outcomes = compareWithGold(report, gold);
    report = { ...report, gold: { path: goldPath, passed: outcomes.every((o) => o.passed), outcomes } };
    for (const o of outcomes.filter((x) => !x.passed)) {
      log(o.reason ? `gold: ${o.scenario} did not run (${o.reason})` : `gold: ${o.scenario} ${o.metric} = ${o.actual?.toFixed(3) ?? 'missing'}, expected ${o.expected} ${o.bound === 'upper' ? '+ at most' : '±'} ${o.tolerance.toFixed(3)}`);
    }
  }
  const files = await writeReport(out, report);
  if (values['write-gold']) {
    await writeFileAtomic(values['write-gold'], Buffer.from(`${JSON.stringify(goldFromReport(report), null, 1)}\n`));
    log(`wrote gold figures to ${values['write-gold']}`);
  }
  if (values.json) process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
  const counts = (['passed', 'failed', 'error', 'skipped'] as const).map((s) => `${report.scenarios.filter((r) => r.status === s).length} ${s}`).join(', ');
  const ok = report.passed && (report.gold?.passed ?? true);
  log(`${ok ? 'PASSED' : 'FAILED'}: ${counts}${report.gold ? `; gold ${report.gold.passed ? 'within tolerance' : 'OUT OF TOLERANCE'}` : ''}; ${(report.durationMs / 1000).toFixed(1)} s`);
  log(`wrote ${files.json} and ${files.html}`);
  return ok ? 0 : 1;
}

/**
 * The prepared avatars the suite names, from `dir`; the fixture avatars (`photo`, `video`)
 * are built there first when missing, so the warp and select renderers are always measured.
 */
async function evalRegistry(suite: Suite, dir: string, mediaDir: string, refused: Map<string, string>, log: (line: string) => void): Promise<AvatarRegistry | undefined> {
  const wanted = new Set(suite.scenarios.map((s) => s.avatar).filter((id) => id !== 'default'));
  if (wanted.size === 0) return undefined;
  for (const id of wanted) if (isFixtureAvatar(id)) await ensureFixtureAvatar(dir, id, log);
  await prepareSourceAvatars(suite, dir, mediaDir, refused, log);
  return AvatarRegistry.open({ dirs: [dir], rescanMs: 0 });
}

/**
 * Prepares the avatars that scenarios make from a photo or video (`avatarSource`) into
 * `dir`, once each; a refusal is recorded with its reason (a scenario may expect it).
 */
async function prepareSourceAvatars(suite: Suite, dir: string, mediaDir: string, refused: Map<string, string>, log: (line: string) => void): Promise<void> {
  const sources = new Map<string, string>();
  const forced = new Set<string>();
  for (const s of suite.scenarios) {
    if (s.avatarSource) sources.set(s.avatar, s.avatarSource);
    if (s.forcePrepare) forced.add(s.avatar);
  }
  if (sources.size === 0) return;
  const needsMedia = [...sources.values()].some((p) => p.startsWith(MEDIA_PREFIX));
  if (needsMedia && !(await exists(mediaDir))) {
    throw new AvatarError('invalid_input', `suite ${suite.name} needs the media folder ${mediaDir}, which is missing (pass --media DIR; see the media README)`);
  }
  for (const [id, source] of sources) {
    const input = resolveMediaPath(source, mediaDir);
    if (await exists(join(dir, id, 'avatar.json'))) continue;
    log(`preparing avatar "${id}" from ${input}`);
    try {
      const made = await prepareAvatar({ input, id, name: id, outputDir: dir, force: forced.has(id) });
      for (const w of made.warnings) log(`prepare warning for "${id}": ${w} (made anyway: forced)`);
    } catch (e) {
      if (!(e instanceof AvatarError) || e.code !== 'invalid_input') throw e;
      refused.set(id, e.message);
      log(`prepare refused "${id}": ${e.message}`);
    }
  }
}

function describe(r: ScenarioResult): string {
  if (!r.analysis) return `${r.status}: ${r.reason ?? ''}`;
  const a = r.analysis;
  const failed = r.checks.filter((c) => c.passed === false).map((c) => `${c.check} ${c.value?.toFixed(3)} vs ${c.limit}`);
  return `${r.status}, offset ${a.sync.offsetMs.toFixed(0)} ms (conf ${a.sync.confidence.toFixed(2)}), stillness ${a.stillness.ratio?.toFixed(3) ?? 'n/a'}`
    + `${r.accuracy ? `, accuracy ${(r.accuracy.openAgreement * 100).toFixed(1)}%` : ''}, RTF ${r.latency?.realtimeFactor.toFixed(3)}${failed.length ? `; FAILED ${failed.join(', ')}` : ''}`;
}

async function chooseSuite(name: string | undefined, audioDir: string | undefined): Promise<Suite> {
  if (!audioDir) return loadSuite(name ?? 'default');
  const recordings = await audioFiles(audioDir);
  const scenarios: Scenario[] = recordings.map((file, i) => ({
    id: `wav-${i + 1}-${basename(file, extname(file)).toLowerCase().replace(/[^a-z0-9_-]+/g, '-').slice(0, 40)}`.replace(/-+$/, ''),
    title: basename(file), kind: 'audio-file', utterances: [], audioFile: file, avatar: 'default', transport: 'file', fps: 25,
    checks: AUDIO_DIR_CHECKS, tags: ['audio-dir'],
  }));
  if (!name) return { name: 'audio-dir', description: `recordings in ${audioDir}`, path: resolve(audioDir), scenarios };
  const suite = await loadSuite(name);
  return { ...suite, scenarios: [...suite.scenarios, ...scenarios] };
}

async function audioFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a folder');
    names = await readdir(dir);
  } catch (e) {
    throw new AvatarError('invalid_input', `--audio-dir ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const files = names.filter((n) => AUDIO_EXTENSIONS.has(extname(n).toLowerCase())).sort().map((n) => join(resolve(dir), n));
  if (files.length === 0) throw new AvatarError('invalid_input', `--audio-dir ${dir} holds no .wav files`);
  return files;
}

async function scoreVideo(video: string, mouthText: string | undefined, out: string, json: boolean, log: (l: string) => void): Promise<number> {
  const started = performance.now();
  const track = mouthText ? undefined : await findMouthTrack(video);
  const mouth = mouthText ? parseMouthBox(mouthText) : track!.bounds;
  if (track) log(`mouth followed by the face mesh: a ${track.width}x${track.height} box within ${mouth.join(',')}`);
  const { series, probe, ...analysis } = await analyzeTalkingHead(video, track ?? mouth);
  const result: ScenarioResult = {
    id: 'video', title: video, kind: 'video', avatar: '-', renderer: undefined, transport: 'file', fps: analysis.fps,
    status: 'passed', video: resolve(video), mouthRegion: [...mouth], analysis, checks: [], series,
  };
  const report: EvalReport = {
    format: 'realtime-avatar-eval/1', suite: 'video', suitePath: resolve(video), createdAt: new Date().toISOString(),
    machine: { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown' },
    durationMs: performance.now() - started, passed: true, scenarios: [result],
  };
  const files = await writeReport(out, report);
  const a = analysis;
  if (json) process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
  else {
    process.stdout.write([
      `${video}: ${probe.video?.width}x${probe.video?.height} @ ${a.fps} fps, ${a.frames} frames, ${probe.video?.codec} + ${probe.audio?.codec}`,
      `offset ${a.sync.offsetMs.toFixed(1)} ms (+ = audio early; ${a.sync.verdict} per ITU-R BT.1359), confidence ${a.sync.confidence.toFixed(2)}, onset estimate ${a.sync.onsetOffsetMs.toFixed(1)} ms`,
      `drift ${a.drift ? `${a.drift.driftMs.toFixed(1)} ms (first 10 s ${a.drift.firstMs.toFixed(1)}, last 10 s ${a.drift.lastMs.toFixed(1)})` : 'n/a (under 20 s)'}`,
      `stillness ratio ${a.stillness.ratio?.toFixed(3) ?? 'n/a'} (silent ${a.stillness.silentMotion.toFixed(2)} vs speech ${a.stillness.speechMotion.toFixed(2)}, ${a.stillness.silentFrames} silent frames)`,
      `F0 ${a.voice.meanHz.toFixed(0)} Hz (${a.voice.lowHz.toFixed(0)}-${a.voice.highHz.toFixed(0)} Hz), A/V duration difference ${a.validity.avDurationDiffMs.toFixed(1)} ms`,
    ].join('\n') + '\n');
  }
  log(`wrote ${files.json} and ${files.html}`);
  return 0;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
