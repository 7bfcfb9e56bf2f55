import { unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { AvatarPreparer } from '../avatars/avatar-preparer.js';
import { AvatarError } from '../core/errors.js';
import type { JobHandlers } from '../queue/job-queue.js';
import { HttpError } from './http-errors.js';

/** The kind of a job that makes an avatar from an upload. */
export const PREPARE_AVATAR_JOB = 'prepare-avatar';

/** What a preparation job works on: the stored upload (a base name in the tenant's uploads) and what its answer reports. */
export interface PrepareAvatarPayload {
  readonly avatar: string;
  readonly name: string;
  readonly upload: string;
  /** Shown in the job's result as they are (kind, format, size, duration of the upload). */
  readonly facts: Readonly<Record<string, unknown>>;
}

/** What preparing avatars needs, in an API process (in-process queue) or a worker. */
export interface AvatarJobDeps {
  readonly preparer: AvatarPreparer | undefined;
  /** Uploads, one subfolder per tenant (a shared volume when workers run elsewhere). */
  readonly uploadsDir: string;
  /** The avatar is ready: whatever keeps renderers of it must load it afresh. */
  onReady(id: string): void | Promise<void>;
  /** Its preparation failed for good: the id is free again. */
  onFailed(id: string): void | Promise<void>;
}

/**
 * The handler of avatar preparations. A failed preparation gives the avatar id back and
 * deletes the upload; a finished one makes renderers of the avatar load it afresh.
 */
export function avatarJobHandlers(deps: AvatarJobDeps): JobHandlers {
  return {
    [PREPARE_AVATAR_JOB]: async (job) => {
      const payload = job.payload as unknown as PrepareAvatarPayload;
      const stored = join(deps.uploadsDir, job.tenant, basename(payload.upload));
      const id = payload.avatar;
      try {
        if (!deps.preparer) throw new HttpError(501, 'not_implemented', 'this server has no avatar preparer configured');
        await deps.preparer.prepare(stored, { id, name: payload.name, tenant: job.tenant });
      } catch (e) {
        await deps.onFailed(id);
        await unlink(stored).catch(() => undefined);
        throw e instanceof AvatarError || e instanceof HttpError ? e : new AvatarError('invalid_input', `could not prepare avatar "${id}": ${(e as Error).message}`);
      }
      await deps.onReady(id);
      return { avatar: id, ...payload.facts };
    },
  };
}
