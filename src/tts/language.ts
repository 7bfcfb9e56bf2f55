import { AvatarError } from '../core/errors.js';

/** A language the project speaks out of the box. */
export interface LanguageInfo {
  readonly code: string;
  readonly name: string;
  /** The espeak-ng voice used when none is asked for. */
  readonly espeakVoice: string;
}

/** The languages with a tuned default voice; espeak-ng speaks many more (see `avatar voices`). */
export const LANGUAGES: readonly LanguageInfo[] = [
  { code: 'en', name: 'English', espeakVoice: 'en-us' },
  { code: 'es', name: 'Spanish', espeakVoice: 'es' },
  { code: 'zh', name: 'Mandarin Chinese', espeakVoice: 'cmn' },
  { code: 'fr', name: 'French', espeakVoice: 'fr' },
  { code: 'de', name: 'German', espeakVoice: 'de' },
  { code: 'it', name: 'Italian', espeakVoice: 'it' },
  { code: 'pt', name: 'Portuguese', espeakVoice: 'pt' },
  { code: 'ru', name: 'Russian', espeakVoice: 'ru' },
];

const ALIASES: Record<string, string> = {
  'en-us': 'en', 'en-gb': 'en', english: 'en',
  'es-es': 'es', 'es-419': 'es', 'es-mx': 'es', spanish: 'es', espanol: 'es', 'español': 'es',
  'zh-cn': 'zh', 'zh-hans': 'zh', cmn: 'zh', mandarin: 'zh', chinese: 'zh',
  'fr-fr': 'fr', 'de-de': 'de', 'it-it': 'it', 'pt-br': 'pt', 'pt-pt': 'pt', 'ru-ru': 'ru',
};

/**
 * Normalizes a user-given language (`en`, `EN-us`, `zh-CN`, `auto`, ...) to a code in
 * LANGUAGES, detecting it from `text` for `auto`. Unknown codes are an `unknown_language`
 * error that lists what is supported.
 */
export function resolveLanguage(requested: string | undefined, text: string): LanguageInfo {
  const wanted = (requested ?? 'auto').trim().toLowerCase();
  const code = wanted === 'auto' ? detectLanguage(text) : (ALIASES[wanted] ?? wanted);
  const info = LANGUAGES.find((l) => l.code === code);
  if (!info) {
    throw new AvatarError(
      'unknown_language',
      `unknown language "${requested}": use auto or one of ${LANGUAGES.map((l) => l.code).join(', ')}`,
    );
  }
  return info;
}

const STOPWORDS: Record<string, readonly string[]> = {
  en: ['the', 'and', 'is', 'are', 'you', 'i', 'to', 'of', 'a', 'in', 'it', 'that', 'with', 'for', 'this', 'hello', 'am', 'your', 'my', 'we', 'what', 'how'],
  es: ['el', 'la', 'los', 'las', 'y', 'es', 'de', 'que', 'en', 'un', 'una', 'por', 'con', 'para', 'hola', 'cómo', 'como', 'estás', 'está', 'soy', 'muy', 'qué', 'gracias', 'buenos', 'yo', 'tu', 'su'],
  fr: ['le', 'la', 'les', 'et', 'est', 'de', 'que', 'un', 'une', 'pour', 'avec', 'bonjour', 'je', 'vous', 'nous', 'pas', 'ce', 'des', 'du', 'suis', 'merci'],
  de: ['der', 'die', 'das', 'und', 'ist', 'ich', 'nicht', 'ein', 'eine', 'mit', 'für', 'hallo', 'sie', 'wir', 'zu', 'auf', 'bin', 'danke', 'guten'],
  it: ['il', 'lo', 'gli', 'e', 'è', 'di', 'che', 'un', 'una', 'per', 'con', 'ciao', 'sono', 'non', 'della', 'grazie', 'come', 'stai'],
  pt: ['o', 'os', 'as', 'e', 'é', 'de', 'que', 'um', 'uma', 'para', 'com', 'olá', 'não', 'você', 'sou', 'obrigado', 'como', 'está'],
};

/** Guesses the language of a text from its script and, for Latin text, its commonest words. */
export function detectLanguage(text: string): string {
  const han = (text.match(/\p{Script=Han}/gu) ?? []).length;
  const cyrillic = (text.match(/\p{Script=Cyrillic}/gu) ?? []).length;
  const latin = (text.match(/\p{Script=Latin}/gu) ?? []).length;
  if (han > 0 && han >= latin / 4) return 'zh';
  if (cyrillic > latin) return 'ru';
  const words = text.toLowerCase().match(/[\p{L}]+/gu) ?? [];
  const scores: Record<string, number> = {};
  for (const [lang, list] of Object.entries(STOPWORDS)) {
    const set = new Set(list);
    scores[lang] = words.reduce((n, w) => n + (set.has(w) ? 1 : 0), 0);
  }
  if (/[¿¡ñ]/u.test(text)) scores.es = (scores.es ?? 0) + 3;
  if (/[ßäöü]/u.test(text)) scores.de = (scores.de ?? 0) + 2;
  if (/[çœêèàù]/u.test(text)) scores.fr = (scores.fr ?? 0) + 1;
  if (/[ãõ]/u.test(text)) scores.pt = (scores.pt ?? 0) + 2;
  let best = 'en';
  for (const [lang, score] of Object.entries(scores)) if (score > (scores[best] ?? 0)) best = lang;
  return best;
}
