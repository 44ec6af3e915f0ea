import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parse as parseYaml } from 'yaml';
import type { CheckResult } from '../core/check';
import type { Contract, Example } from '../core/contract-schema';
import type { PreparedSchema } from '../core/output-schema';
import pkg from '../../../package.json';
import { cacheKey, isDeterministic, ResultCache } from './cache';
import { GrammarError, planGrammar, restoreKeyOrder, type GrammarPlan } from './grammar';
import { renderPrompt, tokenizePrompt, type RenderedPrompt } from './prompt';
import { modelQueue } from './queue';
import { AbortError, type GenerateResult, type ModelRunner, type RunnerModelInfo, type SamplerSettings } from './runner';
import { checkBudgets, distribution, type BudgetCheck, type Distribution } from '../core/stats';
import { TraceWriter, type TraceRecord } from './trace';
import { judge, type StopReason, type Verdict, type VerdictKind } from '../core/verdict';

/**
 * Runs a checked contract's examples on a model and judges them. Used by `contracts run` and
 * (later) by the language server: progress callbacks, AbortSignal, one run at a time per model.
 */

export const RUNTIME_VERSION: string = (pkg as { version: string }).version;

/** A model as resolved before loading: enough for cache keys and the queue. */
export interface ResolvedRunnerModel {
  /** Queue key: one run at a time per key (the model file's path). */
  key: string;
  info: RunnerModelInfo;
  /** Whatever the source needs to open it (e.g. the ModelManager's ResolvedModel). */
  native?: unknown;
}

/** Where runners come from. `llamaSource` (llama-runner.ts) wraps the ModelManager; tests use `scriptedSource`. */
export interface ModelSource {
  /** Engine name and version, part of the cache key (e.g. "node-llama-cpp 3.22.1"). */
  readonly engine: string;
  /** Resolves the contract's model; throws ModelUnavailableError with a plain message when it cannot be had. */
  resolve(req: { contract: Contract; contractFile?: string; quantization: string; signal?: AbortSignal }): Promise<ResolvedRunnerModel>;
  /** Loads it (the engine holds the model's queue slot meanwhile). */
  open(resolved: ResolvedRunnerModel, opts: { signal?: AbortSignal; onStatus?: (message: string) => void }): Promise<{ runner: ModelRunner; release(): Promise<void> | void }>;
}

export class ModelUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelUnavailableError';
  }
}

export function scriptedSource(runner: ModelRunner): ModelSource {
  return {
    engine: 'scripted',
    async resolve() {
      return { key: `scripted:${runner.info.path}`, info: runner.info };
    },
    async open() {
      return { runner, release() {} };
    },
  };
}

export interface RunOptions {
  source: ModelSource;
  /** Absolute path of the contract file (for traces and reports). */
  file?: string;
  /** Run this quantization (default: the contract's first, its reference). */
  quantization?: string;
  /** Measured runs per example (default: the contract's `run.repeat`). */
  repeat?: number;
  /** Unmeasured runs before timing starts (default: the contract's `run.warmup`). */
  warmup?: number;
  noCache?: boolean;
  /** Decode without a grammar (as `model.decoding: free`). */
  free?: boolean;
  /** Caps every contract's maxTokens (a quick smoke run; outputs it cuts are reported truncated). */
  maxTokensCap?: number;
  /** Only these examples (by name); others are reported as skipped. */
  examples?: readonly string[];
  signal?: AbortSignal;
  onProgress?: (event: RunProgress) => void;
  /** Absolute trace folder; undefined disables traces. */
  traceDir?: string;
  /** Absolute cache folder; undefined disables the cache. */
  cacheDir?: string;
  /** Keep the evaluated prompt prefix the examples share (default true; false evaluates every prompt whole, as from scratch — a baseline for measurements). */
  reusePrefix?: boolean;
  /**
   * Called after each example that ran on the model (not for cached or skipped ones), while the
   * runner still holds its last generation: drift teacher-forces there, reusing the prompt's
   * state. Its time is not part of the example's latency; what it throws (but a cancellation) is
   * its own business and does not stop the run.
   */
  afterExample?: (e: AfterExample) => Promise<void>;
}

export interface AfterExample {
  result: ExampleResult;
  runner: ModelRunner;
  /** The rendered prompt, its tokens (special tokens parsed) and the prefix every example shares. */
  promptText: string;
  tokens: readonly number[];
  sharedPrefixTokens: number;
  signal?: AbortSignal;
}

