import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * HMAC-SHA256 signatures for download URLs: a URL names one output of one tenant and an
 * expiry time, and is valid without an API key until then.
 */
export class UrlSigner {
  constructor(private readonly secret: string) {}

  /** `/api/v1/outputs/<tenant>/<file>?expires=<ms>&sig=<hex>` */
  sign(tenant: string, file: string, expiresAtMs: number): string {
    const sig = this.signature(tenant, file, expiresAtMs);
    return `/api/v1/outputs/${encodeURIComponent(tenant)}/${encodeURIComponent(file)}?expires=${expiresAtMs}&sig=${sig}`;
  }

  /** 'ok', 'expired' or 'bad' (a signature that does not match). */
  verify(tenant: string, file: string, expires: string | undefined, sig: string | undefined, nowMs = Date.now()): 'ok' | 'expired' | 'bad' {
    if (!expires || !sig || !/^\d{1,16}$/.test(expires) || !/^[0-9a-f]{64}$/.test(sig)) return 'bad';
    const expected = Buffer.from(this.signature(tenant, file, Number(expires)), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(sig, 'hex'))) return 'bad';
    return Number(expires) < nowMs ? 'expired' : 'ok';
  }

  private signature(tenant: string, file: string, expiresAtMs: number): string {
    return createHmac('sha256', this.secret).update(`${tenant}\n${file}\n${expiresAtMs}`).digest('hex');
  }
}

/**
 * The signing secret every API process sharing one Redis uses when none is configured: the
 * first process to start stores a random one (set-if-absent), the others read it, so a link
 * signed by one replica verifies on another and survives restarts.
 */
export async function sharedSigningSecret(client: Redis, prefix: string): Promise<string> {
  const key = `${prefix}:signing-secret`;
  await client.set(key, randomBytes(32).toString('hex'), 'NX');
  const secret = await client.get(key);
  if (!secret) throw new Error('the shared signing secret could not be read from Redis');
  return secret;
}
