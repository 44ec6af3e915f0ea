/**
 * Drift between quantizations, the pure part: comparing a candidate's outputs with the
 * reference's, token-level agreement from teacher-forced next-token distributions, and the
 * per-contract summary (drift rate, pass-rate, latency and size changes, the maxDrift budget).
 * No model and no I/O: the runtime (server/src/runtime/drift/) measures, this module judges.
 */
import { compareValues, parseJsonStrict, type FieldDiff, type VerdictKind } from './verdict';
import type { Distribution } from './stats';

// --- outputs -------------------------------------------------------------------------------------

/** One field that differs between the reference's parsed output and the candidate's. */
export interface DriftFieldDiff {
  /** JSON Pointer into the reference's output ("" is the whole output). */
  pointer: string;
  /** JSON Pointer into the candidate's output, when it differs from `pointer`. */
  candidatePointer?: string;
  /** different: both present, unequal; only-in-reference / only-in-candidate: the other lacks it; text: an output is not JSON, the raw texts differ. */
  kind: 'different' | 'only-in-reference' | 'only-in-candidate' | 'text';
  /** The reference's value (for `text`: its raw output). Absent when the reference lacks the field. */
  reference?: unknown;
  /** The candidate's value (for `text`: its raw output). Absent when the candidate lacks the field. */
  candidate?: unknown;
}

export interface OutputSide {
  /** Raw text the model wrote (undefined when the example was not run). */
  output?: string;
  verdict: VerdictKind;
}

export interface OutputComparison {
  /** Both sides produced an output that can be compared. */
  comparable: boolean;
  /** The parsed outputs differ (after `ignore`), or, when either is not JSON, the raw texts do. */
  differs: boolean;
  diffs: DriftFieldDiff[];
  verdictChanged: boolean;
  /** pass → not pass (regressed) or not pass → pass (fixed); undefined when the pass/fail status is the same. */
  passChange?: 'regressed' | 'fixed';
}

const NOT_JUDGED: ReadonlySet<VerdictKind> = new Set(['skipped', 'cancelled']);

/**
 * Compares one example's outputs under the contract's `ignore` pointers. Parsed outputs are
 * compared exactly (deep equality, extra fields count), whatever the contract's match mode: drift
 * is about the answer changing, not about whether it still matches `expected`.
 */
export function compareOutputs(reference: OutputSide, candidate: OutputSide, ignore: readonly string[] = []): OutputComparison {
  const verdictChanged = reference.verdict !== candidate.verdict;
  const rp = reference.verdict === 'pass';
  const cp = candidate.verdict === 'pass';
  const passChange: OutputComparison['passChange'] = rp && !cp ? 'regressed' : !rp && cp ? 'fixed' : undefined;
  if (reference.output === undefined || candidate.output === undefined || NOT_JUDGED.has(reference.verdict) || NOT_JUDGED.has(candidate.verdict)) {
    return { comparable: false, differs: false, diffs: [], verdictChanged: false };
  }
  const base: Pick<OutputComparison, 'verdictChanged' | 'passChange'> = { verdictChanged, ...(passChange ? { passChange } : {}) };
  const r = parseJsonStrict(reference.output);
  const c = parseJsonStrict(candidate.output);
  if (r.ok && c.ok) {
    const diffs = compareValues(r.value, c.value, 'exact', ignore).map(toDriftDiff);
    return { comparable: true, differs: diffs.length > 0, diffs, ...base };
  }
  if (reference.output === candidate.output) return { comparable: true, differs: false, diffs: [], ...base };
  return { comparable: true, differs: true, diffs: [{ pointer: '', kind: 'text', reference: reference.output, candidate: candidate.output }], ...base };
}

function toDriftDiff(d: FieldDiff): DriftFieldDiff {
  const at = d.actualPointer !== undefined ? { candidatePointer: d.actualPointer } : {};
  switch (d.kind) {
    case 'missing':
      return { pointer: d.pointer, ...at, kind: 'only-in-reference', reference: d.expected };
    case 'unexpected':
      return { pointer: d.pointer, ...at, kind: 'only-in-candidate', candidate: d.actual };
    default:
      return { pointer: d.pointer, ...at, kind: 'different', reference: d.expected, candidate: d.actual };
  }
}

