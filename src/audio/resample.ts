/**
 * Resamples mono 16-bit PCM by linear interpolation. Good enough for speech that only
 * needs to share a clock with other speech; not a mastering-grade filter.
 */
export function resampleLinear(pcm: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (fromRate === toRate) return pcm;
  const outLength = Math.round((pcm.length * toRate) / fromRate);
  const out = new Int16Array(outLength);
  const step = fromRate / toRate;
  for (let i = 0; i < outLength; i++) {
    const pos = i * step;
    const j = Math.floor(pos);
    const f = pos - j;
    const a = pcm[Math.min(j, pcm.length - 1)] ?? 0;
    const b = pcm[Math.min(j + 1, pcm.length - 1)] ?? 0;
    out[i] = Math.round(a + (b - a) * f);
  }
  return out;
}
