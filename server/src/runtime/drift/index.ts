import * as fs from 'node:fs';
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { CheckResult } from '../../core/check';
import {
  compareOutputs,
  scoreFull,
  scoreTopK,
  summarizeAgreement,
  summarizeCandidate,
  type AgreementMethod,
  type CandidateSummary,
  type ExampleDrift,
  type OutputSide,
  type PositionScore,
} from '../../core/drift-compare';
import { runContract, type AfterExample, type ContractRunResult, type ExampleResult, type ModelSource, type ResolvedRunnerModel, type RunOptions } from '../engine';
import { renderPrompt, tokenizePrompt, tokenizeTurns } from '../prompt';
import { modelQueue } from '../queue';
import { AbortError, type RunnerModelInfo } from '../runner';
import type { Distribution } from '../../core/stats';
import { incompatibility, modelFacts, type ModelFacts } from './model-facts';
import type { CandidatePosition, ReferencePosition, TeacherRequest, TokenScorer } from './teacher';

/**
 * Drift between a contract's quantizations: the first listed is the reference, the others are
 * candidates. Every example runs on each through the run engine (same rendered prompt, grammar
 * and sampler; its cache serves unchanged outputs), then the outputs are compared field by field
 * and the reference's output is teacher-forced through both models for token-level agreement.
 */

export { LlamaScorer } from './teacher';
export type { TokenScorer, TeacherRequest } from './teacher';

/** Where teacher-forcing scorers come from (the model manager for node-llama-cpp; none for the scripted runner). */
export interface ScorerSource {
  open(resolved: ResolvedRunnerModel, opts: { signal?: AbortSignal }): Promise<{ scorer: TokenScorer; release(): Promise<void> | void }>;
}

/** Lets drift free loaded models between quantizations when they do not fit in memory together. */
export interface ModelLifecycle {
  /** Unloads every loaded model; the next use loads it again. */
  unloadAll(): Promise<void>;
}

export const DEFAULT_TOP_K = 8;

/** Memory a loaded model needs beyond its file (KV cache, compute buffers, contexts): as the loader's estimate, plus a teacher-forcing context. */
export const MODEL_OVERHEAD_BYTES = 128 * 1024 * 1024;

export interface DriftOptions {
  source: ModelSource;
  /** Teacher forcing; without it only outputs are compared. */
  scorers?: ScorerSource;
  lifecycle?: ModelLifecycle;
  /** Absolute path of the contract file. */
  file?: string;
  /** Default: the contract's first quantization. */
  reference?: string;
  /** Default: the contract's other quantizations. */
  candidates?: readonly string[];
  /** `topk` (default): exact top-K log-probabilities and a bound on KL; `exact`: full vocabulary (slow). */
  method?: AgreementMethod;
  k?: number;
  /**
   * Top-K method: an answer whose every position has the reference's top token at ≥ 1 − this
   * probability uses that token alone (one reference pass instead of two; default 1e-3, see
   * teacher.ts DEFAULT_CONFIDENT_TAIL). 0 always reads the top K.
   */
  confidentTail?: number;
  /** Skip teacher forcing (outputs only). */
  noAgreement?: boolean;
  /** 'skip' (default): a candidate that is the reference's file is reported, not run. 'compare': run it anyway (tests). */
  sameFile?: 'skip' | 'compare';
  /** The reference's run, when the caller already has it (contracts run). */
  referenceResult?: ContractRunResult;
  /**
   * What the caller's reference run teacher-forced after each example (referenceTeacherHook):
   * those examples are not teacher-forced again. Used only with the top-K method and the same K
   * and confidence threshold.
   */
  referenceEarly?: ReferenceEarly;
  /** Only these examples (by name); the others are reported as skipped. */
  examples?: readonly string[];
  noCache?: boolean;
  repeat?: number;
  warmup?: number;
  free?: boolean;
  maxTokensCap?: number;
  traceDir?: string;
  cacheDir?: string;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
  /** Free memory in bytes (default os.freemem). */
  freeMemory?: () => number;
}

