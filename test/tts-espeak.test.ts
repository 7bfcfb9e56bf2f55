import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { AvatarError } from '../src/core/errors.js';
import type { Speech } from '../src/core/speech.js';
import { EspeakTtsProvider } from '../src/tts/espeak.js';
import { detectLanguage, resolveLanguage } from '../src/tts/language.js';
import type { TtsRequest } from '../src/tts/provider.js';
import { splitSentences } from '../src/tts/sentences.js';

const tts = new EspeakTtsProvider();

async function speak(request: TtsRequest): Promise<Speech[]> {
  const parts: Speech[] = [];
  for await (const s of tts.synthesize(request)) parts.push(s);
  return parts;
}

const durationMs = (s: Speech) => (s.pcm.length * 1000) / s.sampleRate;
const totalMs = (parts: Speech[]) => parts.reduce((n, s) => n + durationMs(s), 0);

function peakOf(pcm: Int16Array): number {
  let peak = 0;
  for (const x of pcm) peak = Math.max(peak, Math.abs(x));
  return peak;
}

/** Real audio at 22050 Hz with ordered, non-overlapping phoneme timings inside it, and word timings. */
function assertWellTimed(s: Speech, label: string): void {
  assert.equal(s.sampleRate, 22050, label);
  assert.ok(s.pcm.length > 22050 / 4, `${label}: ${s.pcm.length} samples`);
  assert.ok(peakOf(s.pcm) > 1000, `${label}: audio is silent`);
  const dur = durationMs(s);
  const phonemes = s.phonemes ?? [];
  assert.ok(phonemes.length > 0, `${label}: no phonemes`);
  let prevEnd = 0;
  for (const p of phonemes) {
    assert.ok(p.ipa.length > 0, `${label}: empty phoneme`);
    assert.ok(p.startMs >= prevEnd, `${label}: phoneme ${p.ipa} at ${p.startMs} overlaps the previous one ending at ${prevEnd}`);
    assert.ok(p.endMs > p.startMs, `${label}: phoneme ${p.ipa} has no duration`);
    assert.ok(p.endMs <= dur + 1e-6, `${label}: phoneme ${p.ipa} ends at ${p.endMs} after the audio (${dur} ms)`);
    prevEnd = p.endMs;
  }
  const words = s.words ?? [];
  assert.ok(words.length > 0, `${label}: no words`);
  let prevStart = 0;
  for (const w of words) {
    assert.ok(w.text.trim().length > 0, `${label}: empty word`);
    assert.ok(w.startMs >= prevStart, `${label}: word "${w.text}" out of order`);
    assert.ok(w.endMs > w.startMs && w.endMs <= dur + 1e-6, `${label}: word "${w.text}" ${w.startMs}-${w.endMs} outside ${dur} ms`);
    prevStart = w.startMs;
  }
}

const stripSpace = (s: string) => s.replace(/\s+/gu, '');

