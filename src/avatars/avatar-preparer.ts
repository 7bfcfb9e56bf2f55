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
