/**
 * Measurements of the run engine (not shipped behaviour; run by hand):
 *
 *   node --import tsx server/src/runtime/bench.ts [tokens] [prefix] [overhead] [startup]
 *
 * tokens   per-token decode time on the tiny synthetic model, 1 thread: free, with the JSON grammar,
 *          and with a grammar that accepts every token (the grammar's fixed cost without its slow path)
 * prefix   50 examples sharing a ~200-token prefix: reusing its evaluated state vs evaluating it each time
 * overhead the engine's own cost per example with the ScriptedRunner (no model)
 * startup  `contracts run` (the bundled CLI) until the point where the model would be loaded
 * specialist [FILE]  per-token cost of the grammar on the trained tiny specialist (it writes the JSON
 *          itself), or on FILE (e.g. its copy padded to the 270M shape)
 * prefix270m  as prefix, on the 270M-shaped synthetic model
 *
 * The models are the random-weight synthetic ones (test/support/models.ts): their outputs mean
 * nothing, only the timings do. Every figure is a median of several rounds; the load average is
 * printed because the machine is shared.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { checkContract } from '../core/check';
import { fsHost } from '../node-host';
import { DEFAULT_SETTINGS } from '../settings';
import { orderedPrepared, runContract, scriptedSource } from './engine';
import { planGrammar, toGbnfJsonSchema } from './grammar';
import { LlamaRunner, runnerInfo } from './llama-runner';
import { ModelManager, type LoadedModel } from './models';
import { renderPrompt, tokenizePrompt } from './prompt';
import { ScriptedRunner } from './runner';
import { distribution } from '../core/stats';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
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

async function modelPath(kind: 'tiny' | '270m'): Promise<string> {
  const support = await import(path.join(ROOT, 'test', 'support', 'models'));
  return kind === 'tiny' ? (await support.ensureTestModels()).tiny.Q8_0 : (await support.ensureBenchModels())['270m'].Q8_0;
}

async function tokens(): Promise<void> {
  const file = await modelPath('tiny');
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

async function prefix(kind: 'tiny' | '270m'): Promise<void> {
  const file = await modelPath(kind);
  await withModel(file, async (lease) => {
    const sentence = 'Route each support message to exactly one team and answer with JSON only. Billing covers charges, refunds, invoices and prices. Shipping covers delivery, tracking and lost parcels. ';
    let system = '';
    const mk = (s: string) => renderPrompt({ system: s, user: 'Message: {{x}}' }, { x: '' });
    const runner = new LlamaRunner(lease, runnerInfo(lease.resolved));
    while (tokenizePrompt(runner, mk(system)).sharedPrefixTokens < 200) system += sentence;
    const inputs = Array.from({ length: 50 }, (_, i) => `order ${1000 + i * 37} ${['was charged twice', 'never arrived', 'arrived broken', 'needs a new address', 'is late'][i % 5]}`);
    const prompts = inputs.map((x) => tokenizePrompt(runner, renderPrompt({ system, user: 'Message: {{x}}' }, { x })));
    const shared = prompts[0]!.sharedPrefixTokens;
    const go = async (reuse: boolean) => {
      const ttft: number[] = [];
      const t0 = performance.now();
      for (let i = 0; i < prompts.length; i++) {
        const p = prompts[i]!;
        const g = await runner.generate({ contract: 'bench', example: String(i), promptText: '', tokens: p.tokens, reusablePrefix: reuse ? p.sharedPrefixTokens : 0, grammar: { mode: 'free', hash: 'free' }, maxTokens: 8, sampler: { temperature: 0 } });
        ttft.push(g.timings.ttftMs);
      }
      return { wall: performance.now() - t0, ttft: median(ttft) };
    };
    console.log(`prefix: ${kind} synthetic Q8_0, 1 thread, 50 examples, shared prefix ${shared} tokens, prompts ${prompts[0]!.tokens.length}-${Math.max(...prompts.map((p) => p.tokens.length))} tokens, 8 output tokens each; load average ${load()}`);
    const rows: { reuse: boolean; wall: number; ttft: number }[] = [];
    for (let r = 0; r < 3; r++) for (const reuse of [false, true]) rows.push({ reuse, ...(await go(reuse)) });
    const w = (reuse: boolean) => median(rows.filter((x) => x.reuse === reuse).map((x) => x.wall));
    const tt = (reuse: boolean) => median(rows.filter((x) => x.reuse === reuse).map((x) => x.ttft));
    console.log(`  evaluate every prompt whole: ${Math.round(w(false))} ms for 50 (time to first token p50 ${f2(tt(false))} ms)`);
    console.log(`  reuse the shared prefix:     ${Math.round(w(true))} ms for 50 (time to first token p50 ${f2(tt(true))} ms)`);
    console.log(`  speedup: ${(w(false) / w(true)).toFixed(2)}x wall, ${(tt(false) / tt(true)).toFixed(2)}x time to first token`);
    await runner.dispose();
  });
}

async function overhead(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-bench-'));
  const n = 500;
  const examples = Array.from({ length: n }, (_, i) => `  - name: e${i}\n    input: { t: "text number ${i}" }\n    expected: { label: ${i % 2 ? 'a' : 'b'}, score: ${i} }`).join('\n');
  const text = `contract: o\nprompt:\n  system: Label it.\n  user: "Text: {{t}}"\noutput:\n  schema:\n    type: object\n    additionalProperties: false\n    required: [label, score]\n    properties:\n      label: { enum: [a, b] }\n      score: { type: integer, minimum: 0 }\n  match: fields\nexamples:\n${examples}\n`;
  const file = path.join(dir, 'o.contract.yaml');
  fs.writeFileSync(file, text);
  const check = checkContract(text, { file, host: fsHost(dir) });
  const runner = new ScriptedRunner((req) => {
    const i = Number(req.example.slice(1));
    return { output: JSON.stringify({ label: i % 2 ? 'a' : 'b', score: i }), latencyMs: 0 };
  });
  const go = async (io: boolean) => {
    const t0 = performance.now();
    await runContract(check, { source: scriptedSource(runner), file, warmup: 0, noCache: true, ...(io ? { traceDir: path.join(dir, 'traces'), cacheDir: path.join(dir, 'cache') } : {}) });
    return ((performance.now() - t0) / n) * 1000;
  };
  await go(false);
  const bare: number[] = [];
  const withIo: number[] = [];
  for (let r = 0; r < 5; r++) {
    bare.push(await go(false));
    withIo.push(await go(true));
  }
  console.log(`overhead: engine with the ScriptedRunner, ${n} examples per run, 5 runs; load average ${load()}`);
  console.log(`  per example: ${Math.round(median(bare))} µs (render, tokenize, judge, stats), ${Math.round(median(withIo))} µs with a trace line and a cache entry written`);
}

function startup(): void {
  const out = path.join(ROOT, '.cache', 'bench-dist', 'cli.js');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  // The same options as esbuild.mjs, into a private folder (others rebuild dist/ at any time).
  (require('esbuild') as typeof import('esbuild')).buildSync({ entryPoints: [path.join(ROOT, 'server/src/cli/main.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['vscode', 'node-llama-cpp', '@node-llama-cpp/*'], outfile: out, logLevel: 'warning' });
  const time = (args: string[]) => {
    const xs: number[] = [];
    for (let r = 0; r < 7; r++) {
      const t0 = performance.now();
      spawnSync(process.execPath, [out, ...args], { cwd: ROOT, encoding: 'utf8' });
      xs.push(performance.now() - t0);
    }
    return median(xs);
  };
  const version = time(['--version']);
  // A missing --model file fails at resolution: everything before the model load, nothing after.
  const run = time(['run', 'samples/classify-complaint.contract.yaml', '--model', '/nonexistent/model.gguf', '--offline']);
  const all = time(['run', 'samples', '--model', '/nonexistent/model.gguf', '--offline']);
  console.log(`startup: bundled CLI (${(fs.statSync(out).size / 1048576).toFixed(1)} MB), 7 runs each, median wall time; load average ${load()}`);
  console.log(`  contracts --version: ${Math.round(version)} ms`);
  console.log(`  contracts run <one sample> until the model load: ${Math.round(run)} ms; every sample: ${Math.round(all)} ms`);
}

async function main(): Promise<void> {
  const parts = process.argv.slice(2);
  const want = (p: string) => parts.length === 0 || parts.includes(p);
  if (want('startup')) startup();
  if (want('overhead')) await overhead();
  if (want('tokens')) await tokens();
  if (want('prefix')) await prefix('tiny');
  if (want('prefix270m')) await prefix('270m');
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
