import { withoutServerPaths } from './server-paths.js';

/**
 * Error kinds the project raises on purpose. Each has a stable `code` (for JSON APIs and
 * metrics), a CLI exit code, and whether retrying the same request could succeed.
 */
export type AvatarErrorCode =
  | 'invalid_input'
  | 'unknown_language'
  | 'unknown_voice'
  | 'unknown_avatar'
  | 'unknown_encoder'
  | 'output_unwritable'
  | 'ffmpeg_missing'
  | 'ffmpeg_failed'
  | 'tts_failed'
  | 'aborted';

const EXIT_CODES: Record<AvatarErrorCode, number> = {
  invalid_input: 2,
  unknown_language: 2,
  unknown_voice: 2,
  unknown_avatar: 2,
  unknown_encoder: 2,
  output_unwritable: 3,
  ffmpeg_missing: 4,
  ffmpeg_failed: 5,
  tts_failed: 6,
  aborted: 130,
};

/** An expected failure with a message meant for the person who caused it. */
export class AvatarError extends Error {
  readonly code: AvatarErrorCode;
  readonly retryable: boolean;

  constructor(code: AvatarErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AvatarError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }

  /** Process exit status the CLI uses for this error. */
  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}

/** Throws an `aborted` AvatarError when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AvatarError('aborted', 'the operation was cancelled');
}

/** What a client may be told about a failure: the code and message of an AvatarError, a generic line for anything else. */
export interface ErrorDescription {
  readonly error: string;
  readonly message: string;
}

/** Describes any thrown value for a client, without internals (stack, paths) of unexpected errors. */
export function describeError(e: unknown): ErrorDescription {
  if (e instanceof AvatarError) return { error: e.code, message: withoutServerPaths(e.message) };
  return { error: 'internal', message: 'internal error' };
}
