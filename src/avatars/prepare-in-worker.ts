import { Worker } from 'node:worker_threads';
import { AvatarError } from '../core/errors.js';
import type { PrepareOptions, PrepareProgress, PrepareResult } from './prepare.js';

/** Options of a prepare run that can cross to a worker thread (no callbacks). */
export type WorkerPrepareOptions = Omit<PrepareOptions, 'onProgress'>;

/**
 * Prepares one avatar in a worker thread with its own landmark model, so the face mesh
 * (tens of ms a frame) never runs on the calling thread: a server keeps pacing its live
 * sessions while an upload is prepared. Aborting `signal` stops the worker; the prepare
 * pipeline leaves no half-built folder behind.
 */
export function prepareInWorker(options: WorkerPrepareOptions, onProgress: (p: PrepareProgress) => void = () => undefined, signal?: AbortSignal): Promise<PrepareResult> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AvatarError('aborted', 'the operation was cancelled'));
    const worker = new Worker(new URL('./prepare-worker.js', import.meta.url), { workerData: options });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () => {
      settle(() => reject(new AvatarError('aborted', 'the operation was cancelled')));
      void worker.terminate();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: { progress?: PrepareProgress; result?: PrepareResult; error?: string }) => {
      if (m.progress) onProgress(m.progress);
      if (m.result) settle(() => resolve(m.result!));
      if (m.error) settle(() => reject(new AvatarError('invalid_input', m.error!)));
    });
    worker.on('error', (e) => settle(() => reject(e)));
    worker.on('exit', (code) => settle(() => reject(new Error(`prepare worker exited with ${code} before it finished`))));
  });
}
