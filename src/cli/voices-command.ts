import { parseArgs } from 'node:util';
import { createTtsProvider } from '../tts/create-tts.js';
import { resolveLanguage } from '../tts/language.js';

/** `avatar voices`: the voices of the configured TTS provider, optionally for one language. */
export async function runVoices(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: { lang: { type: 'string' }, tts: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const tts = createTtsProvider(values.tts);
  let voices = await tts.listVoices();
  if (values.lang) {
    const code = resolveLanguage(values.lang, '').code;
    const prefixes = code === 'zh' ? ['zh', 'cmn'] : [code];
    voices = voices.filter((v) => v.languages.some((l) => prefixes.some((p) => l === p || l.startsWith(`${p}-`))));
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(voices, null, 2)}\n`);
    return 0;
  }
  const width = Math.max(...voices.map((v) => v.id.length), 4);
  for (const v of voices) process.stdout.write(`${v.id.padEnd(width)}  ${v.name}${v.languages.length ? `  [${v.languages.join(', ')}]` : ''}\n`);
  return 0;
}
