/**
 * The server side of `npm run soak`: `avatar serve`'s server in a child process that
 * reports its own RSS, heap and event-loop lag to the parent once a second (IPC).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createAvatarServer } from '../src/server/app.js';
import { validateConfig } from '../src/server/config.js';

const dataDir = process.env.AVATAR_DATA_DIR!;
const server = await createAvatarServer({ config: validateConfig({ host: '127.0.0.1', port: 0, dataDir, logLevel: 'error', limits: { generationsPerMinute: 100000, idleTimeoutS: Number(process.env.SOAK_IDLE_S ?? 10) } }) });
await server.warmUp();
const { url } = await server.listen();
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
process.send!({ type: 'listening', url });
const timer = setInterval(() => {
  const m = process.memoryUsage();
  process.send!({ type: 'stats', rss: m.rss, heap: m.heapUsed, lagP99Ms: lag.percentile(99) / 1e6, lagMaxMs: lag.max / 1e6, sessions: server.context.sessions });
  lag.reset();
}, 1000);
process.on('message', (message: { type?: string }) => {
  if (message.type !== 'stop') return;
  clearInterval(timer);
  void server.close().finally(() => process.exit(0));
});
