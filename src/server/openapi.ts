/** The OpenAPI 3 description of the HTTP API, served at /docs/openapi.json. */
export function openApiDocument(version: string): Record<string, unknown> {
  const error = { $ref: '#/components/responses/Error' };
  const generateBody = {
    type: 'object', required: ['text'],
    properties: {
      text: { type: 'string', description: 'What the avatar says' },
      language: { type: 'string', description: 'auto (default), en, es, zh, fr, de, it, pt, ru' },
      avatar: { type: 'string', description: 'Avatar id (default "default")' },
      voice: { type: 'string', description: 'TTS voice id' },
      fps: { type: 'integer', minimum: 1, maximum: 60 },
      size: { type: 'string', description: '512 or 640x480' },
      async: { type: 'boolean', description: 'Answer 202 with a job id instead of the MP4' },
    },
  };
  const streamParams = ['text', 'language', 'avatar', 'voice', 'fps', 'size'].map((name) => ({ name, in: 'query', required: name === 'text', schema: { type: 'string' } }));
  return {
    openapi: '3.0.3',
    info: { title: 'realtime-avatar', version, description: 'Lip-synced talking-head video from text or audio, as files, progressive streams and realtime sessions.' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } },
      responses: { Error: { description: 'An error', content: { 'application/json': { schema: { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } } } } } } },
      schemas: { GenerateRequest: generateBody },
    },
    security: [{ bearer: [] }, { apiKey: [] }],
    paths: {
      '/health': { get: { summary: 'Status, version, uptime, avatars, encoder, active sessions', security: [], responses: { 200: { description: 'ok' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { 200: { description: 'text exposition format' } } } },
      '/api/v1/generate': {
        post: {
          summary: 'Text (JSON) or a recording (multipart field "file"; fields avatar, fps, size, async) to MP4 (H.264 + AAC); with async: 202 and a job id',
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/GenerateRequest' } }, 'multipart/form-data': {} } },
          responses: { 200: { description: 'the MP4', content: { 'video/mp4': {} } }, 202: { description: 'job accepted' }, 400: error, 401: error, 404: error, 429: error },
        },
      },
      '/api/v1/generate/stream': {
        post: {
          summary: 'Text to fragmented MP4, streamed while it renders',
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/GenerateRequest' } } } },
          responses: { 200: { description: 'fragmented MP4; X-Content-Duration gives seconds', content: { 'video/mp4': {} } }, 400: error, 401: error, 429: error },
        },
        get: { summary: 'Same as POST, with query parameters (usable as <video src>)', parameters: streamParams, responses: { 200: { description: 'fragmented MP4' }, 400: error } },
      },
      '/api/v1/jobs/{id}': { get: { summary: 'State and progress of a job; finished generate jobs give a signed download URL', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'the job' }, 404: error } } },
      '/api/v1/outputs/{tenant}/{file}': { get: { summary: 'Download an output by signed URL (no API key needed)', security: [], parameters: [{ name: 'tenant', in: 'path', required: true, schema: { type: 'string' } }, { name: 'file', in: 'path', required: true, schema: { type: 'string' } }, { name: 'expires', in: 'query', required: true, schema: { type: 'integer' } }, { name: 'sig', in: 'query', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'the file' }, 403: error, 404: error, 410: error } } },
      '/api/v1/avatars': {
        get: { summary: 'Avatars this caller may use', responses: { 200: { description: 'list' } } },
        post: { summary: 'Upload a photo or video (multipart field "file"; optional fields id, name); prepared as a job', requestBody: { content: { 'multipart/form-data': {} } }, responses: { 202: { description: 'job accepted' }, 400: error, 409: error, 413: error, 415: error, 501: error } },
      },
      '/api/v1/avatars/{id}': { delete: { summary: 'Delete an avatar this caller owns', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { 204: { description: 'deleted' }, 404: error, 409: error, 501: error } } },
      '/api/v1/realtime': { get: { summary: 'WebSocket realtime session (see docs/realtime-protocol.md); query: avatar, size, fps, api_key', responses: { 101: { description: 'switching protocols' }, 400: error, 401: error } } },
    },
  };
}
