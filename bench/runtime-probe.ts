/**
 * The in-process measurements of issue 3's runtime (a child of bench/runtime.ts; one part per
 * process so that each starts with a fresh heap and a freshly loaded model). Prints one JSON object.
 *
 *   node --import tsx bench/runtime-probe.ts pipeline|prefix|load|overhead MODEL.gguf [--quick]
 *
 * pipeline  one example end to end through runContract (render, grammar, generation, validation,
 *           verdict, timings, trace) beside a bare node-llama-cpp loop that generates the same
 *           tokens on the same loaded model, with the same grammar and without one
 * prefix     50 examples sharing a ≥200-token prompt prefix through runContract, prefix reuse on
 *           and off (off = every prompt evaluated whole, as from scratch)
 * load      cold model load: the ModelManager's load (header check + llama.cpp) in this fresh process
 * overhead  our own work per example besides generation: runContract with the ScriptedRunner
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { performance } from 'node:perf_hooks';
import { checkContract, type CheckResult } from '../server/src/core/check';
import { fsHost } from '../server/src/node-host';
import { DEFAULT_SETTINGS } from '../server/src/settings';
import { runContract, scriptedSource, type ContractRunResult } from '../server/src/runtime/engine';
import { planGrammar } from '../server/src/runtime/grammar';
import { orderedPrepared } from '../server/src/runtime/engine';
import { llamaSource } from '../server/src/runtime/llama-runner';
import { ModelManager } from '../server/src/runtime/models';
import { renderPrompt, tokenizePrompt } from '../server/src/runtime/prompt';
import { ScriptedRunner } from '../server/src/runtime/runner';

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export const ONE_EXAMPLE_SYSTEM = 'You route customer support messages to one team. Answer with JSON only: the team, whether the customer needs an answer today, and a short summary.';
export const ONE_EXAMPLE_MESSAGE = 'My parcel was due on Monday and tracking still says it is in the depot. Can you check where it is?';

/** The contract of the one-example measurement: ≈60 prompt tokens, maxTokens 30 (free decoding: RunOptions.free). */
export function oneExampleContract(maxTokens: number): string {
  return `contract: bench-one-example
model:
  id: gemma-3-270m-it
  temperature: 0
  maxTokens: ${maxTokens}
prompt:
  system: ${JSON.stringify(ONE_EXAMPLE_SYSTEM)}
  user: "Team: billing, shipping, product or other. Message: {{message}}"
output:
  schema:
    type: object
    additionalProperties: false
    required: [team, today, summary]
    properties:
      team: { enum: [billing, shipping, product, other] }
      today: { type: boolean }
      summary: { type: string, maxLength: 80 }
examples:
  - name: parcel in the depot
    input: { message: ${JSON.stringify(ONE_EXAMPLE_MESSAGE)} }
    expected: { team: shipping, today: false, summary: "parcel stuck in the depot" }
`;
}

function checkText(dir: string, name: string, text: string): { check: CheckResult; file: string } {
  const file = path.join(dir, `${name}.contract.yaml`);
  fs.writeFileSync(file, text);
  const check = checkContract(text, { file, host: fsHost(dir) });
  const errors = check.findings.filter((f) => f.severity === 'error');
  if (errors.length || !check.contract) throw new Error(`bench contract ${name} does not check clean: ${errors.map((e) => `${e.code}: ${e.message}`).join('; ')}`);
  return { check, file };
}

function manager(dir: string): ModelManager {
  return new ModelManager({ settings: { ...DEFAULT_SETTINGS, threads: 1, allowDownload: false, idleUnloadSeconds: 0 }, workspaceRoot: dir });
}

// --- pipeline vs bare ---------------------------------------------------------------------------

interface Arm {
  name: string;
  ms: number[];
  tokens: number;
  text: string;
}

/**
 * `contractFile`: measure on that contract's first example instead of `oneExampleContract` (the
 * trained specialist answers only its own contract's prompt in JSON).
 */
