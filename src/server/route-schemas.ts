import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifySchema } from 'fastify';
import type { LimitsConfig } from './config.js';

/**
 * The HTTP API's schemas: Fastify validates requests with them and @fastify/swagger
 * generates the OpenAPI document from them. `x-error` is the message a client gets when a
 * value breaks the schema (see validation-errors.ts): a string, or one per failing keyword;
 * `{value}` and `{length}` stand for the value sent and its length.
 */
type ErrorText = string | Record<string, string>;

const withError = <T extends TSchema>(schema: T, error: ErrorText): T => Object.assign(schema, { 'x-error': error });

/** The JSON body of every error response. */
export const ErrorBody = Type.Object({
  error: Type.String({ description: 'Machine-readable kind: invalid_input, unknown_avatar, too_large, rate_limited, draining, ...' }),
  message: Type.String({ description: 'What went wrong, for a person' }),
}, { $id: 'ErrorBody', description: 'An error' });

const ErrorRef = Type.Ref('ErrorBody');
const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, ErrorRef]));
const binary = (description: string, type = 'video/mp4') => ({ description, content: { [type]: { schema: { type: 'string', format: 'binary' } } } });

/** Every shared schema, added to the app once so `$ref`s resolve (and listed under components in the document). */
export const SHARED_SCHEMAS: TSchema[] = [ErrorBody];

const AVATAR_ID = '^[a-z0-9_][a-z0-9_-]{0,63}$';
const SIZE = '^\\s*\\d{1,5}(?:\\s*[xX]\\s*\\d{1,5})?\\s*$';

/** The picture options shared by text and audio generations. */
function renderOptions(limits: LimitsConfig) {
  return {
    avatar: Type.Optional(withError(Type.String({ pattern: AVATAR_ID, description: 'Avatar id (default "default")' }), 'avatar id {value} must be lowercase letters, digits, _ or - (at most 64)')),
    fps: Type.Optional(withError(Type.Integer({ minimum: limits.minFps, maximum: limits.maxFps, description: 'Frames per second (default 25)' }), `"fps" must be a whole number from ${limits.minFps} to ${limits.maxFps}, got {value}`)),
    size: Type.Optional(withError(Type.Union([Type.Integer({ minimum: 1, maximum: limits.maxSize }), Type.String({ pattern: SIZE })], { description: `Frame size: 512 (square) or "640x480"; sides at most ${limits.maxSize}` }), `"size" must look like 512 or "640x480", with sides at most ${limits.maxSize}; got {value}`)),
  };
}

/** Fields of a text generation (the JSON body of generate and stream, the query of a GET stream). */
function textGeneration(limits: LimitsConfig, withAsync: boolean) {
  return {
    text: withError(Type.String({ maxLength: limits.maxTextChars, pattern: '[\\p{L}\\p{N}]', description: 'What the avatar says' }), {
      type: '"text" is required and must be a string', required: '"text" is required and must be a string',
      maxLength: `"text" is {length} characters; the limit is ${limits.maxTextChars}`, pattern: 'nothing to say: "text" is empty',
    }),
    language: Type.Optional(withError(Type.String({ maxLength: 32, description: '"auto" (default: detected from the text) or a language code the TTS speaks (ISO 639: en, es, zh, ja, ko, ar, hi, ...; every espeak-ng language)' }), '"language" must be a string such as "en" or "auto"')),
    lang: Type.Optional(withError(Type.String({ maxLength: 32, description: 'Same as "language"' }), '"lang" must be a string such as "en" or "auto"')),
    voice: Type.Optional(withError(Type.String({ pattern: '^[\\w.+-]{1,64}$', description: 'TTS voice id' }), '"voice" must be a voice id such as "en-us" (letters, digits, . + - _)')),
    ...renderOptions(limits),
    ...(withAsync ? { async: Type.Optional(withError(Type.Boolean({ description: 'Answer 202 with a job id instead of the MP4' }), '"async" must be true or false')) } : {}),
    api_key: Type.Optional(Type.String({ description: 'API key (prefer the Authorization or x-api-key header)' })),
  };
}

const objectError = { type: 'the request must be a JSON object with at least "text"', additionalProperties: 'unknown field: {value}' };