export interface ModelSide {
  quantization: string;
  model?: RunnerModelInfo;
  sizeBytes?: number;
  /** Status of its run (the engine's). */
  runStatus?: ContractRunResult['status'];
  reason?: string;
  passRate?: number;
  latency?: Distribution;
  cachedCount?: number;
}

export interface DriftCost {
  /** Examples and output positions teacher-forced. */
  examples: number;
  positions: number;
  /** Teacher forcing, measured passes only (the context and a warm-up pass are `setupMs`). */
  teacherForcingMs: { reference: number; candidate: number };
  setupMs: { reference: number; candidate: number };
  /** Generation of the same examples (first measured run of each; absent when any came from the cache). */
  generationMs?: { reference: number; candidate: number };
  generatedTokens?: { reference: number; candidate: number };
}

export type CandidateStatus = 'compared' | 'same-file' | 'model-unavailable' | 'not-run' | 'error' | 'cancelled';

export interface CandidateDrift {
  quantization: string;
  status: CandidateStatus;
  message?: string;
  side: ModelSide;
  summary?: CandidateSummary;
  examples: ExampleDrift[];
  cost?: DriftCost;
}

export interface MemoryPlan {
  /** together: every model of the contract stays loaded; one-after-another: each is unloaded before the next loads (reference outputs reused). */
  plan: 'together' | 'one-after-another';
  reason: string;
  /** Peak resident memory of this process so far (getrusage maxrss). */
  peakRssBytes: number;
}

export type DriftStatus = 'ok' | 'exceeded' | 'not-run' | 'error' | 'cancelled';

export interface ContractDrift {
  contract: string;
  file?: string;
  status: DriftStatus;
  reason?: string;
  reference: ModelSide;
  candidates: CandidateDrift[];
  memory?: MemoryPlan;
  warnings: string[];
  /** The engine's results per quantization (outputs, verdicts, latencies): what a baseline records. */
  runs: Record<string, ContractRunResult>;
  wallMs: number;
}

function hasErrors(check: CheckResult): boolean {
  return check.findings.some((f) => f.severity === 'error');
}

function side(quantization: string, r: ContractRunResult | undefined, sizeBytes?: number): ModelSide {
  return {
    quantization,
    ...(r?.model ? { model: r.model } : {}),
    ...(sizeBytes !== undefined ? { sizeBytes } : {}),
    ...(r ? { runStatus: r.status } : {}),
    ...(r?.reason ? { reason: r.reason } : {}),
    ...(r?.passRate !== undefined ? { passRate: r.passRate } : {}),
    ...(r?.latency ? { latency: r.latency } : {}),
    ...(r ? { cachedCount: r.cachedCount } : {}),
  };
}

const ran = (r: ContractRunResult) => r.status === 'pass' || r.status === 'fail';

function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** The reference's teacher forcing gathered during a run that someone else started (contracts run). */
export interface ReferenceEarly {
  readonly k: number;
  readonly confidentTail: number | undefined;
  /** @internal */
  readonly teacher: RefTeacher;
}

/**
 * For a caller that runs the reference itself and hands the result to runDrift (`referenceResult`):
 * pass `afterExample` to that run and `early` to runDrift, and each answer is teacher-forced right
 * after it is generated, in the run's own context, as runDrift does for the runs it starts.
 */
export function referenceTeacherHook(opts: { k?: number; confidentTail?: number } = {}): { afterExample: (e: AfterExample) => Promise<void>; early: ReferenceEarly } {
  const k = Math.max(1, opts.k ?? DEFAULT_TOP_K);
  const teacher: RefTeacher = { requests: [], positions: new Map(), ms: 0, setupMs: 0 };
  return { afterExample: (e) => referenceAfter(teacher, e, k, opts.confidentTail), early: { k, confidentTail: opts.confidentTail, teacher } };
}

