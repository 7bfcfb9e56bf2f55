import { open } from 'node:fs/promises';
import { AvatarError } from '../core/errors.js';
import { probeMedia } from '../encode/media-probe.js';

/** What an uploaded file is, judged by its content. */
export type UploadKind = 'image' | 'video' | 'audio';

/** Recognizes a file's type from its first bytes; undefined when it is none we accept. */
export function sniffMedia(head: Uint8Array): { kind: UploadKind; format: string } | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to));
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return { kind: 'image', format: 'jpeg' };
  if (head[0] === 0x89 && ascii(1, 4) === 'PNG') return { kind: 'image', format: 'png' };
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return { kind: 'image', format: 'webp' };
  if (ascii(4, 8) === 'ftyp') {
    const brand = ascii(8, 12);
    return /^M4A|^M4B/.test(brand) ? { kind: 'audio', format: 'm4a' } : { kind: 'video', format: brand.startsWith('qt') ? 'mov' : 'mp4' };
  }
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return { kind: 'video', format: 'webm' };
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'AVI ') return { kind: 'video', format: 'avi' };
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WAVE') return { kind: 'audio', format: 'wav' };
  if (ascii(0, 4) === 'OggS') return { kind: 'audio', format: 'ogg' };
  if (ascii(0, 4) === 'fLaC') return { kind: 'audio', format: 'flac' };
  if (ascii(0, 3) === 'ID3' || (head[0] === 0xff && (head[1]! & 0xe0) === 0xe0)) return { kind: 'audio', format: 'mp3' };
  return undefined;
}

/** Reads the first bytes of a file. */
export async function readHead(path: string, bytes = 64): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const buffer = new Uint8Array(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * Confirms with the media probe that the file really holds a decodable stream of the
 * sniffed kind: a renamed or truncated file fails here with a clear message.
 */
export async function checkUploadedMedia(path: string, kind: UploadKind): Promise<{ width?: number; height?: number; durationS?: number }> {
  const probe = await probeMedia(path).catch(() => undefined);
  const stream = kind === 'audio' ? probe?.audio : probe?.video;
  if (!probe || !stream || (kind !== 'audio' && !(probe.video!.width > 0 && probe.video!.height > 0))) {
    throw new AvatarError('invalid_input', `the uploaded file is not a readable ${kind}`);
  }
  return {
    ...(kind !== 'audio' ? { width: probe.video!.width, height: probe.video!.height } : {}),
    ...(probe.durationMs > 0 ? { durationS: probe.durationMs / 1000 } : {}),
  };
}
