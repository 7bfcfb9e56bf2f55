/**
 * Test fakes for code built on realtime-avatar (`realtime-avatar/testing`): a catalog of
 * flat-colour avatars, an in-memory video sink, frames and mouth data of a small drawn
 * avatar, and a local server that speaks OpenAI's speech API.
 */
export { FlatColourRenderer, TestCatalog } from './test-catalog.js';
export { MemorySink, type CapturedFrame } from '../pipeline/memory-sink.js';
export { MemoryFrameSource, syntheticAvatar } from './synthetic-avatar.js';
export { startFakeSpeechServer, type FakeSpeechServer, type FakeSpeechServerOptions } from './openai-speech-server.js';
