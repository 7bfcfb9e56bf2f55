import * as grpc from '@grpc/grpc-js';
import { acceptLargeClientFrames, WIDE_WINDOW_CHANNEL_OPTIONS } from './flow-control.js';
import { channelCredentials, type ClientTlsConfig } from './tls.js';
import { FAILED_IN_BAND, ServiceError, VISUAL_CACHE_MISS, serviceDefinitions, withRawRequest, type InferBatchRequest, type InferBatchResponse, type InferenceHealth } from './proto-loading.js';

/** How an InferencePool connects and balances. */
export interface InferencePoolOptions {
  readonly urls: readonly string[];
  /** Deadline of one InferBatch call. */
  readonly timeoutMs: number;
  /** Further attempts (on another server when there is one) after a server fails. */
  readonly maxRetries: number;
  readonly balancing: 'round-robin' | 'least-loaded';
  /** How often servers out of rotation are asked for their Health. */
  readonly healthIntervalMs: number;
  readonly maxMessageBytes: number;
  readonly tls?: ClientTlsConfig;
}

interface Endpoint {
  readonly url: string;
  readonly client: grpc.Client;
  healthy: boolean;
  inFlight: number;
  lastError: string;
  lastHealth?: InferenceHealth;
}

/** Status codes that mean "this server is not answering": it leaves the rotation. */
const SERVER_DOWN = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.CANCELLED, grpc.status.UNKNOWN]);

/** A result of InferBatch, with the server that answered. */
export type PooledInference = InferBatchResponse & { readonly url: string };

/**
 * Clients of one or more inference servers: each call goes to a server in rotation
 * (round-robin, or the one with fewest calls in flight), with a deadline; a server that
 * does not answer leaves the rotation and the call is retried on another (up to
 * `maxRetries`). Servers out of rotation are asked for their Health every
 * `healthIntervalMs` and come back when they answer. Channels reconnect by themselves
 * with a short backoff, so a restarted server is used again within about a second.
 */
export class InferencePool {
  private readonly endpoints: Endpoint[];
  private next = 0;
  private readonly timer: NodeJS.Timeout;

  private constructor(private readonly options: InferencePoolOptions, endpoints: Endpoint[]) {
    this.endpoints = endpoints;
    this.timer = setInterval(() => void this.probe(false), options.healthIntervalMs);
    this.timer.unref();
  }

  /** Creates the clients (connections are made lazily) and asks every server for its Health once. */
  static async connect(options: InferencePoolOptions): Promise<InferencePool> {
    const { credentials, options: channelOptions } = await channelCredentials(options.tls);
    acceptLargeClientFrames();
    const Client = grpc.makeGenericClientConstructor(withRawRequest(serviceDefinitions().inference.service, 'InferBatch'), 'InferenceService');
    const endpoints = options.urls.map((url): Endpoint => ({
      url, healthy: true, inFlight: 0, lastError: '',
      client: new Client(url, credentials, {
        ...channelOptions,
        ...WIDE_WINDOW_CHANNEL_OPTIONS,
        'grpc.max_receive_message_length': options.maxMessageBytes,
        'grpc.max_send_message_length': options.maxMessageBytes,
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
        'grpc.min_reconnect_backoff_ms': 100,
        'grpc.enable_retries': 0,
      }),
    }));
    const pool = new InferencePool(options, endpoints);
    await pool.probe(true);
    return pool;
  }

  /** True when at least one server is in rotation. */
  get healthy(): boolean {
    return this.endpoints.some((e) => e.healthy);
  }

  /** The configured servers, comma-separated. */
  get url(): string {
    return this.options.urls.join(',');
  }

  /** Each server's state, for banners and Health. */
  status(): { url: string; healthy: boolean; inFlight: number; lastError: string; health?: InferenceHealth }[] {
    return this.endpoints.map((e) => ({ url: e.url, healthy: e.healthy, inFlight: e.inFlight, lastError: e.lastError, ...(e.lastHealth ? { health: e.lastHealth } : {}) }));
  }