// --- token-level agreement -----------------------------------------------------------------------

/**
 * What teacher forcing measured at one position (the distribution of the token that follows the
 * prompt and the reference's first i output tokens), in the top-K form the runtime produces:
 *
 * - `refTop`: the reference's K most likely tokens with their exact log-probabilities (normalised
 *   over the full vocabulary: the runtime reads the full-vocabulary partition function);
 * - `candOnRefTop`: the candidate's exact log-probabilities of the same tokens, same order;
 * - the greedy (top-1) token of each model over the full vocabulary.
 */
export interface TopKPosition {
  refTop: readonly { token: number; logProb: number }[];
  candOnRefTop: readonly number[];
  refArgmax: number;
  candArgmax: number;
}

/** Full-vocabulary log-probabilities of both models at one position (the `exact` method). */
export interface FullPosition {
  refLogProbs: Float64Array;
  candLogProbs: Float64Array;
  refArgmax: number;
  candArgmax: number;
}

/** A candidate's tail mass is floored here (only when the reference has tail mass and the candidate rounds to none). */
export const TAIL_FLOOR = 1e-12;

/**
 * KL(ref ‖ cand) at one position from top-K data: the reference's top-K tokens each as its own
 * outcome, every other token of the vocabulary lumped into one "rest" outcome, both models'
 * probabilities exact (normalised over the full vocabulary):
 *
 *   KL_K = Σ_{x ∈ top-K} p(x) (log p(x) − log q(x)) + p(rest) (log p(rest) − log q(rest))
 *
 * By the log-sum inequality KL_K ≤ KL (never an overestimate); the difference is
 * p(rest) · KL(p|rest ‖ q|rest), so it vanishes as the reference's top-K mass `captured` → 1.
 * Identical inputs give exactly 0.
 */
export function klTopK(pos: Pick<TopKPosition, 'refTop' | 'candOnRefTop'>): { kl: number; captured: number } {
  let kl = 0;
  let pSum = 0;
  let qSum = 0;
  for (let i = 0; i < pos.refTop.length; i++) {
    const lp = pos.refTop[i]!.logProb;
    const lq = pos.candOnRefTop[i]!;
    const p = Math.exp(lp);
    pSum += p;
    qSum += Math.exp(lq);
    if (p > 0 && lp !== lq) kl += p * (lp - lq);
  }
  const pRest = Math.max(0, 1 - pSum);
  const qRest = Math.max(0, 1 - qSum);
  if (pRest > 0 && pRest !== qRest) kl += pRest * (Math.log(pRest) - Math.log(Math.max(qRest, TAIL_FLOOR)));
  return { kl: Math.max(0, kl), captured: Math.min(1, pSum) };
}

/** KL(ref ‖ cand) over the full vocabulary, from log-probabilities (no floor needed: log-softmax is finite). */
export function klFull(pos: Pick<FullPosition, 'refLogProbs' | 'candLogProbs'>): number {
  const a = pos.refLogProbs;
  const b = pos.candLogProbs;
  if (a.length !== b.length) throw new Error(`the two distributions have different sizes (${a.length} and ${b.length})`);
  let kl = 0;
  for (let i = 0; i < a.length; i++) {
    const lp = a[i]!;
    if (lp === -Infinity || lp === b[i]) continue;
    kl += Math.exp(lp) * (lp - b[i]!);
  }
  return Math.max(0, kl);
}

/** Log-softmax of raw logits, in double precision. */
export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i]! - lse;
  return out;
}

export type AgreementMethod = 'topk' | 'exact';

/** Token-level agreement over a set of teacher-forced positions. */
export interface TokenAgreement {
  method: AgreementMethod;
  /** The K of the top-K method. */
  k?: number;
  positions: number;
  /** Positions where both models' most likely next token is the same. */
  top1Agree: number;
  /** top1Agree / positions (1 when there are no positions). */
  top1: number;
  /** Mean KL(ref ‖ cand) over the positions, in nats. */
  meanKl: number;
  maxKl: number;
  /** top-K method: mean share of the reference's probability its top K tokens hold (1: the bound is exact). */
  meanCaptured?: number;
  minCaptured?: number;
}

