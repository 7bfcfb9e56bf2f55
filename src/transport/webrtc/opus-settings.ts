/** Opus in WebRTC runs at 48 kHz; one packet carries 20 ms. */
export const OPUS_RATE = 48000;
/** Duration of one Opus frame, ms. */
export const OPUS_FRAME_MS = 20;
/** Samples in one frame. */
export const OPUS_FRAME_SAMPLES = (OPUS_RATE * OPUS_FRAME_MS) / 1000;
/** Opus CTLs (opus_defines.h). */
export const OPUS_SET_BITRATE = 4002;
export const OPUS_SET_COMPLEXITY = 4010;
/** Speech bitrate, bit/s: clear voice at a small fraction of the video's. */
export const OPUS_BITRATE = 32000;
/** Encoder effort 0..10: 5 sounds like 10 for speech at about half the CPU. */
export const OPUS_COMPLEXITY = 5;
