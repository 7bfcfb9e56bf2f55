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
export { BuiltinAvatarCatalog, type AvatarCatalog, type AvatarSummary, type RendererRequest } from './avatars/catalog.js';
export { AvatarRegistry, type RegistryOptions, type RegistryStats } from './avatars/registry.js';
export { FrameCache, type EvictionPolicy } from './avatars/frame-cache.js';
export { prepareAvatar, listPrepareInputs, avatarIdFromName, type PrepareOptions, type PrepareResult } from './avatars/prepare.js';
export { FolderAvatarPreparer } from './avatars/folder-preparer.js';
export { MeshFaceLandmarker, type FaceLandmarker, type FaceGeometry } from './avatars/face-landmarks.js';
export type { AvatarManifest, MouthFile } from './avatars/manifest.js';
export { WarpRenderer } from './render/warp/warp-renderer.js';
export { SelectRenderer } from './render/select/select-renderer.js';
export { speechToMp4, type SpeechToMp4Options } from './pipeline/speech-to-mp4.js';
export { ParametricRenderer } from './render/parametric/parametric-renderer.js';
export { chooseEncoder, type H264Encoder } from './encode/encoder-probe.js';
export { locateFfmpeg } from './encode/ffmpeg.js';
export { runSuite, runScenario, skipReason, type RunOptions } from './eval/scenario-runner.js';
export { loadSuite, parseSuite, type Suite, type Scenario, type ScenarioChecks } from './eval/scenario.js';
export type { EvalReport, ScenarioResult } from './eval/result.js';
export { analyzeTalkingHead, parseMouthBox, type VideoAnalysis } from './eval/video-metrics.js';
export { measureAvOffset, bt1359Verdict, type AvOffset } from './eval/av-offset.js';
export { trackPitch, summarizePitch, type PitchSummary } from './eval/pitch.js';
export { compareReports, loadReport, type Comparison } from './eval/compare.js';
export { createAvatarServer, type AvatarServer, type AvatarServerOptions } from './server/app.js';
export { loadServerConfig, validateConfig, DEFAULT_CONFIG, type ServerConfig } from './server/config.js';
export type { AvatarPreparer, PrepareTarget } from './avatars/avatar-preparer.js';
export { RealtimeClient, type RealtimeHandlers, type WebSocketConstructor } from './client/realtime-client.js';
export type { ClientMessage, ServerEvent, MediaMessage } from './client/protocol.js';
export { Fmp4StreamWriter } from './encode/fmp4-stream.js';
export { SharpJpegEncoder, type JpegEncoder } from './compose/jpeg.js';