export type RunProgress =
  | { kind: 'queued'; contract: string; model: string; ahead: number }
  | { kind: 'loading'; contract: string; model: string; message?: string }
  | { kind: 'started'; contract: string; model: string; total: number }
  | { kind: 'example'; contract: string; done: number; total: number; result: ExampleResult }
  | { kind: 'done'; contract: string; result: ContractRunResult };

export interface RunTiming {
  ttftMs: number;
  totalMs: number;
  tokensPerSecond: number;
  promptTokens: number;
  reusedPromptTokens: number;
  outputTokens: number;
}

export interface ExampleResult {
  name: string;
  /** Index in the contract's examples. */
  index: number;
  verdict: Verdict;
  /** Raw output of the first measured run (or of the cache). */
  output?: string;
  parsed?: unknown;
  stopReason?: StopReason;
  cached: boolean;
  /** Measured runs (empty when cached or skipped). */
  runs: RunTiming[];
  /** Verdict of each measured run (at temperature > 0 they may differ). */
  repeatVerdicts: VerdictKind[];
  latency?: Distribution;
  ttft?: Distribution;
}

export type ContractStatus = 'pass' | 'fail' | 'not-run' | 'error' | 'model-unavailable' | 'cancelled';

export interface ContractRunResult {
  contract: string;
  file?: string;
  status: ContractStatus;
  /** Why it was not run, errored or could not load its model. */
  reason?: string;
  model?: RunnerModelInfo;
  quantization: string;
  decoding: 'constrained' | 'free';
  /** Schema keywords the grammar does not enforce (post-validation still does). */
  grammarDropped: string[];
  examples: ExampleResult[];
  judged: number;
  passed: number;
  passRate?: number;
  /** Over every measured run of every example. */
  latency?: Distribution;
  ttft?: Distribution;
  budgets: BudgetCheck[];
  cachedCount: number;
  warnings: string[];
  /** Wall time of the whole call (queue wait and model load included). */
  wallMs: number;
  /** Time spent waiting for the model's queue slot and loading it. */
  loadMs?: number;
}

function hasErrors(check: CheckResult): boolean {
  return check.findings.some((f) => f.severity === 'error');
}

function skippedResult(ex: Example, index: number, message: string, kind: VerdictKind = 'skipped'): ExampleResult {
  return { name: ex.name, index, verdict: { kind, message }, cached: false, runs: [], repeatVerdicts: [] };
}

function samplerOf(contract: Contract): SamplerSettings {
  const m = contract.model;
  // At temperature 0 decoding is greedy: top-k/top-p/seed would change nothing, so they are not passed.
  if (m.temperature === 0) return { temperature: 0 };
  return { temperature: m.temperature, ...(m.topK !== undefined ? { topK: m.topK } : {}), ...(m.topP !== undefined ? { topP: m.topP } : {}), ...(m.seed !== undefined ? { seed: m.seed } : {}) };
}