/** Per-position results, the form agreements are summed from. */
export interface PositionScore {
  kl: number;
  agree: boolean;
  captured?: number;
}

export function scoreTopK(pos: TopKPosition): PositionScore {
  const { kl, captured } = klTopK(pos);
  return { kl, agree: pos.refArgmax === pos.candArgmax, captured };
}

export function scoreFull(pos: FullPosition): PositionScore {
  return { kl: klFull(pos), agree: pos.refArgmax === pos.candArgmax };
}

export function summarizeAgreement(scores: readonly PositionScore[], method: AgreementMethod, k?: number): TokenAgreement {
  const n = scores.length;
  let agree = 0;
  let klSum = 0;
  let klMax = 0;
  let capSum = 0;
  let capMin = 1;
  let capN = 0;
  for (const s of scores) {
    if (s.agree) agree++;
    klSum += s.kl;
    if (s.kl > klMax) klMax = s.kl;
    if (s.captured !== undefined) {
      capSum += s.captured;
      capN++;
      if (s.captured < capMin) capMin = s.captured;
    }
  }
  return {
    method,
    ...(k !== undefined ? { k } : {}),
    positions: n,
    top1Agree: agree,
    top1: n ? agree / n : 1,
    meanKl: n ? klSum / n : 0,
    maxKl: klMax,
    ...(capN ? { meanCaptured: capSum / capN, minCaptured: capMin } : {}),
  };
}

/** Pools several examples' agreements (weighted by positions, as if all positions were one set). */
export function poolAgreements(parts: readonly TokenAgreement[]): TokenAgreement | undefined {
  if (!parts.length) return undefined;
  const method = parts[0]!.method;
  const positions = parts.reduce((s, p) => s + p.positions, 0);
  const agree = parts.reduce((s, p) => s + p.top1Agree, 0);
  const klSum = parts.reduce((s, p) => s + p.meanKl * p.positions, 0);
  const capParts = parts.filter((p) => p.meanCaptured !== undefined);
  const capN = capParts.reduce((s, p) => s + p.positions, 0);
  return {
    method,
    ...(parts[0]!.k !== undefined ? { k: parts[0]!.k } : {}),
    positions,
    top1Agree: agree,
    top1: positions ? agree / positions : 1,
    meanKl: positions ? klSum / positions : 0,
    maxKl: Math.max(0, ...parts.map((p) => p.maxKl)),
    ...(capN ? { meanCaptured: capParts.reduce((s, p) => s + p.meanCaptured! * p.positions, 0) / capN, minCaptured: Math.min(...capParts.map((p) => p.minCaptured!)) } : {}),
  };
}

// --- per contract ----------------------------------------------------------------------------------

export interface ExampleDrift {
  name: string;
  /** Index in the contract's examples. */
  index: number;
  reference: OutputSide;
  candidate: OutputSide;
  comparison: OutputComparison;
  /** Teacher-forced agreement on this example's reference output (absent when it could not be computed). */
  agreement?: TokenAgreement;
  /** Median latency of each side's measured runs (absent when cached or not run). */
  latencyMs?: { reference?: number; candidate?: number };
}

export interface Change {
  reference: number;
  candidate: number;
  /** (candidate − reference) / reference; undefined when the reference is 0. */
  relative?: number;
}

export interface LatencyChange {
  p50?: Change;
  p95?: Change;
  /** Why latency was not compared (outputs from the cache, nothing measured, another machine…). */
  unmeasured?: string;
}

export interface DriftBudget {
  limit: number;
  actual: number;
  exceeded: boolean;
}

export interface CandidateSummary {
  reference: string;
  candidate: string;
  /** Examples whose outputs could be compared (both sides judged). */
  compared: number;
  differing: number;
  /** differing / compared; undefined when nothing was compared. */
  driftRate?: number;
  verdictChanges: number;
  regressed: number;
  fixed: number;
  passRate?: { reference?: number; candidate?: number; change?: number };
  latency: LatencyChange;
  size?: Change;
  agreement?: TokenAgreement;
  /** Why agreement is missing (scripted runner, another vocabulary…). */
  agreementUnavailable?: string;
  budget?: DriftBudget;
}

