import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { LANGUAGE_SAMPLES } from '../bench/language-samples.js';
import { EspeakTtsProvider } from '../src/tts/espeak.js';
import { ESPEAK_LANGUAGES } from '../src/tts/espeak-languages.js';
import { detectLanguage, findLanguage, resolveLanguage } from '../src/tts/language.js';
import { ipaToVisemes } from '../src/visemes/visemes.js';
import { avatarCli, tempDir } from './helpers/media.js';

const tts = new EspeakTtsProvider();
after(() => tts.close());

/** The four languages the earlier detector got wrong, with one sentence each. */
const FOUR: Record<string, string> = {
  ko: '안녕하세요, 만나서 반갑습니다. 오늘 날씨가 정말 좋네요.',
  ja: 'こんにちは、はじめまして。今日はとても良い天気ですね。',
  ar: 'مرحبا، تشرفت بمعرفتك. الطقس جميل جدا اليوم.',
  hi: 'नमस्ते, आपसे मिलकर खुशी हुई। आज मौसम बहुत अच्छा है।',
};

describe('language detection', () => {
  it('names short sentences in 22 languages right', () => {
    const wrong: string[] = [];
    let n = 0;
    for (const [lang, texts] of Object.entries(LANGUAGE_SAMPLES)) {
      for (const text of texts) {
        n++;
        const got = detectLanguage(text);
        if (got !== lang) wrong.push(`${lang} -> ${got}: ${text}`);
      }
    }
    console.log(`detected ${n - wrong.length}/${n} short sentences right`);
    assert.deepEqual(wrong, []);
  });

  it('names single words by their script, and keeps Korean with a Latin brand name Korean', () => {
    assert.equal(detectLanguage('감사합니다'), 'ko');
    assert.equal(detectLanguage('ありがとう'), 'ja');
    assert.equal(detectLanguage('東京へ行きます'), 'ja');
    assert.equal(detectLanguage('谢谢'), 'zh');
    assert.equal(detectLanguage('شكرا'), 'ar');
    assert.equal(detectLanguage('धन्यवाद'), 'hi');
    assert.equal(detectLanguage('Ευχαριστώ'), 'el');
    assert.equal(detectLanguage('iPhone을 샀어요, 정말 좋아요'), 'ko');
    assert.equal(detectLanguage('1234 !!'), 'en', 'nothing to go on: the default');
  });
});

describe('languages the TTS speaks', () => {
  it('every language in the table has a default voice the engine has', async () => {
    const voices = new Set((await tts.listVoices()).map((v) => v.id));
    const missing = ESPEAK_LANGUAGES.filter(([, voice]) => !voices.has(voice)).map(([code, voice]) => `${code}:${voice}`);
    assert.deepEqual(missing, []);
    assert.ok(ESPEAK_LANGUAGES.length >= 100, `${ESPEAK_LANGUAGES.length} languages`);
  });

  it('resolves codes, regions and names; refuses what the engine lacks with a pointer to the list', () => {
    assert.equal(resolveLanguage('ko', '').espeakVoice, 'ko');
    assert.equal(resolveLanguage('pt-BR', '').code, 'pt');
    assert.equal(resolveLanguage('zh-Hans', '').espeakVoice, 'cmn');
    assert.equal(resolveLanguage('Korean', '').code, 'ko');
    assert.equal(findLanguage('tlh'), undefined);
    assert.throws(() => resolveLanguage('tlh', 'x'), (e: Error) => /unknown language "tlh".*avatar voices/.test(e.message));
  });

  it('speaks Korean, Japanese, Arabic and Hindi with phonemes that map to visemes', async () => {
    for (const [lang, text] of Object.entries(FOUR)) {
      const ipa: string[] = [];
      for await (const part of tts.synthesize({ text, language: lang })) {
        assert.equal(part.voice, lang);
        ipa.push(...(part.phonemes ?? []).map((p) => p.ipa).filter((p) => p.trim()));
      }
      const mapped = ipa.filter((p) => ipaToVisemes(p).length > 0).length;
      const share = mapped / ipa.length;
      console.log(`${lang}: ${ipa.length} phonemes, ${(share * 100).toFixed(0)}% map to visemes`);
      assert.ok(ipa.length > 15, `${lang}: ${ipa.length} phonemes`);
      assert.ok(share > 0.9, `${lang}: ${(share * 100).toFixed(0)}% of phonemes map to visemes`);
    }
  });
});

describe('avatar say --lang auto', () => {
  it('speaks Korean, Japanese, Arabic and Hindi text in its language; an unknown --lang is refused', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      for (const [lang, text] of Object.entries(FOUR)) {
        const r = await avatarCli(['say', text, '--lang', 'auto', '--size', '96', '--fps', '10', '--json', '-o', `${dir}/${lang}.mp4`]);
        assert.equal(r.code, 0, r.stderr);
        const result = JSON.parse(r.stdout) as { language: string; voice: string; audio_s: number; frames: number };
        assert.equal(result.language, lang, text);
        assert.equal(result.voice, lang);
        assert.ok(result.audio_s > 1 && result.frames >= 10, JSON.stringify(result));
      }
      const refused = await avatarCli(['say', 'qaStaH nuq?', '--lang', 'tlh', '-o', `${dir}/x.mp4`]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /unknown language "tlh"/);
    } finally {
      await cleanup();
    }
  });
});
