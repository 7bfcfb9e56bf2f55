import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { EvalReport } from '../src/eval/result.js';
import { avatarCli, tempDir } from './helpers/media.js';

const run = promisify(execFile);

let dir = '';
let cleanup: () => Promise<void> = async () => undefined;
before(async () => ({ dir, cleanup } = await tempDir('avatar-eval-cli-')));
after(() => cleanup());

describe('avatar eval --suite quick (the CI gate)', () => {
  let report: EvalReport;
  let out = '';
  before(async () => {
    out = join(dir, 'quick');
    const started = Date.now();
    const { code, stdout, stderr } = await avatarCli(['eval', '--suite', 'quick', '--out', out, '--json'], {}, 900000);
    assert.equal(code, 0, stderr);
    report = JSON.parse(stdout) as EvalReport;
    assert.match(stderr, /\[1\/11\] en-medium: passed, offset -?\d+ ms/, 'progress per scenario on stderr');
    process.stderr.write(`quick suite: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  });

  it('passes every scenario and the gold figures', () => {
    assert.equal(report.suite, 'quick');
    assert.equal(report.scenarios.length, 11);
    for (const s of report.scenarios) assert.equal(s.status, 'passed', `${s.id}: ${JSON.stringify(s.checks)}`);
    assert.ok(report.gold?.passed, JSON.stringify(report.gold?.outcomes.filter((o) => !o.passed)));
  });

  it('measures every metric family', () => {
    const byId = Object.fromEntries(report.scenarios.map((s) => [s.id, s]));
    const zh = byId['zh-medium']!;
    assert.equal(zh.language?.used[0], 'zh');
    assert.equal(zh.language?.voices[0], 'cmn');
    assert.ok(zh.analysis!.voice.meanHz > 60 && zh.analysis!.voice.meanHz < 200);
    assert.ok(zh.analysis!.stillness.ratio !== null);
    assert.equal(zh.analysis!.validity.videoCodec, 'h264');
    assert.equal(zh.analysis!.validity.audioCodec, 'aac');
    assert.deepEqual(byId['switch-en-zh-es']!.language?.used, ['en', 'zh', 'es']);
    const long = byId['long-en']!;
    assert.ok(long.analysis!.drift, 'the run over 20 s measures drift');
    assert.ok(long.checks.some((c) => c.check === 'maxAbsDriftMs' && c.passed === true), JSON.stringify(long.checks));
    const audio = byId['audio-en']!;
    assert.ok(audio.accuracy && audio.accuracy.openAgreement >= 0.78, `accuracy ${audio.accuracy?.openAgreement}`);
    assert.ok(audio.latency!.firstFrameMs > 0);
    // The photo and video avatars the evaluator builds for itself.
    assert.equal(byId['warp-en']!.renderer, 'warp');
    assert.equal(byId['select-en']!.renderer, 'select');
    // The progressive stream, fetched over HTTP from a real server.
    const stream = byId['stream-en']!;
    assert.equal(stream.status, 'passed');
    assert.ok(stream.latency!.firstFrameMs > 0 && stream.latency!.firstFrameMs < stream.latency!.totalMs);
    // A realtime session over WebSocket, rebuilt from the frames and audio the client got.
    const live = byId['realtime-en']!;
    assert.equal(live.status, 'passed');
    assert.deepEqual(live.language?.used, ['en', 'en']);
  });

  it('writes report.json, a self-contained index.html and the videos', async () => {
    const json = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as EvalReport;
    assert.equal(json.scenarios.length, 11);
    const html = await readFile(join(out, 'index.html'), 'utf8');
    assert.match(html, /<svg/);
    assert.match(html, /BT\.1359/);
    assert.doesNotMatch(html, /<script|<link|src="http|href="http/i, 'no scripts or network resources');
    // Stream and realtime scenarios have no TTS time of their own: marked, not drawn as NaN.
    assert.doesNotMatch(html, /NaN/);
    assert.match(html, /TTS ms: not measured/);
    for (const s of json.scenarios) assert.ok((await stat(join(out, s.video!))).size > 1000);
    assert.ok((await stat(join(out, 'audio', 'audio-en.wav'))).size > 10000, 'the generated speech file is kept');
  });

  it('--compare: zero on equal runs, non-zero on an injected regression', async () => {
    const a = join(out, 'report.json');
    const same = await avatarCli(['eval', '--compare', a, a, '--out', join(dir, 'cmp-same')]);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /no regressions/);
    const worse = structuredClone(report) as { scenarios: { id: string; analysis?: { sync: { offsetMs: number }; stillness: { ratio: number | null } } }[] };
    worse.scenarios[0]!.analysis!.sync.offsetMs += 80;
    worse.scenarios[1]!.analysis!.stillness.ratio = 0.5;
    const b = join(dir, 'worse.json');
    await writeFile(b, JSON.stringify(worse));
    const cmp = await avatarCli(['eval', '--compare', a, b, '--out', join(dir, 'cmp-worse')]);
    assert.equal(cmp.code, 1);
    assert.match(cmp.stdout, /REGRESSION en-medium offsetMs: .*beyond one frame/);
    assert.match(cmp.stdout, /REGRESSION es-medium stillnessRatio/);
    assert.match(cmp.stdout, /2 regression\(s\)/);
    assert.match(await readFile(join(dir, 'cmp-worse', 'compare.html'), 'utf8'), /2 regression\(s\)[\s\S]*<svg/);
  });
});

describe('avatar eval: other modes and bad input', () => {
  let clip = '';
  before(async () => {
    clip = join(dir, 'head.mp4');
    const gate = 'gt(sin(2*PI*1.3*t)+sin(2*PI*0.71*t),0.4)';
    await run('ffmpeg', ['-y', '-loglevel', 'error', '-f', 'lavfi', '-i', `color=black:s=160x120:r=25:d=6,drawbox=x=50:y=50:w=40:h=30:color=white:t=fill:enable='${gate}'`,
      '-f', 'lavfi', '-i', `aevalsrc='0.5*sin(2*PI*180*t)*${gate}':s=16000:d=6`, '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', clip]);
  });

  it('--video scores any video given the mouth box', async () => {
    const { code, stdout, stderr } = await avatarCli(['eval', '--video', clip, '--mouth', '40,40,60,50', '--out', join(dir, 'video')]);
    assert.equal(code, 0, stderr);
    const offset = Number(/offset (-?[\d.]+) ms/.exec(stdout)?.[1]);
    assert.ok(Math.abs(offset) <= 20, stdout);
    assert.match(stdout, /F0 18\d Hz/);
    assert.ok((await stat(join(dir, 'video', 'index.html'))).size > 0);
  });

  it('--audio-dir renders and scores each WAV', async () => {
    const wavs = join(dir, 'wavs');
    await mkdir(wavs);
    const made = await avatarCli(['say', 'Hello, this is my own recording.\n\nIt has a pause in it.', '-o', join(dir, 'rec.mp4'), '--audio-out', join(wavs, 'My Voice.wav'), '-q']);
    assert.equal(made.code, 0, made.stderr);
    const { code, stdout, stderr } = await avatarCli(['eval', '--audio-dir', wavs, '--out', join(dir, 'wavs-report'), '--json']);
    assert.equal(code, 0, stderr);
    const r = JSON.parse(stdout) as EvalReport;
    assert.equal(r.scenarios.length, 1);
    assert.equal(r.scenarios[0]!.id, 'wav-1-my-voice');
    assert.equal(r.scenarios[0]!.status, 'passed', JSON.stringify(r.scenarios[0]!.checks));
  });

  it('exits non-zero when a check fails', async () => {
    const suite = join(dir, 'strict.json');
    await writeFile(suite, JSON.stringify({ name: 'strict', scenarios: [{ id: 'a', kind: 'audio', language: 'en', text: 'Hello there, how are you today?', checks: { minOpenAgreement: 0.999 } }] }));
    const { code, stderr } = await avatarCli(['eval', '--suite', suite, '--out', join(dir, 'strict')]);
    assert.equal(code, 1);
    assert.match(stderr, /FAILED minOpenAgreement/);
  });

  const badCases: [string, string[], RegExp][] = [
    ['a missing video', ['--video', '/nonexistent.mp4', '--mouth', '1,1,20,20'], /no such file: \/nonexistent.mp4/],
    ['a malformed mouth box', ['--video', 'CLIP', '--mouth', '1,2,3'], /--mouth must be four whole numbers/],
    ['a tiny mouth box', ['--video', 'CLIP', '--mouth', '1,2,3,4'], /too small/],
    ['a mouth box outside the frame', ['--video', 'CLIP', '--mouth', '150,100,40,40'], /outside the 160x120 video/],
    ['--video without --mouth on a clip with no face', ['--video', 'CLIP'], /face mesh found a face in 0 of \d+ sampled frames; pass the mouth box with --mouth/],
    ['--mouth without --video', ['--mouth', '1,1,20,20'], /--mouth goes with --video/],
    ['an unreadable video', ['--video', 'TEXT', '--mouth', '1,1,20,20'], /cannot read media file/],
    ['an unknown suite', ['--suite', 'nope'], /no suite "nope"/],
    ['a suite that is not JSON', ['--suite', 'TEXT'], /is not valid JSON/],
    ['a missing gold file', ['--suite', 'quick', '--gold', '/nonexistent/gold.json'], /cannot read gold file/],
    ['--compare with one report', ['--compare', 'TEXT'], /usage: avatar eval --compare/],
    ['--compare with a non-report', ['--compare', 'TEXT', 'TEXT'], /cannot read report|not an evaluation report/],
    ['an empty --audio-dir', ['--audio-dir', 'EMPTY'], /holds no .wav files/],
    ['an unknown option', ['--bogus'], /Unknown option/],
  ];
  for (const [what, args, message] of badCases) {
    it(`rejects ${what} with a message and exit 2`, async () => {
      const text = join(dir, 'notes.txt');
      await writeFile(text, 'not a video');
      const empty = join(dir, 'empty');
      await mkdir(empty, { recursive: true });
      const argv = args.map((a) => (a === 'CLIP' ? clip : a === 'TEXT' ? text : a === 'EMPTY' ? empty : a));
      const { code, stderr } = await avatarCli(['eval', ...argv, '--out', join(dir, 'bad')]);
      assert.equal(code, 2, stderr);
      assert.match(stderr, message);
      assert.doesNotMatch(stderr, /unexpected error|at .*\.js:\d+/);
    });
  }
});
