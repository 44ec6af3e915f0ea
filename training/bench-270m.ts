/**
 * Per-token decode time of samples/specialist-triage.contract.yaml on a model file, free vs with
 * its JSON grammar: through the project's runner (as server/src/runtime/bench.ts `specialist` does
 * for the tiny file) and in a bare node-llama-cpp evaluate loop. Default: the trained specialist
 * padded to the Gemma 3 270M shape (training/pad-270m.ts), Q8_0, which writes the JSON itself, so
 * the grammar should stay on its fast path. One thread; run it alone (flock /tmp/pc-heavy.lock).
 *
 *   node --import tsx training/bench-270m.ts [model.gguf ...]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkContract } from '../server/src/core/check';
import { fsHost } from '../server/src/node-host';
import { DEFAULT_SETTINGS } from '../server/src/settings';
import { orderedPrepared } from '../server/src/runtime/engine';
import { endAtValue, planGrammar, toGbnfJsonSchema } from '../server/src/runtime/grammar';
import { LlamaRunner, runnerInfo } from '../server/src/runtime/llama-runner';
import { ModelManager } from '../server/src/runtime/models';
import { renderPrompt, tokenizePrompt } from '../server/src/runtime/prompt';
import { distribution } from '../server/src/runtime/stats';
import { ensurePadded270mModels } from './pad-270m';

export async function benchFreeVsGrammar(file: string, rounds = 3): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const cfile = path.join(root, 'samples', 'specialist-triage.contract.yaml');
  const check = checkContract(fs.readFileSync(cfile, 'utf8'), { file: cfile, host: fsHost(root) });
  const c = check.contract!;
  const manager = new ModelManager({ settings: { ...DEFAULT_SETTINGS, threads: 1, allowDownload: false, idleUnloadSeconds: 0 }, workspaceRoot: root });
  const lease = await manager.load({ id: 'specialist-270m', file });
  const f2 = (x: number) => x.toFixed(2);
  const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');
  try {
    const runner = new LlamaRunner(lease, runnerInfo(lease.resolved));
    const plan = planGrammar(orderedPrepared(check), false);
    await runner.prepare(plan);
    const gaps = { free: [] as number[], constrained: [] as number[] };
    let same = 0;
    let total = 0;
    const prompts = c.examples.map((ex) => tokenizePrompt(runner, renderPrompt(c.prompt, ex.input)));
    const load0 = load();
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < c.examples.length; i++) {
        const t = prompts[i]!;
        const outs: string[] = [];
        for (const mode of ['free', 'constrained'] as const) {
          let last = 0;
          const g = await runner.generate({
            contract: c.contract, example: c.examples[i]!.name, promptText: '', tokens: t.tokens, reusablePrefix: t.sharedPrefixTokens,
            grammar: mode === 'free' ? { mode: 'free', hash: 'free' } : plan, maxTokens: c.model.maxTokens, sampler: { temperature: 0 },
            onToken: (k) => {
              const now = performance.now();
              if (k > 0) gaps[mode].push(now - last);
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
    console.log(`${path.basename(file)}: ${lease.resolved.label ?? ''}`);
    console.log(`  runner, 1 thread, ${c.examples.length} examples x ${rounds} rounds; load average ${load0} -> ${load()}`);
    console.log(`  free:        ${f2(fr.p50)} ms/token p50, ${f2(fr.p95)} p95 (n=${fr.n})`);
    console.log(`  constrained: ${f2(co.p50)} ms/token p50, ${f2(co.p95)} p95, ${f2(co.max)} max (n=${co.n})`);
    console.log(`  same text with and without the grammar: ${same}/${total}`);
    await runner.dispose();

    // Bare node-llama-cpp loop: sequence.evaluate, free vs with the contract's JSON grammar state.
    const { LlamaGrammarEvaluationState } = await import('node-llama-cpp');
    // As the runner does: the stock JSON grammar, its trailing-newlines tail cut so that the end
    // of the turn is the only token allowed after the value.
    const stock = await lease.llama.createGrammarForJsonSchema(toGbnfJsonSchema(orderedPrepared(check)!).schema as never);
    const ending = endAtValue(stock.grammar);
    const grammar = ending === undefined ? stock : await lease.llama.createGrammar({ grammar: ending });
    const ctx = await lease.model.createContext({ contextSize: 512, threads: 1 });
    const seq = ctx.getSequence();
    const bare = async (withGrammar: boolean) => {
      const g: number[] = [];
      for (let round = 0; round < rounds; round++) {
        for (const t of prompts) {
          await seq.clearHistory();
          let last = 0;
          let n = 0;
          const state = withGrammar ? new LlamaGrammarEvaluationState({ model: lease.model, grammar }) : undefined;
          for await (const tok of seq.evaluate(t.tokens as never, { temperature: 0, ...(state ? { grammarEvaluationState: state } : {}) })) {
            const now = performance.now();
            if (n++ > 0) g.push(now - last);
            last = now;
            if (tok === 106 || tok === 1 || n >= c.model.maxTokens) break;
          }
        }
      }
      return distribution(g)!;
    };
    const bf = await bare(false);
    const bg = await bare(true);
    console.log(`  bare evaluate loop: free ${f2(bf.p50)} ms/token p50 (${f2(bf.p95)} p95, n=${bf.n}); JSON grammar ${f2(bg.p50)} ms/token p50 (${f2(bg.p95)} p95, n=${bg.n}); load average ${load()}`);
    await ctx.dispose();
  } finally {
    lease.release();
    await manager.dispose();
  }
}

if (require.main === module) {
  (async () => {
    let files = process.argv.slice(2);
    if (files.length === 0) files = [(await ensurePadded270mModels(path.resolve(__dirname, '..', '.cache', 'models'), ['Q8_0'])).Q8_0!];
    for (const f of files) await benchFreeVsGrammar(f);
  })().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
