import { parentPort, workerData } from 'node:worker_threads';
import { prepareAvatar, type PrepareOptions } from './prepare.js';

// One avatar per worker thread: the landmark model keeps per-thread state.
const options = workerData as PrepareOptions;
prepareAvatar({ ...options, onProgress: (progress) => parentPort!.postMessage({ progress }) }).then(
  (result) => parentPort!.postMessage({ result }),
  (e: Error) => parentPort!.postMessage({ error: e.message }),
);