describe('EspeakTtsProvider', () => {
  before(() => tts.warmUp());

  it('speaks English with phoneme and word timings, one part per sentence', async () => {
    const parts = await speak({ text: 'Hello there, how are you today? The quick brown fox jumps over the lazy dog.', language: 'en' });
    assert.equal(parts.length, 2);
    parts.forEach((s, i) => assertWellTimed(s, `en part ${i}`));
    assert.equal(parts[0]!.language, 'en');
    assert.equal(parts[0]!.voice, 'en-us');
    const words = parts.flatMap((s) => s.words ?? []).map((w) => w.text.toLowerCase());
    for (const w of ['hello', 'how', 'fox', 'dog']) assert.ok(words.includes(w), `missing word ${w} in ${words.join(' ')}`);
  });

  it('speaks Spanish', async () => {
    const parts = await speak({ text: 'Hola, ¿cómo estás? Muy bien, gracias.', language: 'es' });
    assert.equal(parts.length, 2);
    parts.forEach((s, i) => assertWellTimed(s, `es part ${i}`));
    assert.equal(parts[0]!.voice, 'es');
    const words = parts.flatMap((s) => s.words ?? []).map((w) => w.text.toLowerCase());
    assert.ok(words.includes('cómo') && words.includes('gracias'), words.join(' '));
  });

  it('reads Mandarin characters (not "Chinese letter")', async () => {
    const parts = await speak({ text: '你好，很高兴认识你。', language: 'zh' });
    assert.equal(parts.length, 1);
    const s = parts[0]!;
    assertWellTimed(s, 'zh');
    assert.equal(s.voice, 'cmn');
    assert.ok(s.phonemes!.length > 15, `only ${s.phonemes!.length} phonemes`);
    assert.ok(durationMs(s) > 1500, `zh audio is ${durationMs(s)} ms`);
    for (const w of s.words!) assert.match(w.text, /^\p{Script=Han}+$/u, `word "${w.text}" is not Chinese`);
    // "Chinese letter" in English would bring the phonemes of "Chinese" (tʃ aɪ n ...).
    const ipa = s.phonemes!.map((p) => p.ipa).join(' ');
    assert.doesNotMatch(ipa, /tʃ\s*ˈ?aɪ/u, ipa);
    assert.ok(!s.phonemes!.some((p) => p.ipa.startsWith('(')), 'language-switch markers leaked into phonemes');
  });

  it('"a < b & c" synthesizes without throwing and keeps a, b, c', async () => {
    const parts = await speak({ text: 'a < b & c', language: 'en' });
    assert.equal(parts.length, 1);
    assertWellTimed(parts[0]!, 'a < b & c');
    const texts = parts[0]!.words!.map((w) => w.text);
    for (const w of ['a', 'b', 'c']) assert.ok(texts.includes(w), `no word "${w}": ${JSON.stringify(texts)}`);
  });

  it('"&" is spoken as a word whose text is "&"', async () => {
    const parts = await speak({ text: 'a < b & c', language: 'en' });
    const ipa = parts[0]!.phonemes!.map((p) => p.ipa).join('');
    assert.match(ipa, /æ?nd/u, `no "and" in ${ipa}`);
    const texts = parts[0]!.words!.map((w) => w.text);
    assert.ok(texts.includes('&'), `no word for "&": ${JSON.stringify(texts)}`);
  });

  it('"<" is spoken (a word for it between a and b)', async () => {
    const parts = await speak({ text: 'a < b & c', language: 'en' });
    const texts = parts[0]!.words!.map((w) => w.text);
    assert.ok(texts.includes('<'), `no word for "<": ${JSON.stringify(texts)}`);
  });

  it('">" is spoken (a word for it between x and y)', async () => {
    const parts = await speak({ text: 'x > y', language: 'en' });
    const texts = parts[0]!.words!.map((w) => w.text);
    assert.ok(texts.includes('x') && texts.includes('y'), `words: ${JSON.stringify(texts)}`);
    assert.ok(texts.includes('>'), `no word for ">": ${JSON.stringify(texts)}`);
  });

  it('never loses the text after a "<" (no tag parsing)', async () => {
    const parts = await speak({ text: 'a<b and c', language: 'en' });
    const texts = parts.flatMap((s) => s.words ?? []).map((w) => w.text);
    assert.ok(texts.includes('and') && texts.includes('c'), `words: ${JSON.stringify(texts)}`);
  });

  it('rate 2 is clearly faster than rate 1', async () => {
    const text = 'The quick brown fox jumps over the lazy dog.';
    const normal = totalMs(await speak({ text, language: 'en', rate: 1 }));
    const fast = totalMs(await speak({ text, language: 'en', rate: 2 }));
    assert.ok(fast < normal * 0.7, `rate 2: ${fast} ms, rate 1: ${normal} ms`);
  });

  it('an unknown voice is an unknown_voice AvatarError', async () => {
    const isUnknownVoice = (e: unknown) => e instanceof AvatarError && e.code === 'unknown_voice';
    await assert.rejects(speak({ text: 'hello', language: 'en', voice: 'no-such-voice-xyz' }), isUnknownVoice);
    await assert.rejects(tts.checkVoice('no-such-voice-xyz'), isUnknownVoice);
    await tts.checkVoice('en-us+f3');
    await tts.checkVoice('cmn');
  });

  it('an unknown voice on multi-sentence text rejects once, leaving no unhandled rejection', async () => {
    const stray: unknown[] = [];
    const onStray = (e: unknown) => stray.push(e);
    process.on('unhandledRejection', onStray);
    try {
      await assert.rejects(
        speak({ text: 'One. Two. Three. Four.', language: 'en', voice: 'no-such-voice-xyz' }),
        (e: unknown) => e instanceof AvatarError && e.code === 'unknown_voice',
      );
      // Give any other request still in flight time to settle.
      await speak({ text: 'ok', language: 'en' });
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      process.off('unhandledRejection', onStray);
    }
    assert.deepEqual(stray.map((e) => (e instanceof Error ? e.message : String(e))), []);
  });

  it('lists en-us, es, cmn and variants', async () => {
    const ids = (await tts.listVoices()).map((v) => v.id);
    for (const id of ['en-us', 'es', 'cmn', 'en-us+f3']) assert.ok(ids.includes(id), `missing voice ${id}`);
    assert.ok(ids.some((id) => /^en-us\+m\d$/.test(id)), 'no male variants listed');
    assert.equal(new Set(ids).size, ids.length, 'duplicate voice ids');
  });

  it('a variant voice synthesizes', async () => {
    const parts = await speak({ text: 'Hello.', language: 'en', voice: 'en-us+f3' });
    assert.equal(parts.length, 1);
    assertWellTimed(parts[0]!, 'en-us+f3');
    assert.equal(parts[0]!.voice, 'en-us+f3');
  });
});