/** Body of POST /api/v1/generate (JSON). */
export function generateBody(limits: LimitsConfig) {
  return withError(Type.Object(textGeneration(limits, true), { additionalProperties: false, $id: 'GenerateRequest' }), objectError);
}

/** The multipart form of POST /api/v1/generate (an audio upload); documented, checked by the upload handler. */
export function audioUploadForm(limits: LimitsConfig) {
  return Type.Object({ file: Type.String({ format: 'binary', description: 'The recording (WAV, MP3, OGG/Opus, FLAC, M4A)' }), ...renderOptions(limits), async: Type.Optional(Type.Boolean()) });
}

const JobAccepted = Type.Object({
  id: Type.String({ description: 'Job id' }),
  avatar: Type.Optional(Type.String()),
  state: Type.Literal('queued'),
  status: Type.String({ description: 'Where to poll: /api/v1/jobs/{id}' }),
}, { description: 'Job accepted (Location header: the job)' });

const Job = Type.Object({
  id: Type.String(),
  kind: Type.String({ description: 'generate or prepare-avatar' }),
  state: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed')]),
  progress: Type.Number({ minimum: 0, maximum: 1 }),
  createdAt: Type.String({ format: 'date-time' }),
  finishedAt: Type.Optional(Type.String({ format: 'date-time' })),
  error: Type.Optional(Type.Object({ error: Type.String(), message: Type.String() })),
  result: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'generate: url (signed download), expiresAt, durationS, frames, fps, width, height, encoder, generationMs; prepare-avatar: avatar, kind, format, ...' })),
}, { description: 'A job' });

const Avatar = Type.Object({
  id: Type.String(), name: Type.String(), renderer: Type.String(), width: Type.Integer(), height: Type.Integer(), fps: Type.Number(),
  status: Type.Union([Type.Literal('ready'), Type.Literal('broken')]), reason: Type.Optional(Type.String()), loaded: Type.Boolean(), builtin: Type.Boolean(),
  owner: Type.Union([Type.String(), Type.Null()], { description: 'Tenant that owns it; null when shared' }),
}, { additionalProperties: true });

const idParam = (what: string) => Type.Object({ id: Type.String({ maxLength: 64, description: what }) });
const open = { security: [] };

