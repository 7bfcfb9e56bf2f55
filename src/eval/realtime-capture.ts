import sharp from 'sharp';
import type { MediaMessage } from '../client/protocol.js';
import { rgbToI420 } from '../compose/color-convert.js';
import { AvatarError } from '../core/errors.js';
import { chooseEncoder } from '../encode/encoder-probe.js';
import { Mp4FileWriter } from '../encode/mp4-writer.js';

type VideoMessage = Extract<MediaMessage, { kind: 'video' }>;
type AudioMessage = Extract<MediaMessage, { kind: 'audio' }>;

/** What a realtime session delivered, as a client received it. */
export interface SessionRecording {
  readonly fps: number;
  readonly frames: readonly VideoMessage[];
  readonly audio: readonly AudioMessage[];
}

/**
 * Rebuilds what a client shows from a recorded realtime session, as an MP4: each frame slot
 * from its JPEG (with the mouth patch drawn over the picture, as the protocol says), a slot
 * that never arrived repeats the previous picture, and every audio chunk is placed at its
 * presentation time on the same clock. The clip starts at the first frame received, so
 * lip sync, stillness and offsets can be measured like any video's.
 */
export async function sessionToMp4(recording: SessionRecording, output: string): Promise<{ frames: number; missing: number; width: number; height: number }> {
  const frames = [...recording.frames].sort((a, b) => a.index - b.index);
  if (frames.length === 0) throw new AvatarError('invalid_input', 'the session delivered no frames');
  const first = frames[0]!;
  const startMs = first.ptsMs;
  const meta = await sharp(first.jpeg).metadata();
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  const sampleRate = recording.audio[0]?.sampleRate ?? 16000;
  const lastFrameEnd = frames[frames.length - 1]!.ptsMs + 1000 / recording.fps;
  const audioEnd = Math.max(lastFrameEnd, ...recording.audio.map((a) => a.ptsMs + (a.pcm.length * 1000) / a.sampleRate));
  const pcm = new Int16Array(Math.ceil(((audioEnd - startMs) * sampleRate) / 1000));
  for (const chunk of recording.audio) {
    if (chunk.sampleRate !== sampleRate) throw new AvatarError('invalid_input', `audio chunks change rate (${sampleRate} then ${chunk.sampleRate} Hz)`);
    const at = Math.round(((chunk.ptsMs - startMs) * sampleRate) / 1000);
    if (at >= 0) pcm.set(chunk.pcm.subarray(0, Math.max(0, pcm.length - at)), at);
  }
  const writer = await Mp4FileWriter.open({ path: output, width, height, fps: recording.fps, sampleRate, encoder: await chooseEncoder() });
  let missing = 0;
  try {
    writer.writeAudio(pcm);
    writer.endAudio();
    let previous: Uint8Array | undefined;
    let next = 0;
    const lastIndex = frames[frames.length - 1]!.index;
    for (let slot = first.index; slot <= lastIndex; slot++) {
      let picture = previous;
      if (frames[next]?.index === slot) {
        picture = await decodeFrame(frames[next]!, width, height);
        next++;
      } else {
        missing++;
      }
      previous = picture;
      await writer.writeFrame({ width, height, data: picture!, ptsMs: (slot - first.index) * (1000 / recording.fps) });
    }
    await writer.finish();
  } catch (e) {
    await writer.abort();
    throw e;
  }
  return { frames: frames[frames.length - 1]!.index - first.index + 1, missing, width, height };
}

/** A frame's picture as I420: the JPEG, with the mouth patch composited when there is one. */
async function decodeFrame(frame: VideoMessage, width: number, height: number): Promise<Uint8Array> {
  let image = sharp(frame.jpeg);
  if (frame.patch) image = image.composite([{ input: Buffer.from(frame.patch.jpeg), left: frame.patch.x, top: frame.patch.y }]);
  const rgb = await image.removeAlpha().resize(width, height, { fit: 'fill' }).raw().toBuffer();
  return rgbToI420(new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.length), width, height);
}
