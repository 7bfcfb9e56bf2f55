import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BuiltinAvatarCatalog, type AvatarCatalog } from '../src/avatars/catalog.js';
import { runEval } from '../src/cli/eval-command.js';
import { AvatarError } from '../src/core/errors.js';
import { compareWithGold, GOLD_TOLERANCES, goldFromReport, loadGold, type GoldFile } from '../src/eval/gold.js';
import type { EvalReport, ScenarioResult } from '../src/eval/result.js';
import { loadSuite } from '../src/eval/scenario.js';
import { tempDir } from './helpers/media.js';

let dir = '';
let cleanup: () => Promise<void> = async () => undefined;
before(async () => ({ dir, cleanup } = await tempDir('avatar-eval-gold-')));
after(() => cleanup());

interface Figures { offsetMs: number; confidence: number; stillness: number; meanHz: number; rangeSt: number; durDiffMs: number; audioS: number; driftMs?: number; rtf: number }
const HEALTHY: Figures = { offsetMs: 2, confidence: 0.6, stillness: 0.02, meanHz: 100, rangeSt: 6, durDiffMs: 20, audioS: 14, driftMs: 5, rtf: 0.3 };

/** A scenario result carrying just the figures gold files read. */
function result(id: string, f: Figures, status: ScenarioResult['status'] = 'passed', reason?: string): ScenarioResult {
  if (status === 'skipped' || status === 'error') return { id, title: id, kind: 'text', avatar: 'default', renderer: 'parametric', transport: 'file', fps: 25, status, reason: reason ?? '', checks: [] };
  return {
    id, title: id, kind: 'text', avatar: 'default', renderer: 'parametric', transport: 'file', fps: 25, status, checks: [],
    analysis: {
      fps: 25, frames: 350,
      sync: { offsetMs: f.offsetMs, confidence: f.confidence },
      ...(f.driftMs !== undefined ? { drift: { firstMs: 0, lastMs: f.driftMs, driftMs: f.driftMs } } : {}),
      stillness: { ratio: f.stillness },
      voice: { meanHz: f.meanHz, rangeSemitones: f.rangeSt },
      validity: { avDurationDiffMs: f.durDiffMs },
    } as unknown as ScenarioResult['analysis'],
    latency: { ttsMs: 1, firstFrameMs: 1, renderMs: 1, encodeMs: 1, totalMs: f.rtf * f.audioS * 1000, renderFps: 1, encodeFps: 1, realtimeFactor: f.rtf, audioS: f.audioS, frames: 350, encoder: 'libx264' },
  };
}

function report(scenarios: ScenarioResult[]): EvalReport {
  return {
    format: 'realtime-avatar-eval/1', suite: 'test', suitePath: '/x', createdAt: '2026-01-01T00:00:00Z',
    machine: { node: 'v20', platform: 'linux-x64', cpus: 2, cpuModel: 'x' }, durationMs: 1, passed: true, scenarios,
  };
}

const failedMetrics = (gold: GoldFile, r: ScenarioResult) => compareWithGold(report([r]), gold).filter((o) => !o.passed).map((o) => o.metric);

