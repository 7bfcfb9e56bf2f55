/**
 * Plays a realtime session in the page: JPEG frames on a canvas and PCM through Web Audio,
 * both placed on one playout clock derived from the session's presentation times, so
 * picture and sound stay in sync whatever the network does (late data is shown late and
 * counted, never allowed to shift the clock of the other).
 */

/** Figures the page shows (and tests read). */
export interface PlayerStats {
  framesDrawn: number;
  speakingFramesDrawn: number;
  /** Distinct frames drawn over the last second. */
  fps: number;
  audioChunks: number;
  /** Mean lateness of speaking frames on the playout clock, ms. */
  videoLateMs: number;
  /** Mean lateness of audio chunks (started after their time), ms. */
  audioLateMs: number;
  /** Output level measured while speaking frames were on screen, and while idle ones were. */
  speakingRms: number;
  idleRms: number;
}

interface QueuedFrame {
  ptsMs: number;
  speaking: boolean;
  bitmap: ImageBitmap;
  /** Drawn over `bitmap` at (x, y): the speaking mouth over the idle picture. */
  patch?: { x: number; y: number; bitmap: ImageBitmap };
}

/** Data that arrives this long before it is due is on time: absorbs network jitter. */
const PLAYOUT_DELAY_MS = 80;

export class RealtimePlayer {
  readonly stats: PlayerStats = { framesDrawn: 0, speakingFramesDrawn: 0, fps: 0, audioChunks: 0, videoLateMs: 0, audioLateMs: 0, speakingRms: 0, idleRms: 0 };
  /** Called when the first speaking frame after `expectSpeech()` is drawn. */
  onSpeakingFrame: ((drawnAt: number) => void) | undefined;
  private anchor: number | undefined;
  private readonly frames: QueuedFrame[] = [];
  private readonly sources: { source: AudioBufferSourceNode; startPts: number }[] = [];
  private readonly analyser: AnalyserNode;
  private readonly level = new Float32Array(1024);
  private readonly drawTimes: number[] = [];
  private lateSums = { video: 0, videoN: 0, audio: 0, audioN: 0, speakRms: 0, speakN: 0, idleRms: 0, idleN: 0 };
  private showingSpeech = false;
  private running = true;

  constructor(private readonly canvas: HTMLCanvasElement, readonly audio: AudioContext) {
    this.analyser = audio.createAnalyser();
    this.analyser.fftSize = 1024;
    this.analyser.connect(audio.destination);
    requestAnimationFrame(() => this.draw());
  }

  /** Forgets the clock (a new session starts its own). */
  reset(): void {
    this.anchor = undefined;
    this.stopAudioFrom(-Infinity);
    for (const f of this.frames.splice(0)) close(f);
  }

  stop(): void {
    this.running = false;
    this.reset();
  }

  /** A JPEG frame (and the patch drawn over it, if any) with its presentation time. */
  async addFrame(ptsMs: number, speaking: boolean, jpeg: Uint8Array, patch?: { x: number; y: number; jpeg: Uint8Array }): Promise<void> {
    const arrived = performance.now();
    this.anchor ??= arrived + PLAYOUT_DELAY_MS - ptsMs;
    // Arriving far behind the clock means the clock is wrong (a stall): move it.
    if (arrived - (this.anchor + ptsMs) > 500) this.anchor = arrived + PLAYOUT_DELAY_MS - ptsMs;
    const decode = (bytes: Uint8Array) => createImageBitmap(new Blob([bytes as BlobPart], { type: 'image/jpeg' }));
    const [bitmap, patchBitmap] = await Promise.all([decode(jpeg), patch ? decode(patch.jpeg) : undefined]);
    this.frames.push({ ptsMs, speaking, bitmap, ...(patch && patchBitmap ? { patch: { x: patch.x, y: patch.y, bitmap: patchBitmap } } : {}) });
  }

