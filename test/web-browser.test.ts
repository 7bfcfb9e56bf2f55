import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { encodeWav } from '../src/audio/wav.js';
import { concatSpeech, type Speech } from '../src/core/speech.js';
import { createTtsProvider } from '../src/tts/create-tts.js';
import { activityGrid, bestLag, correlationAt, heardTrack, installPlayoutProbe, loudnessGrid, type Playout } from './helpers/playout-probe.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// Code inside page.evaluate runs in the browser; these names exist there, not here.
declare const window: any;
declare const document: any;
type HTMLCanvasElement = any;
type HTMLVideoElement = any;

const CHROMIUM = process.env.AVATAR_CHROMIUM ?? '/usr/bin/chromium';

interface PageStats {
  framesDrawn: number;
  speakingFramesDrawn: number;
  fps: number;
  audioChunks: number;
  videoLateMs: number;
  audioLateMs: number;
  speakingRms: number;
  idleRms: number;
  firstFrameMs: number | undefined;
  connected: boolean;
  events: { type: string; id?: string; reason?: string; source?: string }[];
}

let s: TestServer;
let browser: Browser;
let page: Page;
/** Uncaught page errors and console errors; every test must leave this empty. */
const problems: string[] = [];
/** The fake microphone's sound, 10 ms RMS per entry (it loops). */
let micEnvelope: Float64Array;

