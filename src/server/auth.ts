import { timingSafeEqual, createHash } from 'node:crypto';
import type { ApiKeyConfig } from './config.js';
import { HttpError } from './http-errors.js';

/** Who is calling: the tenant, and the key (or address) that rate limits count against. */
export interface Caller {
  readonly tenant: string;
  readonly rateKey: string;
}

/** The tenant every request acts for when the server has no API keys (local use). */
export const LOCAL_TENANT = 'local';

/** Headers a request may carry its key in. */
export interface AuthHeaders {
  readonly authorization?: string | undefined;
  readonly 'x-api-key'?: string | string[] | undefined;
}

/**
 * API keys mapped to tenants. Keys are compared by SHA-256 digest in constant time, so a
 * timing side channel says nothing about a key's prefix. With no keys configured every
 * caller is the local tenant (and the server listens on loopback only).
 */
export class ApiKeyAuth {
  private readonly digests: { digest: Buffer; tenant: string; key: string }[];

  constructor(keys: readonly ApiKeyConfig[]) {
    this.digests = keys.map((k) => ({ digest: sha256(k.key), tenant: k.tenant, key: k.key }));
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** The caller, or a 401 HttpError. `fallbackKey` (the client address) limits unauthenticated local use. */
  authenticate(headers: AuthHeaders, fallbackKey: string, queryKey?: string): Caller {
    if (!this.enabled) return { tenant: LOCAL_TENANT, rateKey: `ip:${fallbackKey}` };
    const presented = keyFrom(headers) ?? queryKey;
    if (!presented) throw new HttpError(401, 'unauthorized', 'an API key is required: send "Authorization: Bearer KEY" or "x-api-key: KEY"');
    const digest = sha256(presented);
    const match = this.digests.find((d) => timingSafeEqual(d.digest, digest));
    if (!match) throw new HttpError(401, 'unauthorized', 'the API key is not valid');
    return { tenant: match.tenant, rateKey: `key:${match.digest.toString('hex').slice(0, 16)}` };
  }
}

function keyFrom(headers: AuthHeaders): string | undefined {
  const auth = headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const x = headers['x-api-key'];
  return Array.isArray(x) ? x[0] : x || undefined;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
