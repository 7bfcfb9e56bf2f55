import { AvatarError } from '../core/errors.js';
import { EspeakTtsProvider } from './espeak.js';
import { OpenAiCompatibleTtsProvider } from './openai-compatible.js';
import type { TtsProvider } from './provider.js';

/** TTS providers by name: `espeak` (built in, default) and `openai` (any compatible server). */
export const TTS_PROVIDERS = ['espeak', 'openai'] as const;

let espeak: EspeakTtsProvider | undefined;

/** The provider named `name` (default `$AVATAR_TTS` or `espeak`), configured from the environment. */
export function createTtsProvider(name: string = process.env.AVATAR_TTS ?? 'espeak'): TtsProvider {
  switch (name) {
    case 'espeak':
      espeak ??= new EspeakTtsProvider();
      return espeak;
    case 'openai':
      return OpenAiCompatibleTtsProvider.fromEnv();
    default:
      throw new AvatarError('invalid_input', `unknown TTS provider "${name}": use ${TTS_PROVIDERS.join(' or ')}`);
  }
}