/** Schemas of every route, by route; built from the configured limits. */
export function routeSchemas(limits: LimitsConfig) {
  const body = generateBody(limits);
  const streamQuery = withError(Type.Object(textGeneration(limits, false), { additionalProperties: false }), { ...objectError, type: 'the query must have at least "text"' });
  return {
    health: {
      summary: 'Alive: status, version, uptime, avatars, encoder, sessions, jobs', tags: ['system'], ...open,
      response: {
        200: Type.Object({
          status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]), version: Type.String(), uptimeS: Type.Integer(),
          avatars: Type.Object({ known: Type.Integer(), loaded: Type.Integer(), broken: Type.Integer() }),
          encoder: Type.String(), tts: Type.String(), auth: Type.Boolean(), activeSessions: Type.Integer(),
          jobs: Type.Object({ running: Type.Integer(), queued: Type.Integer() }), queue: Type.Union([Type.Literal('in-process'), Type.Literal('redis')]), draining: Type.Boolean(),
        }),
      },
    },
    ready: {
      summary: 'Ready: 200 while the server takes new work, 503 while draining, without an encoder or at the session limit', tags: ['system'], ...open,
      response: { 200: Type.Object({ ready: Type.Literal(true), activeSessions: Type.Integer(), queueDepth: Type.Integer() }), 503: ErrorRef },
    },
    protocol: {
      summary: 'JSON Schema of the realtime protocol\'s text messages (RealtimeClientMessage, RealtimeServerEvent)', tags: ['realtime'], ...open,
      response: { 200: Type.Object({}, { additionalProperties: true, description: 'A JSON Schema document' }) },
    },
    metrics: { summary: 'Prometheus metrics (text exposition format)', tags: ['system'], ...open, response: { 200: binary('Prometheus text', 'text/plain') } },
    generate: {
      summary: 'Text (JSON) or a recording (multipart: file, avatar, fps, size, async) to MP4 (H.264 + AAC); with async: 202 and a job id', tags: ['generate'],
      body: { content: { 'application/json': { schema: body } } },
      response: { 200: binary('The MP4 (X-Content-Duration, X-Generation-Ms, X-Encoder headers)'), 202: JobAccepted, ...errors(400, 401, 404, 413, 415, 429, 503) },
    },
    streamPost: {
      summary: 'Text to fragmented MP4, streamed while it renders', tags: ['generate'],
      body, response: { 200: binary('Fragmented MP4; X-Content-Duration gives seconds'), ...errors(400, 401, 404, 429, 503) },
    },
    streamGet: {
      summary: 'Same as POST, with query parameters (usable as <video src>)', tags: ['generate'],
      querystring: streamQuery, response: { 200: binary('Fragmented MP4'), ...errors(400, 401, 404, 429, 503) },
    },
    job: {
      summary: 'State and progress of a job; finished generate jobs give a signed download URL', tags: ['generate'],
      params: idParam('Job id'), response: { 200: Job, ...errors(401, 404) },
    },
    output: {
      summary: 'Download an output by signed URL (no API key needed)', tags: ['generate'], ...open,
      params: Type.Object({ tenant: Type.String({ maxLength: 64 }), file: Type.String({ maxLength: 64 }) }),
      querystring: Type.Object({ expires: Type.Optional(Type.String({ description: 'Expiry, ms since 1970' })), sig: Type.Optional(Type.String({ description: 'Signature' })) }),
      response: { 200: binary('The MP4'), ...errors(403, 404, 410) },
    },
    avatars: {
      summary: 'Avatars this caller may use', tags: ['avatars'],
      response: { 200: Type.Object({ avatars: Type.Array(Avatar) }), ...errors(401) },
    },
    avatarUpload: {
      summary: 'Upload a photo or video (multipart: file, optional id and name); prepared as a job', tags: ['avatars'],
      response: { 202: JobAccepted, ...errors(400, 401, 409, 413, 415, 429, 501, 503) },
    },
    avatarDelete: {
      summary: 'Delete an avatar this caller owns', tags: ['avatars'],
      params: idParam('Avatar id'), response: { 204: Type.Null({ description: 'Deleted' }), ...errors(401, 403, 404, 409, 501) },
    },
    realtime: {
      summary: 'WebSocket realtime session (protocol: docs/realtime-protocol.md, message schemas: /docs/realtime-protocol.schema.json)', tags: ['realtime'],
      querystring: Type.Object({
        avatar: renderOptions(limits).avatar,
        size: Type.Optional(Type.String({ pattern: SIZE, description: 'Frame size: 512 or 640x480 (default: the configured realtime size)' })),
        fps: Type.Optional(Type.Integer({ minimum: limits.minFps, maximum: limits.maxFps })),
        api_key: Type.Optional(Type.String({ description: 'API key (browsers cannot set headers on a WebSocket)' })),
      }, { additionalProperties: false }),
      response: { 101: { description: 'Switching protocols: the session starts' }, ...errors(400, 401, 404, 503) },
    },
    realtimeWebRtc: {
      summary: 'WebRTC realtime session, WHEP-style: the body is the client\'s SDP offer (application/sdp), the answer is the SDP answer; control over the "control" data channel (docs/realtime-protocol.md)', tags: ['realtime'],
      querystring: Type.Object({
        avatar: renderOptions(limits).avatar,
        size: Type.Optional(Type.String({ pattern: SIZE, description: 'Frame size: 512 or 640x480 (default: the configured realtime size)' })),
        fps: Type.Optional(Type.Integer({ minimum: limits.minFps, maximum: limits.maxFps })),
      }, { additionalProperties: false }),
      body: { content: { 'application/sdp': { schema: Type.String({ description: 'SDP offer', maxLength: 65536 }) } } },
      response: { 201: { description: 'SDP answer; Location names the session for DELETE', content: { 'application/sdp': { schema: Type.String() } } }, ...errors(400, 401, 404, 415, 503) },
    },
    realtimeWebRtcDelete: {
      summary: 'End a WebRTC realtime session', tags: ['realtime'],
      params: idParam('Session id (from the Location of the POST answer)'), response: { 204: Type.Null({ description: 'Ended' }), ...errors(401, 404) },
    },
  } satisfies Record<string, FastifySchema & Record<string, unknown>>;
}
