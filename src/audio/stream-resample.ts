/**
 * Band-limited resampling of a stream of 16-bit PCM to float samples (-1..1) at another
 * rate: a Hann-windowed sinc, 16 zero crossings each side, cut off at 95% of the lower
 * Nyquist frequency (so resampling 24 kHz speech to 16 kHz does not fold 8-12 kHz into
 * the mel bands). Output sample j lies at input position j * from / to; it is produced once
 * the input it needs has arrived, so pushing in pieces gives exactly the samples one push
 * of the whole would. Samples before the start and after finish() count as silence.
 */
export class StreamingResampler {
  private input = new Float64Array(4096);
  private length = 0;
  private produced = 0;
  private finished = false;
  private readonly step: number;
  private readonly cutoff: number;
  private readonly halfWidth: number;

  constructor(readonly fromRate: number, readonly toRate: number) {
    if (!(fromRate > 0) || !(toRate > 0)) throw new RangeError(`sample rates must be positive, got ${fromRate} and ${toRate}`);
    this.step = fromRate / toRate;
    this.cutoff = Math.min(1, toRate / fromRate) * 0.95;
    this.halfWidth = Math.ceil(16 / this.cutoff);
  }

  /** Appends samples. */
  push(pcm: Int16Array): void {
    if (this.finished) throw new Error('push after finish');
    if (this.length + pcm.length > this.input.length) {
      const grown = new Float64Array(Math.max(this.input.length * 2, this.length + pcm.length));
      grown.set(this.input.subarray(0, this.length));
      this.input = grown;
    }
    for (let i = 0; i < pcm.length; i++) this.input[this.length + i] = pcm[i]! / 32768;
    this.length += pcm.length;
  }

  /** No more input: the last output samples become available. */
  finish(): void {
    this.finished = true;
  }

  /** Total output samples the input so far amounts to (final after finish()). */
  get outputLength(): number {
    return Math.round(this.length / this.step);
  }

  /** Output samples ready since the last call. */
  take(): Float64Array {
    const end = this.finished ? this.outputLength : this.readyCount();
    const out = new Float64Array(Math.max(0, end - this.produced));
    for (let j = 0; j < out.length; j++) out[j] = this.sampleAt((this.produced + j) * this.step);
    this.produced += out.length;
    return out;
  }

  private readyCount(): number {
    if (this.fromRate === this.toRate) return this.length;
    // Output j needs input up to floor(j * step) + halfWidth.
    const last = Math.floor((this.length - 1 - this.halfWidth) / this.step);
    return Math.max(0, Math.min(this.outputLength, last + 1));
  }

  private sampleAt(pos: number): number {
    if (this.fromRate === this.toRate) return this.input[Math.round(pos)] ?? 0;
    const centre = Math.floor(pos);
    const from = Math.max(0, centre - this.halfWidth + 1);
    const to = Math.min(this.length - 1, centre + this.halfWidth);
    let sum = 0;
    for (let k = from; k <= to; k++) {
      const d = pos - k;
      const x = this.cutoff * d;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const window = 0.5 + 0.5 * Math.cos((Math.PI * d) / this.halfWidth);
      sum += this.input[k]! * this.cutoff * sinc * window;
    }
    return sum;
  }
}
