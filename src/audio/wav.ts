import { AvatarError } from '../core/errors.js';

/** Mono 16-bit PCM and its rate. */
export interface PcmAudio {
  readonly pcm: Int16Array;
  readonly sampleRate: number;
}

/** Encodes mono 16-bit PCM as a RIFF/WAVE file. */
export function encodeWav({ pcm, sampleRate }: PcmAudio): Buffer {
  const dataBytes = pcm.length * 2;
  const out = Buffer.alloc(44 + dataBytes);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20);
  out.writeUInt16LE(1, 22);
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * 2, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(dataBytes, 40);
  Buffer.from(pcm.buffer, pcm.byteOffset, dataBytes).copy(out, 44);
  return out;
}

/** True when the bytes start like a RIFF/WAVE file. */
export function looksLikeWav(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && Buffer.from(bytes.subarray(0, 4)).toString('ascii') === 'RIFF' &&
    Buffer.from(bytes.subarray(8, 12)).toString('ascii') === 'WAVE';
}

/**
 * Decodes a PCM WAV file (8/16/24/32-bit integer or 32-bit float, any channel count) to mono
 * 16-bit. Streaming servers often write 0 or 0xFFFFFFFF as the data size: the data then
 * runs to the end of the file.
 */
export function decodeWav(bytes: Uint8Array): PcmAudio {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!looksLikeWav(buf)) throw new AvatarError('invalid_input', 'not a WAV file (no RIFF/WAVE header)');
  let offset = 12;
  let format: { tag: number; channels: number; sampleRate: number; bits: number } | undefined;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    let size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > buf.length) throw new AvatarError('invalid_input', 'WAV file is cut off inside its format header');
      let tag = buf.readUInt16LE(body);
      if (tag === 0xfffe && size >= 26 && body + 26 <= buf.length) tag = buf.readUInt16LE(body + 24);
      format = { tag, channels: buf.readUInt16LE(body + 2), sampleRate: buf.readUInt32LE(body + 4), bits: buf.readUInt16LE(body + 14) };
    } else if (id === 'data') {
      if (!format) throw new AvatarError('invalid_input', 'WAV file has its data before its format');
      if (size === 0 || size === 0xffffffff || body + size > buf.length) size = buf.length - body;
      return { pcm: toMono16(buf.subarray(body, body + size), format), sampleRate: format.sampleRate };
    }
    offset = body + size + (size & 1);
  }
  throw new AvatarError('invalid_input', 'WAV file has no data chunk');
}

function toMono16(data: Buffer, f: { tag: number; channels: number; bits: number }): Int16Array {
  const bytesPerSample = f.bits / 8;
  const isFloat = f.tag === 3;
  if (f.channels < 1 || !(f.tag === 1 || (isFloat && f.bits === 32)) || ![8, 16, 24, 32].includes(f.bits)) {
    throw new AvatarError('invalid_input', `unsupported WAV encoding (format ${f.tag}, ${f.bits}-bit)`);
  }
  const frames = Math.floor(data.length / (bytesPerSample * f.channels));
  const out = new Int16Array(frames);
  const read = (pos: number): number => {
    if (isFloat) return data.readFloatLE(pos) * 32767;
    switch (f.bits) {
      case 8: return (data[pos]! - 128) * 256;
      case 16: return data.readInt16LE(pos);
      case 24: return data.readIntLE(pos, 3) / 256;
      default: return data.readInt32LE(pos) / 65536;
    }
  };
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < f.channels; c++) sum += read((i * f.channels + c) * bytesPerSample);
    out[i] = Math.max(-32768, Math.min(32767, Math.round(sum / f.channels)));
  }
  return out;
}