async function pipeline(model: string, quick: boolean, contractFile?: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-bench-rt-'));
  const maxTokens = 30;
  let text = oneExampleContract(maxTokens);
  if (contractFile) {
    const doc = YAML.parseDocument(fs.readFileSync(contractFile, 'utf8'));
    const examples = doc.get('examples') as YAML.YAMLSeq;
    examples.items.splice(1);
    text = doc.toString();
  }
  const con = checkText(dir, 'one', text);
  const mm = manager(dir);
  const source = llamaSource(mm, { modelOverride: model });
  const lease = await mm.load({ id: 'gemma-3-270m-it', file: model });
  const { LlamaGrammarEvaluationState } = await import('node-llama-cpp');
  try {
    const traceDir = path.join(dir, 'traces');
    const runPipeline = async (c: { check: CheckResult; file: string }, free: boolean): Promise<{ ms: number; r: ContractRunResult }> => {
      const t0 = performance.now();
      const r = await runContract(c.check, { source, file: c.file, warmup: 0, repeat: 1, noCache: true, traceDir, free });
      const ms = performance.now() - t0;
      if (r.status === 'error' || r.status === 'model-unavailable') throw new Error(`pipeline run failed: ${r.reason}`);
      return { ms, r };
    };

    // The bare loop: the same loaded model, one context made once, the rendered prompt tokenized,
    // `sequence.evaluate` greedy until as many tokens as the pipeline produced.
    const contract = con.check.contract!;
    const rendered = renderPrompt(contract.prompt, contract.examples[0]!.input);
    const ctx = await lease.model.createContext({ contextSize: 512, sequences: 1, threads: 1, swaFullCache: true, batchSize: 512 });
    const seq = ctx.getSequence();
    // The same grammar the pipeline decodes with (compiled from the same schema conversion).
    const plan = planGrammar(orderedPrepared(con.check), false);
    const stock = await lease.llama.createGrammarForJsonSchema(plan.converted!.schema as never);
    const bare = async (n: number, grammar: boolean): Promise<{ ms: number; tokens: number; text: string }> => {
      const t0 = performance.now();
      // Tokenized and split as the runner does (the shared prefix evaluated as its own batch), so
      // that the computation — and so the greedy tokens — are the same.
      // Like the runner, it keeps the evaluated prefix between calls (the pipeline's runner outlives
      // a run while the model is loaded) and evaluates only the rest of the prompt.
      const { tokens, sharedPrefixTokens } = tokenizePrompt(lease.model as never, rendered);
      if (seq.compareContextTokens(tokens as never).firstDifferentIndex >= sharedPrefixTokens && sharedPrefixTokens > 0) {
        if (seq.nextTokenIndex > sharedPrefixTokens) await seq.eraseContextTokenRanges([{ start: sharedPrefixTokens, end: seq.nextTokenIndex }]);
      } else {
        await seq.clearHistory();
        await seq.evaluateWithoutGeneratingNewTokens(tokens.slice(0, sharedPrefixTokens) as never);
      }
      const state = grammar ? new LlamaGrammarEvaluationState({ model: lease.model, grammar: stock }) : undefined;
      const out: number[] = [];
      const iter = seq.evaluate(tokens.slice(sharedPrefixTokens) as never, { temperature: 0, ...(state ? { grammarEvaluationState: state } : {}) });
      for await (const t of iter) {
        out.push(t as number);
        if (out.length >= n) break;
      }
      await iter.return(undefined);
      const text = lease.model.detokenize(out as never);
      return { ms: performance.now() - t0, tokens: out.length, text };
    };

    // Warm-up: one of each (first touches of the weights, grammar compile, allocations).
    const w1 = await runPipeline(con, false);
    const w2 = await runPipeline(con, true);
    const nCon = w1.r.examples[0]!.runs[0]?.outputTokens ?? maxTokens;
    const nFree = w2.r.examples[0]!.runs[0]?.outputTokens ?? maxTokens;
    await bare(nCon, true);
    await bare(nFree, false);

    const arms: Record<string, Arm> = {
      pipelineGrammar: { name: 'pipeline, JSON grammar', ms: [], tokens: 0, text: '' },
      bareGrammar: { name: 'bare loop, same grammar', ms: [], tokens: 0, text: '' },
      pipelineFree: { name: 'pipeline, free decoding', ms: [], tokens: 0, text: '' },
      bareFree: { name: 'bare loop, no grammar', ms: [], tokens: 0, text: '' },
    };
    const rounds = quick ? 3 : 9;
    const ttft: Record<'grammar' | 'free', number[]> = { grammar: [], free: [] };
    const record = (arm: Arm, m: { ms: number; tokens: number; text: string }) => {
      arm.ms.push(m.ms);
      arm.tokens = m.tokens;
      arm.text = m.text;
    };
    const viaPipeline = async (c: { check: CheckResult; file: string }, mode: 'grammar' | 'free') => {
      const { ms, r } = await runPipeline(c, mode === 'free');
      const ex = r.examples[0]!;
      ttft[mode].push(ex.runs[0]!.ttftMs);
      return { ms, tokens: ex.runs[0]!.outputTokens, text: ex.output ?? '' };
    };
    for (let r = 0; r < rounds; r++) {
      // Interleaved, so that load changes on the machine hit every arm alike.
      record(arms.pipelineGrammar!, await viaPipeline(con, 'grammar'));
      record(arms.bareGrammar!, await bare(nCon, true));
      record(arms.pipelineFree!, await viaPipeline(con, 'free'));
      record(arms.bareFree!, await bare(nFree, false));
    }
    await ctx.dispose();
    const traceLines = fs.readdirSync(traceDir).reduce((n, f) => n + fs.readFileSync(path.join(traceDir, f), 'utf8').split('\n').filter(Boolean).length, 0);
    return {
      model: lease.resolved.label,
      promptTokens: w1.r.examples[0]!.runs[0]!.promptTokens,
      maxTokens: con.check.contract!.model.maxTokens,
      rounds,
      traceLines,
      verdicts: { grammar: w1.r.examples[0]!.verdict.kind, free: w2.r.examples[0]!.verdict.kind },
      arms: Object.fromEntries(Object.entries(arms).map(([k, a]) => [k, { ...a, median: median(a.ms), min: Math.min(...a.ms) }])),
      ttftMs: { grammar: median(ttft.grammar), free: median(ttft.free) },
    };
  } finally {
    lease.release();
    await mm.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// --- 50 examples sharing a prefix ---------------------------------------------------------------

const PREFIX_SENTENCE = 'Route each support message to exactly one team and answer with JSON only. Billing covers charges, refunds, invoices and prices. Shipping covers delivery, tracking and lost parcels. ';

async function prefix(model: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-bench-rt-'));
  const mm = manager(dir);
  const source = llamaSource(mm, { modelOverride: model });
  const lease = await mm.load({ id: 'gemma-3-270m-it', file: model });
  try {
    // A system text long enough for a ≥200-token shared prefix.
    let system = '';
    const prefixTokens = (s: string) => lease.model.tokenize(renderPrompt({ system: s, user: 'Message: {{m}}' }, { m: '' }).text, true).length;
    while (prefixTokens(system) < 205) system += PREFIX_SENTENCE;
    const n = 50;
    const outputTokens = [8, 30];
    const inputs = Array.from({ length: n }, (_, i) => `order ${1000 + i * 37} ${['was charged twice', 'never arrived', 'arrived broken', 'needs a new address', 'is late'][i % 5]}`);
    const contractFor = (maxTokens: number) => `contract: bench-prefix
model: { id: gemma-3-270m-it, temperature: 0, maxTokens: ${maxTokens}, decoding: free }
prompt:
  system: ${JSON.stringify(system)}
  user: "Message: {{m}}"
output:
  schema: { type: object, properties: { team: { enum: [billing, shipping, product, other] } } }
examples:
${inputs.map((x, i) => `  - name: e${i}\n    input: { m: ${JSON.stringify(x)} }\n    expected: { team: ${i % 2 ? 'billing' : 'shipping'} }`).join('\n')}
`;
    const rows: { outputTokens: number; reuse: boolean; wallMs: number; ttftP50: number; promptTokens: number; reused: number; generated: number }[] = [];
    for (const out of outputTokens) {
      const c = checkText(dir, `prefix-${out}`, contractFor(out));
      const rounds = 1;
      for (let r = 0; r < rounds; r++) {
        for (const reuse of [false, true]) {
          const t0 = performance.now();
          const res = await runContract(c.check, { source, file: c.file, warmup: 0, repeat: 1, noCache: true, reusePrefix: reuse });
          const wallMs = performance.now() - t0;
          if (res.status === 'error' || res.status === 'model-unavailable') throw new Error(`prefix run failed: ${res.reason}`);
          const runs = res.examples.flatMap((e) => e.runs);
          rows.push({
            outputTokens: out,
            reuse,
            wallMs,
            ttftP50: median(runs.map((x) => x.ttftMs)),
            promptTokens: median(runs.map((x) => x.promptTokens)),
            reused: median(runs.map((x) => x.reusedPromptTokens)),
            generated: runs.reduce((s, x) => s + x.outputTokens, 0),
          });
        }
      }
    }
    return { model: lease.resolved.label, examples: n, sharedPrefixTokens: prefixTokens(system), rows };
  } finally {
    lease.release();
    await mm.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// --- cold load --------------------------------------------------------------------------------------

async function load(model: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-bench-rt-'));
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const mm = manager(dir);
  const lease = await mm.load({ id: 'gemma-3-270m-it', file: model });
  const loadMs = performance.now() - t0;
  const rss1 = process.memoryUsage().rss;
  lease.release();
  await mm.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
  return { model: lease.resolved.label, bytes: fs.statSync(model).size, loadMs, rssBeforeBytes: rss0, rssLoadedBytes: rss1 };
}

// --- our own work per example --------------------------------------------------------------------

async function overhead(quick: boolean) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-bench-rt-'));
  const n = 500;
  const examples = Array.from({ length: n }, (_, i) => `  - name: e${i}\n    input: { t: "text number ${i}" }\n    expected: { label: ${i % 2 ? 'a' : 'b'}, score: ${i} }`).join('\n');
  const text = `contract: o\nprompt:\n  system: Label it.\n  user: "Text: {{t}}"\noutput:\n  schema:\n    type: object\n    additionalProperties: false\n    required: [label, score]\n    properties:\n      label: { enum: [a, b] }\n      score: { type: integer, minimum: 0 }\n  match: fields\nexamples:\n${examples}\n`;
  const { check, file } = checkText(dir, 'o', text);
  const runner = new ScriptedRunner((req) => {
    const i = Number(req.example.slice(1));
    return { output: JSON.stringify({ label: i % 2 ? 'a' : 'b', score: i }), latencyMs: 0 };
  });
  const go = async (io: boolean) => {
    const t0 = performance.now();
    const r = await runContract(check, { source: scriptedSource(runner), file, warmup: 0, noCache: true, ...(io ? { traceDir: path.join(dir, 'traces'), cacheDir: path.join(dir, 'cache') } : {}) });
    if (r.passed !== n) throw new Error(`overhead run: ${r.passed}/${n} passed`);
    return ((performance.now() - t0) / n) * 1000;
  };
  await go(false);
  await go(true);
  const bare: number[] = [];
  const withIo: number[] = [];
  for (let r = 0; r < (quick ? 3 : 7); r++) {
    bare.push(await go(false));
    withIo.push(await go(true));
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return { examples: n, usPerExample: median(bare), usPerExampleWithIo: median(withIo) };
}

async function main(): Promise<void> {
  const [part, rel] = process.argv.slice(2);
  const model = rel ? path.resolve(rel) : undefined;
  const quick = process.argv.includes('--quick');
  let out: unknown;
  if (part === 'pipeline') out = await pipeline(model!, quick, process.argv.find((a) => a.startsWith('--contract='))?.slice('--contract='.length));
  else if (part === 'prefix') out = await prefix(model!);
  else if (part === 'load') out = await load(model!);
  else if (part === 'overhead') out = await overhead(quick);
  else throw new Error(`unknown part ${part}`);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
