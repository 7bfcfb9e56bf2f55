/**
 * `npm run soak`: hostile and normal clients against one server for a bounded time, with
 * the server's RSS, heap and event-loop lag every few seconds and the normal sessions'
 * frames on time at the end. Hostile clients: a realtime session that asks for long
 * speeches and never reads, one that pushes PCM at 4 MB/s, and a streamed generation
 * nobody reads; each comes back when the server drops it. Reports; never fails on figures.
 *
 *   npm run soak -- [--seconds 60] [--sessions 4]
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { RealtimeClient, type WebSocketConstructor } from '../src/client/realtime-client.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' }, sessions: { type: 'string', default: '4' } } });
const SECONDS = Math.max(5, Math.min(3600, Number(values.seconds)));
const SESSIONS = Number(values.sessions);
const FPS = 25;
const FRAME_MS = 1000 / FPS;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LONG = 'This is a very long speech that goes on and on, sentence after sentence, for as long as the limit allows. '.repeat(40);

interface Stats { rss: number; heap: number; lagP99Ms: number; lagMaxMs: number; sessions: number }

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'avatar-soak-'));
  const child = fork(new URL('./soak-server.js', import.meta.url).pathname, [], { env: { ...process.env, AVATAR_DATA_DIR: dataDir }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const stats: (Stats & { t: number })[] = [];
  const start = performance.now();
  const url = await new Promise<string>((resolve, reject) => {
    child.on('message', (m: { type: string; url?: string } & Stats) => {
      if (m.type === 'listening') resolve(m.url!);
      if (m.type === 'stats') stats.push({ ...m, t: (performance.now() - start) / 1000 });
    });
    child.once('exit', (code) => reject(new Error(`the server exited (${code})`)));
  });
  const wsUrl = `${url.replace(/^http/, 'ws')}/api/v1/realtime?avatar=default&size=512&fps=${FPS}`;
  process.stdout.write(`soak: ${SECONDS} s, ${SESSIONS} normal sessions + a never-reading session, a 4 MB/s PCM flood, an unread stream (${url})\n`);
  process.stdout.write('  t(s)  RSS(MB)  heap(MB)  lag p99/max(ms)  slots\n');
  const t0 = performance.now();
  const until = t0 + SECONDS * 1000;
  const printer = setInterval(() => {
    const s = stats.at(-1);
    if (s) process.stdout.write(`${s.t.toFixed(0).padStart(6)}  ${(s.rss / 1048576).toFixed(0).padStart(7)}  ${(s.heap / 1048576).toFixed(0).padStart(8)}  ${`${s.lagP99Ms.toFixed(0)}/${s.lagMaxMs.toFixed(0)}`.padStart(15)}  ${String(s.sessions).padStart(5)}\n`);
  }, 5000);
  const drops = { neverReading: 0, flood: 0, stream: 0 };
  const hostile = [
    repeat(until, () => neverReading(wsUrl, until), () => drops.neverReading++),
    repeat(until, () => pcmFlood(wsUrl, until), () => drops.flood++),
    repeat(until, () => unreadStream(url, until), () => drops.stream++),
  ];
  const normal = await Promise.all(Array.from({ length: SESSIONS }, (_, i) => normalSession(wsUrl, until, i * 250)));
  await Promise.all(hostile);
  clearInterval(printer);
  child.send({ type: 'stop' });
  await new Promise((r) => child.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });

  let slots = 0;
  let onTime = 0;
  for (const arrivals of normal) {
    const a = arrivals.slice(FPS);
    if (a.length < 2) continue;
    const offset = Math.min(...a.map((f) => f.at - f.ptsMs));
    for (const f of a) if (f.at - f.ptsMs - offset <= FRAME_MS) onTime++;
    slots += a.at(-1)!.index - a[0]!.index + 1;
  }
  const warm = stats.filter((s) => s.t >= 3);
  const first = warm[0] ?? stats[0]!;
  const last = stats.at(-1)!;
  const peak = Math.max(...stats.map((s) => s.rss));
  process.stdout.write([
    '',
    `server RSS (MB)           ${(first.rss / 1048576).toFixed(0)} at ${first.t.toFixed(0)} s -> ${(last.rss / 1048576).toFixed(0)} at the end, peak ${(peak / 1048576).toFixed(0)}: growth ${((last.rss - first.rss) / 1048576).toFixed(0)} MB (peak ${((peak - first.rss) / 1048576).toFixed(0)} MB)`,
    `server heap (MB)          ${(first.heap / 1048576).toFixed(0)} -> ${(last.heap / 1048576).toFixed(0)}, peak ${(Math.max(...stats.map((s) => s.heap)) / 1048576).toFixed(0)}`,
    `event-loop lag (ms)       p99 of seconds: median ${median(warm.map((s) => s.lagP99Ms)).toFixed(0)}, worst ${Math.max(...warm.map((s) => s.lagP99Ms)).toFixed(0)}; max ${Math.max(...warm.map((s) => s.lagMaxMs)).toFixed(0)}`,
    `normal sessions frames on time (<= 1 frame late)  ${slots ? ((100 * onTime) / slots).toFixed(2) : '-'} % of ${slots} slots`,
    `hostile clients dropped by the server  never-reading ${drops.neverReading}, PCM flood ${drops.flood}, unread stream ${drops.stream}`,
    '',
  ].join('\n'));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
}

/** Runs a hostile client again each time it ends (the server dropped it), until the end. */
async function repeat(until: number, client: () => Promise<void>, dropped: () => void): Promise<void> {
  while (performance.now() < until) {
    await client().catch(() => undefined);
    if (performance.now() < until) {
      dropped();
      await sleep(500);
    }
  }
}

