// A deterministic corpus of varied strings for tokenizer agreement tests: hand-picked edge cases
// plus seeded random mixtures of scripts, emoji, code, numbers, whitespace runs and Gemma 3's
// special tokens.
import * as fs from 'node:fs';
import * as path from 'node:path';

const FIXED: readonly string[] = [
  'Hello world',
  'Hello, world!',
  ' leading space',
  'trailing space ',
  '  two leading spaces',
  'double  space   triple',
  'tabs\tand\t\ttabs',
  'line one\nline two\n\nline four',
  'windows\r\nline\r\nendings',
  '\n',
  '\n\n\n',
  ' ',
  '    ',
  '\t',
  ' \t \n \t\n',
  'a',
  'I',
  '.',
  '...',
  '?!?!',
  "It's a dog's life, isn't it?",
  '"Quoted" and \'single\' and `backticks`',
  'The quick brown fox jumps over the lazy dog.',
  'THE QUICK BROWN FOX',
  'camelCaseIdentifier snake_case_identifier kebab-case-identifier',
  'e-mail: someone@example.com, url: https://example.com/path?q=1&r=2#frag',
  '0',
  '42',
  '3.14159',
  '-273.15',
  '1,000,000',
  '1e-6',
  '0x1F 0b1010 0o777',
  '2025-01-31T23:59:59Z',
  '+1 (555) 010-9999',
  '100%',
  '$19.99 €5 £3 ¥100 ₹50',
  '12345678901234567890',
  'Café naïve résumé façade coöperate',
  'Straße Größe Übermaß',
  'İstanbul ıIiİ',
  'Ελληνικά κείμενα',
  'Русский текст, ёжик',
  'العربية نص تجريبي',
  'עברית טקסט',
  'हिन्दी पाठ',
  'ภาษาไทย',
  '한국어 텍스트입니다',
  '中文文本测试，标点符号。',
  '日本語のテキスト、カタカナとひらがな。',
  '漢字かなカナ混じり文',
  'Tiếng Việt có dấu',
  'e\u0301 vs \u00e9',
  'NBSP\u00a0here',
  'zero\u200bwidth\u200bspace',
  'BOM\ufeffinside',
  'soft\u00adhyphen',
  'emoji 😀😃😄',
  '👍🏽 skin tone',
  '👨‍👩‍👧‍👦 family',
  '🏳️‍🌈 flag',
  '🇺🇸🇯🇵🇫🇷',
  '1️⃣ keycap',
  '∑∫∂√∞≠≤≥±×÷',
  '→ ← ↑ ↓ ⇒ ⇔',
  '♠♣♥♦ ★☆ ✓✗',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕄𝕒𝕥𝕙',
  'function add(a, b) {\n  return a + b;\n}',
  'const x = { a: 1, "b": [2, 3], c: null };',
  'def f(x):\n    return x ** 2\n',
  'if (a && b || !c) { x += 1; } else { y -= 2; }',
  'SELECT id, name FROM users WHERE age >= 18 ORDER BY name;',
  '{"name": "ticket", "priority": "high", "tags": ["a", "b"]}',
  'key: value\nlist:\n  - one\n  - two\n',
  '^[a-z]+(?:-[a-z0-9]+)*$',
  '<div class="x"><span>hi</span></div>',
  '<table><tr><td>1</td></tr></table>',
  '<h1>Title</h1><p>para</p>',
  '<strong>bold</strong> <em>it</em> <code>x</code>',
  '<b>b</b><i>i</i><u>u</u><s>s</s>',
  '# Heading\n\n- item\n- item\n\n```ts\nlet a = 1;\n```',
  '| col | col |\n|-----|-----|\n| 1 | 2 |',
  '<start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\n',
  '<bos><start_of_turn>user\nClassify this.<end_of_turn>\n<start_of_turn>model\n{"label": "spam"}<end_of_turn>\n',
  '<start_of_turn>user\nYou are a classifier.\n\nText: great product<end_of_turn>\n<start_of_turn>model\n',
  '<start_of_turn><end_of_turn>',
  'text<start_of_turn>glued<end_of_turn>text',
  '<eos>',
  '<pad><pad>',
  '<unk>',
  '<mask>',
  '<unused0> <unused99>',
  '<start_of_image>',
  '[multimodal]',
  '< start_of_turn >',
  '<start_of_turn',
  'end_of_turn>',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  '                                                            ',
  '\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n',
  '\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t',
  '----------------------------------------',
  '================',
  '!!!!!!!!!!',
];

/**
 * Strings the GGUF tokenizer knowingly splits differently from the reference: U+2581 ('▁', the
 * SentencePiece space) typed literally next to a space or another '▁'. Gemma's added tokens
 * 138-167 are runs of '▁'; HF matches them in the raw text, while llama.cpp's converter (so every
 * published Gemma GGUF, and ours) stores them as runs of spaces, so llama.cpp matches real spaces
 * instead, which is what makes whitespace runs agree everywhere else. A lone '▁' between letters
 * agrees. Both tokenizers decode '▁' as a space.
 */
