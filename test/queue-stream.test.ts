/**
 * `/generate/stream` with a queue, on a real Redis with real `avatar serve` and `avatar
 * worker` processes: a long script is rendered as segments by the workers and arrives as
 * one progressive fragmented MP4, whole, in order and without a jump at the joins; an API
 * process killed mid-stream leaves its client with a broken transfer (never a short video
 * that looks complete), and the same request to another API process succeeds. Avatar
 * uploads are prepared by workers too, and every API process knows the new avatar at once.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import sharp from 'sharp';
import { i420ToRgb } from '../src/compose/color-convert.js';
import { ParametricRenderer } from '../src/render/parametric/parametric-renderer.js';
import { changesAtJoins, frameChanges, joinFrames } from './helpers/frame-joins.js';
import { ffprobe, tempDir } from './helpers/media.js';
import { dropPrefix, requireRedis, SHARED_REDIS_URL, startApiProcess, startWorker, uniquePrefix, type WatchedProcess } from './helpers/redis.js';

const SCRIPT = 'The first sentence opens the stream. A second one follows it closely. Here is the third sentence of the text. The fourth sentence is a little longer than the others. And the fifth one ends the script.';
const SIZE = 96;
const AS_ALPHA = { authorization: 'Bearer key-alpha-0123456789abcdef' };
const AS_BETA = { authorization: 'Bearer key-beta-0123456789abcdef' };

/** Reads a response body to the end; rejects when the transfer breaks. `onFirst` runs at the first bytes. */
async function readBody(response: Response, onFirst?: () => void): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const reader = response.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    if (chunks.length === 0) onFirst?.();
    chunks.push(Buffer.from(value));
  }
}

function stream(url: string, text = SCRIPT): Promise<Response> {
  return fetch(`${url}/api/v1/generate/stream`, { method: 'POST', headers: { 'content-type': 'application/json', ...AS_ALPHA }, body: JSON.stringify({ text, size: `${SIZE}x${SIZE}`, fps: 25 }) });
}