/** Opens a session, asks for long speeches, then stops reading (its socket paused). */
function neverReading(wsUrl: string, until: number): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl);
    const timer = setTimeout(() => ws.terminate(), Math.max(0, until - performance.now()));
    ws.on('open', () => {
      for (let i = 0; i < 16; i++) ws.send(JSON.stringify({ type: 'speak', text: LONG }));
      (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    });
    ws.on('close', () => { clearTimeout(timer); resolve(); });
    ws.on('error', () => undefined);
  });
}

/** Streams PCM at 4 MB/s (125 s of 16 kHz audio every second), reading what comes back. */
function pcmFlood(wsUrl: string, until: number): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl);
    const chunk = Buffer.alloc(65536);
    for (let i = 0; i < chunk.length; i += 2) chunk.writeInt16LE(Math.round(8000 * Math.sin(i / 16)), i);
    let timer: NodeJS.Timeout | undefined;
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'audio.start', sampleRate: 16000 }));
      timer = setInterval(() => {
        if (performance.now() > until) return ws.close();
        if (ws.bufferedAmount < 4 << 20) ws.send(chunk);
      }, 16);
    });
    ws.on('close', () => { clearInterval(timer); resolve(); });
    ws.on('error', () => undefined);
  });
}

/** Asks for a long streamed video and never reads the body. */
async function unreadStream(url: string, until: number): Promise<void> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), Math.max(0, until - performance.now()));
  try {
    const response = await fetch(`${url}/api/v1/generate/stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: LONG.slice(0, 4000) }), signal: controller.signal });
    // Holding the body unread until the server gives up (or the soak ends).
    await new Promise<void>((resolve) => {
      controller.signal.addEventListener('abort', () => resolve(), { once: true });
      response.body?.getReader().closed.then(() => resolve(), () => resolve());
    });
  } finally {
    clearTimeout(timer);
  }
}

/** A well-behaved session: speaks, waits for the end, pauses; records frame arrivals. */
async function normalSession(wsUrl: string, until: number, stagger: number): Promise<{ index: number; at: number; ptsMs: number }[]> {
  await sleep(stagger);
  const arrivals: { index: number; at: number; ptsMs: number }[] = [];
  const client = await RealtimeClient.connect(wsUrl, { onFrame: (f) => arrivals.push({ index: f.index, at: performance.now(), ptsMs: f.ptsMs }) }, WebSocket as unknown as WebSocketConstructor);
  while (performance.now() < until) {
    client.speak('Hello, and welcome. How can I help you today?');
    await client.waitFor('speech.ended', () => true, 30000).catch(() => undefined);
    await sleep(1000);
  }
  client.close();
  return arrivals;
}

main().catch((e: unknown) => {
  process.stderr.write(`soak: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
