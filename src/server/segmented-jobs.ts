import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { encodeWav } from '../audio/wav.js';
import { AvatarError } from '../core/errors.js';
import { concatSpeech, type Speech } from '../core/speech.js';
import { chooseEncoder } from '../encode/encoder-probe.js';
import { aacArgs, ffmpegErrorTail, runFfmpeg } from '../encode/ffmpeg.js';
import { speechToMp4 } from '../pipeline/speech-to-mp4.js';
import type { JobHandlers } from '../queue/job-queue.js';
import { JOB_ENCODER_NICENESS, type RenderJobDeps } from './render-jobs.js';
import type { GenerateRequest } from './request-checks.js';

/** Job kinds of a segmented generation: plan (speech, split), one render per segment and one audio encode, assemble. */
export const SEGMENTED_JOB = 'generate-segmented';
export const SEGMENT_JOB = 'render-segment';
export const SEGMENT_AUDIO_JOB = 'encode-segmented-audio';
export const ASSEMBLE_JOB = 'assemble-segments';

/** Bitrate of a segmented video's sound, kbit/s. */
const AUDIO_KBPS = 128;

/** Scripts estimated longer than this are split into segments (seed 000's default), ms. */
export const DEFAULT_SEGMENT_MS = 10_000;

/** One job the assembling waits for: a segment's render or the audio encode. */
export interface SegmentPart {
  readonly kind: typeof SEGMENT_JOB | typeof SEGMENT_AUDIO_JOB;
  readonly payload: Record<string, unknown>;
}

/** Where the parts of a job are started: each part a job of its own, then one job joining them once all are done. */
export interface SegmentScheduler {
  /** Queues the part jobs (in this order) and the assembling job that waits for them; resolves to the assembling job's id. */
  schedule(tenant: string, parts: readonly SegmentPart[], assemble: Record<string, unknown>): Promise<string>;
}

/** What a segmented generation is asked for. */
export interface SegmentedPayload {
  readonly speech: Omit<GenerateRequest, 'async'>;
  /** Longest speech of one segment, ms (a sentence longer than that is a segment of its own). */
  readonly segmentMs: number;
}

/** The whole script's audio to encode: `audio.wav` in the job's folder `dir` (a base name) becomes `audio.m4a`. */
interface SegmentAudioPayload {
  readonly dir: string;
}

/** One segment to render: its speech is `<index>.json` in the job's folder `dir` (a base name). */
export interface SegmentPayload {
  readonly dir: string;
  readonly index: number;
  readonly startFrame: number;
  readonly avatar: string;
  readonly fps: number;
  readonly width?: number;
  readonly height?: number;
}

interface AssemblePayload {
  readonly dir: string;
  readonly segments: number;
  readonly output: string;
  readonly frames: readonly number[];
  readonly fps: number;
  readonly language: string;
}

/**
 * Handlers of segmented generation (seed 000): the plan job synthesizes the whole script
 * (fast next to rendering), cuts it at sentence ends into segments of at most `segmentMs`,
 * pads each segment's audio with silence to a whole number of frames (a sentence ends in a
 * pause, so the padding is inaudible) and writes it to the shared volume; segment jobs,
 * taken by any workers in parallel, render their frames (video alone) numbered from the
 * segment's start frame (so idle motion runs on across joins); beside them one job encodes
 * the whole script's audio once; the assembling job joins the video streams as they are
 * under that audio, copying both (no re-encoding), so the sound is continuous and picture
 * and sound cannot drift at the joins.
 */
