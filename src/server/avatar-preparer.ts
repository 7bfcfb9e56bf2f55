import { HttpError } from './http-errors.js';

/** Identity of an avatar being created from an upload. */
export interface PrepareTarget {
  readonly id: string;
  readonly name: string;
  readonly tenant: string;
}

/**
 * Turns an uploaded photo or video into an avatar the catalog serves (the `avatar prepare`
 * pipeline). The server stores and validates the upload, then runs `prepare` as a job.
 */
export interface AvatarPreparer {
  /** Builds the avatar `target.id` from the file at `inputPath`; rejects with a reason on failure. */
  prepare(inputPath: string, target: PrepareTarget): Promise<void>;
  /** Deletes a prepared avatar. Absent when this preparer cannot delete. */
  remove?(id: string): Promise<void>;
}

/** The preparer of a server with none configured: uploads and deletions answer 501 with the reason. */
export class UnconfiguredAvatarPreparer implements AvatarPreparer {
  prepare(): Promise<void> {
    return Promise.reject(UnconfiguredAvatarPreparer.error());
  }

  /** The 501 every avatar-changing route answers with. */
  static error(): HttpError {
    return new HttpError(501, 'not_implemented', 'this server has no avatar preparer configured: photo and video avatars cannot be created or deleted here');
  }
}
