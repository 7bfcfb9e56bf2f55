import { createRequire } from 'node:module';
import { AvatarError } from '../core/errors.js';
import { ESPEAK_LANGUAGES } from './espeak-languages.js';

/** A language the TTS engine speaks. */
export interface LanguageInfo {
  readonly code: string;
  readonly name: string;
  /** The espeak-ng voice used when none is asked for. */
  readonly espeakVoice: string;
}

/** Every language espeak-ng speaks, the most asked-for first. */
export const LANGUAGES: readonly LanguageInfo[] = ESPEAK_LANGUAGES.map(([code, espeakVoice, name]) => ({ code, name, espeakVoice }));

const BY_CODE = new Map(LANGUAGES.map((l) => [l.code, l]));

/** Names people give languages, beyond the codes. */
const ALIASES: Record<string, string> = {
  english: 'en', spanish: 'es', espanol: 'es', 'español': 'es', cmn: 'zh', mandarin: 'zh', chinese: 'zh',
  'zh-cn': 'zh', 'zh-hans': 'zh', 'zh-tw': 'zh', 'zh-hant': 'zh', 'zh-hk': 'yue', cantonese: 'yue',
  korean: 'ko', japanese: 'ja', arabic: 'ar', hindi: 'hi', french: 'fr', german: 'de', italian: 'it', portuguese: 'pt', russian: 'ru',
  no: 'nb', iw: 'he', in: 'id', jw: 'jv',
};

/** Looks a code up (`ko`, `pt-BR`, `zh-Hans`, `Korean`); undefined when the engine does not speak it. */
export function findLanguage(requested: string): LanguageInfo | undefined {
  const wanted = requested.trim().toLowerCase().replace(/_/g, '-');
  const code = ALIASES[wanted] ?? wanted;
  return BY_CODE.get(code) ?? BY_CODE.get(ALIASES[code.split('-')[0]!] ?? code.split('-')[0]!);
}

/**
 * Normalizes a user-given language (`en`, `EN-us`, `zh-CN`, `ko`, `auto`, ...) to a language
 * espeak-ng speaks, detecting it from `text` for `auto`. An unknown code is an
 * `unknown_language` error that says where the list is.
 */
export function resolveLanguage(requested: string | undefined, text: string): LanguageInfo {
  const wanted = (requested ?? 'auto').trim();
  if (wanted.toLowerCase() === 'auto') return BY_CODE.get(detectLanguage(text)) ?? BY_CODE.get('en')!;
  const info = findLanguage(wanted);
  if (!info) {
    throw new AvatarError('unknown_language', `unknown language "${requested}": use auto or a language code the TTS speaks (${LANGUAGES.length} with espeak-ng, e.g. en, es, zh, ja, ko, ar, hi; see: avatar voices)`);
  }
  return info;
}

/** Scripts written by one language (as far as speech goes): decided without a detector. */
const SINGLE_LANGUAGE_SCRIPTS: readonly [RegExp, string][] = [
  [/\p{Script=Hangul}/u, 'ko'], [/[\p{Script=Hiragana}\p{Script=Katakana}]/u, 'ja'], [/\p{Script=Han}/u, 'zh'],
  [/\p{Script=Thai}/u, 'th'], [/\p{Script=Greek}/u, 'el'], [/\p{Script=Hebrew}/u, 'he'], [/\p{Script=Georgian}/u, 'ka'],
  [/\p{Script=Armenian}/u, 'hy'], [/\p{Script=Tamil}/u, 'ta'], [/\p{Script=Telugu}/u, 'te'], [/\p{Script=Kannada}/u, 'kn'],
  [/\p{Script=Malayalam}/u, 'ml'], [/\p{Script=Gujarati}/u, 'gu'], [/\p{Script=Gurmukhi}/u, 'pa'], [/\p{Script=Oriya}/u, 'or'],
  [/\p{Script=Sinhala}/u, 'si'], [/\p{Script=Myanmar}/u, 'my'], [/\p{Script=Ethiopic}/u, 'am'], [/\p{Script=Bengali}/u, 'bn'],
];

/** Scripts shared by many languages: the detector decides, this is the answer when it cannot. */
const SCRIPT_DEFAULTS: readonly [RegExp, string][] = [
  [/\p{Script=Arabic}/u, 'ar'], [/\p{Script=Devanagari}/u, 'hi'], [/\p{Script=Cyrillic}/u, 'ru'],
];

/** Words that mark English in Latin-script text: common there, absent from other languages' everyday text. */
const ENGLISH_MARKERS = new Set(['the', 'and', 'you', 'your', 'with', 'this', 'that', 'what', 'have', 'are', 'which', 'would', 'there', 'their']);

/** True when at least two distinct English marker words make up a seventh or more of the words. */
function looksEnglish(text: string): boolean {
  const words = text.toLowerCase().match(/[a-z']+/g) ?? [];
  if (words.length < 4 || /[^\x00-\x7f\u2018\u2019\u201c\u201d\u2013\u2014]/.test(text)) return false;
  const hits = words.filter((w) => ENGLISH_MARKERS.has(w));
  return new Set(hits).size >= 2 && hits.length * 7 >= words.length;
}

type Detector = (text: string) => string;
let detector: Detector | undefined;

/** tinyld (n-gram models, 64 languages), loaded on first use: CommonJS, so detection stays synchronous. */
function tinyld(): Detector {
  detector ??= (createRequire(import.meta.url)('tinyld') as { detect: Detector }).detect;
  return detector;
}

/**
 * Loads the detector's models now (~150-500 ms of synchronous work): a server does it
 * before it listens, so the first text that needs them does not stall live sessions.
 */
export function loadLanguageDetector(): void {
  tinyld();
}

/**
 * Guesses the language of a text: the script when only one language writes it (Hangul,
 * kana, Han, Greek, Thai, ...), else the tinyld detector; a language the TTS does not
 * speak, or no answer, falls back to the script's commonest language (English for Latin).
 */
export function detectLanguage(text: string): string {
  const letters = text.replace(/[^\p{L}]/gu, '');
  if (!letters) return 'en';
  // The script of most letters: a Latin brand name in Korean text stays Korean.
  for (const [script, code] of SINGLE_LANGUAGE_SCRIPTS) {
    const count = letters.match(new RegExp(script.source, 'gu'))?.length ?? 0;
    if (count * 2 >= letters.length || (code === 'ja' && count > 0 && /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u.test(letters))) return code;
  }
  // Plain English, the commonest input, is known without loading the detector's models
  // (about half a second of the main job's start).
  if (looksEnglish(text)) return 'en';
  const found = tinyld()(text);
  if (found && BY_CODE.has(found) && !SINGLE_LANGUAGE_SCRIPTS.some(([, code]) => code === found)) return found;
  return SCRIPT_DEFAULTS.find(([script]) => script.test(letters))?.[1] ?? 'en';
}
