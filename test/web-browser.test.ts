import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { encodeWav } from '../src/audio/wav.js';
import { concatSpeech, type Speech } from '../src/core/speech.js';
import { createTtsProvider } from '../src/tts/create-tts.js';
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
  events: { type: string; reason?: string; source?: string }[];
}

let s: TestServer;
let browser: Browser;
let page: Page;

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
  page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(s.url);
});

after(async () => {
  await browser?.close();
  await s?.close();
});

describe('web page in Chromium', () => {
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
    assert.ok(st.firstFrameMs !== undefined && st.firstFrameMs < 1000, `first frame ${st.firstFrameMs} ms`);
    assert.ok(st.audioChunks > 5, 'audio chunks were scheduled');
    assert.ok(st.speakingRms > 0.02 && st.speakingRms > st.idleRms * 2, `audio is heard while the mouth moves (speaking rms ${st.speakingRms}, idle ${st.idleRms})`);
    const offset = st.videoLateMs - st.audioLateMs;
    assert.ok(Math.abs(offset) < 45, `audio/video offset ${offset.toFixed(1)} ms`);
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

  it('the (fake) microphone drives the mouth', async () => {
    const before = await stats();
    await page.click('#mic');
    const st = await until('speech from the microphone', (x) => x.events.some((e) => e.type === 'speech.started' && e.source === 'audio') && x.speakingFramesDrawn > before.speakingFramesDrawn + 15);
    await page.click('#mic');
    assert.ok(st.speakingFramesDrawn > before.speakingFramesDrawn);
    assert.equal(await page.locator('#error').textContent(), '');
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
