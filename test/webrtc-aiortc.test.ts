import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { call, startTestServer, type TestServer } from './helpers/server.js';
import { TestCatalog } from './helpers/test-catalog.js';

/** Debian's python3 with python3-aiortc (scripts/test-all.sh installs it). */
const PYTHON = process.env.AVATAR_PYTHON ?? '/usr/bin/python3';
const PEER = fileURLToPath(new URL('../../test/helpers/aiortc_peer.py', import.meta.url));
const KEY = 'webrtc-test-key-0123456789';
const SECONDS = 6;

interface PeerReport {
  status: number;
  location: string;
  videoFrames: number;
  width: number;
  height: number;
  audioFrames: number;
  events: { type: string; at: number; reason?: string }[];
  /** [seconds since start, spread of the mouth region's luminance] per decoded frame. */
  mouth: [number, number][];
  /** [seconds since start, RMS] per decoded 20 ms audio frame. */
  audio: [number, number][];
  /** [seconds since start, mean Y, U, V of the middle of the picture] per decoded frame. */
  face: [number, number, number, number][];
  /** Every picture size decoded, as WxH. */
  sizes: string[];
  deleteStatus: number;
  deleteAgainStatus: number;
}

function runPeer(url: string, codec: string, key = KEY, text = 'Hello there! This is a test of the avatar over WebRTC.', options: Record<string, unknown> = {}, seconds = SECONDS): Promise<PeerReport> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [PEER, url, codec, String(seconds), text, key, JSON.stringify(options)], { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`the aiortc peer failed: ${error.message}\n${stderr.slice(-2000)}`));
      else resolve(JSON.parse(stdout) as PeerReport);
    });
  });
}

const range = (values: number[]) => (values.length ? Math.max(...values) - Math.min(...values) : 0);

/** A session from the WHEP route: decodable video at the session size, the mouth moving with the voice, DELETE ending it. */
async function speaksInSync(s: TestServer, codec: string): Promise<void> {
  const report = await runPeer(`${s.url}/api/v1/realtime/webrtc?avatar=default&size=256`, codec);
  assert.equal(report.status, 201);
  assert.match(report.location, /^\/api\/v1\/realtime\/webrtc\/[\w-]+$/);
  assert.equal(report.width, 256);
  assert.equal(report.height, 256);
  const first = report.mouth[0]![0];
  const expected = (SECONDS - first) * 25;
  assert.ok(report.videoFrames >= expected * 0.8, `${report.videoFrames} frames decoded, ${Math.round(expected)} expected at 25 fps`);
  const started = report.events.find((e) => e.type === 'speech.started');
  const ended = report.events.find((e) => e.type === 'speech.ended');
  assert.ok(started && ended && ended.reason === 'done', `speech events: ${JSON.stringify(report.events)}`);
  // The mouth moves while the avatar speaks and is still before and after.
  const during = report.mouth.filter(([t]) => t > started.at + 0.2 && t < ended.at - 0.2).map(([, v]) => v);
  const afterwards = report.mouth.filter(([t]) => t > ended.at + 0.5).map(([, v]) => v);
  assert.ok(range(during) > 2, `mouth region varied by ${range(during).toFixed(2)} while speaking`);
  assert.ok(range(afterwards) < 1, `mouth region varied by ${range(afterwards).toFixed(2)} after speaking`);
  // The voice arrives while the mouth moves; silence around it.
  const loud = report.audio.filter(([t]) => t > started.at && t < ended.at + 0.3).map(([, v]) => v);
  const quiet = report.audio.filter(([t]) => t > ended.at + 0.6).map(([, v]) => v);
  assert.ok(report.audioFrames >= (SECONDS - 1) * 50 * 0.8, `${report.audioFrames} audio frames decoded`);
  assert.ok(Math.max(...loud) > 1000, `speech RMS peaked at ${Math.max(...loud)}`);
  assert.ok(Math.max(...quiet) < 100, `RMS after the speech peaked at ${Math.max(...quiet)}`);
  // DELETE ends the session once; the slot is given back.
  assert.equal(report.deleteStatus, 204);
  assert.equal(report.deleteAgainStatus, 404);
  const health = await call(`${s.url}/health`);
  assert.equal(health.body.activeSessions, 0);
}

