import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { chooseEncoder } from '../src/encode/encoder-probe.js';
import { startSpeechStream, type RendererLender } from '../src/pipeline/speech-to-stream.js';
import { ParametricRenderer } from '../src/render/parametric/parametric-renderer.js';
import { EspeakTtsProvider } from '../src/tts/espeak.js';

const tts = new EspeakTtsProvider();
after(() => tts.close?.());

const lender: RendererLender = {
  checkout: (_avatar, request) => Promise.resolve(new ParametricRenderer(request.width ?? 128, request.height ?? 128)),
  checkin: () => undefined,
};

/** Streams `text` to the end, reading as fast as it comes; wall time and seconds of video. */
async function streamWall(text: string, pacing: { maxSpeed?: () => number; headStartMs?: number }): Promise<{ wallMs: number; videoMs: number }> {
  const t0 = performance.now();
  const started = await startSpeechStream(
    { text, language: 'en', avatar: 'default', fps: 25, width: 128, height: 128 },
    { renderers: lender, tts, encoder: chooseEncoder(), signal: new AbortController().signal, ...pacing },
  );
  started.output.resume();
  const { frames } = await started.done;
  return { wallMs: performance.now() - t0, videoMs: (frames * 1000) / 25 };
}

describe('stream pacing: beside live sessions a stream renders no faster than allowed', () => {
  const text = 'A stream that plays for a few seconds, so that its pacing shows in the time it takes to render.';

  it('at 1x after a 500 ms head start, the video takes at least its own length less the head start', async () => {
    const { wallMs, videoMs } = await streamWall(text, { maxSpeed: () => 1, headStartMs: 500 });
    assert.ok(videoMs > 3000, `a ${videoMs} ms video is too short to show pacing`);
    // Lower bound only: a slow machine makes it longer, never shorter.
    assert.ok(wallMs >= videoMs - 500 - 80, `rendered ${videoMs} ms of video in ${wallMs.toFixed(0)} ms`);
  });
});