  /** Runs a batch on a server in rotation; UNAVAILABLE when none answers within the retries. */
  async infer(request: InferBatchRequest): Promise<PooledInference> {
    const tried = new Set<Endpoint>();
    let lastError = '';
    for (let attempt = 0; attempt <= this.options.maxRetries; attempt++) {
      const endpoint = this.pick(tried);
      if (!endpoint) break;
      tried.add(endpoint);
      endpoint.inFlight++;
      try {
        const response = await this.call(endpoint, request);
        // Seed 002's servers may report a failure in the answer itself, with an OK status.
        if (!response.success && response.outputs.length === 0) {
          throw new ServiceError(grpc.status.INTERNAL, `inference server ${endpoint.url}: ${response.error || 'failed, without a reason'}`, { [FAILED_IN_BAND]: '1' });
        }
        return { ...response, url: endpoint.url };
      } catch (e) {
        if (e instanceof ServiceError) throw e;
        const err = e as grpc.ServiceError;
        if (!SERVER_DOWN.has(err.code)) {
          const miss = err.metadata?.get(VISUAL_CACHE_MISS)[0];
          throw new ServiceError(err.code, `inference server ${endpoint.url}: ${err.details || err.message}`, miss === undefined ? {} : { [VISUAL_CACHE_MISS]: String(miss) });
        }
        endpoint.healthy = false;
        endpoint.lastError = `${grpc.status[err.code]}: ${err.details || err.message}`;
        lastError = `${endpoint.url}: ${endpoint.lastError}`;
      } finally {
        endpoint.inFlight--;
      }
    }
    const down = this.endpoints.filter((e) => !e.healthy).map((e) => `${e.url} (${e.lastError || 'not answering'})`);
    throw new ServiceError(grpc.status.UNAVAILABLE, `no inference server answered${lastError ? `; last: ${lastError}` : ''}${down.length ? `; out of rotation until their Health answers: ${down.join(', ')}` : ''}`);
  }

  close(): void {
    clearInterval(this.timer);
    for (const e of this.endpoints) e.client.close();
  }

  /** Asks servers for their Health (all, or only those out of rotation); those that answer are in rotation. */
  async probe(all: boolean): Promise<void> {
    await Promise.all(this.endpoints.filter((e) => all || !e.healthy).map(async (e) => {
      try {
        e.lastHealth = await this.health(e);
        e.healthy = true;
        e.lastError = '';
      } catch (err) {
        e.healthy = false;
        e.lastError = `${grpc.status[(err as grpc.ServiceError).code] ?? 'ERROR'}: ${(err as grpc.ServiceError).details || (err as Error).message}`;
      }
    }));
  }

  private pick(tried: Set<Endpoint>): Endpoint | undefined {
    const live = this.endpoints.filter((e) => e.healthy && !tried.has(e));
    if (live.length === 0) return undefined;
    if (this.options.balancing === 'least-loaded') return live.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
    const e = live[this.next % live.length]!;
    this.next++;
    return e;
  }

  private call(e: Endpoint, request: InferBatchRequest): Promise<InferBatchResponse> {
    return new Promise((resolve, reject) => {
      const deadline = new Date(Date.now() + this.options.timeoutMs);
      (e.client as unknown as UnaryMethod<InferBatchRequest, InferBatchResponse>).InferBatch(request, { deadline }, (err, res) => (err ? reject(err) : resolve(res!)));
    });
  }

  private health(e: Endpoint): Promise<InferenceHealth> {
    return new Promise((resolve, reject) => {
      const deadline = new Date(Date.now() + Math.max(500, Math.min(this.options.timeoutMs, 2000)));
      (e.client as unknown as UnaryMethod<object, InferenceHealth>).Health({}, { deadline }, (err, res) => (err ? reject(err) : resolve(res!)));
    });
  }
}

type UnaryMethod<Req, Res> = Record<string, (request: Req, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, res?: Res) => void) => grpc.ClientUnaryCall>;
