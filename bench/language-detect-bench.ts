/**
 * Which language detector names short texts right: tinyld, eld (small) and franc-min on
 * LANGUAGE_SAMPLES, plus the project's detector as used by `--lang auto`. Prints accuracy
 * per detector and the texts each got wrong.
 *   npm run build && node dist/bench/language-detect-bench.js
 */
import { eld } from 'eld/small';
import { franc } from 'franc-min';
import { detect as tinyld } from 'tinyld';
import { detectLanguage } from '../src/tts/language.js';
import { LANGUAGE_SAMPLES } from './language-samples.js';

const ISO3: Record<string, string> = {
  eng: 'en', spa: 'es', fra: 'fr', deu: 'de', ita: 'it', por: 'pt', nld: 'nl', pol: 'pl', swe: 'sv', tur: 'tr', rus: 'ru', ukr: 'uk',
  ell: 'el', arb: 'ar', pes: 'fa', heb: 'he', hin: 'hi', cmn: 'zh', jpn: 'ja', kor: 'ko', tha: 'th', vie: 'vi',
};

const detectors: Record<string, (text: string) => string> = {
  tinyld: (t) => tinyld(t) || 'und',
  'eld (small)': (t) => eld.detect(t).language || 'und',
  'franc-min': (t) => { const c = franc(t, { minLength: 1 }); return ISO3[c] ?? c; },
  project: (t) => detectLanguage(t),
};

const samples = Object.entries(LANGUAGE_SAMPLES).flatMap(([lang, texts]) => texts.map((text) => ({ lang, text })));
for (const [name, detect] of Object.entries(detectors)) {
  const t0 = performance.now();
  const wrong = samples.map((s) => ({ ...s, got: detect(s.text) })).filter((s) => s.got !== s.lang);
  const ms = (performance.now() - t0) / samples.length;
  console.log(`${name.padEnd(12)} ${samples.length - wrong.length}/${samples.length} right (${(100 * (1 - wrong.length / samples.length)).toFixed(1)}%), ${ms.toFixed(3)} ms/text`);
  for (const w of wrong) console.log(`    ${w.lang} -> ${w.got}: ${w.text}`);
}
