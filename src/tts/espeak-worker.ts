/**
 * Worker thread that owns the espeak-ng WebAssembly engine. Synthesis is synchronous and
 * its first calls are slow while the engine warms up; in a worker it overlaps rendering
 * and encoding and never blocks the caller's event loop.
 */
import { parentPort } from 'node:worker_threads';
import type { EspeakEvent, EspeakWorker } from '@echogarden/espeak-ng-emscripten';

/** Requests the worker understands. */
export type EspeakWorkerRequest =
  | { id: number; kind: 'synthesize'; text: string; voice: string; wpm: number; pitch: number }
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

parentPort!.on('message', (req: EspeakWorkerRequest) => void answer(req));

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
