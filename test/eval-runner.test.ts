import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BuiltinAvatarCatalog, type AvatarCatalog, type AvatarSummary, type RendererRequest } from '../src/avatars/catalog.js';
import { AvatarError } from '../src/core/errors.js';
import { runSuite } from '../src/eval/scenario-runner.js';
import { parseSuite } from '../src/eval/scenario.js';
import type { Renderer } from '../src/render/renderer.js';
import { REST_MOUTH, type MouthFrame, type MouthParams } from '../src/visemes/mouth-params.js';
import { tempDir } from './helpers/media.js';

let dir = '';
let cleanup: () => Promise<void> = async () => undefined;
before(async () => ({ dir, cleanup } = await tempDir('avatar-eval-run-')));
after(() => cleanup());

/** The built-in avatar with a defect injected between the mouth track and the drawing. */
class DefectCatalog implements AvatarCatalog {
  private readonly inner = new BuiltinAvatarCatalog();
  constructor(private readonly defect: (frame: MouthFrame, history: MouthParams[]) => MouthParams) {}
  list(): AvatarSummary[] {
    return this.inner.list();
  }
  get(id: string): AvatarSummary | undefined {
    return this.inner.get(id);
  }
  async createRenderer(id: string, request: RendererRequest): Promise<Renderer> {
    const r = await this.inner.createRenderer(id, request);
    const history: MouthParams[] = [];
    const defect = this.defect;
    return {
      name: r.name, width: r.width, height: r.height, mouthRegion: r.mouthRegion,
      render(frame: MouthFrame) {
        history.push(frame.mouth);
        return r.render({ ...frame, mouth: defect(frame, history) });
      },
    };
  }
}

const suite = (scenarios: unknown[]) => parseSuite({
  name: 'test',
  checks: { maxAbsOffsetMs: 40, maxStillnessRatio: 0.1, minConfidence: 0.2 },
  scenarios,
}, `${process.cwd()}/test-suite.json`);

const TEXT = 'Good morning, and welcome to the tour. My name is Ava, and I will be your guide today.\n\nWe will start in the main hall, where the old machines are kept.\n\nAre you ready? Then let us go.';

describe('scenario runner: real regressions fail their checks', () => {
  it('passes the healthy renderer', async () => {
    const report = await runSuite(suite([{ id: 'en', kind: 'text', language: 'en', text: TEXT }]), { outDir: dir });
    const r = report.scenarios[0]!;
    assert.equal(r.status, 'passed', JSON.stringify(r.checks));
    assert.ok(report.passed);
    assert.ok(r.latency && r.latency.firstFrameMs > 0 && r.latency.firstFrameMs <= r.latency.totalMs);
    assert.ok(r.latency.renderFps > 0 && r.latency.encodeFps > 0 && r.latency.realtimeFactor > 0);
    assert.deepEqual(r.language, { requested: ['en'], used: ['en'], detected: ['en'], voices: ['en-us'], match: true });
  });

  it('fails a mouth drawn three frames late (audio early by ~120 ms)', async () => {
    const late = new DefectCatalog((_f, h) => h[h.length - 4] ?? REST_MOUTH);
    const report = await runSuite(suite([{ id: 'late', kind: 'text', language: 'en', text: TEXT }]), { outDir: dir, catalog: late });
    const r = report.scenarios[0]!;
    assert.equal(r.status, 'failed');
    assert.ok(r.analysis!.sync.offsetMs > 80 && r.analysis!.sync.offsetMs < 160, `offset ${r.analysis!.sync.offsetMs}`);
    assert.deepEqual(r.checks.filter((c) => c.passed === false).map((c) => c.check), ['maxAbsOffsetMs']);
    assert.equal(report.passed, false);
  });

  it('fails a mouth that chatters in silence', async () => {
    const chatter = new DefectCatalog((f) => (f.speaking ? f.mouth : { ...REST_MOUTH, jawOpen: f.index % 2 ? 0.5 : 0, closure: f.index % 2 ? 0 : 1 }));
    const report = await runSuite(suite([{ id: 'chatter', kind: 'text', language: 'en', text: TEXT }]), { outDir: dir, catalog: chatter });
    const r = report.scenarios[0]!;
    assert.equal(r.status, 'failed');
    assert.ok(r.checks.some((c) => c.check === 'maxStillnessRatio' && c.passed === false), JSON.stringify(r.checks));
  });
});

