import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from './helpers/server.js';

// Code inside page.evaluate runs in the browser; these names exist there, not here.
declare const window: any;

const CHROMIUM = process.env.AVATAR_CHROMIUM ?? '/usr/bin/chromium';
const CLIENT_DIR = new URL('../../dist/client/', import.meta.url);
/** The package's own subpath, resolved through package.json "exports" like a user's import. */
const SUBPATH = 'realtime-avatar/client';

let s: TestServer;
let page: Server;
let pageOrigin: string;

before(async () => {
  // The embedding page lives on another origin (another port), as it would on a customer's site.
  let html = '';
  page = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  });
  await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
  pageOrigin = `http://127.0.0.1:${(page.address() as { port: number }).port}`;
  s = await startTestServer({ realtime: { size: 256 }, corsOrigins: [pageOrigin] });
  await s.server.warmUp();
  // The documented example, pointed at the test server and without the button.
  html = (await readFile(new URL('../../examples/embed.html', import.meta.url), 'utf8'))
    .replace('http://localhost:8000', s.url)
    .replace("session.client.speak(document.getElementById('text').value);", '')
    .replace('window.avatarSession = session;', "window.avatarSession = session; window.events = []; session.client.speak('Hello from the page that embeds me.');")
    .replace("onEvent: (e) => console.log(e.type, e)", 'onEvent: (e) => window.events?.push(e)');
});

after(async () => {
  await s?.close();
  await new Promise((r) => page?.close(r));
});

describe('realtime-avatar/client', () => {
  it('imports nothing outside itself (no server dependencies)', async () => {
    const files = (await readdir(CLIENT_DIR)).filter((f) => f.endsWith('.js'));
    assert.ok(files.includes('index.js') && files.includes('realtime-player.js'), files.join(', '));
    for (const file of files) {
      const code = (await readFile(new URL(file, CLIENT_DIR), 'utf8')).replace(/\/\*[\s\S]*?\*\//g, '');
      for (const [, specifier] of code.matchAll(/(?:^|\s)(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
        assert.match(specifier!, /^\.\/[a-z-]+\.js$/, `${file} imports ${specifier}`);
      }
    }
  });

  it('works in Node through the package subpath (with the ws constructor)', async () => {
    const sdk = (await import(SUBPATH)) as { RealtimeClient: { connect(url: string, handlers: object, ws: unknown): Promise<{ session?: { fps: number }; close(): void }> } };
    let frames = 0;
    const client = await sdk.RealtimeClient.connect(`${s.wsUrl}/api/v1/realtime`, { onFrame: () => frames++ }, WebSocket);
    assert.equal(client.session?.fps, 25);
    for (let i = 0; i < 100 && frames < 5; i++) await new Promise((r) => setTimeout(r, 20));
    client.close();
    assert.ok(frames >= 5, `${frames} frames`);
  });

  it('a page on another origin that imports only the client plays a session: frames on its canvas, speech in sync', async () => {
    assert.ok(existsSync(CHROMIUM), `Chromium is needed at ${CHROMIUM} (scripts/test-all.sh installs Debian's chromium)`);
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM, headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--autoplay-policy=no-user-gesture-required'],
      });
      const tab = await browser.newPage();
      const problems: string[] = [];
      tab.on('pageerror', (e) => problems.push(e.message));
      tab.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      await tab.goto(pageOrigin);
      await tab.waitForFunction(() => window.events?.some((e: { type: string }) => e.type === 'speech.ended'), undefined, { timeout: 30000 });
      const result = await tab.evaluate(async (api: string) => {
        const stats = window.avatarSession.player.stats;
        // CORS: this origin is configured, so the page may call the API too.
        const avatars: any = await fetch(`${api}/api/v1/avatars`).then((r) => r.json(), (e) => ({ error: String(e) }));
        const canvas = document.getElementById('avatar') as any;
        const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
        let sum = 0;
        let sumSq = 0;
        for (let i = 0; i < data.length; i += 4) {
          const l = (data[i] + data[i + 1] + data[i + 2]) / 3;
          sum += l;
          sumSq += l * l;
        }
        const n = data.length / 4;
        return { stats: { ...stats }, avatars, std: Math.sqrt(sumSq / n - (sum / n) ** 2), events: window.events.map((e: { type: string }) => e.type) };
      }, s.url);
      assert.deepEqual(problems, []);
      assert.ok(result.stats.framesDrawn > 10, JSON.stringify(result.stats));
      assert.ok(result.stats.speakingFramesDrawn > 10, JSON.stringify(result.stats));
      assert.ok(result.stats.audioChunks > 3, 'speech audio was scheduled');
      assert.ok(result.std > 20, `the canvas shows a picture (luma std ${result.std})`);
      assert.deepEqual(result.events.filter((t: string) => t.startsWith('speech.')), ['speech.started', 'speech.ended']);
      assert.ok(Array.isArray(result.avatars.avatars), `the API answers the page (CORS): ${JSON.stringify(result.avatars)}`);
    } finally {
      await browser?.close();
    }
  });
});

declare const document: any;
