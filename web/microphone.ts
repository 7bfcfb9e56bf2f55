import { StreamingPcmResampler } from '../src/client/pcm-resampler.js';

/**
 * Captures the microphone as 16 kHz mono 16-bit PCM chunks (the realtime protocol's input
 * format). A ScriptProcessor keeps it to one file with no worklet module to serve.
 */
export class MicrophoneCapture {
  private stream: MediaStream | undefined;
  private processor: ScriptProcessorNode | undefined;
  private source: MediaStreamAudioSourceNode | undefined;
  private mute: GainNode | undefined;

  constructor(private readonly audio: AudioContext, private readonly onPcm: (pcm: Int16Array) => void) {}

  get active(): boolean {
    return this.stream !== undefined;
  }

  async start(): Promise<void> {
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } });
    this.source = this.audio.createMediaStreamSource(this.stream);
    this.processor = this.audio.createScriptProcessor(2048, 1, 1);
    this.mute = this.audio.createGain();
    this.mute.gain.value = 0;
    const resampler = new StreamingPcmResampler(this.audio.sampleRate, 16000);
    this.processor.onaudioprocess = (event) => {
      const pcm = resampler.push(event.inputBuffer.getChannelData(0));
      if (pcm.length) this.onPcm(pcm);
    };
    this.source.connect(this.processor);
    this.processor.connect(this.mute);
    this.mute.connect(this.audio.destination);
  }

  stop(): void {
    this.processor?.disconnect();
    this.source?.disconnect();
    this.mute?.disconnect();
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = undefined;
  }
}