describe('detectLanguage / resolveLanguage', () => {
  it('detects Chinese, Spanish and English', () => {
    assert.equal(detectLanguage('你好，很高兴认识你。'), 'zh');
    assert.equal(detectLanguage('Hola, ¿cómo estás?'), 'es');
    assert.equal(detectLanguage('Hello, how are you doing today? I am fine, thank you.'), 'en');
    assert.equal(detectLanguage('The weather is nice and the sun is out.'), 'en');
  });

  it('resolves codes, aliases and auto', () => {
    assert.equal(resolveLanguage('zh-CN', '').code, 'zh');
    assert.equal(resolveLanguage('EN-us', '').code, 'en');
    assert.equal(resolveLanguage('cmn', '').code, 'zh');
    assert.equal(resolveLanguage(' es ', '').code, 'es');
    assert.equal(resolveLanguage('auto', 'Hola, ¿cómo estás?').code, 'es');
    assert.equal(resolveLanguage(undefined, '我是学生。').code, 'zh');
    assert.equal(resolveLanguage('zh', '').espeakVoice, 'cmn');
  });

  it('rejects unknown languages with unknown_language', () => {
    assert.throws(
      () => resolveLanguage('xx', 'hello'),
      (e: unknown) => e instanceof AvatarError && e.code === 'unknown_language' && /xx/.test(e.message),
    );
  });
});

describe('splitSentences', () => {
  const cases: Record<string, string> = {
    en: 'Hello there! How are you today? I am fine, thanks... Really.\n\nA new paragraph "with quotes." And (brackets.) The end',
    es: '¡Hola! ¿Cómo estás? Muy bien, gracias; ¿y tú?\nEstoy bien. Adiós…',
    zh: '你好！很高兴认识你。今天天气很好；我们去公园吧？好的',
  };

  for (const [lang, text] of Object.entries(cases)) {
    it(`keeps every character exactly once, in order (${lang})`, () => {
      const pieces = splitSentences(text);
      assert.ok(pieces.length >= 3, `${lang}: ${JSON.stringify(pieces)}`);
      assert.equal(stripSpace(pieces.join('')), stripSpace(text));
      for (const p of pieces) assert.equal(p, p.trim());
    });
  }

  it('keeps punctuation that opens the text or a paragraph', () => {
    for (const text of ['... and so on.', 'Hello.\n\n... Next one.', 'Hola.\n\n***\n\nAdiós.']) {
      assert.equal(stripSpace(splitSentences(text).join('')), stripSpace(text), JSON.stringify(text));
    }
  });

  it('splits Chinese at 。！？ without spaces', () => {
    assert.deepEqual(splitSentences('你好！很高兴认识你。再见？'), ['你好！', '很高兴认识你。', '再见？']);
  });

  it('splits a 1000-character comma-only sentence into pieces of at most 240', () => {
    const clauses: string[] = [];
    for (let i = 0; clauses.join(', ').length < 1000; i++) clauses.push(`clause number ${i} goes here`);
    const text = clauses.join(', ').slice(0, 1000);
    assert.equal(text.length, 1000);
    const pieces = splitSentences(text);
    assert.ok(pieces.length >= 5, `${pieces.length} pieces`);
    for (const p of pieces) assert.ok(p.length <= 240 && p.length > 0, `piece of ${p.length}`);
    assert.equal(stripSpace(pieces.join('')), stripSpace(text));
  });

  it('splits long unpunctuated Chinese into pieces of at most 240', () => {
    const text = '我们今天去公园散步'.repeat(60) + '。';
    const pieces = splitSentences(text);
    for (const p of pieces) assert.ok(p.length <= 240, `piece of ${p.length}`);
    assert.equal(pieces.join(''), text);
  });

  it('returns nothing for empty or punctuation-only text', () => {
    assert.deepEqual(splitSentences(''), []);
    assert.deepEqual(splitSentences('   \n  '), []);
  });
});

describe('espeak worker: urgent pieces first', () => {
  it('answers a first sentence before later sentences fetched ahead that were asked for earlier', async () => {
    const { Worker } = await import('node:worker_threads');
    const worker = new Worker(new URL('../src/tts/espeak-worker.js', import.meta.url));
    try {
      const order: number[] = [];
      const replies = new Map<number, () => void>();
      worker.on('message', (reply: { id: number }) => {
        order.push(reply.id);
        replies.get(reply.id)?.();
      });
      const ask = (id: number, text: string, ahead: boolean) => new Promise<void>((resolve) => {
        replies.set(id, resolve);
        worker.postMessage({ id, kind: 'synthesize', text, voice: 'en-us', wpm: 175, pitch: 50, ahead });
      });
      await ask(1, 'ok', false); // the engine starts
      // Request 2 keeps the thread busy (a long text: hundreds of ms) while 3-7 arrive.
      const busy = 'This text keeps the speech thread busy for a good while, sentence after sentence. '.repeat(6);
      const later = 'This later sentence was fetched ahead of need, and it takes a while to synthesize.';
      const all = [ask(2, busy, false), ask(3, later, true), ask(4, later, true), ask(5, later, true), ask(6, later, true), ask(7, 'Hello there.', false)];
      await Promise.all(all);
      // Once 2 is done the urgent 7 goes first, then the others in the order they were asked
      // for. (Answered in arrival order it would be last.)
      assert.deepEqual(order, [1, 2, 7, 3, 4, 5, 6]);
    } finally {
      await worker.terminate();
    }
  });
});