describe('WebRTC session with a peer of another implementation (aiortc)', () => {
  let s: TestServer;
  before(async () => {
    const version = (() => {
      try {
        return execFileSync(PYTHON, ['-c', 'import aiortc; print(aiortc.__version__)'], { encoding: 'utf8' }).trim();
      } catch {
        return undefined;
      }
    })();
    assert.ok(version, `${PYTHON} cannot import aiortc: install python3-aiortc (scripts/test-all.sh does) or set AVATAR_PYTHON`);
    // Flat-colour avatars to switch to; "tall" is natively 192 x 320, not the session's shape.
    const catalog = new TestCatalog({ red: { r: 220, g: 30, b: 30 }, tall: { r: 20, g: 40, b: 230, width: 192, height: 320 } });
    s = await startTestServer({ realtime: { size: 256 }, apiKeys: [{ key: KEY, tenant: 'acme' }] }, { catalog });
    await s.server.warmUp();
  });
  after(async () => s?.close());

  for (const codec of ['VP8', 'H264']) {
    it(`negotiates ${codec} through the WHEP route and receives decodable video and Opus audio in sync with the speech`, () => speaksInSync(s, codec));
  }

  it('switches avatar through the data channel mid-session: the picture changes at the announced frame, keeps the session size, and the session goes on', async () => {
    // 2 s: an unknown avatar, 2.5 s: a switch with a new size (both refused, nothing
    // changes); 3 s: red; 5 s: "tall", another
    // shape, drawn at the session's 256 x 256 (a session's size is fixed: no renegotiation);
    // 6 s: speech on the new avatar.
    const send = [[2, { type: 'avatar', avatar: 'nobody' }], [2.5, { type: 'avatar', avatar: 'tall', size: 512 }], [3, { type: 'avatar', avatar: 'red' }], [5, { type: 'avatar', avatar: 'tall' }]];
    const report = await runPeer(`${s.url}/api/v1/realtime/webrtc?avatar=default&size=256`, 'VP8', KEY, 'Hello there.', { send, speakAt: 6 }, 9);
    assert.equal(report.status, 201);
    const changed = report.events.filter((e) => e.type === 'avatar.changed') as unknown as { avatar: string; at: number }[];
    assert.deepEqual(changed.map((e) => e.avatar), ['red', 'tall'], JSON.stringify(report.events));
    const refused = report.events.filter((e) => e.type === 'error') as unknown as { error: string; message: string; at: number }[];
    assert.equal(refused.length, 2, JSON.stringify(report.events));
    assert.ok(refused[0]!.at < changed[0]!.at && /nobody/.test(refused[0]!.message), `the unknown avatar was refused: ${JSON.stringify(refused)}`);
    assert.match(refused[1]!.message, /avatar takes no "size": a session keeps the size it opened with/);
    const mean = (from: number, to: number) => {
      const frames = report.face.filter(([t]) => t > from && t < to);
      assert.ok(frames.length >= (to - from) * 25 * 0.6, `${frames.length} frames decoded from ${from.toFixed(1)} to ${to.toFixed(1)} s`);
      return [1, 2, 3].map((i) => frames.reduce((sum, f) => sum + f[i]!, 0) / frames.length) as [number, number, number];
    };
    // The face of the drawn avatar, then red (V high, U low), then blue (U high, V low).
    const [, u0, v0] = mean(1, changed[0]!.at - 0.2);
    const [, u1, v1] = mean(changed[0]!.at + 0.5, changed[1]!.at - 0.2);
    const [, u2, v2] = mean(changed[1]!.at + 0.5, 9);
    const colours = JSON.stringify({ drawn: [u0, v0], red: [u1, v1], tall: [u2, v2] });
    assert.ok(v1 > v0 + 40 && u1 < 128, `the face turned red after the first switch (U, V): ${colours}`);
    assert.ok(u2 > u0 + 60 && u2 > u1 + 60 && v2 < v1 - 60, `the face turned blue after the second switch (U, V): ${colours}`);
    assert.deepEqual(report.sizes, ['256x256'], 'the picture keeps the session size through both switches');
    const started = report.events.find((e) => e.type === 'speech.started');
    const ended = report.events.find((e) => e.type === 'speech.ended');
    assert.ok(started && started.at > changed[1]!.at && ended?.reason === 'done', `speech on the new avatar: ${JSON.stringify(report.events)}`);
    assert.equal(report.deleteStatus, 204);
  });

  it('refuses what it cannot answer with a JSON reason, and callers without a key', async () => {
    const route = `${s.url}/api/v1/realtime/webrtc`;
    const auth = { authorization: `Bearer ${KEY}` };
    const noKey = await fetch(route, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0\r\n' });
    assert.equal(noKey.status, 401);
    const notSdp = await fetch(route, { method: 'POST', headers: { ...auth, 'content-type': 'application/sdp' }, body: 'hello' });
    assert.equal(notSdp.status, 400);
    assert.match(((await notSdp.json()) as { message: string }).message, /SDP offer/);
    const json = await fetch(route, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"sdp":"v=0"}' });
    assert.equal(json.status, 415);
    const unknownAvatar = await fetch(`${route}?avatar=nobody`, { method: 'POST', headers: { ...auth, 'content-type': 'application/sdp' }, body: 'v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n' });
    assert.equal(unknownAvatar.status, 404);
    const gone = await fetch(`${route}/no-such-session`, { method: 'DELETE', headers: auth });
    assert.equal(gone.status, 404);
    const health = await call(`${s.url}/health`);
    assert.equal(health.body.activeSessions, 0, 'refused requests hold no session slot');
  });
});

// The tests above draw WebRTC frames on a painter thread (the default for WebRTC on any
// machine with 2 cores or more); these draw them on the event loop.
describe('WebRTC session drawn on the event loop, no painter threads (aiortc peer)', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ realtime: { size: 256, paintThreads: 0 }, apiKeys: [{ key: KEY, tenant: 'acme' }] });
    await s.server.warmUp();
  });
  after(async () => s?.close());

  it('encodes frames drawn on the event loop: the peer decodes them, the mouth moving with the voice', () => speaksInSync(s, 'VP8'));
});