describe('progressive streams rendered by workers', () => {
  const prefix = uniquePrefix('stream');
  const workers: WatchedProcess[] = [];
  const apis: { process: WatchedProcess; url: string }[] = [];
  let dir: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    await requireRedis();
    ({ dir, cleanup } = await tempDir('avatar-queue-stream-'));
    await mkdir(join(dir, 'avatars'));
    const configFile = join(dir, 'config.yaml');
    const keys = 'apiKeys:\n  - key: key-alpha-0123456789abcdef\n    tenant: alpha\n  - key: key-beta-0123456789abcdef\n    tenant: beta\n';
    await writeFile(configFile, `dataDir: ${join(dir, 'data')}\nlogLevel: warn\n${keys}redis:\n  url: ${SHARED_REDIS_URL}\n  prefix: ${prefix}\n  lockSeconds: 2\n  segmentSeconds: 3\n`);
    for (let i = 0; i < 2; i++) workers.push(startWorker(configFile, join(dir, 'avatars')));
    apis.push(...await Promise.all([0, 1].map(() => startApiProcess(configFile, join(dir, 'avatars')))));
    await Promise.all(workers.map((w) => w.waitFor(/ready: pid/)));
  });

  after(async () => {
    await Promise.all([...workers, ...apis.map((a) => a.process)].map((p) => p.stop('SIGKILL')));
    await dropPrefix(SHARED_REDIS_URL, prefix);
    await cleanup();
  });

  it('a long script arrives as one stream: every segment from a worker, in order, as long as the speech, no jump at the joins', async () => {
    const response = await stream(apis[0]!.url);
    assert.equal(response.status, 200, await response.clone().text().catch(() => ''));
    assert.equal(response.headers.get('content-type'), 'video/mp4');
    const body = await readBody(response);
    const file = join(dir, 'stream.mp4');
    await writeFile(file, body);

    // The segments as the workers rendered them (their jobs in Redis): where each starts.
    const queue = new Queue('render', { connection: { url: SHARED_REDIS_URL }, prefix });
    const jobs = (await queue.getJobs(['completed'])).filter((j) => j.name === 'stream-segment').sort((a, b) => a.data.payload.index - b.data.payload.index);
    await queue.close();
    assert.ok(jobs.length >= 3, `split into ${jobs.length} segments`);
    const segmentFrames = jobs.map((j) => j.returnvalue.frames as number);
    assert.deepEqual(jobs.map((j) => j.data.payload.startFrame), joinFrames([0, ...segmentFrames]).slice(0, jobs.length), 'each segment starts where the one before ends');
    for (const w of workers) assert.match(w.text, /started stream-segment/, 'both workers rendered segments');
    assert.doesNotMatch(apis.map((a) => a.process.text).join(''), /started stream-segment/);

    const probe = await ffprobe(file);
    const audio = probe.streams.find((s) => s.codec_type === 'audio');
    assert.ok(audio && probe.streams.some((s) => s.codec_type === 'video'), 'video and audio streams');
    const diffs = await frameChanges(file, SIZE);
    const frames = diffs.length + 1;
    assert.equal(frames, segmentFrames.reduce((a, b) => a + b, 0), 'every frame of every segment is in the stream');
    // Each segment's speech is padded to its last frame: the sound lasts as long as the frames.
    assert.ok(Math.abs(Number(audio!.duration) - frames / 25) < 0.1, `audio ${audio!.duration} s for ${frames} frames`);
    const statedS = Number(response.headers.get('x-content-duration'));
    if (response.headers.get('x-content-duration-estimated') === 'false') assert.ok(Math.abs(statedS - frames / 25) < 0.1, `stated ${statedS} s`);
    // A segment out of order or one whose idle motion restarted would jump at its join.
    const joins = joinFrames(segmentFrames);
    const { atJoins, largestInside } = changesAtJoins(diffs, joins);
    for (const [i, change] of atJoins.entries()) assert.ok(change <= largestInside, `frame change at the join ${joins[i]} (${change.toFixed(2)}) is no larger than inside segments (max ${largestInside.toFixed(2)})`);
  });

  it('an avatar uploaded to one API process is prepared by a worker; the other API process streams it at once, to its owner only', async () => {
    const rest = new ParametricRenderer(256, 256).render({ index: 0, ptsMs: 0, speaking: false, mouth: { jawOpen: 0, lipWidth: 0.5, rounding: 0, closure: 1, teeth: 0, tongue: 0 } });
    const photo = await sharp(i420ToRgb(rest.data, 256, 256), { raw: { width: 256, height: 256, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
    const form = new FormData();
    form.append('id', 'queued_face');
    form.append('file', new Blob([photo]), 'face.jpg');
    const accepted = await fetch(`${apis[0]!.url}/api/v1/avatars`, { method: 'POST', body: form, headers: AS_ALPHA });
    assert.equal(accepted.status, 202);
    const { status } = (await accepted.json()) as { status: string };
    let job: any;
    for (let i = 0; i < 300 && !['succeeded', 'failed'].includes(job?.state); i++) {
      await new Promise((r) => setTimeout(r, 100));
      job = await (await fetch(`${apis[0]!.url}${status}`, { headers: AS_ALPHA })).json();
    }
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    assert.ok(workers.some((w) => w.text.includes(`started prepare-avatar ${job.id}`)), 'a worker prepared it');
    // The other API process knows it, and whose it is, without waiting for its folder rescan (10 s).
    const list = async (headers: Record<string, string>) => ((await (await fetch(`${apis[1]!.url}/api/v1/avatars`, { headers })).json()) as { avatars: { id: string }[] }).avatars.map((a) => a.id);
    assert.ok((await list(AS_ALPHA)).includes('queued_face'), 'its owner sees it on the other API process');
    assert.ok(!(await list(AS_BETA)).includes('queued_face'), 'another tenant does not');
    const response = await fetch(`${apis[1]!.url}/api/v1/generate/stream`, { method: 'POST', headers: { 'content-type': 'application/json', ...AS_ALPHA }, body: JSON.stringify({ text: 'Hello from a new face.', avatar: 'queued_face', size: `${SIZE}x${SIZE}`, fps: 25 }) });
    assert.equal(response.status, 200);
    const file = join(dir, 'face.mp4');
    await writeFile(file, await readBody(response));
    assert.ok((await frameChanges(file, SIZE)).length > 20, 'the new avatar speaks');
  });

  it('an API process killed mid-stream: the client sees a broken transfer, and the same request to another API process succeeds', async () => {
    const [survivor, victim] = apis;
    const response = await stream(victim!.url);
    assert.equal(response.status, 200);
    const broken = await readBody(response, () => void victim!.process.stop('SIGKILL')).then(() => undefined, (e: unknown) => e);
    assert.ok(broken instanceof Error, 'reading the stream fails: no well-formed short video');

    const retry = await stream(survivor!.url);
    assert.equal(retry.status, 200);
    const file = join(dir, 'retry.mp4');
    await writeFile(file, await readBody(retry));
    const probe = await ffprobe(file);
    const audio = probe.streams.find((s) => s.codec_type === 'audio');
    const frames = (await frameChanges(file, SIZE)).length + 1;
    assert.ok(frames > 200, `${frames} frames`);
    assert.ok(audio && Math.abs(Number(audio.duration) - frames / 25) < 0.1, `audio ${audio?.duration} s for ${frames} frames`);
  });
});
