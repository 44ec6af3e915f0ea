import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { DEFAULT_CONFIDENT_TAIL, LlamaScorer, type TeacherRequest } from '../server/src/runtime/drift/teacher';
import { getSharedLlama } from '../server/src/runtime/models';
import { renderPrompt, tokenizePrompt } from '../server/src/runtime/prompt';
import { ensureSpecialistTestModels, ensureTestModels } from './support/models';

// LlamaScorer on real models: what the cheaper passes rely on. The reference's second pass asks
// for outputs only where it is unsure and stops after the last of them; that is exact only if a
// position's logits do not depend on which other positions of the batch ask for outputs, or on
// how many tokens follow it in the batch (two output rows or more: see teacher.ts).

let llama: Llama;
const loaded: LlamaModel[] = [];
let specialistF16: string;
let specialistQ4: string;
let tinyF16: string;

before(async () => {
  const spec = await ensureSpecialistTestModels();
  specialistF16 = spec.F16;
  specialistQ4 = spec.Q4_0;
  tinyF16 = (await ensureTestModels()).tiny.F16;
  llama = await getSharedLlama({ gpu: 'off' });
});

after(async () => {
  for (const m of loaded) await m.dispose();
});

async function scorerFor(file: string): Promise<{ model: LlamaModel; scorer: LlamaScorer }> {
  const model = await llama.loadModel({ modelPath: file });
  loaded.push(model);
  const scorer = new LlamaScorer({ model, threads: 1 }, { path: file, id: file, quantization: 'F16', identity: file, synthetic: false, label: file });
  return { model, scorer };
}

function request(scorer: LlamaScorer, message: string, output: string): TeacherRequest {
  const rendered = renderPrompt({ system: 'Route the message. Answer with JSON only.', user: 'Message: {{m}}' }, { m: message });
  const tp = tokenizePrompt(scorer, rendered);
  return { prompt: tp.tokens, sharedPrefix: tp.sharedPrefixTokens, output: scorer.tokenize(output, false) };
}

test('controlledEvaluate: a position’s logits are the same whichever other positions ask for outputs, and however many tokens follow it', async () => {
  for (const file of [specialistF16, specialistQ4, tinyF16]) {
    const { model } = await scorerFor(file);
    const ctx = await model.createContext({ contextSize: 512, sequences: 1, threads: 1, swaFullCache: true, batchSize: 512 });
    try {
      const seq = ctx.getSequence();
      const prompt = [...model.tokenize('<bos><start_of_turn>user\nRoute the message.\n\nMessage: I was charged twice for order 4521.<end_of_turn>\n<start_of_turn>model\n', true)] as number[];
      const output = [...model.tokenize('{"label": "billing", "urgent": false, "reason": "charged twice"}', false)] as number[];
      const pre = prompt.slice(0, -1);
      const fed = [prompt[prompt.length - 1]!, ...output.slice(0, -1)];
      await seq.evaluateWithoutGeneratingNewTokens(pre as never);
      const topk = { logits: true, options: { temperature: 1, topK: 8, topP: 1, minP: 0, seed: 1 } };
      const run = async (items: unknown[]) => {
        if (seq.nextTokenIndex > pre.length) await seq.eraseContextTokenRanges([{ start: pre.length, end: seq.nextTokenIndex }]);
        const out = (await seq.controlledEvaluate(items as never)) as ({ next?: { logits?: Map<number, number> } } | undefined)[];
        return out.map((o) => (o?.next?.logits ? [...o.next.logits] : undefined));
      };
      const all = await run(fed.map((t) => [t, { generateNext: topk }]));
      const some = await run(fed.map((t, i) => (i % 3 === 1 ? [t, { generateNext: topk }] : t)));
      const half = Math.floor(fed.length / 2);
      const cut = await run(fed.slice(0, half).map((t, i) => (i === 2 || i === half - 1 ? [t, { generateNext: topk }] : t)));
      let compared = 0;
      for (const other of [some, cut]) {
        other.forEach((o, i) => {
          if (!o) return;
          compared++;
          assert.deepEqual(o, all[i], `${file}: position ${i}`);
        });
      }
      assert.ok(compared >= fed.length / 3, `compared ${compared}`);
      assert.equal(some.filter((o) => o).length, fed.filter((_, i) => i % 3 === 1).length, 'outputs only where asked');
    } finally {
      await ctx.dispose();
    }
  }
});

test('referenceTopK: the second pass only where the reference is unsure gives the same figures as reading the top K everywhere', async () => {
  const { scorer } = await scorerFor(specialistF16);
  try {
    const reqs = [
      request(scorer, 'I was charged twice for order 4521, please refund one payment.', '{"label":"billing","urgent":false}'),
      // An answer the model would not give: unsure positions in the middle of it.
      request(scorer, 'Where is my parcel?', '{"label":"product","urgent":true}'),
      request(scorer, 'Where is my parcel?', '{"label":"shipping","urgent":false}'),
    ];
    let unsureSeen = 0;
    let sureSeen = 0;
    for (const req of reqs) {
      const everywhere = await scorer.referenceTopK(req, 8, undefined, undefined, 0);
      const dflt = await scorer.referenceTopK(req, 8);
      const never = await scorer.referenceTopK(req, 8, undefined, undefined, 1);
      assert.equal(dflt.length, req.output.length);
      dflt.forEach((p, i) => {
        const e = everywhere[i]!;
        assert.equal(p.refArgmax, e.refArgmax, `position ${i}: greedy token`);
        assert.deepEqual(never[i]!.refTop[0], e.refTop[0], `position ${i}: the top token's log-probability is the same from either pass`);
        if (Math.exp(e.refTop[0]!.logProb) >= 1 - DEFAULT_CONFIDENT_TAIL) {
          sureSeen++;
          assert.deepEqual(p.refTop[0], e.refTop[0], `position ${i}`);
          assert.ok(p.refTop.length <= 2, `position ${i}: a sure position keeps its top token (and the answer's)`);
        } else {
          unsureSeen++;
          assert.deepEqual(p.refTop, e.refTop, `position ${i}: an unsure position reads the same top K`);
        }
      });
    }
    assert.ok(unsureSeen > 0 && sureSeen > 0, `sure ${sureSeen}, unsure ${unsureSeen}: the examples should have both`);
  } finally {
    await scorer.dispose();
  }
});

test('candidateOn on the reference’s own model reads exactly the reference’s log-probabilities (self-comparison is zero drift)', async () => {
  const { scorer } = await scorerFor(specialistF16);
  try {
    // One unsure position in this answer (the label): the second pass reads it with a neighbour.
    const req = request(scorer, 'Where is my parcel?', '{"label":"product","urgent":true}');
    const ref = await scorer.referenceTopK(req, 8);
    assert.equal(ref.filter((p) => Math.exp(p.refTop[0]!.logProb) < 1 - DEFAULT_CONFIDENT_TAIL).length, 1, 'the case this test is about');
    const cand = await scorer.candidateOn(
      req,
      ref.map((p) => p.refTop.map((x) => x.token)),
    );
    ref.forEach((p, i) => {
      assert.equal(cand[i]!.argmax, p.refArgmax);
      assert.deepEqual(cand[i]!.logProbs, p.refTop.map((x) => x.logProb), `position ${i}`);
    });
  } finally {
    await scorer.dispose();
  }
});
