import type { AvatarCatalog } from '../avatars/catalog.js';
import type { JpegEncoder } from '../compose/jpeg.js';
import type { H264Encoder } from '../encode/encoder-probe.js';
import type { TtsProvider } from '../tts/provider.js';
import type { ApiKeyAuth } from './auth.js';
import type { AvatarAccess } from './avatar-access.js';
import type { AvatarPreparer } from '../avatars/avatar-preparer.js';
import type { ServerConfig } from './config.js';
import type { InProcessJobQueue } from '../queue/in-process-queue.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { AvatarEvents } from '../queue/redis-avatar-events.js';
import type { LiveSessions } from './live-sessions.js';
import type { ServerMetrics } from './metrics.js';
import type { RateLimiter } from './rate-limit.js';
import type { RendererCache } from '../pipeline/realtime/avatar-stage.js';
import type { UrlSigner } from './signed-url.js';

/** Everything the routes share: one per server. */
export interface ServerContext {
  readonly config: ServerConfig;
  readonly catalog: AvatarCatalog;
  readonly access: AvatarAccess;
  readonly preparer: AvatarPreparer | undefined;
  readonly auth: ApiKeyAuth;
  readonly limiter: RateLimiter;
  /** Generations: in this process, or in Redis for workers. */
  readonly jobs: JobQueue;
  /** Jobs this process runs itself (avatar preparations; everything without Redis, when it is `jobs`). */
  readonly localJobs: InProcessJobQueue;
  readonly metrics: ServerMetrics;
  /** With Redis: avatar changes told to every process on the queue. */
  readonly avatarEvents: AvatarEvents | undefined;
  readonly signer: UrlSigner;
  readonly tts: TtsProvider;
  /** The H.264 encoder (probed once at start). */
  readonly encoder: Promise<H264Encoder>;
  readonly jpeg: JpegEncoder;
  readonly renderers: RendererCache;
  /** Folder of finished outputs, one subfolder per tenant. */
  readonly outputsDir: string;
  /** Folder of stored uploads, one subfolder per tenant. */
  readonly uploadsDir: string;
  /** Open realtime sessions plus running streams (slots held in `live`). */
  readonly sessions: number;
  readonly live: LiveSessions;
  /** Set on shutdown: work routes and `/ready` answer 503 from then on. */
  draining: boolean;
  readonly startedAt: number;
  readonly version: string;
}