const playout = () => page.evaluate(() => window.__playout) as Promise<Playout>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const stats = () => page.evaluate(() => (window as unknown as { avatarApp: { stats: unknown } }).avatarApp.stats) as Promise<PageStats>;
async function until(what: string, check: (st: PageStats) => boolean, timeoutMs = 15000): Promise<PageStats> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const st = await stats();
    if (check(st)) return st;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify({ ...st, events: st.events.slice(-5) })}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium is needed at ${CHROMIUM} (scripts/test-all.sh installs Debian's chromium)`);
  s = await startTestServer({ realtime: { size: 256 } });
  await s.server.warmUp();
  // The fake microphone plays speech, a pause, and loops.
  const parts: Speech[] = [];
  for await (const part of createTtsProvider('espeak').synthesize({ text: 'One two three, testing the microphone.', language: 'en' })) parts.push(part);
  const speech = concatSpeech(parts);
  const withPause = new Int16Array(speech.pcm.length + speech.sampleRate);
  withPause.set(speech.pcm);
  const step = speech.sampleRate / 100;
  micEnvelope = Float64Array.from({ length: Math.floor(withPause.length / step) }, (_, b) => {
    let sum = 0;
    for (let i = Math.round(b * step); i < Math.round((b + 1) * step); i++) sum += (withPause[i]! / 32768) ** 2;
    return Math.sqrt(sum / step);
  });
  const micFile = join(s.dataDir, 'mic.wav');
  await writeFile(micFile, encodeWav({ pcm: withPause, sampleRate: speech.sampleRate }));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
      '--autoplay-policy=no-user-gesture-required',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-audio-capture=${micFile}`,
    ],
  });
  const context = await browser.newContext();
  await context.grantPermissions(['microphone'], { origin: s.url });
  await context.addInitScript(installPlayoutProbe, 'canvas');
  page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
  });
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  // The WebSocket mode (the canvas player) is what these tests hold; WebRTC has its own test.
  await page.goto(`${s.url}/?mode=realtime`);
});

after(async () => {
  await browser?.close();
  await s?.close();
});

describe('web page in Chromium', () => {
  afterEach(() => {
    assert.deepEqual(problems.splice(0), [], 'no page errors and no console errors');
  });

  it('loads, connects a realtime session and shows the face with frames advancing', async () => {
    const st = await until('frames', (x) => x.connected && x.framesDrawn > 15);
    assert.ok(st.fps >= 15, `fps ${st.fps}`);
    assert.ok(st.idleRms < 0.001, `silence while idle (rms ${st.idleRms})`);
    const options = await page.locator('#avatar option').allTextContents();
    assert.ok(options.some((o) => o.includes('default')));
    // The face is on the canvas: a varied picture, with skin tones in the middle.
    const picture = await page.evaluate(() => {
      const canvas = document.getElementById('canvas') as HTMLCanvasElement;
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      let sum = 0;
      let sumSq = 0;
      for (let i = 0; i < data.length; i += 4) {
        const l = (data[i]! + data[i + 1]! + data[i + 2]!) / 3;
        sum += l;
        sumSq += l * l;
      }
      const n = data.length / 4;
      const mid = ((canvas.height / 2) * canvas.width + canvas.width / 2) * 4;
      return { std: Math.sqrt(sumSq / n - (sum / n) ** 2), centre: [data[mid], data[mid + 1], data[mid + 2]] };
    });
    assert.ok(picture.std > 20, `the canvas shows a picture (luma std ${picture.std})`);
    const [r, g, b] = picture.centre as number[];
    assert.ok(r! > g! && g! > b! && r! > 120, `skin at the centre of the face (${picture.centre})`);
  });

  it('Speak makes the mouth move with the audio playing in sync', async () => {
    const before = await stats();
    await page.fill('#text', 'Hello from the browser test. The avatar speaks this sentence.');
    await page.click('#speak');
    const st = await until('speech to end', (x) => x.events.some((e) => e.type === 'speech.ended') && x.speakingFramesDrawn > before.speakingFramesDrawn + 30);
    // Wall time is the point (the first frame comes promptly), held loosely: the machine may be busy.
    assert.ok(st.firstFrameMs !== undefined && st.firstFrameMs < 2500, `first frame ${st.firstFrameMs} ms`);
    assert.ok(st.audioChunks > 5, 'audio chunks were scheduled');
    assert.ok(st.speakingRms > 0.02 && st.speakingRms > st.idleRms * 2, `audio is heard while the mouth moves (speaking rms ${st.speakingRms}, idle ${st.idleRms})`);
    // A/V alignment from what was played: the mouth patches drawn on the canvas against the
    // loudness of the audio buffers as started, not the page's own figures.
    const { draws, audio } = await playout();
    const speakingDraws = draws.filter((d) => d.activity > 0);
    assert.ok(speakingDraws.length > 30 && audio.length > 5, `${speakingDraws.length} mouth patches drawn, ${audio.length} buffers started`);
    const from = speakingDraws[0]!.t - 500;
    const bins = Math.ceil((speakingDraws[speakingDraws.length - 1]!.t + 500 - from) / 10);
    const sync = bestLag(loudnessGrid(heardTrack(audio, from, bins * 10), bins), activityGrid(draws, from, bins), 30);
    const offsetMs = sync.lag * 10;
    const intervals = draws.slice(1).map((d, i) => d.t - draws[i]!.t).sort((a, b) => a - b);
    const pageOffset = st.videoLateMs - st.audioLateMs;
    process.stderr.write(`browser A/V: measured video ${offsetMs.toFixed(1)} ms late (r ${sync.correlation.toFixed(2)}, median r ${sync.median.toFixed(2)}); `
      + `the page reports ${pageOffset.toFixed(1)} ms; pictures drawn every ${intervals[intervals.length >> 1]!.toFixed(0)} ms (90th percentile ${intervals[Math.floor(intervals.length * 0.9)]!.toFixed(0)} ms)\n`);
    assert.ok(sync.correlation > 0.4 && sync.correlation > sync.median + 0.1, `the mouth drawn follows the sound heard (r ${sync.correlation.toFixed(2)}, median ${sync.median.toFixed(2)})`);
    // Audio early by more than a frame fails. Pictures are drawn late by whatever the headless
    // browser's animation frames allow: on the 2-core development machine 30-60 ms idle and up
    // to ~90 ms under heavy load (pictures then drawn 40 ms apart, 90th percentile over 110 ms),
    // so lateness is held to three frames: an audio clock off by 150 ms still fails.
    assert.ok(offsetMs >= -40 && offsetMs <= 120, `measured audio/video offset ${offsetMs.toFixed(1)} ms (video late by at most three frames, early by at most one)`);
    assert.ok(Number(await page.textContent('#first-frame')) > 0, 'the page shows the first-frame latency');
  });

  it('Interrupt stops the speech at once', async () => {
    await page.fill('#text', 'This is a much longer sentence that goes on and on, so that there is plenty of time to interrupt it before it ends.');
    await page.click('#speak');
    const speaking = await stats();
    await until('speaking frames', (x) => x.speakingFramesDrawn > speaking.speakingFramesDrawn + 10);
    await page.click('#interrupt');
    await until('interrupted', (x) => x.events.some((e) => e.type === 'speech.ended' && e.reason === 'interrupted'));
    await new Promise((r) => setTimeout(r, 300));
    const settled = await stats();
    await new Promise((r) => setTimeout(r, 700));
    const later = await stats();
    assert.equal(later.speakingFramesDrawn, settled.speakingFramesDrawn, 'no speaking frames after the interrupt');
    assert.ok(later.framesDrawn > settled.framesDrawn + 10, 'idle frames continue');
  });

  it('the (fake) microphone drives the mouth, following its sound; stopping it ends the speech', async () => {
    const before = await stats();
    const drawnBefore = (await playout()).draws.length;
    await page.click('#mic');
    const st = await until('speech from the microphone', (x) => x.events.some((e) => e.type === 'speech.started' && e.source === 'audio') && x.speakingFramesDrawn > before.speakingFramesDrawn + 15);
    const started = st.events.find((e) => e.type === 'speech.started' && e.source === 'audio')!;
    // Wall time is the point: the fake microphone plays in real time; hear two loops of it.
    await sleep(micEnvelope.length * 10 * 2);
    await page.click('#mic');
    const ended = await until('speech.ended after the microphone stops', (x) => x.events.some((e) => e.type === 'speech.ended' && e.id === started.id));
    assert.equal(ended.events.find((e) => e.type === 'speech.ended' && e.id === started.id)!.reason, 'done');
    assert.equal(await page.locator('#error').textContent(), '');
    // The mouth drawn follows the microphone file's loudness (it loops: compare at every phase).
    const draws = (await playout()).draws.slice(drawnBefore);
    const speaking = draws.filter((d) => d.activity > 0);
    const from = speaking[0]!.t;
    const bins = Math.floor((speaking[speaking.length - 1]!.t - from) / 10);
    const mouth = activityGrid(draws, from, bins);
    const period = micEnvelope.length;
    const looped = Float64Array.from({ length: bins + period }, (_, i) => micEnvelope[i % period]!);
    const phases = Array.from({ length: period }, (_, shift) => correlationAt(mouth, looped, shift)).sort((a, b) => a - b);
    const best = phases[phases.length - 1]!;
    const median = phases[phases.length >> 1]!;
    process.stderr.write(`browser microphone: mouth vs microphone loudness r ${best.toFixed(2)} (median over phases ${median.toFixed(2)}), ${speaking.length} mouth patches over ${bins * 10} ms\n`);
    assert.ok(best > 0.4 && best > median + 0.2, `the mouth follows the microphone's sound (r ${best.toFixed(2)}, median ${median.toFixed(2)})`);
    await sleep(300);
    const settled = await stats();
    await sleep(500);
    assert.equal((await stats()).speakingFramesDrawn, settled.speakingFramesDrawn, 'no speaking frames once the speech ended');
  });

  it('stream mode plays the fragmented MP4 through Media Source Extensions', async () => {
    await page.selectOption('#mode', 'stream');
    await page.fill('#text', 'Streaming into a video element.');
    await page.click('#speak');
    await until('first stream frame', (x) => x.firstFrameMs !== undefined);
    await page.waitForFunction(() => (document.getElementById('video') as HTMLVideoElement).currentTime > 0.5, undefined, { timeout: 15000 });
    const video = await page.evaluate(() => {
      const v = document.getElementById('video') as HTMLVideoElement;
      return { width: v.videoWidth, error: v.error?.message ?? null };
    });
    assert.equal(video.error, null);
    assert.equal(video.width, 512);
  });
});
