import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, unlink } from 'node:fs/promises';
import { PREPARE_AVATAR_JOB, type PrepareAvatarPayload } from '../avatar-jobs.js';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance } from 'fastify';
import { avatarIdFromName, checkAvatarId } from '../../core/avatar-id.js';
import { AvatarError } from '../../core/errors.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../http-errors.js';
import { checkUploadedMedia, readHead, sniffMedia } from '../upload-check.js';
import { routeSchemas } from '../route-schemas.js';

/** GET/POST /api/v1/avatars, DELETE /api/v1/avatars/:id */
export function registerAvatarRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const schemas = routeSchemas(ctx.config.limits);
  app.get('/api/v1/avatars', { schema: schemas.avatars }, async (request) => ({
    avatars: ctx.access.list(request.caller.tenant).map((a) => ({ ...a, owner: ctx.access.owner(a.id) ?? null })),
  }));

  app.post('/api/v1/avatars', { schema: schemas.avatarUpload }, async (request, reply) => {
    const preparer = ctx.preparer;
    if (!preparer) throw noPreparer();
    if (!request.isMultipart()) throw new HttpError(415, 'unsupported_media_type', 'upload the photo or video as multipart/form-data with a "file" field');
    const { tenant } = request.caller;
    await ctx.limiter.take(request.caller.rateKey);
    const folder = join(ctx.uploadsDir, tenant);
    await mkdir(folder, { recursive: true });
    const temp = join(folder, `.upload-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    let keep = false;
    try {
      const part = await request.file();
      if (!part) throw new AvatarError('invalid_input', 'no file in the upload: send the photo or video in a "file" field');
      await pipeline(part.file, createWriteStream(temp));
      const bytes = part.file.bytesRead;
      if (part.file.truncated) throw new HttpError(413, 'too_large', `the upload is larger than the largest allowed (${mb(Math.max(ctx.config.limits.imageUploadBytes, ctx.config.limits.videoUploadBytes))})`);
      const fields = part.fields as Record<string, { value?: unknown } | undefined>;
      const field = (name: string) => (typeof fields[name]?.value === 'string' ? (fields[name]!.value as string).trim() : undefined);
      const sniffed = sniffMedia(await readHead(temp));
      if (!sniffed || sniffed.kind === 'audio') {
        throw new HttpError(415, 'unsupported_media_type', 'an avatar is made from a photo (JPEG, PNG, WebP) or a video (MP4, MOV, WebM, AVI); the file is neither (judged by its content, not its name)');
      }
      const limit = sniffed.kind === 'image' ? ctx.config.limits.imageUploadBytes : ctx.config.limits.videoUploadBytes;
      if (bytes > limit) throw new HttpError(413, 'too_large', `${sniffed.kind} uploads are limited to ${mb(limit)}; this one is ${mb(bytes)}`);
      const media = await checkUploadedMedia(temp, sniffed.kind);
      const name = field('name') ?? part.filename?.replace(/\.[^.]*$/, '') ?? 'avatar';
      let id = field('id') ?? slug(name);
      checkAvatarId(id);
      const owner = ctx.access.owner(id);
      if (owner !== undefined && owner !== tenant) {
        // Another tenant's id: a 409 would tell this tenant it exists, so the avatar gets a
        // fresh id instead (the answer names it, as it does for every upload).
        id = `${id.slice(0, 55)}-${randomBytes(4).toString('hex')}`;
      } else if (ctx.access.taken(id)) {
        throw new HttpError(409, 'conflict', `avatar id "${id}" is taken; choose another "id"`);
      }
      const stored = join(folder, `${id}.${sniffed.format}`);
      await rename(temp, stored);
      keep = true;
      await ctx.access.assign(id, tenant);
      const payload: PrepareAvatarPayload = { avatar: id, name, upload: basename(stored), facts: { kind: sniffed.kind, format: sniffed.format, ...media } };
      // With Redis, a worker prepares it (into the shared avatars folder); else this process does.
      const queue = ctx.jobs.backend === 'redis' ? ctx.jobs : ctx.localJobs;
      await ctx.avatarEvents?.publish({ avatar: id, outcome: 'reserved', tenant });
      const jobId = await queue.submit({ tenant, kind: PREPARE_AVATAR_JOB, payload: { ...payload } }, { meta: { avatar: id, upload: stored }, retry: false });
      return reply.code(202).header('location', `/api/v1/jobs/${jobId}`).send({ id: jobId, avatar: id, state: 'queued', status: `/api/v1/jobs/${jobId}` });
    } finally {
      if (!keep) await unlink(temp).catch(() => undefined);
    }
  });

  app.delete('/api/v1/avatars/:id', { schema: schemas.avatarDelete }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const { tenant } = request.caller;
    const summary = ctx.access.require(id, tenant);
    if (summary.builtin) throw new HttpError(409, 'conflict', `"${id}" is a built-in avatar and cannot be deleted`);
    if (ctx.auth.enabled && ctx.access.owner(id) !== tenant) throw new HttpError(403, 'forbidden', `"${id}" is shared by all tenants; only the operator can remove it`);
    if (!ctx.preparer?.remove) throw noPreparer();
    // Sessions showing it end now, told why, before its files go.
    ctx.live.endAvatar(id, { error: 'avatar_deleted', message: `avatar "${id}" was deleted` });
    await ctx.preparer.remove(id);
    await deleteUploads(ctx.uploadsDir, id);
    await ctx.access.release(id);
    ctx.renderers.drop(id);
    await ctx.avatarEvents?.publish({ avatar: id, outcome: 'deleted' });
    return reply.code(204).send();
  });
}

/** Deletes the original photo or video an avatar was made from (whichever tenant uploaded it). */
async function deleteUploads(uploadsDir: string, id: string): Promise<void> {
  for (const tenant of await readdir(uploadsDir, { withFileTypes: true }).catch(() => [])) {
    if (!tenant.isDirectory()) continue;
    const folder = join(uploadsDir, tenant.name);
    for (const name of await readdir(folder).catch(() => [] as string[])) {
      if (name.startsWith(`${id}.`) && /^[a-z0-9]{3,4}$/.test(name.slice(id.length + 1))) await rm(join(folder, name), { force: true });
    }
  }
}

function mb(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** A plain avatar id from a display name. */
function slug(name: string): string {
  return avatarIdFromName(name) ?? `avatar_${Date.now().toString(36)}`;
}

/** The 501 every avatar-changing route answers on a server with no preparer configured. */
function noPreparer(): HttpError {
  return new HttpError(501, 'not_implemented', 'this server has no avatar preparer configured: photo and video avatars cannot be created or deleted here');
}
