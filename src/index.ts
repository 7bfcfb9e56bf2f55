/**
 * realtime-avatar: make an avatar speak. Text or audio in, a lip-synced talking-head video
 * out. The library API under the `avatar` command.
 */
export { say, validateSayOptions, type SayOptions, type SayResult, type SayProgress } from './say.js';
export { AvatarError, type AvatarErrorCode } from './core/errors.js';
export type { VideoFrame } from './core/frame.js';
export type { Speech, PhonemeTiming, WordTiming } from './core/speech.js';
export type { TtsProvider, TtsRequest, VoiceInfo } from './tts/provider.js';
export { EspeakTtsProvider } from './tts/espeak.js';
export { OpenAiCompatibleTtsProvider, type OpenAiTtsConfig } from './tts/openai-compatible.js';
export { createTtsProvider } from './tts/create-tts.js';
export { resolveLanguage, detectLanguage, LANGUAGES } from './tts/language.js';
export type { MouthParams, MouthFrame, MouthTracker } from './visemes/mouth-params.js';
export { PhonemeMouthTracker } from './visemes/phoneme-track.js';
export { AudioMouthTracker } from './audio/audio-mouth-track.js';
export type { Renderer } from './render/renderer.js';
export { ParametricRenderer } from './render/parametric/parametric-renderer.js';
export { chooseEncoder, type H264Encoder } from './encode/encoder-probe.js';
export { locateFfmpeg } from './encode/ffmpeg.js';
export { createAvatarServer, type AvatarServer, type AvatarServerOptions } from './server/app.js';
export { loadServerConfig, validateConfig, DEFAULT_CONFIG, type ServerConfig } from './server/config.js';
export type { AvatarPreparer, PrepareTarget } from './server/avatar-preparer.js';
export { RealtimeClient, type RealtimeHandlers, type WebSocketConstructor } from './client/realtime-client.js';
export type { ClientMessage, ServerEvent, MediaMessage } from './client/protocol.js';
export { Fmp4StreamWriter } from './encode/fmp4-stream.js';
export { SharpJpegEncoder, type JpegEncoder } from './compose/jpeg.js';
