import type { MouthParams } from './mouth-params.js';

/** The 15 Oculus visemes. */
export const VISEMES = ['sil', 'PP', 'FF', 'TH', 'DD', 'kk', 'CH', 'SS', 'nn', 'RR', 'aa', 'E', 'ih', 'oh', 'ou'] as const;
export type Viseme = (typeof VISEMES)[number];

/** Mouth shape each viseme aims at, and how strongly it holds its shape against neighbours. */
export interface VisemeTarget {
  readonly mouth: MouthParams;
  /** Dominance: a high value keeps the shape when neighbours pull (p/b/m must close). */
  readonly dominance: number;
  /**
   * How long the shape lingers after its sound ends, ms (default: the tracker's carry-over).
   * Lips part abruptly when a p/b/m is released, so closures linger briefly.
   */
  readonly carryoverMs?: number;
}

/** Linger of a lip closure after the consonant ends. */
const CARRYOVER_MS = 20;

const m = (jawOpen: number, lipWidth: number, rounding: number, closure: number, teeth: number, tongue: number): MouthParams =>
  ({ jawOpen, lipWidth, rounding, closure, teeth, tongue });

/** Targets per viseme. Vowels open the jaw; p/b/m close the lips whatever their neighbours do. */
export const VISEME_TARGETS: Record<Viseme, VisemeTarget> = {
  sil: { mouth: m(0, 0.5, 0, 1, 0, 0), dominance: 1 },
  PP: { mouth: m(0.02, 0.5, 0.1, 1, 0, 0), dominance: 8, carryoverMs: CARRYOVER_MS },
  FF: { mouth: m(0.12, 0.55, 0, 0.35, 1, 0), dominance: 3 },
  TH: { mouth: m(0.2, 0.55, 0, 0, 0.8, 1), dominance: 2 },
  DD: { mouth: m(0.25, 0.55, 0, 0, 0.6, 0.4), dominance: 1.2 },
  kk: { mouth: m(0.3, 0.5, 0, 0, 0.4, 0.1), dominance: 0.8 },
  CH: { mouth: m(0.2, 0.3, 0.6, 0, 0.9, 0), dominance: 2 },
  SS: { mouth: m(0.1, 0.75, 0, 0, 1, 0), dominance: 2 },
  nn: { mouth: m(0.2, 0.55, 0, 0, 0.5, 0.6), dominance: 1 },
  RR: { mouth: m(0.25, 0.35, 0.6, 0, 0.3, 0.1), dominance: 1.2 },
  aa: { mouth: m(0.85, 0.6, 0, 0, 0.5, 0.2), dominance: 1.5 },
  E: { mouth: m(0.55, 0.75, 0, 0, 0.6, 0.1), dominance: 1.3 },
  ih: { mouth: m(0.35, 0.9, 0, 0, 0.7, 0), dominance: 1.3 },
  oh: { mouth: m(0.6, 0.3, 0.8, 0, 0.2, 0), dominance: 1.5 },
  ou: { mouth: m(0.3, 0.1, 1, 0, 0, 0), dominance: 1.8 },
};

/** Longest symbols first so that affricates win over their parts. */
const SYMBOLS: readonly [string, Viseme][] = [
  ['tʃ', 'CH'], ['dʒ', 'CH'], ['tɕ', 'CH'], ['dʑ', 'CH'], ['tʂ', 'CH'], ['ts', 'SS'], ['dz', 'SS'],
  ['p', 'PP'], ['b', 'PP'], ['m', 'PP'], ['ɸ', 'PP'], ['β', 'PP'], ['ɱ', 'FF'],
  ['f', 'FF'], ['v', 'FF'], ['ʋ', 'FF'],
  ['θ', 'TH'], ['ð', 'TH'],
  ['t', 'DD'], ['d', 'DD'], ['ɾ', 'DD'], ['ʈ', 'DD'], ['ɖ', 'DD'],
  ['k', 'kk'], ['g', 'kk'], ['ɡ', 'kk'], ['x', 'kk'], ['ɣ', 'kk'], ['χ', 'kk'], ['q', 'kk'], ['ʁ', 'kk'], ['ŋ', 'kk'],
  ['h', 'kk'], ['ɦ', 'kk'], ['ʔ', 'kk'], ['c', 'kk'], ['ɟ', 'kk'],
  ['ʃ', 'CH'], ['ʒ', 'CH'], ['ɕ', 'CH'], ['ʑ', 'CH'], ['ʂ', 'CH'], ['ʐ', 'CH'],
  ['s', 'SS'], ['z', 'SS'],
  ['n', 'nn'], ['l', 'nn'], ['ɲ', 'nn'], ['ɳ', 'nn'], ['ɭ', 'nn'], ['ʎ', 'nn'], ['ɫ', 'nn'], ['ɬ', 'nn'],
  ['r', 'RR'], ['ɹ', 'RR'], ['ɻ', 'RR'], ['ʀ', 'RR'], ['ɚ', 'RR'], ['ɝ', 'RR'],
  ['j', 'ih'], ['w', 'ou'], ['ɥ', 'ou'], ['ʍ', 'ou'],
  ['a', 'aa'], ['ɑ', 'aa'], ['æ', 'aa'], ['ʌ', 'aa'], ['ɐ', 'aa'], ['ä', 'aa'], ['ɒ', 'oh'],
  ['e', 'E'], ['ɛ', 'E'], ['ə', 'E'], ['ɜ', 'E'], ['ɘ', 'E'], ['œ', 'E'], ['ɤ', 'E'],
  ['i', 'ih'], ['ɪ', 'ih'], ['y', 'ou'], ['ɨ', 'ih'], ['ʏ', 'ou'],
  ['o', 'oh'], ['ɔ', 'oh'], ['ø', 'oh'], ['ɵ', 'oh'],
  ['u', 'ou'], ['ʊ', 'ou'], ['ɯ', 'ih'],
];

const IGNORED = /[ˈˌːˑ.\u0300-\u036f\d˥˦˧˨˩ʰʲʷ̃-]/gu;

/**
 * Splits one phoneme label (IPA as espeak-ng writes it: stress marks, length, tones,
 * diphthongs such as `aɪ`) into the visemes it passes through, in order.
 */
export function ipaToVisemes(ipa: string): Viseme[] {
  const clean = ipa.replace(IGNORED, '');
  const out: Viseme[] = [];
  let i = 0;
  while (i < clean.length) {
    const hit = SYMBOLS.find(([sym]) => clean.startsWith(sym, i));
    if (hit) {
      if (out[out.length - 1] !== hit[1]) out.push(hit[1]);
      i += hit[0].length;
    } else {
      i += 1;
    }
  }
  return out;
}