export function segmentedJobHandlers(deps: RenderJobDeps, scheduler: SegmentScheduler): JobHandlers {
  return {
    [SEGMENTED_JOB]: async (job, _progress, signal) => {
      const { speech: req, segmentMs } = job.payload as unknown as SegmentedPayload;
      const dir = `.segments-${job.id}`;
      const folder = join(deps.outputsDir, job.tenant, dir);
      await mkdir(folder, { recursive: true });
      const segments = groupIntoSegments(await collect(deps.tts.synthesize({ text: req.text, language: req.language, ...(req.voice ? { voice: req.voice } : {}) }, signal)), segmentMs, req.fps);
      const frames: number[] = [];
      const all: Speech[] = [];
      let startFrame = 0;
      // The audio first: a second worker encodes it while the first renders segment 0.
      const audio: SegmentAudioPayload = { dir };
      const children: SegmentPart[] = [{ kind: SEGMENT_AUDIO_JOB, payload: { ...audio } }];
      for (const [index, parts] of segments.entries()) {
        await writeFile(join(folder, `${index}.json`), JSON.stringify(parts.map(toStored)));
        all.push(...parts);
        const count = frameCount(parts, req.fps);
        const child: SegmentPayload = { dir, index, startFrame, avatar: req.avatar, fps: req.fps, ...(req.width ? { width: req.width, height: req.height } : {}) };
        children.push({ kind: SEGMENT_JOB, payload: { ...child } });
        frames.push(count);
        startFrame += count;
      }
      await writeFile(join(folder, 'audio.wav'), encodeWav(concatSpeech(all)));
      const assemble: AssemblePayload = { dir, segments: segments.length, output: `${job.id}.mp4`, frames, fps: req.fps, language: req.language };
      const continuedBy = await scheduler.schedule(job.tenant, children, { ...assemble });
      return { continuedBy, segments: segments.length };
    },
    [SEGMENT_JOB]: async (job, progress, signal) => {
      const p = job.payload as unknown as SegmentPayload;
      const folder = join(deps.outputsDir, job.tenant, basename(p.dir));
      const parts = await readSegmentSpeech(folder, p.index);
      const renderer = await deps.catalog.createRenderer(p.avatar, { fps: p.fps, ...(p.width ? { width: p.width, height: p.height } : {}) });
      const encoder = await chooseEncoder(deps.encoder);
      const expected = parts.reduce((n, s) => n + s.pcm.length, 0) * p.fps / parts[0]!.sampleRate;
      const rendered = await speechToMp4({
        speech: (async function* () { yield* parts; })(), arrival: 'pieces', renderer, encoder, fps: p.fps,
        output: join(folder, `${p.index}.mp4`), signal, startFrame: p.startFrame, encoderNiceness: JOB_ENCODER_NICENESS, videoOnly: true,
        onFrame: (n) => { if (n % 25 === 0) progress(n / expected); },
      });
      deps.metrics?.countFrames(rendered.frames, { kind: 'mp4' });
      return { frames: rendered.frames, encoder: encoder.name, width: renderer.width, height: renderer.height };
    },
    [SEGMENT_AUDIO_JOB]: async (job, _progress, signal) => {
      const p = job.payload as unknown as SegmentAudioPayload;
      const folder = join(deps.outputsDir, job.tenant, basename(p.dir));
      await ffmpegIntoFile(join(folder, 'audio.m4a'), (temp) => ['-i', join(folder, 'audio.wav'), ...aacArgs(AUDIO_KBPS), '-f', 'mp4', temp], "encoding the script's audio", signal);
      return { file: 'audio.m4a' };
    },
    [ASSEMBLE_JOB]: async (job, _progress, signal) => {
      const p = job.payload as unknown as AssemblePayload;
      const folder = join(deps.outputsDir, job.tenant, basename(p.dir));
      const list = Array.from({ length: p.segments }, (_, i) => `file '${join(folder, `${i}.mp4`)}'`).join('\n');
      await writeFile(join(folder, 'list.txt'), `${list}\n`);
      const output = join(deps.outputsDir, job.tenant, basename(p.output));
      // A plan queued before audio had a job of its own left only audio.wav: encode it here.
      const encoded = await access(join(folder, 'audio.m4a')).then(() => true, () => false);
      const audio = join(folder, encoded ? 'audio.m4a' : 'audio.wav');
      await ffmpegIntoFile(output, (temp) => [
        '-f', 'concat', '-safe', '0', '-i', join(folder, 'list.txt'), '-i', audio,
        '-map', '0:v', '-map', '1:a', '-c:v', 'copy', ...(encoded ? ['-c:a', 'copy'] : aacArgs(AUDIO_KBPS)), '-movflags', '+faststart', '-f', 'mp4', temp,
      ], 'joining the segments', signal);
      await rm(folder, { recursive: true, force: true });
      const total = p.frames.reduce((a, b) => a + b, 0);
      return { file: basename(output), durationS: total / p.fps, frames: total, fps: p.fps, segmentFrames: p.frames, language: p.language };
    },
  };
}

/**
 * Runs ffmpeg with `args(temp)` writing a temporary file beside `output`, then moves it into
 * place: a failure leaves no partial file and is a retryable `ffmpeg_failed` error that says
 * what was being done (`doing`).
 */
async function ffmpegIntoFile(output: string, args: (temp: string) => string[], doing: string, signal: AbortSignal): Promise<void> {
  const temp = `${output}.${process.pid}.part`;
  const result = await runFfmpeg(['-v', 'error', '-y', ...args(temp)], { signal });
  if (result.code !== 0) {
    await rm(temp, { force: true });
    throw new AvatarError('ffmpeg_failed', `${doing} failed: ${ffmpegErrorTail(result.stderr)}`, { retryable: true });
  }
  await rename(temp, output);
}