  /** PCM (mono s16) to play at its presentation time. */
  addAudio(ptsMs: number, sampleRate: number, pcm: Int16Array): void {
    if (this.anchor === undefined || pcm.length === 0) return;
    const buffer = this.audio.createBuffer(1, pcm.length, sampleRate);
    const samples = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i]! / 32768;
    const source = this.audio.createBufferSource();
    source.buffer = buffer;
    source.connect(this.analyser);
    const latencyS = (this.audio.outputLatency || 0) + (this.audio.baseLatency || 0);
    const when = this.audio.currentTime + (this.anchor + ptsMs - performance.now()) / 1000 - latencyS;
    const now = this.audio.currentTime;
    if (when >= now) source.start(when);
    else {
      source.start(now, Math.min(buffer.duration, now - when));
      this.lateSums.audio += (now - when) * 1000;
    }
    this.lateSums.audioN++;
    this.stats.audioChunks++;
    this.sources.push({ source, startPts: ptsMs });
    source.onended = () => {
      const at = this.sources.findIndex((s) => s.source === source);
      if (at >= 0) this.sources.splice(at, 1);
    };
  }

  /** Silences audio from `ptsMs` on (an interrupt), and drops frames queued after it. */
  stopAudioFrom(ptsMs: number): void {
    for (const s of this.sources.splice(0)) {
      if (s.startPts >= ptsMs) s.source.stop();
      else if (this.anchor !== undefined) s.source.stop(this.audio.currentTime + Math.max(0, this.anchor + ptsMs - performance.now()) / 1000);
    }
  }

  /** Current position of the playout clock in session ms. */
  clockMs(): number {
    return this.anchor === undefined ? 0 : performance.now() - this.anchor;
  }

  private draw(): void {
    if (!this.running) return;
    requestAnimationFrame(() => this.draw());
    if (this.anchor === undefined) return;
    const now = performance.now();
    const clock = now - this.anchor;
    let latest: QueuedFrame | undefined;
    while (this.frames.length && this.frames[0]!.ptsMs <= clock) {
      if (latest) close(latest);
      latest = this.frames.shift();
    }
    this.analyser.getFloatTimeDomainData(this.level);
    let sum = 0;
    for (const v of this.level) sum += v * v;
    const rms = Math.sqrt(sum / this.level.length);
    if (this.showingSpeech) {
      this.lateSums.speakRms += rms;
      this.lateSums.speakN++;
    } else {
      this.lateSums.idleRms += rms;
      this.lateSums.idleN++;
    }
    if (!latest) return;
    const ctx = this.canvas.getContext('2d')!;
    if (this.canvas.width !== latest.bitmap.width) this.canvas.width = latest.bitmap.width;
    if (this.canvas.height !== latest.bitmap.height) this.canvas.height = latest.bitmap.height;
    ctx.drawImage(latest.bitmap, 0, 0);
    if (latest.patch) ctx.drawImage(latest.patch.bitmap, latest.patch.x, latest.patch.y);
    close(latest);
    this.stats.framesDrawn++;
    this.drawTimes.push(now);
    while (this.drawTimes.length && now - this.drawTimes[0]! > 1000) this.drawTimes.shift();
    this.stats.fps = this.drawTimes.length;
    this.showingSpeech = latest.speaking;
    if (latest.speaking) {
      this.stats.speakingFramesDrawn++;
      this.lateSums.video += clock - latest.ptsMs;
      this.lateSums.videoN++;
      this.onSpeakingFrame?.(now);
      this.onSpeakingFrame = undefined;
    }
    const s = this.lateSums;
    this.stats.videoLateMs = s.videoN ? s.video / s.videoN : 0;
    this.stats.audioLateMs = s.audioN ? s.audio / s.audioN : 0;
    this.stats.speakingRms = s.speakN ? s.speakRms / s.speakN : 0;
    this.stats.idleRms = s.idleN ? s.idleRms / s.idleN : 0;
  }
}

function close(frame: QueuedFrame): void {
  frame.bitmap.close();
  frame.patch?.bitmap.close();
}
