/**
 * Where teacher forcing's time goes, per output position (1 llama.cpp thread unless --threads):
 * the same N positions evaluated in one batch with different `generateNext` requests, beside N sequential decode
 * steps (generation's inner loop, without a grammar). bench/drift.ts puts the table in
 * docs/benchmarks.md; alone:
 *
 *   node --import tsx bench/teacher-breakdown.ts [--270m] [--model FILE] [--rounds 5] [--threads 1] [--sweep]
 */
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { LlamaContextSequence, LlamaModel } from 'node-llama-cpp';
import { disposeSharedLlama, getSharedLlama } from '../server/src/runtime/models';
import { ensureBenchModels, ensureSpecialistTestModels } from '../test/support/models';

const PROMPT =
  '<bos><start_of_turn>user\nRoute the message. Answer with JSON only.\n\nLabels: billing, shipping, product, other. urgent: true or false.\nMessage: I was charged twice for order 4521, please refund one payment.<end_of_turn>\n<start_of_turn>model\n';
const OUTPUT = '{"label": "billing", "urgent": false, "reason": "the customer was charged twice for one order"}';
/** Positions in the large batches (the answer's tokens repeated: what is computed does not depend on the text). */
const LARGE = 128;

export interface BreakdownRow {
  /** Stable key. */
  key: 'body' | 'lastRow' | 'token' | 'normaliser' | 'candidate' | 'topk' | 'oneRead' | 'decode' | 'decodeGrammar' | 'bodyLarge' | 'tokenLarge';
  what: string;
  msPerPosition: number;
}

