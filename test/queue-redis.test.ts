/**
 * Scale-out on a real Redis with real `avatar worker` processes: jobs submitted to one API
 * process are seen by another, a worker killed mid-job (kill -9) has its job finished by
 * another worker, a Redis restart makes the API answer 503 meanwhile and loses no job,
 * replicas share rate limits and the download-link secret, and a worker drains on SIGTERM.
 */
import assert from 'node:assert/strict';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAvatarServer, type AvatarServer } from '../src/server/app.js';
import { validateConfig } from '../src/server/config.js';
import { changesAtJoins, frameChanges, joinFrames } from './helpers/frame-joins.js';
import { ffprobe, tempDir } from './helpers/media.js';
import { dropPrefix, freePort, requireRedis, SHARED_REDIS_URL, startRedisServer, startWorker, uniquePrefix, type WatchedProcess } from './helpers/redis.js';
import { call } from './helpers/server.js';

/** A worker not heard from for this long is taken for dead (short, so the takeover test is quick), s. */
const LOCK_S = 2;

interface Api {
  readonly server: AvatarServer;
  readonly url: string;
}

async function startApi(dataDir: string, redis: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<Api> {
  const server = await createAvatarServer({ config: validateConfig({ host: '127.0.0.1', port: 0, dataDir, logLevel: 'silent', redis, ...extra }) });
  const { url } = await server.listen();
  return { server, url };
}

const KEY_A = 'key-a-0123456789abcdef';
const KEY_B = 'key-b-0123456789abcdef';
const API_KEYS = [{ key: KEY_A, tenant: 'alpha' }, { key: KEY_B, tenant: 'beta' }];
const asB = { authorization: `Bearer ${KEY_B}` };

async function finished(url: string, id: string, timeoutMs = 60_000, headers = asB): Promise<any> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await call(`${url}/api/v1/jobs/${id}`, { headers });
    if (r.status === 200 && (r.body.state === 'succeeded' || r.body.state === 'failed')) return r.body;
    if (Date.now() > until) throw new Error(`job ${id} did not finish in ${timeoutMs} ms: ${JSON.stringify(r.body)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Waits until no job waits or runs anywhere on the queue. */
async function idle(url: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { jobs } = (await call(`${url}/health`)).body as { jobs: { running: number; queued: number } };
    if (jobs.running === 0 && jobs.queued === 0) return;
    if (Date.now() > until) throw new Error(`the queue is still busy after ${timeoutMs} ms: ${JSON.stringify(jobs)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Downloads a finished job's MP4 and checks it is whole: every frame the job reports, audio as long as the speech. */
async function checkOutput(url: string, job: any, dir: string): Promise<void> {
  assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
  const response = await fetch(`${url}${job.result.url}`);
  assert.equal(response.status, 200);
  const file = join(dir, `${job.id}.mp4`);
  await writeFile(file, Buffer.from(await response.arrayBuffer()));
  const probe = await ffprobe(file);
  const video = probe.streams.find((s) => s.codec_type === 'video')!;
  const audio = probe.streams.find((s) => s.codec_type === 'audio')!;
  assert.ok(video && audio, 'video and audio streams');
  assert.equal(Number(video.nb_frames), job.result.frames, 'every frame the job rendered is in the file');
  assert.ok(Math.abs(Number(audio.duration) - job.result.durationS) < 0.1, `audio ${audio.duration} s for ${job.result.durationS} s of speech`);
}

describe('queue on Redis: API replicas and worker processes', () => {
  const prefix = uniquePrefix('queue');
  const workers: WatchedProcess[] = [];
  const apis: Api[] = [];
  let dir: string;
  let cleanup: () => Promise<void>;
  let configFile: string;
  const redis = { url: SHARED_REDIS_URL, prefix, lockSeconds: LOCK_S, segmentSeconds: 0 };

  before(async () => {
    await requireRedis();
    ({ dir, cleanup } = await tempDir('avatar-queue-'));
    configFile = join(dir, 'worker.yaml');
    await mkdir(join(dir, 'avatars'));
    await writeFile(configFile, `dataDir: ${join(dir, 'data')}\nshutdownGraceSeconds: 20\nredis:\n  url: ${SHARED_REDIS_URL}\n  prefix: ${prefix}\n  lockSeconds: ${LOCK_S}\n`);
    for (let i = 0; i < 2; i++) apis.push(await startApi(join(dir, 'data'), redis, { apiKeys: API_KEYS, limits: { generationsPerMinute: 4 } }));
  });

  after(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await Promise.all(apis.map((a) => a.server.close()));
    await dropPrefix(SHARED_REDIS_URL, prefix);
    await cleanup();
  });

  it('the API renders nothing: a job waits for a worker, either replica reports it, a link signed by one works on the other', async () => {
    const [a, b] = apis;
    const submitted = await call(`${a!.url}/api/v1/generate`, { headers: asB, body: { text: 'Hello from the queue.', async: true, size: '96x96', fps: 10 } });
    assert.equal(submitted.status, 202);
    await new Promise((r) => setTimeout(r, 300));
    const waiting = await call(`${b!.url}/api/v1/jobs/${submitted.body.id}`, { headers: asB });
    assert.equal(waiting.status, 200, 'the other replica knows the job');
    assert.equal(waiting.body.state, 'queued', 'no worker yet: nothing renders it');
    assert.equal((await call(`${b!.url}/api/v1/jobs/${submitted.body.id}`, { headers: { authorization: `Bearer ${KEY_A}` } })).status, 404, 'another tenant does not see it');
    const health = await call(`${b!.url}/health`);
    assert.equal(health.body.queue, 'redis');
    assert.equal(health.body.jobs.queued, 1);
    assert.match(await (await fetch(`${b!.url}/metrics`)).text(), /^avatar_queue_waiting 1$/m);

    workers.push(startWorker(configFile, join(dir, 'avatars')));
    const job = await finished(b!.url, submitted.body.id);
    await checkOutput(a!.url, job, dir);
  });

  it('replicas share the rate limit of a key', async () => {
    const [a, b] = apis;
    const statuses: number[] = [];
    const asA = { authorization: `Bearer ${KEY_A}` };
    for (let i = 0; i < 5; i++) statuses.push((await call(`${(i % 2 ? a : b)!.url}/api/v1/generate`, { headers: asA, body: { text: 'Hi.', async: true, size: '64x64', fps: 5 } })).status);
    assert.deepEqual(statuses, [202, 202, 202, 202, 429], 'four per minute for the key across both replicas');
  });

  it('a worker killed mid-job (kill -9): another worker takes the job over and the output is whole', async () => {
    const second = startWorker(configFile, join(dir, 'avatars'));
    workers.push(second);
    await second.waitFor(/ready: pid/);
    await idle(apis[0]!.url);
    const text = 'This sentence keeps a worker busy for a while. It goes on, and on, so that the worker is killed in the middle of it. Then another worker finishes the work, from the start, and the video is whole.';
    const { body } = await call(`${apis[0]!.url}/api/v1/generate`, { headers: asB, body: { text, async: true, size: '256x256', fps: 25 } });
    const started = new RegExp(`started generate ${body.id}`);
    const victim = await Promise.race(workers.map((w) => w.waitFor(started).then(() => w)));
    const survivor = workers.find((w) => w !== victim)!;
    const killedAt = Date.now();
    await victim.stop('SIGKILL');
    assert.equal((await call(`${apis[1]!.url}/api/v1/jobs/${body.id}`, { headers: asB })).body.state, 'running', 'still held by the dead worker until its lock lapses');
    const job = await finished(apis[1]!.url, body.id, 60_000);
    assert.match(survivor.text, started, 'the other worker ran it');
    assert.ok(Date.now() - killedAt >= LOCK_S * 1000 - 200, 'taken over only after the lock lapsed');
    await checkOutput(apis[0]!.url, job, dir);
  });

  it('a long script is split into segments that several workers render at once, joined into one MP4 without a jump', async () => {
    const extra = startWorker(configFile, join(dir, 'avatars'));
    workers.push(extra);
    await extra.waitFor(/ready: pid/);
    const segmenting = await startApi(join(dir, 'data'), { ...redis, segmentSeconds: 3 }, { apiKeys: API_KEYS });
    apis.push(segmenting);
    const text = 'The first sentence opens the script. A second one follows it closely. Here is the third sentence of the text. The fourth sentence is a little longer than the others. And the fifth one ends the script.';
    const { body } = await call(`${segmenting.url}/api/v1/generate`, { headers: asB, body: { text, async: true, size: '96x96', fps: 25 } });
    const job = await finished(apis[0]!.url, body.id, 90_000);
    assert.equal(job.kind, 'generate');
    const joins = joinFrames(job.result.segmentFrames as number[]);
    assert.ok(joins.length >= 2, `split into ${joins.length + 1} segments`);
    const live = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    for (const w of live) assert.match(w.text, /started render-segment/, 'every worker rendered a segment');
    assert.equal(live.filter((w) => /started encode-segmented-audio/.test(w.text)).length, 1, 'the sound was encoded once, by a job of its own');
    await checkOutput(apis[1]!.url, job, dir);
    // Consecutive frames differ by the idle motion (and the mouth); at a join they must not
    // differ more than anywhere else in the video (a restarted idle loop would jump).
    const { atJoins, largestInside } = changesAtJoins(await frameChanges(join(dir, `${job.id}.mp4`), 96), joins);
    for (const [i, change] of atJoins.entries()) assert.ok(change <= largestInside, `frame change at the join ${joins[i]} (${change.toFixed(2)}) is no larger than inside segments (max ${largestInside.toFixed(2)})`);
  });

  it('a worker drains on SIGTERM: its running job finishes, then it exits', async () => {
    const live = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    for (const other of live.slice(1)) await other.stop('SIGKILL'); // one worker left, so it is the one that takes the job
    const worker = live[0]!;
    const { body } = await call(`${apis[0]!.url}/api/v1/generate`, { headers: asB, body: { text: 'One more sentence to finish before the worker stops.', async: true, size: '128x128', fps: 25 } });
    await worker.waitFor(new RegExp(`started generate ${body.id}`));
    assert.equal(await worker.stop('SIGTERM'), 0);
    assert.match(worker.text, new RegExp(`succeeded generate ${body.id}[^]*drained`));
    assert.equal((await finished(apis[0]!.url, body.id, 5000)).state, 'succeeded');
  });
});

describe('queue on Redis: Redis restarts', () => {
  const prefix = uniquePrefix('restart');
  let dir: string;
  let cleanup: () => Promise<void>;
  let redisServer: WatchedProcess | undefined;
  let worker: WatchedProcess | undefined;
  let api: Api | undefined;

  before(async () => {
    ({ dir, cleanup } = await tempDir('avatar-redis-restart-'));
  });

  after(async () => {
    await worker?.stop('SIGKILL');
    await api?.server.close();
    await redisServer?.stop('SIGKILL');
    await cleanup();
  });

  it('while Redis is down the API answers 503 at once; after it is back, every job is there and new ones run', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    await mkdir(join(dir, 'redis'));
    await mkdir(join(dir, 'avatars'));
    redisServer = await startRedisServer(join(dir, 'redis'), port);
    const configFile = join(dir, 'worker.yaml');
    await writeFile(configFile, `dataDir: ${join(dir, 'data')}\nredis:\n  url: ${url}\n  prefix: ${prefix}\n  lockSeconds: ${LOCK_S}\n`);
    api = await startApi(join(dir, 'data'), { url, prefix, lockSeconds: LOCK_S }, { apiKeys: API_KEYS });
    worker = startWorker(configFile, join(dir, 'avatars'));
    const before = await call(`${api.url}/api/v1/generate`, { headers: asB, body: { text: 'Rendered before the restart.', async: true, size: '64x64', fps: 10 } });
    const done = await finished(api.url, before.body.id);
    assert.equal(done.state, 'succeeded');

    await redisServer.stop('SIGKILL');
    const t0 = performance.now();
    const during = await call(`${api.url}/api/v1/jobs/${before.body.id}`, { headers: asB });
    const submit = await call(`${api.url}/api/v1/generate`, { headers: asB, body: { text: 'Refused while down.', async: true, size: '64x64', fps: 10 } });
    const ready = await call(`${api.url}/ready`);
    const tookMs = performance.now() - t0;
    assert.equal(during.status, 503);
    assert.equal(during.body.error, 'queue_unavailable');
    assert.ok(during.headers.get('retry-after'));
    assert.equal(submit.status, 503);
    assert.equal(ready.status, 503);
    assert.ok(tookMs < 3500, `answered within the call timeout (${tookMs.toFixed(0)} ms)`);

    redisServer = await startRedisServer(join(dir, 'redis'), port);
    const until = Date.now() + 15_000;
    while ((await call(`${api.url}/ready`)).status !== 200) {
      assert.ok(Date.now() < until, 'the API is ready again within 15 s of Redis');
      await new Promise((r) => setTimeout(r, 100));
    }
    const kept = await call(`${api.url}/api/v1/jobs/${before.body.id}`, { headers: asB });
    assert.equal(kept.status, 200);
    assert.equal(kept.body.state, 'succeeded', 'the finished job survived the restart');
    await checkOutput(api.url, kept.body, dir);
    const after = await call(`${api.url}/api/v1/generate`, { headers: asB, body: { text: 'Rendered after the restart.', async: true, size: '64x64', fps: 10 } });
    assert.equal(after.status, 202);
    assert.equal((await finished(api.url, after.body.id, 30_000)).state, 'succeeded', 'the worker reconnected and runs new jobs');
  });
});