export async function runContract(check: CheckResult, opts: RunOptions): Promise<ContractRunResult> {
  const t0 = performance.now();
  const contract = check.contract;
  const name = contract?.contract ?? check.examples[0]?.name ?? '(invalid contract)';
  const quantization = opts.quantization ?? contract?.model.quantizations[0] ?? '';
  const free = !!opts.free || contract?.model.decoding === 'free';
  const base: ContractRunResult = {
    contract: name,
    file: opts.file,
    status: 'not-run',
    quantization,
    decoding: free ? 'free' : 'constrained',
    grammarDropped: [],
    examples: [],
    judged: 0,
    passed: 0,
    budgets: [],
    cachedCount: 0,
    warnings: [],
    wallMs: 0,
  };
  const finish = (r: ContractRunResult): ContractRunResult => {
    r.wallMs = performance.now() - t0;
    opts.onProgress?.({ kind: 'done', contract: r.contract, result: r });
    return r;
  };

  if (!contract || !check.schema || hasErrors(check)) {
    const n = check.findings.filter((f) => f.severity === 'error').length;
    return finish({ ...base, status: 'not-run', reason: n ? `the contract has ${n} static error${n === 1 ? '' : 's'}; fix ${n === 1 ? 'it' : 'them'} before running` : 'the contract or its output schema could not be read' });
  }
  const validate = check.schema.validate;

  let grammar: GrammarPlan;
  try {
    grammar = planGrammar(free ? undefined : orderedPrepared(check), free);
  } catch (e) {
    if (e instanceof GrammarError) return finish({ ...base, status: 'error', reason: `cannot build the decoding grammar: ${e.message} (at ${e.at}); use \`model.decoding: free\` to run without one` });
    throw e;
  }
  base.grammarDropped = grammar.converted?.dropped ?? [];

  const repeat = Math.max(1, opts.repeat ?? contract.run?.repeat ?? 1);
  const warmup = Math.max(0, opts.warmup ?? contract.run?.warmup ?? 1);
  const sampler = samplerOf(contract);
  const maxTokens = opts.maxTokensCap ? Math.min(opts.maxTokensCap, contract.model.maxTokens) : contract.model.maxTokens;
  const only = opts.examples ? new Set(opts.examples) : undefined;

  let resolved: ResolvedRunnerModel;
  try {
    resolved = await opts.source.resolve({ contract, contractFile: opts.file, quantization, signal: opts.signal });
  } catch (e) {
    if (opts.signal?.aborted) return finish({ ...base, status: 'cancelled', reason: 'cancelled while resolving the model' });
    return finish({ ...base, status: 'model-unavailable', reason: (e as Error).message });
  }
  base.model = resolved.info;

  // Render every prompt and look the examples up in the cache: an all-cached contract needs no model.
  const cache = opts.cacheDir && !opts.noCache && isDeterministic(sampler) ? new ResultCache(opts.cacheDir) : undefined;
  const writeCache = opts.cacheDir && isDeterministic(sampler) ? (cache ?? new ResultCache(opts.cacheDir)) : undefined;
  const traces = opts.traceDir ? new TraceWriter(opts.traceDir) : undefined;
  interface Job {
    ex: Example;
    index: number;
    rendered: RenderedPrompt;
    key: string;
  }
  const results: (ExampleResult | undefined)[] = new Array(contract.examples.length).fill(undefined);
  const jobs: Job[] = [];
  contract.examples.forEach((ex, index) => {
    if (ex.skip) {
      results[index] = skippedResult(ex, index, 'skip: true');
      return;
    }
    if (only && !only.has(ex.name)) {
      results[index] = skippedResult(ex, index, 'not selected');
      return;
    }
    const rendered = renderPrompt(contract.prompt, ex.input);
    const key = cacheKey({ modelIdentity: resolved.info.identity, quantization: resolved.info.quantization, prompt: rendered.text, grammarHash: grammar.hash, sampler, maxTokens, engine: opts.source.engine, runtimeVersion: RUNTIME_VERSION });
    const hit = cache?.get(key);
    if (hit) {
      const j = judge({ output: hit.text, stopReason: hit.stopReason, validate, expected: ex.expected, match: contract.output.match, ignore: contract.output.ignore, maxTokens });
      results[index] = { name: ex.name, index, verdict: j.verdict, output: hit.text, parsed: j.parsed, stopReason: hit.stopReason, cached: true, runs: [], repeatVerdicts: [j.verdict.kind] };
      return;
    }
    jobs.push({ ex, index, rendered, key });
  });

  const total = contract.examples.length;
  let done = 0;
  const emit = (r: ExampleResult) => opts.onProgress?.({ kind: 'example', contract: name, done: ++done, total, result: r });
  for (const r of results) if (r) emit(r);

  let cancelled = false;
  let runError: string | undefined;
  let loadMs: number | undefined;
  if (jobs.length) {
    const ahead = modelQueue.pending(resolved.key);
    if (ahead) opts.onProgress?.({ kind: 'queued', contract: name, model: resolved.info.label, ahead });
    let unlock: (() => void) | undefined;
    let lease: { runner: ModelRunner; release(): Promise<void> | void } | undefined;
    const tLoad = performance.now();
    try {
      unlock = await modelQueue.acquire(resolved.key, opts.signal);
      opts.onProgress?.({ kind: 'loading', contract: name, model: resolved.info.label });
      lease = await opts.source.open(resolved, { signal: opts.signal, onStatus: (message) => opts.onProgress?.({ kind: 'loading', contract: name, model: resolved.info.label, message }) });
      const runner = lease.runner;
      base.model = runner.info;
      await runner.prepare(grammar);
      loadMs = performance.now() - tLoad;
      opts.onProgress?.({ kind: 'started', contract: name, model: runner.info.label, total });

      const tokenized = jobs.map((j) => tokenizePrompt(runner, j.rendered));
      const contextSize = contract.model.contextSize ?? Math.max(...tokenized.map((t) => t.tokens.length)) + maxTokens + 1;
      const generate = (j: Job, k: number, signal?: AbortSignal): Promise<GenerateResult> =>
        runner.generate({
          contract: name,
          example: j.ex.name,
          promptText: j.rendered.text,
          tokens: tokenized[k]!.tokens,
          reusablePrefix: opts.reusePrefix === false ? 0 : tokenized[k]!.sharedPrefixTokens,
          grammar,
          maxTokens,
          contextSize,
          sampler,
          signal,
        });
      const record = (j: Job, repeatIndex: number, g: GenerateResult, v: Verdict, parsed: unknown, parsedOk: boolean) => {
        if (!traces) return;
        const rec: TraceRecord = {
          time: new Date().toISOString(),
          contract: name,
          file: opts.file,
          example: j.ex.name,
          repeat: repeatIndex,
          ...(repeatIndex < 0 ? { warmup: true } : {}),
          model: { path: runner.info.path, id: runner.info.id, quantization: runner.info.quantization, synthetic: runner.info.synthetic, label: runner.info.label },
          decoding: grammar.mode,
          prompt: j.rendered.text,
          output: g.text,
          ...(parsedOk ? { parsed } : {}),
          verdict: v.kind,
          message: v.message,
          stopReason: g.stopReason,
          timings: { ...g.timings, promptTokens: g.promptTokens, reusedPromptTokens: g.reusedPromptTokens, outputTokens: g.outputTokens },
        };
        traces.append(rec);
      };

      // Warm-up: unmeasured runs of the first example (loads weights into caches, evaluates the shared prefix).
      for (let w = 0; w < warmup && jobs.length; w++) {
        if (opts.signal?.aborted) break;
        // A failing warm-up is not reported: the measured run of the same example will show it.
        const g = await generate(jobs[0]!, 0, opts.signal).catch(() => undefined);
        if (!g) break;
        const j = judge({ output: g.text, stopReason: g.stopReason, validate, expected: jobs[0]!.ex.expected, match: contract.output.match, ignore: contract.output.ignore, maxTokens });
        record(jobs[0]!, -1, g, j.verdict, j.parsed, j.parsedOk);
      }

      for (let k = 0; k < jobs.length; k++) {
        const job = jobs[k]!;
        if (opts.signal?.aborted) break;
        const runs: RunTiming[] = [];
        const verdicts: VerdictKind[] = [];
        let first: { g: GenerateResult; verdict: Verdict; parsed: unknown } | undefined;
        let worst: { verdict: Verdict; g?: GenerateResult; parsed?: unknown } | undefined;
        for (let r = 0; r < repeat; r++) {
          if (opts.signal?.aborted) break;
          let g: GenerateResult;
          try {
            g = await generate(job, k, opts.signal);
          } catch (e) {
            if (isAbort(e, opts.signal)) break;
            const verdict: Verdict = { kind: 'error', message: `the model failed: ${(e as Error).message}` };
            verdicts.push('error');
            worst ??= { verdict };
            continue;
          }
          if (g.stopReason === 'abort') break;
          const j = judge({ output: g.text, stopReason: g.stopReason, validate, expected: job.ex.expected, match: contract.output.match, ignore: contract.output.ignore, maxTokens });
          record(job, r, g, j.verdict, j.parsed, j.parsedOk);
          runs.push({ ...g.timings, promptTokens: g.promptTokens, reusedPromptTokens: g.reusedPromptTokens, outputTokens: g.outputTokens });
          verdicts.push(j.verdict.kind);
          first ??= { g, verdict: j.verdict, parsed: j.parsed };
          if (j.verdict.kind !== 'pass') worst ??= { verdict: j.verdict, g, parsed: j.parsed };
          if (r === 0 && writeCache) {
            writeCache.put(job.key, { text: g.text, stopReason: g.stopReason, outputTokens: g.outputTokens, promptTokens: g.promptTokens, createdAt: new Date().toISOString(), model: runner.info.label });
          }
        }
        if (!verdicts.length) {
          results[job.index] = skippedResult(job.ex, job.index, 'the run was cancelled', 'cancelled');
          break;
        }
        const shown = worst ?? first!;
        const passes = verdicts.filter((v) => v === 'pass').length;
        const verdict: Verdict = { ...shown.verdict };
        if (verdicts.length > 1 && passes > 0 && passes < verdicts.length) verdict.message = `${verdict.message} (${passes}/${verdicts.length} repeats passed)`;
        const res: ExampleResult = {
          name: job.ex.name,
          index: job.index,
          verdict,
          output: (shown.g ?? first?.g)?.text,
          parsed: shown.g ? shown.parsed : first?.parsed,
          stopReason: (shown.g ?? first?.g)?.stopReason,
          cached: false,
          runs,
          repeatVerdicts: verdicts,
          latency: distribution(runs.map((x) => x.totalMs)),
          ttft: distribution(runs.map((x) => x.ttftMs)),
        };
        results[job.index] = res;
        emit(res);
        if (opts.afterExample && !opts.signal?.aborted) {
          try {
            await opts.afterExample({ result: res, runner, promptText: job.rendered.text, tokens: tokenized[k]!.tokens, sharedPrefixTokens: tokenized[k]!.sharedPrefixTokens, ...(opts.signal ? { signal: opts.signal } : {}) });
          } catch (e) {
            if (isAbort(e, opts.signal)) throw e;
          }
        }
      }
    } catch (e) {
      if (isAbort(e, opts.signal)) cancelled = true;
      else if (e instanceof GrammarError) runError = `cannot build the decoding grammar: ${e.message}; use \`model.decoding: free\` to run without one`;
      else if (e instanceof ModelUnavailableError) return finish({ ...base, status: 'model-unavailable', reason: e.message, examples: fillCancelled(contract, results) });
      else runError = (e as Error).message;
    } finally {
      traces?.close();
      try {
        await lease?.release();
      } finally {
        unlock?.();
      }
    }
  }
  if (opts.signal?.aborted) cancelled = true;

  const examples = fillCancelled(contract, results);
  const judgedList = examples.filter((e) => e.verdict.kind !== 'skipped' && e.verdict.kind !== 'cancelled');
  const passed = judgedList.filter((e) => e.verdict.kind === 'pass').length;
  const allRuns = examples.flatMap((e) => e.runs);
  const budgets = checkBudgets(contract.budgets, { judged: judgedList.length, passed, latencyMs: allRuns.map((r) => r.totalMs), ttftMs: allRuns.map((r) => r.ttftMs) });
  const warnings = [...(traces?.warning ? [traces.warning] : []), ...(writeCache?.warnings ?? [])];
  if (resolved.info.synthetic) warnings.unshift(`SYNTHETIC model (${resolved.info.label}): random weights, so these verdicts say nothing about the contract's quality; they only exercise the runtime`);
  const result: ContractRunResult = {
    ...base,
    status: cancelled ? 'cancelled' : runError ? 'error' : budgets.some((b) => b.status === 'fail') ? 'fail' : 'pass',
    ...(runError ? { reason: runError } : cancelled ? { reason: 'the run was cancelled' } : {}),
    examples,
    judged: judgedList.length,
    passed,
    ...(judgedList.length ? { passRate: passed / judgedList.length } : {}),
    latency: distribution(allRuns.map((r) => r.totalMs)),
    ttft: distribution(allRuns.map((r) => r.ttftMs)),
    budgets,
    cachedCount: examples.filter((e) => e.cached).length,
    warnings,
    ...(loadMs !== undefined ? { loadMs } : {}),
  };
  return finish(result);
}

/** The checker's prepared schema with its keys in the order they are written (see restoreKeyOrder). */
export function orderedPrepared(check: CheckResult): Pick<PreparedSchema, 'schema' | 'externals'> | undefined {
  const p = check.prepared;
  if (!p) return undefined;
  const externals = new Map(p.externals);
  for (const [file, ext] of p.externals) {
    let original: unknown;
    try {
      const text = fs.readFileSync(ext.file, 'utf8');
      original = /\.ya?ml$/i.test(ext.file) ? parseYaml(text) : JSON.parse(text);
    } catch {
      continue; // keep the prepared order
    }
    externals.set(file, { ...ext, schema: restoreKeyOrder(ext.schema, original) });
  }
  return { schema: restoreKeyOrder(p.schema, check.contract?.output.schema), externals };
}

function fillCancelled(contract: Contract, results: (ExampleResult | undefined)[]): ExampleResult[] {
  return contract.examples.map((ex, i) => results[i] ?? skippedResult(ex, i, 'not run: the run stopped before it', 'cancelled'));
}

function isAbort(e: unknown, signal?: AbortSignal): boolean {
  return e instanceof AbortError || (e as Error)?.name === 'AbortError' || !!signal?.aborted;
}