export async function runDrift(check: CheckResult, opts: DriftOptions): Promise<ContractDrift> {
  const t0 = performance.now();
  const contract = check.contract;
  const name = contract?.contract ?? '(invalid contract)';
  const progress = (m: string) => opts.onProgress?.(`${name}: ${m}`);
  const refQ = opts.reference ?? contract?.model.quantizations[0] ?? '';
  const out: ContractDrift = { contract: name, ...(opts.file ? { file: opts.file } : {}), status: 'not-run', reference: { quantization: refQ }, candidates: [], warnings: [], runs: {}, wallMs: 0 };
  const finish = () => {
    out.wallMs = performance.now() - t0;
    if (out.memory) out.memory.peakRssBytes = peakRss();
    return out;
  };
  if (!contract || !check.schema || hasErrors(check)) {
    const n = check.findings.filter((f) => f.severity === 'error').length;
    out.reason = n ? `the contract has ${n} static error${n === 1 ? '' : 's'}; fix ${n === 1 ? 'it' : 'them'} first` : 'the contract or its output schema could not be read';
    return finish();
  }
  const candQs = [...new Set((opts.candidates ?? contract.model.quantizations.filter((q) => q !== refQ)).filter((q) => q !== refQ))];
  if (!candQs.length) {
    out.reason = `nothing to compare: the contract lists only ${refQ} (list candidates after the reference in model.quantizations, or pass --cand)`;
    return finish();
  }

  // 1. Resolve every quantization (no loading yet): files, sizes, same-file and vocabulary checks.
  const resolved = new Map<string, ResolvedRunnerModel | Error>();
  for (const q of [refQ, ...candQs]) {
    try {
      resolved.set(q, await opts.source.resolve({ contract, ...(opts.file ? { contractFile: opts.file } : {}), quantization: q, ...(opts.signal ? { signal: opts.signal } : {}) }));
    } catch (e) {
      if (opts.signal?.aborted) {
        out.status = 'cancelled';
        out.reason = 'cancelled while resolving the models';
        return finish();
      }
      resolved.set(q, e as Error);
    }
  }
  const refResolved = resolved.get(refQ)!;
  if (refResolved instanceof Error) {
    out.status = 'error';
    out.reason = `the reference ${refQ} cannot be had: ${refResolved.message}`;
    out.reference.reason = refResolved.message;
    return finish();
  }
  const facts = new Map<string, ModelFacts>();
  for (const [q, r] of resolved) if (!(r instanceof Error) && isFile(r.info.path)) facts.set(q, await modelFacts(r.info.path));
  const refFacts = facts.get(refQ);
  out.reference = side(refQ, undefined, refFacts?.sizeBytes);
  out.reference.model = refResolved.info;

  // 2. Memory: keep every model loaded only when they all fit.
  const sizes = [refQ, ...candQs].map((q) => facts.get(q)?.sizeBytes ?? 0);
  const need = sizes.reduce((s, x) => s + x + MODEL_OVERHEAD_BYTES, 0);
  const free = (opts.freeMemory ?? os.freemem)();
  const together = need <= free;
  if (facts.size) {
    out.memory = {
      plan: together ? 'together' : 'one-after-another',
      reason: `${together ? '' : 'not '}enough free memory for all ${sizes.length} models at once (${mib(need)} needed with ${mib(MODEL_OVERHEAD_BYTES)} each for contexts, ${mib(free)} free)${!together && !opts.lifecycle ? '; this caller cannot unload them, so they stay loaded' : ''}`,
      peakRssBytes: peakRss(),
    };
  }
  const switchModel = async () => {
    if (!together) await opts.lifecycle?.unloadAll();
  };

  // 3. Which candidates are the reference's own file, cannot be had, or cannot be teacher-forced
  //    (decided before any run; reported once the reference has run).
  const settled: CandidateDrift[] = [];
  const todo: { q: string; r: ResolvedRunnerModel; agreementUnavailable?: string }[] = [];
  for (const q of candQs) {
    const r = resolved.get(q)!;
    if (r instanceof Error) {
      settled.push({ quantization: q, status: 'model-unavailable', message: `${q} cannot be had: ${r.message}`, side: { quantization: q, reason: r.message }, examples: [] });
      continue;
    }
    const f = facts.get(q);
    const same = f && refFacts ? f.realPath === refFacts.realPath : r.info.path === refResolved.info.path && r.info.identity === refResolved.info.identity;
    if (same && opts.sameFile !== 'compare') {
      settled.push({ quantization: q, status: 'same-file', message: `${refQ} and ${q} resolve to the same file ${f?.realPath ?? r.info.path}; drift would be zero by construction`, side: { quantization: q, model: r.info, ...(f ? { sizeBytes: f.sizeBytes } : {}) }, examples: [] });
      continue;
    }
    let agreementUnavailable: string | undefined;
    if (opts.noAgreement) agreementUnavailable = 'token-level agreement was not asked for';
    else if (!opts.scorers) agreementUnavailable = 'token-level agreement needs a model (the scripted runner has none)';
    else if (!f || !refFacts) agreementUnavailable = 'token-level agreement needs model files';
    else agreementUnavailable = incompatibility(refFacts, f, { reference: refQ, candidate: q });
    todo.push({ q, r, ...(agreementUnavailable ? { agreementUnavailable } : {}) });
  }
  const method: AgreementMethod = opts.method ?? 'topk';
  const k = Math.max(1, opts.k ?? DEFAULT_TOP_K);
  const wantTf = todo.some((t) => !t.agreementUnavailable);
  // Top-K method: teacher forcing follows each example's generation in the runner's own context,
  // where the prompt's evaluated state is still there (see runContract's afterExample): no second
  // context, no warm-up pass, no prompt evaluated again. Examples it did not reach (cached, or a
  // run passed in) get a pass in a context of their own after.
  const topK = wantTf && method === 'topk';

  // 4. The reference's run.
  const runOpts: Omit<RunOptions, 'quantization'> = {
    source: opts.source,
    ...(opts.file ? { file: opts.file } : {}),
    ...(opts.repeat !== undefined ? { repeat: opts.repeat } : {}),
    ...(opts.warmup !== undefined ? { warmup: opts.warmup } : {}),
    ...(opts.noCache ? { noCache: true } : {}),
    ...(opts.examples ? { examples: opts.examples } : {}),
    ...(opts.free ? { free: true } : {}),
    ...(opts.maxTokensCap !== undefined ? { maxTokensCap: opts.maxTokensCap } : {}),
    ...(opts.traceDir ? { traceDir: opts.traceDir } : {}),
    ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  await switchModel();
  const handed = opts.referenceResult && opts.referenceEarly && opts.referenceEarly.k === k && opts.referenceEarly.confidentTail === opts.confidentTail ? opts.referenceEarly.teacher : undefined;
  const refEarly: RefTeacher = handed ?? { requests: [], positions: new Map(), ms: 0, setupMs: 0 };
  let refRun = opts.referenceResult;
  if (!refRun || refRun.quantization !== refQ) {
    progress(`running ${refQ} (reference${topK ? `, then teacher-forcing each answer, top-${k}` : ''})`);
    refRun = await runContract(check, { ...runOpts, quantization: refQ, ...(topK ? { afterExample: (e) => referenceAfter(refEarly, e, k, opts.confidentTail) } : {}) });
  }
  out.runs[refQ] = refRun;
  out.reference = side(refQ, refRun, refFacts?.sizeBytes);
  for (const w of refRun.warnings) if (!out.warnings.includes(w)) out.warnings.push(w);
  if (!ran(refRun)) {
    out.status = refRun.status === 'cancelled' ? 'cancelled' : 'error';
    out.reason = `the reference ${refQ} did not run: ${refRun.reason ?? refRun.status}`;
    return finish();
  }
  out.candidates.push(...settled);

  // 5. Teacher forcing, reference side (top-K method): once, reused for every candidate.
  let refTf: RefTeacher | undefined;
  let refTfError: string | undefined;
  if (topK) {
    try {
      refTf = await referenceTeacher(opts.scorers!, refResolved, check, refRun, k, opts.confidentTail, refEarly, opts.signal, () => progress(`teacher forcing ${refQ} (reference, top-${k})`));
    } catch (e) {
      if (isAbort(e, opts.signal)) {
        out.status = 'cancelled';
        out.reason = 'cancelled during teacher forcing';
        return finish();
      }
      refTfError = `teacher forcing on ${refQ} failed: ${(e as Error).message}`;
    }
  }

  // 6. Each candidate: run, compare, teacher-force.
  for (const t of todo) {
    if (opts.signal?.aborted) break;
    const f = facts.get(t.q);
    await switchModel();
    const candEarly: CandidateEarly | undefined = refTf && !t.agreementUnavailable && method === 'topk' ? { scores: new Map(), ms: 0 } : undefined;
    progress(`running ${t.q}${candEarly ? ', then teacher-forcing the reference\'s answers' : ''}`);
    const candRun = await runContract(check, { ...runOpts, quantization: t.q, ...(candEarly ? { afterExample: (e) => candidateAfter(candEarly, refTf!, e) } : {}) });
    out.runs[t.q] = candRun;
    for (const w of candRun.warnings) if (!out.warnings.includes(w)) out.warnings.push(w);
    const s = side(t.q, candRun, f?.sizeBytes);
    if (!ran(candRun)) {
      out.candidates.push({ quantization: t.q, status: candRun.status === 'cancelled' ? 'cancelled' : candRun.status === 'model-unavailable' ? 'model-unavailable' : 'error', message: `${t.q} did not run: ${candRun.reason ?? candRun.status}`, side: s, examples: [] });
      continue;
    }
    const examples = contract.examples.map((ex, index): ExampleDrift => {
      const a = refRun.examples[index];
      const b = candRun.examples[index];
      const reference: OutputSide = { ...(a?.output !== undefined ? { output: a.output } : {}), verdict: a?.verdict.kind ?? 'skipped' };
      const candidate: OutputSide = { ...(b?.output !== undefined ? { output: b.output } : {}), verdict: b?.verdict.kind ?? 'skipped' };
      const la = a?.latency?.p50;
      const lb = b?.latency?.p50;
      return { name: ex.name, index, reference, candidate, comparison: compareOutputs(reference, candidate, contract.output.ignore), ...(la !== undefined || lb !== undefined ? { latencyMs: { ...(la !== undefined ? { reference: la } : {}), ...(lb !== undefined ? { candidate: lb } : {}) } } : {}) };
    });

    let agreementUnavailable = t.agreementUnavailable ?? refTfError;
    let cost: DriftCost | undefined;
    if (!agreementUnavailable) {
      try {
        const tfProgress = () => progress(`teacher forcing ${t.q}${method === 'exact' ? ' (exact, full vocabulary: slow)' : ''}`);
        if (method === 'exact') tfProgress();
        const tf = method === 'exact' ? await exactTeacher(opts.scorers!, refResolved, t.r, check, refRun, opts.signal) : await candidateTeacher(opts.scorers!, t.r, refTf!, candEarly, opts.signal, tfProgress);
        if ('unavailable' in tf) agreementUnavailable = tf.unavailable;
        else {
          for (const [index, scores] of tf.scores) examples[index]!.agreement = summarizeAgreement(scores, method, method === 'topk' ? k : undefined);
          cost = costOf(tf, refRun, candRun);
        }
      } catch (e) {
        if (isAbort(e, opts.signal)) break;
        agreementUnavailable = `teacher forcing on ${t.q} failed: ${(e as Error).message}`;
      }
    }
    const summary = summarizeCandidate({
      reference: refQ,
      candidate: t.q,
      examples,
      ...(refRun.latency ? { referenceLatency: refRun.latency } : {}),
      ...(candRun.latency ? { candidateLatency: candRun.latency } : {}),
      ...(refFacts ? { referenceSizeBytes: refFacts.sizeBytes } : {}),
      ...(f ? { candidateSizeBytes: f.sizeBytes } : {}),
      ...(agreementUnavailable ? { agreementUnavailable } : {}),
      ...(contract.budgets?.maxDrift !== undefined ? { maxDrift: contract.budgets.maxDrift } : {}),
    });
    out.candidates.push({ quantization: t.q, status: 'compared', side: s, summary, examples, ...(cost ? { cost } : {}) });
  }
  // Keep the contract's order of candidates.
  out.candidates.sort((a, b) => candQs.indexOf(a.quantization) - candQs.indexOf(b.quantization));

  if (opts.signal?.aborted) {
    out.status = 'cancelled';
    out.reason = 'the drift run was cancelled';
  } else if (out.candidates.some((c) => c.summary?.budget?.exceeded)) {
    out.status = 'exceeded';
    const worst = out.candidates.filter((c) => c.summary?.budget?.exceeded).map((c) => `${c.quantization} ${c.summary!.differing}/${c.summary!.compared}`);
    out.reason = `drift above budgets.maxDrift ${pctText(contract.budgets!.maxDrift!)}: ${worst.join(', ')}`;
  } else if (out.candidates.some((c) => c.status !== 'compared' && c.status !== 'same-file')) {
    out.status = 'error';
    out.reason = out.candidates.filter((c) => c.status !== 'compared' && c.status !== 'same-file').map((c) => c.message).join('; ');
  } else out.status = 'ok';
  return finish();
}

function pctText(x: number): string {
  return `${Math.round(x * 1000) / 10}%`;
}

function mib(n: number): string {
  return `${Math.round(n / (1024 * 1024))} MiB`;
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function isAbort(e: unknown, signal?: AbortSignal): boolean {
  return e instanceof AbortError || (e as Error)?.name === 'AbortError' || !!signal?.aborted;
}

// --- teacher forcing ---------------------------------------------------------------------------------

interface TfRequest {
  index: number;
  promptText: string;
  outputText: string;
  req: TeacherRequest;
}

interface RefTeacher {
  requests: TfRequest[];
  positions: Map<number, ReferencePosition[]>;
  ms: number;
  setupMs: number;
}

interface TfResult {
  scores: Map<number, PositionScore[]>;
  requests: TfRequest[];
  /** ms of the reference side (exact method: measured here; top-K: in RefTeacher). */
  referenceMs: number;
  referenceSetupMs: number;
  candidateMs: number;
  candidateSetupMs: number;
}

/** An example the reference answered (its answer can be teacher-forced). */
function answered(e: ExampleResult | undefined): e is ExampleResult & { output: string } {
  return !!e && e.output !== undefined && e.verdict.kind !== 'skipped' && e.verdict.kind !== 'cancelled' && e.verdict.kind !== 'error';
}

/** The examples the reference answered (but those in `except`), as teacher-forcing requests for `scorer`. */
function requestsFor(scorer: TokenScorer, check: CheckResult, refRun: ContractRunResult, except?: ReadonlyMap<number, unknown>): TfRequest[] {
  const contract = check.contract!;
  const out: TfRequest[] = [];
  for (const e of refRun.examples) {
    if (!answered(e) || except?.has(e.index)) continue;
    const ex = contract.examples[e.index];
    if (!ex) continue;
    const rendered = renderPrompt(contract.prompt, ex.input);
    const tp = tokenizePrompt(scorer, rendered);
    out.push({ index: e.index, promptText: rendered.text, outputText: e.output, req: { prompt: tp.tokens, sharedPrefix: tp.sharedPrefixTokens, output: scorer.tokenize(e.output, false) } });
  }
  return out;
}

/** Holds the model's queue slot (one user of a model at a time) while `fn` runs on its scorer. */
async function withScorer<T>(scorers: ScorerSource, resolved: ResolvedRunnerModel, signal: AbortSignal | undefined, fn: (s: TokenScorer) => Promise<T>, holding?: string): Promise<T> {
  // The same model twice (a file compared with itself): its slot is already ours.
  const unlock = holding === resolved.key ? () => undefined : await modelQueue.acquire(resolved.key, signal);
  try {
    const lease = await scorers.open(resolved, { ...(signal ? { signal } : {}) });
    try {
      return await fn(lease.scorer);
    } finally {
      await lease.scorer.dispose();
      await lease.release();
    }
  } finally {
    unlock();
  }
}

/**
 * The reference's teacher forcing right after it generated an example, in the runner's context
 * (the prompt is not evaluated again). What fails here (but a cancellation) is left to the pass in
 * a context of its own, which reports it.
 */
async function referenceAfter(acc: RefTeacher, e: AfterExample, k: number, confident: number | undefined): Promise<void> {
  const scorer = e.runner.scorer?.();
  if (!scorer || !answered(e.result)) return;
  const output = e.result.output;
  try {
    const req: TeacherRequest = { prompt: e.tokens, sharedPrefix: e.sharedPrefixTokens, output: scorer.tokenize(output, false) };
    const t0 = performance.now();
    const positions = await scorer.referenceTopK(req, k, e.signal, undefined, confident);
    acc.ms += performance.now() - t0;
    acc.positions.set(e.result.index, positions);
    acc.requests.push({ index: e.result.index, promptText: e.promptText, outputText: output, req });
  } catch (err) {
    if (isAbort(err, e.signal)) throw err;
  } finally {
    await scorer.dispose();
  }
}

/**
 * The reference side: `early` (what followed each generation) plus a pass in a context of its own
 * for the answered examples it lacks; `onStart` when that pass starts.
 */
async function referenceTeacher(scorers: ScorerSource, resolved: ResolvedRunnerModel, check: CheckResult, refRun: ContractRunResult, k: number, confident: number | undefined, early: RefTeacher, signal?: AbortSignal, onStart?: () => void): Promise<RefTeacher> {
  const lacking = refRun.examples.some((e) => answered(e) && !early.positions.has(e.index));
  if (!lacking) return { ...early, requests: [...early.requests].sort((a, b) => a.index - b.index) };
  onStart?.();
  return withScorer(scorers, resolved, signal, async (scorer) => {
    const requests = requestsFor(scorer, check, refRun, early.positions);
    const positions = new Map(early.positions);
    const tSetup = performance.now();
    // Unmeasured warm-up on the first example (creates the context, as the engine's warm-up run does).
    if (requests[0]) await scorer.referenceTopK(requests[0].req, k, signal, undefined, confident);
    const setupMs = performance.now() - tSetup;
    const t0 = performance.now();
    for (const r of requests) positions.set(r.index, await scorer.referenceTopK(r.req, k, signal, undefined, confident));
    return { requests: [...early.requests, ...requests].sort((a, b) => a.index - b.index), positions, ms: early.ms + performance.now() - t0, setupMs };
  });
}

function sameTokens(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** `promptTokens`: the prompt as this model's run already tokenized it (the one request given). */
function tokenizerMismatch(scorer: TokenScorer, requests: readonly TfRequest[], promptTokens?: readonly number[]): string | undefined {
  for (const r of requests) {
    const p = promptTokens ?? tokenizeTurns(scorer, r.promptText);
    const o = scorer.tokenize(r.outputText, false);
    if (!sameTokens(p, r.req.prompt) || !sameTokens(o, r.req.output)) return `${scorer.info.quantization}'s tokenizer splits the same text differently: token-level agreement needs the same tokenization`;
  }
  return undefined;
}

/** What the candidate's teacher forcing got right after its own generation of each example. */
interface CandidateEarly {
  scores: Map<number, PositionScore[]>;
  ms: number;
  unavailable?: string;
}

function scoreAgainst(refPos: readonly ReferencePosition[], cand: readonly CandidatePosition[]): PositionScore[] {
  return refPos.map((p, i) => scoreTopK({ refTop: p.refTop, candOnRefTop: cand[i]!.logProbs, refArgmax: p.refArgmax, candArgmax: cand[i]!.argmax }));
}

const refTokens = (ref: RefTeacher, index: number) => ref.positions.get(index)!.map((p) => p.refTop.map((x) => x.token));

/** The candidate's teacher forcing of the reference's answer right after it generated the same example, in its runner's context. */
async function candidateAfter(acc: CandidateEarly, ref: RefTeacher, e: AfterExample): Promise<void> {
  if (acc.unavailable) return;
  const r = ref.requests.find((x) => x.index === e.result.index);
  const refPos = ref.positions.get(e.result.index);
  const scorer = r && refPos ? e.runner.scorer?.() : undefined;
  if (!r || !refPos || !scorer) return;
  try {
    const mismatch = tokenizerMismatch(scorer, [r], e.tokens);
    if (mismatch) {
      acc.unavailable = mismatch;
      return;
    }
    const t0 = performance.now();
    const cand = await scorer.candidateOn(r.req, refTokens(ref, r.index), e.signal);
    acc.ms += performance.now() - t0;
    acc.scores.set(r.index, scoreAgainst(refPos, cand));
  } catch (err) {
    if (isAbort(err, e.signal)) throw err;
  } finally {
    await scorer.dispose();
  }
}

async function candidateTeacher(scorers: ScorerSource, resolved: ResolvedRunnerModel, ref: RefTeacher, early: CandidateEarly | undefined, signal?: AbortSignal, onStart?: () => void): Promise<TfResult | { unavailable: string }> {
  if (early?.unavailable) return { unavailable: early.unavailable };
  const scores = new Map(early?.scores ?? []);
  const done = (candidateMs: number, candidateSetupMs: number): TfResult => ({ scores, requests: ref.requests, referenceMs: ref.ms, referenceSetupMs: ref.setupMs, candidateMs, candidateSetupMs });
  const rest = ref.requests.filter((r) => !scores.has(r.index));
  if (!rest.length) return done(early?.ms ?? 0, 0);
  onStart?.();
  return withScorer(scorers, resolved, signal, async (scorer) => {
    const mismatch = tokenizerMismatch(scorer, rest);
    if (mismatch) return { unavailable: mismatch };
    const tSetup = performance.now();
    await scorer.candidateOn(rest[0]!.req, refTokens(ref, rest[0]!.index), signal);
    const candidateSetupMs = performance.now() - tSetup;
    const t0 = performance.now();
    for (const r of rest) scores.set(r.index, scoreAgainst(ref.positions.get(r.index)!, await scorer.candidateOn(r.req, refTokens(ref, r.index), signal)));
    return done((early?.ms ?? 0) + performance.now() - t0, candidateSetupMs);
  });
}

/** Full-vocabulary KL: both models open at once (per position the distributions are 262,144 doubles each, too many to keep). */
async function exactTeacher(scorers: ScorerSource, refResolved: ResolvedRunnerModel, candResolved: ResolvedRunnerModel, check: CheckResult, refRun: ContractRunResult, signal?: AbortSignal): Promise<TfResult | { unavailable: string }> {
  const both = async (refScorer: TokenScorer, candScorer: TokenScorer): Promise<TfResult | { unavailable: string }> => {
    const requests = requestsFor(refScorer, check, refRun);
    const mismatch = tokenizerMismatch(candScorer, requests);
    if (mismatch) return { unavailable: mismatch };
    const scores = new Map<number, PositionScore[]>();
    let referenceMs = 0;
    let candidateMs = 0;
    for (const r of requests) {
      let t = performance.now();
      const a = await refScorer.fullVocabulary(r.req, signal);
      referenceMs += performance.now() - t;
      t = performance.now();
      const b = await candScorer.fullVocabulary(r.req, signal);
      candidateMs += performance.now() - t;
      scores.set(r.index, a.map((p, i) => scoreFull({ refLogProbs: p.logProbs, candLogProbs: b[i]!.logProbs, refArgmax: p.argmax, candArgmax: b[i]!.argmax })));
    }
    return { scores, requests, referenceMs, referenceSetupMs: 0, candidateMs, candidateSetupMs: 0 };
  };
  return withScorer(scorers, refResolved, signal, (refScorer) => withScorer(scorers, candResolved, signal, (candScorer) => both(refScorer, candScorer), refResolved.key));
}

function costOf(tf: TfResult, refRun: ContractRunResult, candRun: ContractRunResult): DriftCost {
  const positions = tf.requests.reduce((s, r) => s + r.req.output.length, 0);
  const gen = (run: ContractRunResult) => {
    let ms = 0;
    let tokens = 0;
    for (const r of tf.requests) {
      const first = run.examples[r.index]?.runs[0];
      if (!first) return undefined;
      ms += first.totalMs;
      tokens += first.outputTokens;
    }
    return { ms, tokens };
  };
  const a = gen(refRun);
  const b = gen(candRun);
  return {
    examples: tf.requests.length,
    positions,
    teacherForcingMs: { reference: tf.referenceMs, candidate: tf.candidateMs },
    setupMs: { reference: tf.referenceSetupMs, candidate: tf.candidateSetupMs },
    ...(a && b ? { generationMs: { reference: a.ms, candidate: b.ms }, generatedTokens: { reference: a.tokens, candidate: b.tokens } } : {}),
  };
}
