import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { barsSvg, linesSvg } from '../src/eval/svg-plots.js';

const SERIES = [{ label: 'TTS ms', color: '#8e44ad' }, { label: 'first frame ms', color: '#e67e22' }, { label: 'total ms', color: '#2c7fb8' }];

/** Every <rect> bar (x, width) and its value label, in order. */
function bars(svg: string): { width: number; label: string }[] {
  return [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([^"]+)" height="8" fill="[^"]+"\/><text [^>]*>([^<]*)<\/text>/g)].map((m) => ({ width: Number(m[1]), label: m[2]! }));
}

describe('evaluation report plots', () => {
  it('latency bars: a scenario without TTS time (stream, realtime) gets no bar and no NaN; the others scale to the longest', () => {
    const svg = barsSvg([
      { label: 'text', values: [200, 400, 2000] },
      { label: 'stream', values: [NaN, 300, 1000] },
      { label: 'realtime', values: [null, 150, Number.POSITIVE_INFINITY] },
    ], SERIES);
    assert.doesNotMatch(svg, /NaN|Infinity/);
    const drawn = bars(svg);
    assert.deepEqual(drawn.map((b) => b.label), ['200', '400', '2000', '300', '1000', '150']);
    // Widths are proportional to the values: the longest bar is 2000, half of it is 1000.
    const byLabel = new Map(drawn.map((b) => [b.label, b.width]));
    assert.ok(Math.abs(byLabel.get('1000')! / byLabel.get('2000')! - 0.5) < 0.01);
    assert.ok(Math.abs(byLabel.get('200')! / byLabel.get('2000')! - 0.1) < 0.01);
    assert.equal((svg.match(/not measured/g) ?? []).length, 3);
    assert.match(svg, /TTS ms: not measured/);
  });

  it('bars with nothing measured at all still draw a valid, empty chart', () => {
    const svg = barsSvg([{ label: 'a', values: [NaN, null] }], SERIES.slice(0, 2));
    assert.doesNotMatch(svg, /NaN/);
    assert.equal(bars(svg).length, 0);
    assert.match(svg, /^<svg [^>]*viewBox="0 0 720 \d+">.*<\/svg>$/s);
  });

  it('line charts skip missing points and keep the scale of the measured ones', () => {
    const svg = linesSvg([{ label: 'mouth', color: '#000', values: [0, 0.5, NaN, 1] }]);
    assert.doesNotMatch(svg, /NaN/);
    const points = /points="([^"]+)"/.exec(svg)![1]!.split(' ');
    assert.equal(points.length, 3);
    const ys = points.map((p) => Number(p.split(',')[1]));
    assert.ok(ys[0]! > ys[1]! && ys[1]! > ys[2]!, `higher values plot higher: ${ys}`);
  });
});