/** A segment's speech, as the planning side wrote it into the segment folder. */
export async function readSegmentSpeech(folder: string, index: number): Promise<Speech[]> {
  return (JSON.parse(await readFile(join(folder, `${index}.json`), 'utf8')) as StoredSpeech[]).map(fromStored);
}

async function collect(parts: AsyncIterable<Speech>): Promise<Speech[]> {
  const all: Speech[] = [];
  for await (const part of parts) all.push(part);
  if (all.length === 0) throw new AvatarError('tts_failed', 'no speech to render: the speech source produced no audio');
  return all;
}

/** Frames that cover these parts' audio. */
export function frameCount(parts: readonly Speech[], fps: number): number {
  const samples = parts.reduce((n, p) => n + p.pcm.length, 0);
  return Math.ceil((samples * fps) / parts[0]!.sampleRate - 1e-6);
}

/**
 * Sentences (speech parts) grouped in order into segments of at most `segmentMs` of speech
 * each (0: one segment), every segment's audio padded with silence to end on a frame boundary.
 */
export function groupIntoSegments(parts: readonly Speech[], segmentMs: number, fps: number): Speech[][] {
  const grouper = new SegmentGrouper(segmentMs, fps);
  const segments = parts.map((p) => grouper.add(p)).filter((s): s is Speech[] => s !== undefined);
  const last = grouper.end();
  return last ? [...segments, last] : segments;
}

/**
 * `groupIntoSegments` as the parts come: each segment is yielded as soon as it is complete.
 * With `firstAlone`, the first part is a segment of its own, yielded as soon as it comes
 * (so its rendering starts without waiting for the next part).
 */
export async function* segmentsAsTheyCome(parts: AsyncIterable<Speech>, segmentMs: number, fps: number, firstAlone = false): AsyncGenerator<Speech[]> {
  const grouper = new SegmentGrouper(segmentMs, fps);
  let first = firstAlone;
  for await (const part of parts) {
    if (first) {
      first = false;
      yield padToFrame([part], fps);
      continue;
    }
    const done = grouper.add(part);
    if (done) yield done;
  }
  const last = grouper.end();
  if (last) yield last;
}

/** Collects parts into a segment until the next part would take it past `segmentMs`. */
class SegmentGrouper {
  private current: Speech[] = [];
  private currentMs = 0;

  constructor(private readonly segmentMs: number, private readonly fps: number) {}

  /** Adds a part; returns the segment it closed, if it closed one. */
  add(part: Speech): Speech[] | undefined {
    const ms = (part.pcm.length * 1000) / part.sampleRate;
    let closed: Speech[] | undefined;
    if (this.segmentMs > 0 && this.current.length > 0 && this.currentMs + ms > this.segmentMs) closed = this.end();
    this.current.push(part);
    this.currentMs += ms;
    return closed;
  }

  /** The segment being collected, padded to a frame boundary (undefined when empty). */
  end(): Speech[] | undefined {
    const segment = this.current.length ? padToFrame(this.current, this.fps) : undefined;
    this.current = [];
    this.currentMs = 0;
    return segment;
  }
}

function padToFrame(parts: Speech[], fps: number): Speech[] {
  const rate = parts[0]!.sampleRate;
  const samples = parts.reduce((n, p) => n + p.pcm.length, 0);
  const wanted = Math.round((frameCount(parts, fps) * rate) / fps);
  if (wanted <= samples) return parts;
  const last = parts[parts.length - 1]!;
  const pcm = new Int16Array(last.pcm.length + wanted - samples);
  pcm.set(last.pcm);
  return [...parts.slice(0, -1), { ...last, pcm }];
}

/** A speech part as JSON (PCM as base64). */
export interface StoredSpeech extends Omit<Speech, 'pcm'> {
  readonly pcm: string;
}

export function toStored(s: Speech): StoredSpeech {
  return { ...s, pcm: Buffer.from(s.pcm.buffer, s.pcm.byteOffset, s.pcm.byteLength).toString('base64') };
}

export function fromStored(s: StoredSpeech): Speech {
  const bytes = Buffer.from(s.pcm, 'base64');
  const pcm = new Int16Array(bytes.byteLength / 2);
  new Uint8Array(pcm.buffer).set(bytes);
  return { ...s, pcm };
}
