import { createWriteStream } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyRequest } from 'fastify';
import { AvatarError } from '../../core/errors.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../http-errors.js';
import { checkRenderOptions } from '../request-checks.js';
import { checkUploadedMedia, readHead, sniffMedia } from '../upload-check.js';
import { MAX_AUDIO_S } from '../audio-generation.js';

/** An uploaded recording to lip-sync, stored while its job runs. */
export interface AudioUpload {
  readonly path: string;
  readonly options: ReturnType<typeof checkRenderOptions>;
  /** Deletes the stored recording. */
  discard(): Promise<void>;
}

/**
 * Reads a multipart generate request (a `file` field with the recording; optional fields
 * avatar, fps, size, async) into a stored file, checked by content: an audio format ffmpeg
 * decodes, at most `limits.audioUploadBytes`.
 */
export async function receiveAudioUpload(request: FastifyRequest, ctx: ServerContext): Promise<AudioUpload> {
  const folder = join(ctx.uploadsDir, request.caller.tenant);
  await mkdir(folder, { recursive: true });
  const path = join(folder, `.audio-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const discard = () => unlink(path).then(() => undefined, () => undefined);
  try {
    const part = await request.file();
    if (!part) throw new AvatarError('invalid_input', 'no file in the upload: send the recording in a "file" field');
    await pipeline(part.file, createWriteStream(path));
    const limit = ctx.config.limits.audioUploadBytes;
    if (part.file.truncated || part.file.bytesRead > limit) throw new HttpError(413, 'too_large', `audio uploads are limited to ${(limit / 1048576).toFixed(1)} MB`);
    const sniffed = sniffMedia(await readHead(path));
    if (sniffed?.kind !== 'audio') throw new HttpError(415, 'unsupported_media_type', 'send a recording (WAV, MP3, OGG/Opus, FLAC, M4A); the file is none of these (judged by its content, not its name)');
    // The length is read from the container before anything is decoded: a tiny file whose
    // header claims a very low sample rate would otherwise decode into gigabytes.
    const { durationS } = await checkUploadedMedia(path, 'audio');
    if (durationS === undefined) throw new AvatarError('invalid_input', 'the length of the recording cannot be read from the file; send WAV, MP3, OGG/Opus, FLAC or M4A with a proper header');
    if (durationS > MAX_AUDIO_S) throw new AvatarError('invalid_input', `the recording is ${Math.round(durationS)} s long; the limit is ${MAX_AUDIO_S} s`);
    const fields: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(part.fields)) {
      const value = (field as { value?: unknown } | undefined)?.value;
      if (name !== 'file' && typeof value === 'string') fields[name] = value;
    }
    const unknown = Object.keys(fields).filter((k) => !['avatar', 'fps', 'size', 'async'].includes(k));
    if (unknown.length) throw new AvatarError('invalid_input', `unknown field${unknown.length > 1 ? 's' : ''} with an audio upload: ${unknown.join(', ')}`);
    return { path, options: checkRenderOptions(fields, ctx.config.limits, true), discard };
  } catch (e) {
    await discard();
    throw e;
  }
}
