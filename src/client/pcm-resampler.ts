/**
 * Streaming linear resampler from float samples (-1..1) at any rate to 16-bit PCM at a
 * target rate, for microphone buffers that arrive one at a time. Output sample k lies at
 * input position k * inputRate / outputRate, kept in exact integer arithmetic across
 * buffers, and the last input sample of a buffer is kept for the first output of the next:
 * over any number of buffers the output equals resampling their concatenation in one go
 * (no sample lost or repeated at the seams). Rates must be whole numbers of Hz.
 */
export class StreamingPcmResampler {
  /** Output samples produced so far. */
  private produced = 0;
  /** Input samples consumed so far. */
  private consumed = 0;
  /** The previous buffer's last sample. */
  private previous = 0;

  constructor(readonly inputRate: number, readonly outputRate: number) {
    if (!Number.isInteger(inputRate) || !Number.isInteger(outputRate) || inputRate <= 0 || outputRate <= 0) {
      throw new RangeError(`sample rates must be positive whole numbers (got ${inputRate} -> ${outputRate})`);
    }
  }

  /** Resamples one buffer; returns the output samples it completes. */
  push(input: ArrayLike<number>): Int16Array {
    const n = input.length;
    if (n === 0) return new Int16Array(0);
    const { inputRate: inRate, outputRate: outRate } = this;
    // Position of the next output in this buffer, times outRate (may be negative: between
    // the previous buffer's last sample and this one's first).
    let num = this.produced * inRate - this.consumed * outRate;
    const last = (n - 1) * outRate;
    const out = new Int16Array(num <= last ? Math.floor((last - num) / inRate) + 1 : 0);
    let count = 0;
    for (; num <= last; num += inRate) {
      const i = Math.floor(num / outRate);
      const f = (num - i * outRate) / outRate;
      const a = i < 0 ? this.previous : input[i]!;
      const b = f === 0 ? a : input[i + 1]!;
      out[count++] = Math.max(-32768, Math.min(32767, Math.round((a + (b - a) * f) * 32767)));
    }
    this.produced += count;
    this.consumed += n;
    this.previous = input[n - 1]!;
    return out;
  }
}