export const KNOWN_DIVERGENT: readonly string[] = [
  '▁ literal lower one eighth block ▁▁',
  'x\u2581\u2581\u2581y',
  'one \u2581 alone',
];

/** Strings with a lone U+2581: tokenized alike, but decoded with a space in its place (by both). */
export const LONE_LOWER_BLOCK: readonly string[] = ['a\u2581b', '\u2581start'];

const WORDS: readonly string[] = [
  'the', 'contract', 'prompt', 'schema', 'model', 'ticket', 'refund', 'urgent', 'billing', 'shipping',
  'Hello', 'World', 'JSON', 'YAML', 'Gemma', 'token', 'tokenizer', 'unbelievable', 'antidisestablishment',
  'naïve', 'café', 'Zürich', 'São', 'Paulo', 'Ωmega', 'привет', 'мир', 'مرحبا', 'שלום', 'नमस्ते', 'สวัสดี',
  '你好', '世界', '谢谢', 'こんにちは', 'ありがとう', 'カタカナ', '안녕하세요', '감사합니다', 'xin', 'chào',
  'I', 'a', 'an', 'of', 'to', 'in', 'is', 'it', "don't", "we'll", 'co-op', 'e.g.', 'i.e.', 'etc.',
];
const NUMBERS: readonly string[] = ['0', '7', '42', '3.5', '-1', '1000', '2024', '99.99', '1e9', '007', '123456789', '0.0001'];
const PUNCT: readonly string[] = ['.', ',', '!', '?', ';', ':', '...', '—', '–', '-', '(', ')', '[', ']', '{', '}', '"', "'", '«', '»', '“', '”', '、', '。', '！', '？'];
const EMOJI: readonly string[] = ['😀', '🎉', '🚀', '❤️', '👍🏾', '🤖', '🧪', '📦', '🇩🇪', '👩‍💻', '✨', '🔥', '∞', '★'];
const CODE: readonly string[] = [
  '=>', '===', '!==', '&&', '||', '::', '->', '++', '+=', '<=', '>=', '/*', '*/', '//', '#', '${x}', '`tpl`',
  'console.log(x)', 'return;', 'null', 'undefined', 'true', 'false', 'None', 'self.x', 'arr[0]', 'fn()', '{}', '[]',
  '<div>', '</div>', '<td>', '<br/>', '&amp;', '\\n', '\\t', '\\u00e9', '"key":', "'v'",
];
const SPACES: readonly string[] = [' ', ' ', ' ', ' ', '  ', '   ', '\t', '\n', '\n\n', ' \n', '\n  ', '\t\t', '\r\n', '\u3000', '\u00a0'];
const SPECIALS: readonly string[] = ['<start_of_turn>', '<end_of_turn>', '<bos>', '<eos>', '<start_of_turn>user\n', '<start_of_turn>model\n', '<end_of_turn>\n', '<mask>', '<unused5>'];

function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` seeded random strings mixing words of many scripts, numbers, code, emoji, whitespace and special tokens. */
export function randomTokenizerStrings(count: number, seed = 20250301): string[] {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const parts: string[] = [];
    const n = 1 + Math.floor(rnd() * (i % 7 === 0 ? 60 : 14));
    const specialRate = i % 4 === 0 ? 0.12 : 0;
    for (let j = 0; j < n; j++) {
      const r = rnd();
      if (r < specialRate) parts.push(pick(SPECIALS));
      else if (r < 0.5) parts.push(pick(WORDS));
      else if (r < 0.58) parts.push(pick(NUMBERS));
      else if (r < 0.68) parts.push(pick(PUNCT));
      else if (r < 0.74) parts.push(pick(EMOJI));
      else if (r < 0.82) parts.push(pick(CODE));
      else parts.push(pick(SPACES));
      if (rnd() < 0.55) parts.push(' ');
    }
    let s = parts.join('');
    if (i % 11 === 0) s = s.toUpperCase();
    if (i % 13 === 0) s = ' ' + s;
    out.push(s);
  }
  return out;
}

/** At least 560 varied strings, the same on every run. */
export function buildTokenizerCorpus(): string[] {
  const long = FIXED.slice(0, 40).join(' ');
  return [...FIXED, ...LONE_LOWER_BLOCK, long, long.repeat(3), ...randomTokenizerStrings(450)];
}

/** Texts of every .contract.yaml file under the repository's samples/ folder (none when there is none). */
export function sampleContractTexts(root = path.resolve(__dirname, '..', '..')): Array<{ file: string; text: string }> {
  const out: Array<{ file: string; text: string }> = [];
  const walk = (dir: string): void => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.contract.yaml')) out.push({ file: path.relative(root, p), text: fs.readFileSync(p, 'utf8') });
    }
  };
  walk(path.join(root, 'samples'));
  return out;
}
