declare module '@echogarden/espeak-ng-emscripten' {
  /** One event espeak-ng reports while synthesizing; audio_position is in ms. */
  export interface EspeakEvent {
    type: 'sentence' | 'word' | 'phoneme' | 'end' | 'mark' | 'play' | 'msg_terminated' | 'list_terminated' | 'samplerate';
    text_position: number;
    word_length: number;
    audio_position: number;
    id?: string | number;
  }
  export interface EspeakVoiceEntry {
    name: string;
    identifier: string;
    languages: { priority: number; name: string }[];
  }
  export interface EspeakWorker {
    set_voice(voice: string): number;
    set_rate(wpm: number): number;
    set_pitch(pitch: number): number;
    set_range(range: number): number;
    list_voices(): EspeakVoiceEntry[];
    synthesize(text: string, callback: (samples: Int16Array, events: EspeakEvent[]) => boolean | void): void;
  }
  export interface EspeakModule {
    eSpeakNGWorker: new () => EspeakWorker;
    FS: { readdir(path: string): string[] };
  }
  const initialize: () => Promise<EspeakModule>;
  export default initialize;
}
