import { AvatarError, type AvatarErrorCode } from '../core/errors.js';
import { withoutServerPaths } from '../core/server-paths.js';

/** HTTP status for each project error code. */
const STATUS: Record<AvatarErrorCode, number> = {
  invalid_input: 400,
  unknown_language: 400,
  unknown_voice: 400,
  unknown_avatar: 404,
  unknown_encoder: 400,
  output_unwritable: 500,
  ffmpeg_missing: 503,
  ffmpeg_failed: 500,
  tts_failed: 502,
  aborted: 499,
};

/** An error with an HTTP status, raised by routes for conditions that are not AvatarErrors. */
export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The JSON body of every error response. */
export interface ErrorBody {
  readonly error: string;
  readonly message: string;
}

/** Maps any thrown value to a status and a body that is safe to show the client (no server paths, no internals). */
export function toHttpError(e: unknown): { status: number; body: ErrorBody } {
  const { status, body } = classify(e);
  return { status, body: { error: body.error, message: withoutServerPaths(body.message) } };
}

function classify(e: unknown): { status: number; body: ErrorBody } {
  if (e instanceof HttpError) return { status: e.status, body: { error: e.code, message: e.message } };
  if (e instanceof AvatarError) return { status: STATUS[e.code], body: { error: e.code, message: e.message } };
  const fastifyError = e as { statusCode?: number; code?: string; message?: string; validation?: unknown };
  if (typeof fastifyError?.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    const code = fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || fastifyError.statusCode === 413 ? 'too_large'
      : fastifyError.validation ? 'invalid_input' : 'bad_request';
    return { status: fastifyError.statusCode, body: { error: code, message: fastifyError.message ?? 'bad request' } };
  }
  return { status: 500, body: { error: 'internal', message: 'internal server error' } };
}
