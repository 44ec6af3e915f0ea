/**
 * Per-token decode time with and without the JSON grammar (run by hand, and by bench/specialist.ts):
 *
 *   node --import tsx bench/token-probe.ts [tokens] [specialist [FILE]]
 *
 * tokens   the tiny synthetic model, 1 thread: free, with the JSON grammar, and with a grammar that
 *          accepts every token (the grammar's fixed cost without its slow path)
 * specialist [FILE]  the trained tiny specialist (it writes the JSON itself, so the grammar stays on
 *          its fast path), or FILE (e.g. its copy padded to the 270M shape, training/pad-270m.ts)
 *
 * The pipeline against a bare loop, prefix reuse, start-up and our own work per example are in
 * bench/runtime.ts (`npm run bench -- --only runtime`).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { checkContract } from '../server/src/core/check';
import { fsHost } from '../server/src/node-host';
import { DEFAULT_SETTINGS } from '../server/src/settings';
import { orderedPrepared } from '../server/src/runtime/engine';
import { planGrammar, toGbnfJsonSchema } from '../server/src/runtime/grammar';
import { LlamaRunner, runnerInfo } from '../server/src/runtime/llama-runner';
import { ModelManager, type LoadedModel } from '../server/src/runtime/models';
import { renderPrompt, tokenizePrompt } from '../server/src/runtime/prompt';
import { distribution } from '../server/src/core/stats';
import { ensureTestModels } from '../test/support/models';

const ROOT = path.resolve(__dirname, '..');
const f2 = (x: number) => x.toFixed(2);
const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');

async function withModel<T>(file: string, fn: (m: LoadedModel) => Promise<T>): Promise<T> {
  const manager = new ModelManager({ settings: { ...DEFAULT_SETTINGS, threads: 1, allowDownload: false, idleUnloadSeconds: 0 }, workspaceRoot: ROOT });
  const lease = await manager.load({ id: 'gemma-3-270m-it', file });
  try {
    return await fn(lease);
  } finally {
    lease.release();
    await manager.dispose();
  }
}

async function tokens(): Promise<void> {
  const file = (await ensureTestModels()).tiny.Q8_0;
  await withModel(file, async (lease) => {
    const runner = new LlamaRunner(lease, runnerInfo(lease.resolved));
    const rendered = renderPrompt({ system: 'Answer with JSON only.', user: 'Summarize and label: {{t}}' }, { t: 'My parcel never arrived and nobody answers the phone.' });
    const t = tokenizePrompt(runner, rendered);
    const schema = { type: 'object', additionalProperties: false, properties: { label: { enum: ['billing', 'shipping', 'product', 'other'] }, urgent: { type: 'boolean' }, summary: { type: 'string', maxLength: 120 } } };
    const constrained = planGrammar({ schema, externals: new Map() }, false);
    await runner.prepare(constrained);
    const rounds = 5;
    const measure = async (grammar: typeof constrained | { mode: 'free'; hash: string }) => {
      const gaps: number[] = [];
      let n = 0;
      for (let r = 0; r < rounds; r++) {
        let last = 0;
        const g = await runner.generate({
          contract: 'bench',
          example: 'e',
          promptText: rendered.text,
          tokens: t.tokens,
          reusablePrefix: t.sharedPrefixTokens,
          grammar,
          maxTokens: 64,
          sampler: { temperature: 0 },
          onToken: (i) => {
            const now = performance.now();
            if (i > 0) gaps.push(now - last);
            last = now;
          },
        });
        n = g.outputTokens;
      }
      return { d: distribution(gaps)!, n };
    };
    console.log(`tokens: tiny synthetic gemma3 Q8_0, 1 thread, greedy, ${rounds} rounds; load average ${load()}`);
    const free = await measure({ mode: 'free', hash: 'free' });
    console.log(`  free:            ${f2(free.d.p50)} ms/token p50, ${f2(free.d.p95)} p95 (${free.n} tokens per round)`);
    const con = await measure(constrained);
    console.log(`  JSON grammar:    ${f2(con.d.p50)} ms/token p50, ${f2(con.d.p95)} p95, ${f2(con.d.max)} max (${con.n} tokens per round)`);

    // The grammar's cost without its slow path: a grammar that every token satisfies.
    const { LlamaGrammarEvaluationState } = await import('node-llama-cpp');
    const anyGrammar = await lease.llama.createGrammar({ grammar: 'root ::= [^\\x00]*' });
    const ctx = await lease.model.createContext({ contextSize: 512, threads: 1 });
    const seq = ctx.getSequence();
    const loop = async (state?: InstanceType<typeof LlamaGrammarEvaluationState>) => {
      const gaps: number[] = [];
      for (let r = 0; r < rounds; r++) {
        await seq.clearHistory();
        let last = 0;
        let i = 0;
        for await (const _ of seq.evaluate(t.tokens as never, { temperature: 0, ...(state ? { grammarEvaluationState: state } : {}) })) {
          const now = performance.now();
          if (i++ > 0) gaps.push(now - last);
          last = now;
          if (i >= 64) break;
        }
      }
      return distribution(gaps)!;
    };
    const bareFree = await loop();
    const bareAny = await loop(new LlamaGrammarEvaluationState({ model: lease.model, grammar: anyGrammar }));
    console.log(`  bare evaluate loop, free: ${f2(bareFree.p50)} ms/token p50; with an accept-everything grammar (fast path only): ${f2(bareAny.p50)} ms/token p50`);
    // Checking and accepting one token in the JSON grammar state, replayed (what the fast path adds).
    const jsonGrammar = await lease.llama.createGrammarForJsonSchema(toGbnfJsonSchema({ schema, externals: new Map() }).schema as never);
    const out = runner.tokenize('{"label": "shipping", "urgent": false, "summary": "The parcel never arrived."}');
    const bind = (lease.llama as unknown as { _bindings: { AddonSampler: { canBeNextTokenForGrammarEvaluationState(s: unknown, t: number): boolean; acceptGrammarEvaluationStateToken(s: unknown, t: number): void } } })._bindings.AddonSampler;
    const R = 200;
    const t0 = performance.now();
    for (let r = 0; r < R; r++) {
      const st = new LlamaGrammarEvaluationState({ model: lease.model, grammar: jsonGrammar }) as unknown as { _state: unknown };
      for (const tok of out) {
        if (!bind.canBeNextTokenForGrammarEvaluationState(st._state, tok)) throw new Error(`token ${tok} rejected`);
        bind.acceptGrammarEvaluationStateToken(st._state, tok);
      }
    }
    console.log(`  JSON grammar check + accept of one token (replayed): ${(((performance.now() - t0) / (R * out.length)) * 1000).toFixed(1)} µs`);
    await ctx.dispose();
    await runner.dispose();
  });
}

/** The trained tiny specialist (it writes the JSON itself): the grammar's cost when the model mostly agrees with it. */
async function specialist(model?: string): Promise<void> {
  const file = model ? path.resolve(model) : path.join(ROOT, '.cache', 'models', 'specialist-triage-Q8_0.gguf');
  const cfile = path.join(ROOT, 'samples', 'specialist-triage.contract.yaml');
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run npm run fixtures`);
  const check = checkContract(fs.readFileSync(cfile, 'utf8'), { file: cfile, host: fsHost(ROOT) });
  const c = check.contract!;
  await withModel(file, async (lease) => {
    const runner = new LlamaRunner(lease, runnerInfo(lease.resolved));
    const plan = planGrammar(orderedPrepared(check), false);
    await runner.prepare(plan);
    const gaps = { free: [] as number[], constrained: [] as number[] };
    let same = 0;
    let total = 0;
    for (let round = 0; round < 3; round++) {
      for (const ex of c.examples) {
        const t = tokenizePrompt(runner, renderPrompt(c.prompt, ex.input));
        const outs: string[] = [];
        for (const mode of ['free', 'constrained'] as const) {
          let last = 0;
          const g = await runner.generate({
            contract: c.contract, example: ex.name, promptText: '', tokens: t.tokens, reusablePrefix: t.sharedPrefixTokens,
            grammar: mode === 'free' ? { mode: 'free', hash: 'free' } : plan, maxTokens: c.model.maxTokens, sampler: { temperature: 0 },
            onToken: (i) => {
              const now = performance.now();
              if (i > 0) gaps[mode].push(now - last);
              last = now;
            },
          });
          outs.push(g.text.trim());
        }
        total++;
        if (outs[0] === outs[1]) same++;
      }
    }
    const fr = distribution(gaps.free)!;
    const co = distribution(gaps.constrained)!;
    console.log(`specialist: ${lease.resolved.label}, 1 thread, ${c.examples.length} examples x 3 rounds; load average ${load()}`);
    console.log(`  free:        ${f2(fr.p50)} ms/token p50, ${f2(fr.p95)} p95 (n=${fr.n})`);
    console.log(`  constrained: ${f2(co.p50)} ms/token p50, ${f2(co.p95)} p95, ${f2(co.max)} max (n=${co.n}); tokens over 20 ms: ${gaps.constrained.filter((x) => x > 20).length}`);
    console.log(`  same text with and without the grammar: ${same}/${total}`);
    await runner.dispose();
  });
}

async function main(): Promise<void> {
  const parts = process.argv.slice(2);
  const want = (p: string) => parts.length === 0 || parts.includes(p);
  if (want('tokens')) await tokens();
  // `specialist [FILE]`: another model of the specialist's contract, e.g. the 270M-shaped padded copy
  // (.cache/models/specialist-triage-270m-Q8_0.gguf, from training/pad-270m.ts).
  if (want('specialist')) await specialist(parts.find((p) => p.endsWith('.gguf')));
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
