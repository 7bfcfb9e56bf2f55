import * as grpc from '@grpc/grpc-js';
import { openModel, type LoadedModel } from '../render/onnx/model-session.js';
import type { AssignmentStrategy, InferenceModelConfig } from './inference-config.js';
import { ServiceError } from './proto-loading.js';

/** A device models are placed on: a GPU (CUDA) or the CPU (id -1). */
export interface Device {
  readonly id: number;
  readonly provider: 'cuda' | 'cpu';
  /** Models loaded here. */
  readonly models: Set<string>;
  /** Requests running or waiting here. */
  active: number;
}

interface Resident {
  readonly id: string;
  readonly device: Device;
  readonly model: LoadedModel;
  uses: number;
  lastUseMs: number;
  inUse: number;
}

/** What the registry needs to know; `open` is replaceable so that loading can be observed. */
export interface ModelRegistryOptions {
  readonly models: ReadonlyMap<string, InferenceModelConfig>;
  readonly devices: readonly Device[];
  readonly maxModelsPerDevice: number;
  readonly eviction: 'lru' | 'lfu';
  /** A model unused this long is unloaded (0: never). */
  readonly idleTimeoutMs: number;
  readonly assignment: AssignmentStrategy;
  readonly open?: (config: InferenceModelConfig, device: Device) => Promise<LoadedModel>;
}

/** A loaded model lent to one request; `release()` exactly once when done. */
export interface ModelLease {
  readonly model: LoadedModel;
  readonly device: Device;
  release(): void;
}

/**
 * The inference service's models: registered by id (config and model folders), loaded on
 * first use or at start, placed on a device round-robin or least-loaded, at most
 * `maxModelsPerDevice` per device; when a device is full the least recently (LRU) or
 * least frequently (LFU) used model not serving a request is unloaded. Idle models are
 * unloaded after `idleTimeoutMs`.
 */
export class ModelRegistry {
  private readonly resident = new Map<string, Resident>();
  private readonly loading = new Map<string, Promise<Resident>>();
  private nextDevice = 0;
  private readonly sweeper: NodeJS.Timeout | undefined;
  /** Models unloaded to make room, since start. */
  evictions = 0;

  constructor(private readonly options: ModelRegistryOptions) {
    if (options.idleTimeoutMs > 0) {
      this.sweeper = setInterval(() => this.unloadIdle(), Math.min(60_000, Math.max(1000, options.idleTimeoutMs / 4)));
      this.sweeper.unref();
    }
  }

  get registered(): number {
    return this.options.models.size;
  }

  get loaded(): number {
    return this.resident.size;
  }

  get capacity(): number {
    return this.options.maxModelsPerDevice * this.options.devices.length;
  }

  /** Ids of loaded models. */
  loadedIds(): string[] {
    return [...this.resident.keys()];
  }

  /** The registration of a model, or NOT_FOUND. */
  config(id: string): InferenceModelConfig {
    const config = this.options.models.get(id);
    if (!config) {
      const known = [...this.options.models.keys()];
      throw new ServiceError(grpc.status.NOT_FOUND, `model "${id}" is not registered on this inference server (${known.length} registered${known.length ? `: ${known.slice(0, 5).join(', ')}${known.length > 5 ? ', ...' : ''}` : ''})`);
    }
    return config;
  }

  /** Loads every model marked `preload`; returns how many loaded. */
  async preload(): Promise<number> {
    let n = 0;
    for (const [id, config] of this.options.models) {
      if (!config.preload) continue;
      (await this.acquire(id)).release();
      n++;
    }
    return n;
  }

  /** The model, loaded if needed, held until the lease is released (never evicted meanwhile). */
  async acquire(id: string): Promise<ModelLease> {
    const config = this.config(id);
    let entry = this.resident.get(id);
    if (!entry) {
      let pending = this.loading.get(id);
      if (!pending) {
        pending = this.load(id, config).finally(() => this.loading.delete(id));
        this.loading.set(id, pending);
      }
      entry = await pending;
    }
    entry.uses++;
    entry.inUse++;
    entry.lastUseMs = Date.now();
    let released = false;
    return {
      model: entry.model, device: entry.device,
      release: () => {
        if (released) return;
        released = true;
        entry.inUse--;
        entry.lastUseMs = Date.now();
      },
    };
  }

  /** Unloads every model (on shutdown). */
  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await Promise.all([...this.resident.values()].map((e) => this.unload(e)));
  }

  private async load(id: string, config: InferenceModelConfig): Promise<Resident> {
    const device = this.pickDevice();
    while (device.models.size >= this.options.maxModelsPerDevice) {
      const victim = this.victim(device);
      if (!victim) throw new ServiceError(grpc.status.RESOURCE_EXHAUSTED, `device ${device.id} holds ${device.models.size} models, all serving requests: no room to load "${id}" (capacity.max_models_per_gpu)`);
      this.evictions++;
      await this.unload(victim);
    }
    device.models.add(id);
    let model: LoadedModel;
    try {
      model = await (this.options.open ?? openOnDevice)(config, device);
    } catch (e) {
      device.models.delete(id);
      throw new ServiceError(grpc.status.FAILED_PRECONDITION, `model "${id}" cannot be loaded: ${(e as Error).message}`);
    }
    const entry: Resident = { id, device, model, uses: 0, lastUseMs: Date.now(), inUse: 0 };
    this.resident.set(id, entry);
    return entry;
  }

  private pickDevice(): Device {
    const devices = this.options.devices;
    const withRoom = devices.filter((d) => d.models.size < this.options.maxModelsPerDevice);
    const pool = withRoom.length ? withRoom : devices;
    if (this.options.assignment === 'least-loaded') {
      return pool.reduce((best, d) => (d.active + d.models.size < best.active + best.models.size ? d : best));
    }
    const device = pool[this.nextDevice % pool.length]!;
    this.nextDevice++;
    return device;
  }

  /** The model to unload from a full device: not serving, least recently or least often used. */
  private victim(device: Device): Resident | undefined {
    let best: Resident | undefined;
    for (const id of device.models) {
      const e = this.resident.get(id);
      if (!e || e.inUse > 0) continue;
      if (!best) best = e;
      else if (this.options.eviction === 'lru' ? e.lastUseMs < best.lastUseMs : e.uses < best.uses || (e.uses === best.uses && e.lastUseMs < best.lastUseMs)) best = e;
    }
    return best;
  }

  private unloadIdle(): void {
    const cutoff = Date.now() - this.options.idleTimeoutMs;
    for (const e of this.resident.values()) if (e.inUse === 0 && e.lastUseMs < cutoff) void this.unload(e);
  }

  private async unload(e: Resident): Promise<void> {
    this.resident.delete(e.id);
    e.device.models.delete(e.id);
    await e.model.session.release().catch(() => undefined);
  }
}

function openOnDevice(config: InferenceModelConfig, device: Device): Promise<LoadedModel> {
  return openModel(config.path, { path: config.path, contract: config.contract }, device.provider, undefined, Math.max(0, device.id));
}
