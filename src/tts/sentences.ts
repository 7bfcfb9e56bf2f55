/** Longest piece handed to a synthesizer at once; longer sentences split at commas. */
const MAX_PIECE_CHARS = 240;

const SENTENCE_END = /([.!?。！？;；…]+["'”’)\]]*)(\s+|$)|([。！？；])/gu;

/** A piece of a script and whether a paragraph ends with it. */
export interface ScriptPiece {
  readonly text: string;
  readonly paragraphEnd: boolean;
}

/**
 * Splits text into sentence-sized pieces for incremental synthesis. Every non-space
 * character of the input lands in exactly one piece, in order.
 */
export function splitSentences(text: string): string[] {
  return splitScript(text).map((p) => p.text);
}

/** Like splitSentences, marking the pieces that end a paragraph (a blank line follows). */
export function splitScript(text: string): ScriptPiece[] {
  const out: ScriptPiece[] = [];
  for (const paragraph of text.split(/\r?\n\s*\r?\n/)) {
    const pieces = splitParagraph(paragraph);
    pieces.forEach((piece, i) => out.push({ text: piece, paragraphEnd: i === pieces.length - 1 }));
  }
  return out;
}

function splitParagraph(text: string): string[] {
  const pieces: string[] = [];
  // Punctuation before the first words (an opening ellipsis, a *** divider) joins them.
  const lead = /^[^\p{L}\p{N}]*/u.exec(text.trim())![0];
  if (lead && /[\p{L}\p{N}]/u.test(text)) text = text.trim().slice(lead.length);
  for (const paragraph of text.split(/\r?\n/)) {
    let start = 0;
    SENTENCE_END.lastIndex = 0;
    for (let m = SENTENCE_END.exec(paragraph); m; m = SENTENCE_END.exec(paragraph)) {
      const end = m.index + m[0].length;
      pushPiece(pieces, paragraph.slice(start, end));
      start = end;
      if (m[0].length === 0) SENTENCE_END.lastIndex++;
    }
    pushPiece(pieces, paragraph.slice(start));
  }
  if (lead && pieces.length > 0) pieces[0] = `${lead.trim()} ${pieces[0]}`.trim();
  else if (lead.trim()) pieces.push(lead.trim());
  return pieces;
}

function pushPiece(pieces: string[], raw: string): void {
  const piece = raw.trim();
  if (!/[\p{L}\p{N}]/u.test(piece)) {
    // Punctuation alone says nothing; keep it with the previous piece so no text is lost.
    if (piece && pieces.length > 0) pieces[pieces.length - 1] += piece;
    return;
  }
  if (piece.length <= MAX_PIECE_CHARS) {
    pieces.push(piece);
    return;
  }
  let current = '';
  for (const clause of piece.split(/(?<=[,，、:：])\s*/u)) {
    if (current && current.length + clause.length > MAX_PIECE_CHARS) {
      pieces.push(current.trim());
      current = '';
    }
    current += (current ? ' ' : '') + clause;
    while (current.length > MAX_PIECE_CHARS) {
      const cut = current.lastIndexOf(' ', MAX_PIECE_CHARS);
      const at = cut > MAX_PIECE_CHARS / 2 ? cut : MAX_PIECE_CHARS;
      pieces.push(current.slice(0, at).trim());
      current = current.slice(at).trim();
    }
  }
  if (current.trim()) pieces.push(current.trim());
}
