import type { Speech } from '../core/speech.js';
import type { TtsProvider, TtsRequest, VoiceInfo } from './provider.js';

/**
 * Several instances of one TTS provider behind the TtsProvider interface: each synthesis
 * goes to the instance with the fewest running, so one long text never delays another
 * session's first sentence behind it (espeak-ng runs one worker thread per instance).
 */
export class TtsPool implements TtsProvider {
  readonly name: string;
  private readonly busy: number[];

  constructor(private readonly members: readonly TtsProvider[]) {
    if (members.length === 0) throw new Error('a TTS pool needs at least one provider');
    this.name = members[0]!.name;
    this.busy = members.map(() => 0);
  }

  async *synthesize(request: TtsRequest, signal?: AbortSignal): AsyncIterable<Speech> {
    let pick = 0;
    for (let i = 1; i < this.members.length; i++) if (this.busy[i]! < this.busy[pick]!) pick = i;
    this.busy[pick]!++;
    try {
      yield* this.members[pick]!.synthesize(request, signal);
    } finally {
      this.busy[pick]!--;
    }
  }

  listVoices(): Promise<readonly VoiceInfo[]> {
    return this.members[0]!.listVoices();
  }

  checkVoice(voice: string, language: string): Promise<void> {
    return this.members[0]!.checkVoice(voice, language);
  }

  /** Stops every member's engine. */
  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => m.close?.() ?? Promise.resolve()));
  }

  /** Starts every member's engine. */
  async warmUp(): Promise<void> {
    await Promise.all(this.members.map((m) => m.warmUp?.() ?? Promise.resolve()));
  }
}