describe('gold files: the CI gate', () => {
  const gold = goldFromReport(report([result('a', HEALTHY)]));

  it('passes the run the gold was made from and holds every figure with its allowance', () => {
    assert.deepEqual(failedMetrics(gold, result('a', HEALTHY)), []);
    assert.deepEqual(Object.keys(gold.scenarios.a!).sort(), Object.keys(GOLD_TOLERANCES).filter((m) => m !== 'openAgreement').sort(), 'every figure but the accuracy (no TTS reference here)');
  });

  it('fails a gold scenario that was skipped, errored or did not run, with the reason', () => {
    const skipped = compareWithGold(report([result('a', HEALTHY, 'skipped', 'avatar "photo" is broken: frames missing')]), gold);
    assert.deepEqual(skipped.map((o) => [o.metric, o.passed]), [['status', false]]);
    assert.match(skipped[0]!.reason!, /^skipped: avatar "photo" is broken/);
    assert.equal(compareWithGold(report([result('a', HEALTHY, 'error', 'ffmpeg died')]), gold)[0]!.passed, false);
    const absent = compareWithGold(report([]), gold);
    assert.deepEqual(absent.map((o) => [o.metric, o.passed, o.reason]), [['status', false, 'not in this run']]);
  });

  it('holds small figures to their scale: stillness that triples fails, run-to-run noise passes', () => {
    assert.deepEqual(failedMetrics(gold, result('a', { ...HEALTHY, stillness: 0.06 })), ['stillnessRatio']);
    assert.deepEqual(failedMetrics(gold, result('a', { ...HEALTHY, stillness: 0.029 })), []);
    assert.deepEqual(failedMetrics(gold, result('a', { ...HEALTHY, stillness: 0.012 })), []);
    assert.deepEqual(failedMetrics(gold, result('a', { ...HEALTHY, meanHz: 112 })), ['f0MeanHz']);
    assert.deepEqual(failedMetrics(gold, result('a', { ...HEALTHY, audioS: 14.5 })), ['audioS']);
    assert.deepEqual(failedMetrics(gold, result('a', { ...HEALTHY, offsetMs: 30 })), ['offsetMs']);
    assert.deepEqual(failedMetrics(gold, result('a', { ...HEALTHY, driftMs: 35 })), ['driftMs']);
  });

  it('gates the real-time factor loosely and upwards only: a 5x slowdown fails, 3x and faster pass', () => {
    assert.deepEqual(failedMetrics(gold, result('a', { ...HEALTHY, rtf: HEALTHY.rtf * 5 })), ['realtimeFactor']);
    assert.deepEqual(failedMetrics(gold, result('a', { ...HEALTHY, rtf: HEALTHY.rtf * 3 })), []);
    assert.deepEqual(failedMetrics(gold, result('a', { ...HEALTHY, rtf: HEALTHY.rtf / 10 })), []);
  });

  it('the quick suite measures drift: one scenario runs over 20 s and its gold holds driftMs', async () => {
    const suite = await loadSuite('quick');
    const quickGold = await loadGold(suite.gold!);
    assert.deepEqual(Object.keys(quickGold.scenarios).sort(), suite.scenarios.map((s) => s.id).sort(), 'gold lists every quick scenario');
    const withDrift = Object.entries(quickGold.scenarios).filter(([, m]) => m.driftMs !== undefined);
    assert.ok(withDrift.length >= 1, 'some gold scenario holds a drift figure');
    for (const [id, m] of withDrift) assert.ok(m.audioS!.expected >= 20, `${id} is long enough for drift`);
    assert.ok(suite.scenarios.every((s) => s.checks.maxAbsDriftMs !== undefined), 'the drift check applies');
    for (const m of Object.values(quickGold.scenarios)) {
      assert.equal(m.realtimeFactor?.bound, 'upper', 'real-time factor gated');
      assert.ok((m.stillnessRatio?.relative ?? 0) > 0, 'stillness held relatively');
    }
  });

  it('avatar eval exits 1 when a gold-listed scenario is skipped (a broken avatar)', async () => {
    const builtin = new BuiltinAvatarCatalog();
    const catalog: AvatarCatalog = {
      list: () => [...builtin.list(), { id: 'bad', name: 'bad', renderer: 'warp', width: 512, height: 512, fps: 25, status: 'broken', reason: 'frames missing', loaded: false, builtin: false }],
      get(id) {
        return this.list().find((a) => a.id === id);
      },
      createRenderer: async () => {
        throw new AvatarError('unknown_avatar', 'not used');
      },
    };
    const suitePath = join(dir, 'suite.json');
    await writeFile(suitePath, JSON.stringify({ name: 'gate', checks: { maxAbsOffsetMs: 40 }, scenarios: [{ id: 'photo-en', kind: 'text', language: 'en', text: 'Hi.', avatar: 'bad' }] }));
    const goldPath = join(dir, 'gold.json');
    await writeFile(goldPath, JSON.stringify(goldFromReport(report([result('photo-en', HEALTHY)]))));
    const code = await runEval(['--suite', suitePath, '--gold', goldPath, '--out', join(dir, 'out'), '-q'], { catalog });
    assert.equal(code, 1, 'a skipped gold scenario fails the gate');
    const noGold = await runEval(['--suite', suitePath, '--no-gold', '--out', join(dir, 'out2'), '-q'], { catalog });
    assert.equal(noGold, 0, 'without gold a skip is reported, not failed');
  });
});
