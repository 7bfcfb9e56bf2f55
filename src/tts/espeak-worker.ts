/**
 * Worker thread that owns the espeak-ng WebAssembly engine. Synthesis is synchronous and
 * its first calls are slow while the engine warms up; in a worker it overlaps rendering
 * and encoding and never blocks the caller's event loop.
 */
import { parentPort } from 'node:worker_threads';
import type { EspeakEvent, EspeakWorker } from '@echogarden/espeak-ng-emscripten';

/** Requests the worker understands. */
export type EspeakWorkerRequest =
  /** `ahead`: a piece fetched before it is needed; it waits for every request that is not. */
  | { id: number; kind: 'synthesize'; text: string; voice: string; wpm: number; pitch: number; ahead?: boolean }
  | { id: number; kind: 'voices' }
  | { id: number; kind: 'check'; voice: string };

/** Replies, matched to requests by id. */
export type EspeakWorkerReply =
  | { id: number; kind: 'audio'; pcm: Int16Array; events: EspeakEvent[] }
  | { id: number; kind: 'voices'; voices: { identifier: string; name: string; languages: { priority: number; name: string }[] }[]; variants: string[] }
  | { id: number; kind: 'check'; ok: boolean }
  | { id: number; kind: 'error'; message: string; code?: string };

const VARIANTS_DIR = '/usr/share/espeak-ng-data/voices/!v';

const engine = (async () => {
  const { default: initialize } = await import('@echogarden/espeak-ng-emscripten');
  const module = await initialize();
  const worker: EspeakWorker = new module.eSpeakNGWorker();
  return { module, worker };
})();

function synthesize(worker: EspeakWorker, text: string): { pcm: Int16Array; events: EspeakEvent[] } {
  const chunks: Int16Array[] = [];
  const events: EspeakEvent[] = [];
  let samples = 0;
  worker.synthesize(text, (audio, chunkEvents) => {
    if (audio && audio.length > 0) {
      chunks.push(audio);
      samples += audio.length;
    }
    events.push(...chunkEvents);
    return false;
  });
  const pcm = new Int16Array(samples);
  let offset = 0;
  for (const c of chunks) {
    pcm.set(c, offset);
    offset += c.length;
  }
  return { pcm, events };
}

/**
 * Requests not yet answered. Synthesis blocks this thread, so requests pile up meanwhile;
 * the next one taken is the oldest that is not `ahead`: a session's first sentence never
 * waits behind other sessions' later sentences (they are needed seconds from now).
 */
const waiting: EspeakWorkerRequest[] = [];
let pumping = false;

parentPort!.on('message', (req: EspeakWorkerRequest) => {
  waiting.push(req);
  if (pumping) return;
  pumping = true;
  setImmediate(() => void pump());
});

/** Answers the most urgent waiting request, then yields (so requests that came meanwhile are in `waiting`) and goes on. */
async function pump(): Promise<void> {
  const urgent = waiting.findIndex((r) => !(r.kind === 'synthesize' && r.ahead));
  const [req] = waiting.splice(urgent >= 0 ? urgent : 0, 1);
  await answer(req!);
  if (waiting.length === 0) pumping = false;
  else setImmediate(() => void pump());
}

async function answer(req: EspeakWorkerRequest): Promise<void> {
  const reply = (msg: EspeakWorkerReply, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(msg, transfer);
  try {
    const { module, worker } = await engine;
    switch (req.kind) {
      case 'synthesize': {
        if (worker.set_voice(req.voice) !== 0) {
          reply({ id: req.id, kind: 'error', code: 'unknown_voice', message: `unknown voice "${req.voice}" (see: avatar voices)` });
          return;
        }
        worker.set_rate(req.wpm);
        worker.set_pitch(req.pitch);
        const { pcm, events } = synthesize(worker, req.text);
        reply({ id: req.id, kind: 'audio', pcm, events }, [pcm.buffer as ArrayBuffer]);
        return;
      }
      case 'voices':
        reply({ id: req.id, kind: 'voices', voices: worker.list_voices(), variants: module.FS.readdir(VARIANTS_DIR).filter((f) => !f.startsWith('.')) });
        return;
      case 'check':
        reply({ id: req.id, kind: 'check', ok: worker.set_voice(req.voice) === 0 });
        return;
    }
  } catch (e) {
    reply({ id: req.id, kind: 'error', message: (e as Error).message });
  }
}