export interface SummarizeInput {
  reference: string;
  candidate: string;
  examples: readonly ExampleDrift[];
  /** Each side's latency distribution over its measured runs. */
  referenceLatency?: Distribution;
  candidateLatency?: Distribution;
  latencyUnmeasured?: string;
  referenceSizeBytes?: number;
  candidateSizeBytes?: number;
  agreementUnavailable?: string;
  /** The contract's `budgets.maxDrift`. */
  maxDrift?: number;
}

export function change(reference: number | undefined, candidate: number | undefined): Change | undefined {
  if (reference === undefined || candidate === undefined || !Number.isFinite(reference) || !Number.isFinite(candidate)) return undefined;
  return { reference, candidate, ...(reference !== 0 ? { relative: (candidate - reference) / reference } : {}) };
}

export function summarizeCandidate(input: SummarizeInput): CandidateSummary {
  const compared = input.examples.filter((e) => e.comparison.comparable);
  const differing = compared.filter((e) => e.comparison.differs).length;
  const judgedRef = input.examples.filter((e) => !NOT_JUDGED.has(e.reference.verdict));
  const judgedCand = input.examples.filter((e) => !NOT_JUDGED.has(e.candidate.verdict));
  const rate = (xs: readonly ExampleDrift[], side: 'reference' | 'candidate') => (xs.length ? xs.filter((e) => e[side].verdict === 'pass').length / xs.length : undefined);
  const pr = rate(judgedRef, 'reference');
  const pc = rate(judgedCand, 'candidate');
  const driftRate = compared.length ? differing / compared.length : undefined;
  let latency: LatencyChange;
  if (input.latencyUnmeasured) latency = { unmeasured: input.latencyUnmeasured };
  else if (!input.referenceLatency || !input.candidateLatency) latency = { unmeasured: !input.referenceLatency && !input.candidateLatency ? 'no run was measured (outputs from the cache; --no-cache measures)' : `${input.referenceLatency ? input.candidate : input.reference} was not measured (outputs from the cache; --no-cache measures)` };
  else latency = { p50: change(input.referenceLatency.p50, input.candidateLatency.p50)!, p95: change(input.referenceLatency.p95, input.candidateLatency.p95)! };
  const agreement = poolAgreements(input.examples.flatMap((e) => (e.agreement ? [e.agreement] : [])));
  const size = change(input.referenceSizeBytes, input.candidateSizeBytes);
  return {
    reference: input.reference,
    candidate: input.candidate,
    compared: compared.length,
    differing,
    ...(driftRate !== undefined ? { driftRate } : {}),
    verdictChanges: compared.filter((e) => e.comparison.verdictChanged).length,
    regressed: compared.filter((e) => e.comparison.passChange === 'regressed').length,
    fixed: compared.filter((e) => e.comparison.passChange === 'fixed').length,
    ...(pr !== undefined || pc !== undefined ? { passRate: { ...(pr !== undefined ? { reference: pr } : {}), ...(pc !== undefined ? { candidate: pc } : {}), ...(pr !== undefined && pc !== undefined ? { change: pc - pr } : {}) } } : {}),
    latency,
    ...(size ? { size } : {}),
    ...(agreement ? { agreement } : {}),
    ...(input.agreementUnavailable && !agreement ? { agreementUnavailable: input.agreementUnavailable } : {}),
    ...(input.maxDrift !== undefined && driftRate !== undefined ? { budget: { limit: input.maxDrift, actual: driftRate, exceeded: driftRate > input.maxDrift + 1e-12 } } : {}),
  };
}

// --- formatting (shared by the CLI and the editor) ---------------------------------------------------

/** A signed percentage with a real minus sign: "−31%", "+4.2%", "±0%". */
export function signedPct(x: number): string {
  const v = x * 100;
  const abs = Math.abs(v);
  const digits = abs >= 10 || abs === 0 ? 0 : 1;
  const s = abs.toFixed(digits);
  if (Number(s) === 0) return '±0%';
  return `${v < 0 ? '−' : '+'}${s}%`;
}

