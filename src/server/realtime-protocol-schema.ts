import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { ClientMessage, ServerEvent } from '../client/protocol.js';

/**
 * JSON Schema of the realtime protocol's text messages (docs/realtime-protocol.md), served
 * at /docs/realtime-protocol.schema.json. Binary frames (media headers, PCM) are described
 * in the protocol document; these are the JSON ones.
 */
const ptsMs = Type.Number({ description: 'Presentation time on the session clock, ms (slot n is at n * frameMs)' });

/** Messages a client sends. */
export const ClientMessageSchema = Type.Union([
  Type.Object({ type: Type.Literal('speak'), text: Type.String({ minLength: 1 }), language: Type.Optional(Type.String()), voice: Type.Optional(Type.String()), id: Type.Optional(Type.String()) }, { title: 'speak' }),
  Type.Object({ type: Type.Literal('interrupt') }, { title: 'interrupt' }),
  Type.Object({ type: Type.Literal('audio.start'), sampleRate: Type.Optional(Type.Integer({ minimum: 8000, maximum: 96000 })), echo: Type.Optional(Type.Boolean()), id: Type.Optional(Type.String()) }, { title: 'audio.start', description: 'Binary frames of 16-bit little-endian mono PCM follow until audio.end' }),
  Type.Object({ type: Type.Literal('audio.end') }, { title: 'audio.end' }),
  Type.Object({ type: Type.Literal('avatar'), avatar: Type.String() }, { title: 'avatar' }),
  Type.Object({ type: Type.Literal('ping'), t: Type.Optional(Type.Number()) }, { title: 'ping' }),
], { $id: 'RealtimeClientMessage', description: 'A JSON text frame from the client' });

/** Events the server sends. */
export const ServerEventSchema = Type.Union([
  Type.Object({ type: Type.Literal('session.started'), sessionId: Type.String(), avatar: Type.String(), fps: Type.Number(), width: Type.Integer(), height: Type.Integer(), frameMs: Type.Number() }, { title: 'session.started' }),
  Type.Object({ type: Type.Literal('speech.started'), id: Type.String(), ptsMs, source: Type.Union([Type.Literal('tts'), Type.Literal('audio')]) }, { title: 'speech.started' }),
  Type.Object({ type: Type.Literal('speech.ended'), id: Type.String(), ptsMs, reason: Type.Union([Type.Literal('done'), Type.Literal('interrupted'), Type.Literal('error')]) }, { title: 'speech.ended' }),
  Type.Object({ type: Type.Literal('avatar.changed'), avatar: Type.String(), ptsMs }, { title: 'avatar.changed' }),
  Type.Object({ type: Type.Literal('pong'), t: Type.Optional(Type.Number()), ptsMs }, { title: 'pong' }),
  Type.Object({ type: Type.Literal('video.bitrate'), kbps: Type.Number(), reason: Type.Union([Type.Literal('loss'), Type.Literal('estimate'), Type.Literal('clear')]) }, { title: 'video.bitrate', description: 'WebRTC only: the video rate changed with what the receiver reports' }),
  Type.Object({ type: Type.Literal('error'), error: Type.String(), message: Type.String() }, { title: 'error' }),
], { $id: 'RealtimeServerEvent', description: 'A JSON text frame from the server' });

// The schemas and the protocol's TypeScript types describe the same messages (checked by the compiler).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameClient: Same<Static<typeof ClientMessageSchema>, ClientMessage> = true;
const sameServer: Same<Static<typeof ServerEventSchema>, ServerEvent> = true;
void sameClient;
void sameServer;

/** The protocol's JSON Schema document (draft 2020-12 style, both message sets under $defs). */
export function realtimeProtocolSchema(): Record<string, unknown> {
  const strip = (schema: TSchema) => JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'realtime-protocol.schema.json',
    title: 'realtime-avatar realtime session protocol (JSON text frames)',
    description: 'WebSocket /api/v1/realtime. Text frames are JSON: the client sends RealtimeClientMessage, the server sends RealtimeServerEvent. Binary frames carry media (server: 16-byte header + JPEG or PCM) and PCM (client, between audio.start and audio.end); see docs/realtime-protocol.md.',
    $defs: { RealtimeClientMessage: strip(ClientMessageSchema), RealtimeServerEvent: strip(ServerEventSchema) },
  };
}
