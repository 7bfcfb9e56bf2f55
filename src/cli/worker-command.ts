import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AvatarRegistry } from '../avatars/registry.js';
import type { AvatarCatalog } from '../avatars/catalog.js';
import { AvatarError } from '../core/errors.js';
import { openBlockingConnection } from '../queue/redis-connection.js';
import { RedisSegmentScheduler } from '../queue/redis-flow.js';
import { RedisJobWorker } from '../queue/redis-worker.js';
import { RedisStreamWriter, streamKey } from '../queue/redis-stream-channel.js';
import { streamJobHandlers } from '../server/stream-jobs.js';
import { AvatarEvents } from '../queue/redis-avatar-events.js';
import { avatarJobHandlers } from '../server/avatar-jobs.js';
import { RendererShelf, WORKER_SHELF_LIMITS } from '../pipeline/renderer-shelf.js';
import { FolderAvatarPreparer } from '../avatars/folder-preparer.js';
import { segmentedJobHandlers } from '../server/segmented-jobs.js';
import { createServerTts } from '../server/app.js';
import { loadServerConfig } from '../server/config.js';
import { renderJobHandlers } from '../server/render-jobs.js';
import { TtsPool } from '../tts/tts-pool.js';
import { avatarsDir } from './avatar-dirs.js';
import { nextSignal } from './serve-command.js';

/**
 * `avatar worker [--config FILE] [--avatars-dir DIR] [--concurrency N]`: renders the jobs of
 * the Redis queue (`redis.url` / REDIS_URL) into `dataDir/outputs`, with the avatars of the
 * avatars folder (both shared with the API processes), and prepares uploaded avatars into
 * that folder. On SIGINT/SIGTERM it takes no new
 * jobs, lets running ones finish for up to `shutdownGraceSeconds`, then exits; jobs still
 * running then are taken over by other workers once their locks lapse.
 */
export async function runWorker(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      config: { type: 'string', short: 'c' },
      'avatars-dir': { type: 'string' },
      concurrency: { type: 'string' },
    },
  });
  const config = await loadServerConfig({ ...(values.config ? { file: values.config } : {}), env: process.env });
  if (!config.redis) throw new AvatarError('invalid_input', 'avatar worker needs a queue: set redis.url in the config file or REDIS_URL (e.g. redis://127.0.0.1:6379)');
  const concurrency = values.concurrency === undefined ? config.jobConcurrency : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new AvatarError('invalid_input', `--concurrency must be a whole number from 1 to 64, got ${JSON.stringify(values.concurrency)}`);
  const dir = avatarsDir(values['avatars-dir']);
  await mkdir(dir, { recursive: true });
  const outputsDir = join(config.dataDir, 'outputs');
  const uploadsDir = join(config.dataDir, 'uploads');
  await mkdir(outputsDir, { recursive: true });
  const registry = await AvatarRegistry.open({ dirs: [dir] });
  const tts = createServerTts(config.tts);
  const log = (line: string) => process.stdout.write(`avatar worker: ${line}\n`);
  const deps = { catalog: refreshingCatalog(registry), tts, encoder: config.encoder, outputsDir, uploadsDir };
  const scheduler = new RedisSegmentScheduler(openBlockingConnection(config.redis), config.redis, config.retentionMs);
  const streamOutput = openBlockingConnection(config.redis);
  const redis = config.redis;
  // Avatars are prepared into the shared avatars folder; every process hears of each change.
  const shelf = new RendererShelf(deps.catalog, WORKER_SHELF_LIMITS);
  const events = new AvatarEvents(streamOutput, redis);
  events.subscribe(({ avatar, outcome }) => {
    if (outcome === 'ready' || outcome === 'deleted') void registry.refreshAvatar(avatar).catch(() => undefined).then(() => shelf.drop(avatar));
  });
  const avatarHandlers = avatarJobHandlers({
    preparer: new FolderAvatarPreparer(dir, registry), uploadsDir,
    onReady: (avatar) => events.publish({ avatar, outcome: 'ready' }), onFailed: (avatar) => events.publish({ avatar, outcome: 'failed' }),
  });
  const handlers = {
    ...renderJobHandlers(deps), ...segmentedJobHandlers(deps, scheduler), ...avatarHandlers,
    ...streamJobHandlers(deps, (id) => new RedisStreamWriter(streamOutput, streamKey(redis, id)), shelf),
  };
  const worker = new RedisJobWorker(config.redis, handlers, concurrency, {
    started: (id, kind) => log(`started ${kind} ${id}`),
    finished: (id, kind, outcome, error) => log(`${outcome} ${kind} ${id}${error ? ` (${error})` : ''}`),
  });
  try {
    await worker.waitUntilReady();
    log(`ready: pid ${process.pid}, concurrency ${concurrency}, queue ${config.redis.prefix}:render, outputs in ${outputsDir}`);
    const signal = await nextSignal();
    log(`${signal}: taking no new jobs; waiting up to ${(config.shutdownGraceMs / 1000).toFixed(0)} s for ${worker.running} running`);
    const drained = await worker.drain(config.shutdownGraceMs);
    log(drained ? 'drained' : 'grace period over: running jobs are left to other workers');
  } finally {
    await scheduler.close().catch(() => undefined);
    events.close();
    streamOutput.disconnect();
    registry.close();
    if (tts instanceof TtsPool) await tts.close();
  }
  return 0;
}

/**
 * The registry, but an avatar it does not know yet is looked for on disk before a renderer
 * is refused: one just prepared by another worker may not have been announced here yet.
 */
function refreshingCatalog(registry: AvatarRegistry): AvatarCatalog {
  return {
    list: () => registry.list(),
    get: (id) => registry.get(id),
    refreshAvatar: (id) => registry.refreshAvatar(id),
    describe: () => registry.describe(),
    async createRenderer(id, request) {
      if (!registry.get(id)) await registry.refreshAvatar(id).catch(() => undefined);
      return registry.createRenderer(id, request);
    },
  };
}