export interface Breakdown {
  file: string;
  /** llama.cpp threads of the context (batches and decode steps alike). */
  threads: number;
  positions: number;
  rounds: number;
  load: [number, number];
  rows: BreakdownRow[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Loads `file` with a context of `threads` llama.cpp threads, runs `fn` on its sequence with the bench prompt and answer tokenized, disposes. The shared Llama stays. */
async function withBenchSequence<T>(file: string, threads: number, fn: (s: { model: LlamaModel; seq: LlamaContextSequence; prompt: number[]; output: number[] }) => Promise<T>): Promise<T> {
  const llama = await getSharedLlama({ gpu: 'off' });
  // The loader sets maxThreads to the run's thread count; a context cannot use more than that.
  if (llama.maxThreads < threads) llama.maxThreads = threads;
  const model = await llama.loadModel({ modelPath: file });
  const ctx = await model.createContext({ contextSize: 512, sequences: 1, threads, swaFullCache: true, batchSize: 512 });
  try {
    return await fn({ model, seq: ctx.getSequence(), prompt: [...model.tokenize(PROMPT, true)] as number[], output: [...model.tokenize(OUTPUT, false)] as number[] });
  } finally {
    await ctx.dispose();
    await model.dispose();
  }
}

/** Measures every request on `file` (its own context, `threads` llama.cpp threads). */
export async function teacherBreakdown(file: string, rounds = 5, threads = 1): Promise<Breakdown> {
  const load0 = os.loadavg()[0];
  const llama = await getSharedLlama({ gpu: 'off' });
  return withBenchSequence(file, threads, async ({ model, seq, prompt, output }) => {
    const N = output.length;
    const pre = prompt.slice(0, -1);
    const fed = [prompt[prompt.length - 1]!, ...output.slice(0, -1)];
    const reset = async (s: LlamaContextSequence) => {
      if (s.nextTokenIndex > pre.length) await s.eraseContextTokenRanges([{ start: pre.length, end: s.nextTokenIndex }]);
    };
    await seq.evaluateWithoutGeneratingNewTokens(pre as never);
    const each = (g: (i: number) => Record<string, unknown>) => fed.map((t, i) => [t, { generateNext: g(i) }]);
    // The candidate's request asks for the reference's top tokens: 3 here (a typical count on a confident model).
    const cases: [BreakdownRow['key'], string, () => Promise<unknown>][] = [
      ['body', 'the batch, no output row (the transformer body)', () => seq.controlledEvaluate(fed as never)],
      ['lastRow', 'the batch, one output row (the last position)', () => seq.controlledEvaluate(fed.map((t, i) => (i === N - 1 ? [t, { generateNext: { token: true } }] : t)) as never)],
      ['token', 'the batch, an output row and the greedy token at every position', () => seq.controlledEvaluate(each(() => ({ token: true })) as never)],
      ['normaliser', '… and Σ exp(logit − max) over the vocabulary (`totalLogitWeight`)', () => seq.controlledEvaluate(each(() => ({ token: true, totalLogitWeight: true })) as never)],
      ['candidate', '… and the logits of 3 named tokens (`logits.filter`): the candidate’s pass, the reference’s first', () => seq.controlledEvaluate(each((i) => ({ token: true, totalLogitWeight: true, logits: { filter: { tokens: [output[i]!, 1, 2], includeSelected: true } } })) as never)],
      ['topk', 'the batch, the top-8 logits at every position (a top-k sampler): the reference’s second pass', () => seq.controlledEvaluate(each(() => ({ logits: true, options: { temperature: 1, topK: 8, topP: 1, minP: 0, seed: 1 } })) as never)],
      // Everything the reference needs in one read: `includeTop` sorts the whole vocabulary (the greedy chain leaves it unsorted).
      ['oneRead', 'the batch, greedy token + normaliser + top 8 (`includeTop`) in one read', () => seq.controlledEvaluate(each(() => ({ token: true, totalLogitWeight: true, logits: { filter: { includeTop: 8, includeSelected: true } } })) as never)],
    ];
    // The floor at a large batch: an output row costs less per row the more rows share one pass
    // over the output layer (it flattens from ~32 rows on), and so does the body.
    const large = Array.from({ length: LARGE }, (_, i) => fed[i % fed.length]!);
    cases.push(
      ['bodyLarge', `a batch of ${LARGE} positions, no output row (the body)`, async () => (await seq.controlledEvaluate(large as never), LARGE)],
      ['tokenLarge', `a batch of ${LARGE} positions, an output row and the greedy token at every one: **the floor of any read**`, async () => (await seq.controlledEvaluate(large.map((t) => [t, { generateNext: { token: true } }]) as never), LARGE)],
    );
    // Generation's own loop (sequence.evaluate: one sampler for the whole run, a decode per token),
    // greedy, free and with the JSON grammar of the bench contracts' schema; ms per generated token
    // (the grammar's run stops at the token that closes the JSON object: after it node-llama-cpp's
    // stock grammar allows only whitespace, which a trained model does not want, so every further
    // token would take the slow path; the run engine's grammar ends at the value instead).
    const { LlamaGrammarEvaluationState } = await import('node-llama-cpp');
    const grammar = await llama.createGrammarForJsonSchema({ type: 'object', properties: { label: { enum: ['billing', 'shipping', 'product', 'other'] }, urgent: { type: 'boolean' } } } as never);
    const decode = (withGrammar: boolean) => async () => {
      const state = withGrammar ? new LlamaGrammarEvaluationState({ model, grammar }) : undefined;
      let n = 0;
      let text = '';
      for await (const tok of seq.evaluate([fed[0]!] as never, { temperature: 0, ...(state ? { grammarEvaluationState: state } : {}) })) {
        n++;
        if (withGrammar) text += model.detokenize([tok] as never);
        if (n >= N || model.isEogToken(tok) || text.includes('}')) break;
      }
      return n;
    };
    cases.push(
      ['decode', '**a decode step** (`sequence.evaluate`, greedy, free): generation without a grammar', decode(false)],
      ['decodeGrammar', '**a decode step** with the JSON grammar (fast path if the model’s top token is valid JSON, else slow)', decode(true)],
    );
    // Rounds go over every case in turn, so that the machine's load drifting hits them alike; the
    // first round is a warm-up. A case's figure is the median of its rounds, per position (per
    // generated token for the decode steps).
    const per = new Map<string, number[]>(cases.map(([key]) => [key, []]));
    for (let r = 0; r < rounds + 1; r++) {
      for (const [key, , fn] of cases) {
        await reset(seq);
        const t = performance.now();
        const got = await fn();
        const n = typeof got === 'number' ? got : N;
        if (r) per.get(key)!.push((performance.now() - t) / n);
      }
    }
    const rows: BreakdownRow[] = cases.map(([key, what]) => ({ key, what, msPerPosition: median(per.get(key)!) }));
    return { file, threads, positions: N, rounds, load: [Math.round(load0 * 100) / 100, Math.round(os.loadavg()[0] * 100) / 100], rows };
  });
}

/**
 * Per position, the body alone and the body with an output row and the greedy token at every
 * position, for batches of `sizes` positions (the answer's tokens repeated): how the cost per
 * position falls as more positions share one pass over the weights.
 */
export async function batchSweep(file: string, sizes: readonly number[] = [1, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192], rounds = 3, threads = 1): Promise<{ positions: number; bodyMs: number; withRowsMs: number }[]> {
  return withBenchSequence(file, threads, async ({ seq, prompt, output }) => {
    await seq.evaluateWithoutGeneratingNewTokens(prompt as never);
    const base = seq.nextTokenIndex;
    const out: { positions: number; bodyMs: number; withRowsMs: number }[] = [];
    for (const n of sizes) {
      const fed = Array.from({ length: n }, (_, i) => output[i % output.length]!);
      const body: number[] = [];
      const rows: number[] = [];
      for (let r = 0; r < rounds + 1; r++) {
        for (const [acc, items] of [
          [body, fed],
          [rows, fed.map((t) => [t, { generateNext: { token: true } }])],
        ] as const) {
          if (seq.nextTokenIndex > base) await seq.eraseContextTokenRanges([{ start: base, end: seq.nextTokenIndex }]);
          const t = performance.now();
          await seq.controlledEvaluate(items as never);
          if (r) acc.push((performance.now() - t) / n);
        }
      }
      out.push({ positions: n, bodyMs: median(body), withRowsMs: median(rows) });
    }
    return out;
  });
}

if (require.main === module) {
  const { values } = parseArgs({ options: { '270m': { type: 'boolean' }, rounds: { type: 'string' }, threads: { type: 'string' }, model: { type: 'string' }, sweep: { type: 'boolean' } } });
  (async () => {
    const file = values.model ?? (values['270m'] ? (await ensureBenchModels())['270m'].Q8_0 : (await ensureSpecialistTestModels()).Q8_0);
    if (values.sweep) {
      process.stdout.write(`${file}: ms per position by batch size (${values.threads ?? 1} thread(s), median of ${values.rounds ?? 3} rounds)\n`);
      for (const r of await batchSweep(file, undefined, Number(values.rounds ?? 3), Number(values.threads ?? 1))) {
        process.stdout.write(`${String(r.positions).padStart(4)} positions: body ${r.bodyMs.toFixed(2)}, with an output row and the greedy token at each ${r.withRowsMs.toFixed(2)}\n`);
      }
      await disposeSharedLlama();
      return;
    }
    const b = await teacherBreakdown(file, Number(values.rounds ?? 5), Number(values.threads ?? 1));
    process.stdout.write(`${b.file}: ${b.threads} thread(s), ${b.positions} positions, median of ${b.rounds} rounds, load ${b.load.join(' → ')}\n`);
    for (const r of b.rows) process.stdout.write(`${r.msPerPosition.toFixed(2).padStart(8)} ms/position  ${r.what}\n`);
    await disposeSharedLlama();
  })().catch((e: unknown) => {
    process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
