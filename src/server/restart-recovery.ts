import { readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { AvatarCatalog } from '../avatars/catalog.js';
import type { AvatarAccess } from './avatar-access.js';
import type { InProcessJobQueue, InterruptedJob } from '../queue/in-process-queue.js';

/** Names of files a run leaves only while it works: partial outputs and uploads being received. */
const DEBRIS = [/\.part$/, /^\.upload-/, /^\.audio-/, /^sync-\d+-/, /\.tmp$/];

/**
 * Puts the data folder right after a restart (or a crash): unfinished jobs are marked
 * failed and what they held is given back (a reserved avatar id, a stored upload), and
 * files that only a running process could have finished are deleted (unless the folders are
 * shared with other processes). Run before listening.
 */
export async function recoverAfterRestart(deps: { jobs: InProcessJobQueue; access: AvatarAccess; catalog: AvatarCatalog; outputsDir: string; uploadsDir: string; sharedFolders?: boolean }): Promise<{ interrupted: number; debris: number }> {
  const interrupted = await deps.jobs.restore((job) => releaseJob(job, deps));
  let debris = 0;
  // Folders shared with workers and other API processes hold their files in progress:
  // those are left to the retention sweep.
  if (deps.sharedFolders) return { interrupted, debris };
  for (const root of [deps.outputsDir, deps.uploadsDir]) {
    for (const tenant of await readdir(root, { withFileTypes: true }).catch(() => [])) {
      if (!tenant.isDirectory()) continue;
      const folder = join(root, tenant.name);
      for (const name of await readdir(folder).catch(() => [] as string[])) {
        if (!DEBRIS.some((pattern) => pattern.test(name))) continue;
        await rm(join(folder, name), { recursive: true, force: true });
        debris++;
      }
    }
  }
  return { interrupted, debris };
}

async function releaseJob(job: InterruptedJob, deps: { access: AvatarAccess; catalog: AvatarCatalog; uploadsDir: string }): Promise<void> {
  const upload = job.meta.upload;
  // Only files inside the tenant's upload folder are ever deleted from a job's record.
  const inUploads = upload && join(deps.uploadsDir, job.tenant, basename(upload)) === upload;
  if (job.kind === 'prepare-avatar' && job.meta.avatar) {
    if (deps.catalog.get(job.meta.avatar)) return; // The preparation finished before the process ended.
    if (deps.access.owner(job.meta.avatar) === job.tenant) await deps.access.release(job.meta.avatar);
  }
  if (inUploads) await rm(upload, { force: true });
}