describe('scenario runner: what cannot run is skipped with the reason', () => {
  it('reports unknown avatars, renderer mismatches, broken avatars and unsupported transports', async () => {
    const catalog: AvatarCatalog = {
      list: () => [...new BuiltinAvatarCatalog().list(), { id: 'bad', name: 'bad', renderer: 'warp', width: 512, height: 512, fps: 25, status: 'broken', reason: 'frames missing', loaded: false, builtin: false }],
      get(id) {
        return this.list().find((a) => a.id === id);
      },
      createRenderer: async () => {
        throw new AvatarError('unknown_avatar', 'not used');
      },
    };
    const report = await runSuite(suite([
      { id: 'photo', text: 'Hi.', avatar: 'photo', renderer: 'warp' },
      { id: 'mismatch', text: 'Hi.', avatar: 'default', renderer: 'select' },
      { id: 'broken', text: 'Hi.', avatar: 'bad' },
      { id: 'webrtc', text: 'Hi.', transport: 'webrtc' },
      { id: 'audio-stream', text: 'Hi.', kind: 'audio', transport: 'stream' },
    ]), { outDir: dir, catalog });
    const reasons = Object.fromEntries(report.scenarios.map((s) => [s.id, `${s.status}: ${s.reason}`]));
    assert.match(reasons.photo!, /^skipped: avatar "photo" is not in the catalog \(known: default, bad\)/);
    assert.match(reasons.mismatch!, /^skipped: avatar "default" uses renderer "parametric", the scenario asks for "select"/);
    assert.match(reasons.broken!, /^skipped: avatar "bad" is broken: frames missing/);
    assert.match(reasons.webrtc!, /^skipped: transport "webrtc" is not supported by the evaluator yet \(supported: file, stream, realtime\)/);
    assert.match(reasons['audio-stream']!, /^skipped: the stream transport takes one text; "audio" scenarios run on the file transport/);
    assert.ok(report.passed, 'skips are reported, not failures');
  });

  it('turns a failing run into an error result and carries on', async () => {
    const report = await runSuite(suite([
      { id: 'missing', kind: 'audio-file', audioFile: '/nonexistent/voice.wav' },
      { id: 'ok', kind: 'text', language: 'en', text: 'Hello there.\n\nGood bye now.' },
    ]), { outDir: dir });
    assert.equal(report.scenarios[0]!.status, 'error');
    assert.match(report.scenarios[0]!.reason!, /cannot read audio file \/nonexistent\/voice.wav: ENOENT/);
    assert.equal(report.scenarios[1]!.status, 'passed', JSON.stringify(report.scenarios[1]!.checks));
    assert.equal(report.passed, false);
  });
});

describe('suite files', () => {
  it('rejects bad suites with the field at fault', () => {
    const bad = (doc: unknown, pattern: RegExp) => assert.throws(() => parseSuite(doc, '/x/s.json'), (e: unknown) => e instanceof AvatarError && e.code === 'invalid_input' && pattern.test(e.message));
    bad([], /the document must be an object/);
    bad({ scenarios: [] }, /"scenarios" must be a non-empty list/);
    bad({ scenarios: [{ id: 'a', text: 'x' }, { id: 'a', text: 'y' }] }, /"a" appears twice/);
    bad({ scenarios: [{ id: 'a', kind: 'dance', text: 'x' }] }, /kind "dance" is not one of/);
    bad({ scenarios: [{ id: 'a' }] }, /scenario "a": text must be a non-empty string/);
    bad({ scenarios: [{ id: 'a', kind: 'session', utterances: [{ text: 'x' }] }] }, /at least two/);
    bad({ scenarios: [{ id: 'a', text: 'x', checks: { maxOffset: 3 } }] }, /unknown check "maxOffset"/);
    bad({ scenarios: [{ id: 'a', text: 'x', fps: 0 }] }, /fps must be a whole number/);
  });

  it('applies defaults and merges suite checks with scenario checks', () => {
    const s = parseSuite({ defaults: { language: 'es', fps: 30 }, checks: { maxAbsOffsetMs: 40, minConfidence: 0.2 }, gold: 'g.json', scenarios: [{ id: 'a', text: 'hola', checks: { maxAbsOffsetMs: 60 } }, { id: 'b', kind: 'audio-file', audioFile: 'v.wav' }] }, '/x/s.json');
    assert.deepEqual(s.scenarios[0]!.utterances, [{ text: 'hola', language: 'es' }]);
    assert.equal(s.scenarios[0]!.fps, 30);
    assert.deepEqual(s.scenarios[0]!.checks, { maxAbsOffsetMs: 60, minConfidence: 0.2 });
    assert.equal(s.scenarios[0]!.transport, 'file');
    assert.equal(s.scenarios[1]!.audioFile, '/x/v.wav');
    assert.equal(s.gold, '/x/g.json');
  });
});