/** "97.1%", "100%". */
export function sharePct(x: number): string {
  if (x === 1) return '100%';
  if (x === 0) return '0%';
  const s = (x * 100).toFixed(1);
  return s === '100.0' ? '99.9%' : `${s}%`;
}

/** KL in nats, compact: "0", "0.012", "3.1e-5", "1.24". */
export function fmtKl(x: number): string {
  if (x === 0) return '0';
  if (x < 0.001) return x.toExponential(1);
  if (x < 1) return x.toPrecision(2);
  return x.toFixed(2);
}

/**
 * The one-line summary: `Q4_0 vs F16: 2/12 differ · top-1 97.1% · KL 0.012 · −31% p95 · −45% size`.
 * Parts that were not measured are left out (`opts.parts` picks which appear).
 */
export function summaryLine(s: CandidateSummary, opts: { parts?: readonly ('top1' | 'kl' | 'p95' | 'size' | 'pass')[] } = {}): string {
  const parts = new Set(opts.parts ?? ['top1', 'kl', 'p95', 'size']);
  const out: string[] = [`${s.candidate} vs ${s.reference}: ${s.compared ? `${s.differing}/${s.compared} differ` : 'nothing compared'}`];
  if (parts.has('pass') && s.passRate?.change !== undefined && s.passRate.change !== 0) out.push(`pass ${signedPoints(s.passRate.change)}`);
  if (parts.has('top1') && s.agreement) out.push(`top-1 ${sharePct(s.agreement.top1)}`);
  if (parts.has('kl') && s.agreement) out.push(`KL ${klIsBound(s.agreement) ? '≥' : ''}${fmtKl(s.agreement.meanKl)}`);
  if (parts.has('p95') && s.latency.p95?.relative !== undefined) out.push(`${signedPct(s.latency.p95.relative)} p95`);
  if (parts.has('size') && s.size?.relative !== undefined) out.push(`${signedPct(s.size.relative)} size`);
  return out.join(' · ');
}

/** Below this mean captured mass the top-K KL is shown as a bound ("KL ≥…"): it may be far below the full-vocabulary KL. */
export const TIGHT_CAPTURE = 0.99;

/** True when a top-K KL should be read as a lower bound only (the reference's top tokens hold too little of its probability). */
export function klIsBound(a: TokenAgreement): boolean {
  return a.method === 'topk' && (a.meanCaptured ?? 1) < TIGHT_CAPTURE;
}

/** A change in pass rate in percentage points: "−8.3 pts", "+16.7 pts". */
export function signedPoints(x: number): string {
  const v = x * 100;
  const s = Math.abs(v).toFixed(Math.abs(v) >= 10 || Number.isInteger(v) ? 0 : 1);
  if (Number(s) === 0) return '±0 pts';
  return `${v < 0 ? '−' : '+'}${s} pts`;
}

/** A value in one short line: strings bare (`billing`), anything else as compact JSON. */
export function shortValue(v: unknown, max = 40): string {
  if (v === undefined) return '(absent)';
  const s = typeof v === 'string' && v !== '' && !/[\n\r]/.test(v) ? v : (JSON.stringify(v) ?? String(v));
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

function quoted(v: unknown, max = 80): string {
  if (typeof v !== 'string') return shortValue(v, max);
  const s = JSON.stringify(v);
  return s.length > max ? s.slice(0, max - 2) + '…"' : s;
}

/** "/label: billing → shipping", "/urgent: only in F16 (false)". */
export function describeFieldDiff(d: DriftFieldDiff, names: { reference: string; candidate: string } = { reference: 'reference', candidate: 'candidate' }): string {
  const at = d.pointer || '/';
  switch (d.kind) {
    case 'only-in-reference':
      return `${at}: only in ${names.reference} (${shortValue(d.reference)})`;
    case 'only-in-candidate':
      return `${d.candidatePointer ?? at}: only in ${names.candidate} (${shortValue(d.candidate)})`;
    case 'text':
      return `output: ${quoted(d.reference)} → ${quoted(d.candidate)}`;
    default:
      return `${at}: ${shortValue(d.reference)} → ${shortValue(d.candidate)}`;
  }
}
