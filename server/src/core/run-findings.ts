/**
 * Run results as the editor shows them: findings placed on the example (a wrong value on its
 * field of `expected`, a schema error at the field its pointer names, anything else on the
 * example's name), code lens titles and hover text. Pure: takes the current version's check and
 * the stored results, returns plain data with source offsets. Stale results yield no findings.
 */
import type { CheckResult } from './check';
import { RUN_CODES, type RunCode } from './codes';
import type { Finding } from './findings';
import type { ContractRuns, ExampleRun, ExampleRunView, RunDiff } from './results-store';
import { instancePath } from './schema-walk';
import { isMap, isSeq, keyRange, locate, nodeRange, pathAtOffset, valueRange, type Path } from './yaml-source';
import { distribution } from './stats';

/** The run codes the editor shows on examples (core/codes.ts RUN_CODES; `run-budget` is the CLI's). */
export type RunFindingCode = Exclude<RunCode, 'run-budget'>;

const MAX_FINDINGS_PER_EXAMPLE = 20;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function runFinding(code: RunFindingCode, [start, end]: [number, number], message: string, data: Record<string, unknown>): Finding {
  return { code, severity: RUN_CODES[code].severity, message, start, end, data };
}

/** How many leading segments of `path` exist in `value`. */
function existingDepth(value: unknown, path: Path): number {
  let cur = value;
  let n = 0;
  for (const seg of path) {
    if (Array.isArray(cur) && typeof seg === 'number' && seg < cur.length) cur = cur[seg];
    else if (isObj(cur) && typeof seg === 'string' && Object.prototype.hasOwnProperty.call(cur, seg)) cur = cur[seg];
    else break;
    n++;
  }
  return n;
}

/**
 * Where a pointer into the output lands in an example: on the value of `expected` at the same
 * location when it exists there (a mapping or list on its key), else on the key of the deepest
 * part that exists (a missing property on its parent's key; nothing at all on the `expected` key).
 */
export function fieldRange(check: CheckResult, index: number, pointer: string): [number, number] | undefined {
  const src = check.source;
  if (!src) return undefined;
  const expected = check.examples[index]?.expected;
  const path = instancePath(expected, pointer);
  const base: Path = ['examples', index, 'expected'];
  const depth = existingDepth(expected, path);
  const full: Path = [...base, ...path];
  const node = depth === path.length ? locate(src, full).node : undefined;
  // A scalar on its value; a mapping or list (many lines) on the key that holds it.
  if (node && !isMap(node) && !isSeq(node)) return valueRange(src, full);
  const prefix: Path = [...base, ...path.slice(0, depth)];
  const l = locate(src, prefix);
  if (l.node || l.key) return keyRange(src, prefix);
  return nameRange(check, index);
}

/** The example's `name` value (else the start of its item). */
export function nameRange(check: CheckResult, index: number): [number, number] | undefined {
  const src = check.source;
  if (!src) return undefined;
  const name = nodeRange(locate(src, ['examples', index, 'name']).node);
  if (name) return name;
  const item = nodeRange(locate(src, ['examples', index]).node);
  return item ? [item[0], item[0]] : undefined;
}

/** A value in one short line: strings bare (`billing`), anything else as compact JSON. */
export function plain(v: unknown, max = 40): string {
  const s = typeof v === 'string' && v !== '' && !/[\n\r]/.test(v) ? v : (JSON.stringify(v) ?? String(v));
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/** A pointer as people write a path: `/items/0/name` → `items[0].name`; the whole value → `output`. */
export function dotted(pointer: string): string {
  if (pointer === '' || pointer === '/') return 'output';
  const segs = pointer.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  return segs.map((s, i) => (/^\d+$/.test(s) ? `[${s}]` : i ? `.${s}` : s)).join('');
}

function diffMessage(d: RunDiff): string {
  switch (d.kind) {
    case 'different':
      return `expected ${plain(d.expected, 80)}, got ${plain(d.actual, 80)}`;
    case 'missing':
      return `the output has no ${dotted(d.actualPointer ?? d.pointer)} (expected ${plain(d.expected, 80)})`;
    case 'unexpected':
      return `the output has ${dotted(d.actualPointer ?? d.pointer)} = ${plain(d.actual, 80)}, which expected does not (match: exact)`;
    case 'unmatched-item':
      return `no item of the output's array matches this one (${plain(d.expected, 80)})`;
  }
}

function modelNote(run: ExampleRun): string {
  return run.model.synthetic ? ' [SYNTHETIC model: random weights, says nothing about quality]' : '';
}

/** Findings for the current (not stale) results of a contract, placed in the current version. */
export function runFindings(check: CheckResult, runs: ContractRuns | undefined): Finding[] {
  const out: Finding[] = [];
  if (!runs || !check.source) return out;
  const src = check.source;
  if (runs.failure && !runs.failure.stale) {
    const at = locate(src, ['model']).key ? keyRange(src, ['model']) : keyRange(src, locate(src, ['contract']).key ? ['contract'] : []);
    out.push(runFinding('run-not-run', at, `not run: ${runs.failure.failure.reason}`, { reason: runs.failure.failure.reason }));
  }
  for (const ex of check.examples) {
    if (ex.name === undefined) continue;
    const view = runs.examples.get(ex.name);
    if (!view || view.stale) continue;
    const run = view.run;
    const data = { example: ex.name, verdict: run.verdict };
    const onName = nameRange(check, ex.index);
    const note = modelNote(run);
    const add = (f: Finding) => {
      if (out.length < MAX_FINDINGS_PER_EXAMPLE * (check.examples.length + 1)) out.push(f);
    };
    switch (run.verdict) {
      case 'wrong-value': {
        const diffs = run.diffs ?? [];
        for (const d of diffs.slice(0, MAX_FINDINGS_PER_EXAMPLE)) {
          const at = fieldRange(check, ex.index, d.kind === 'unexpected' ? (d.actualPointer ?? d.pointer) : d.pointer) ?? onName;
          if (at) add(runFinding('run-wrong-value', at, `${diffMessage(d)}${note}`, { ...data, pointer: d.pointer, kind: d.kind, expected: d.expected, actual: d.actual }));
        }
        if (!diffs.length && onName) add(runFinding('run-wrong-value', onName, `${run.message}${note}`, data));
        break;
      }
      case 'schema-mismatch': {
        const errors = run.schemaErrors ?? [];
        for (const e of errors.slice(0, MAX_FINDINGS_PER_EXAMPLE)) {
          const at = fieldRange(check, ex.index, e.pointer) ?? onName;
          if (at) add(runFinding('run-schema-mismatch', at, `the output at ${e.pointer || '/'} ${e.message}${note}`, { ...data, pointer: e.pointer, keyword: e.keyword }));
        }
        if (!errors.length && onName) add(runFinding('run-schema-mismatch', onName, `${run.message}${note}`, data));
        break;
      }
      case 'invalid-json':
      case 'truncated':
      case 'error':
        if (onName) add(runFinding(`run-${run.verdict}`, onName, `${run.message}${note}`, data));
        break;
      case 'pass':
      case 'skipped':
      case 'cancelled':
        break;
    }
  }
  return out;
}

// --- code lenses ---------------------------------------------------------------------------------

/** `412 ms`; under 10 ms with one decimal. */
export function ms(x: number): string {
  return x < 10 ? `${(Math.round(x * 10) / 10).toFixed(1)} ms` : `${Math.round(x)} ms`;
}

function median(xs: readonly number[]): number | undefined {
  return distribution(xs)?.p50;
}

function diffTitle(d: RunDiff): string {
  const at = dotted(d.kind === 'unexpected' ? (d.actualPointer ?? d.pointer) : d.pointer);
  switch (d.kind) {
    case 'different':
      return `${at}: ${plain(d.expected, 24)} → ${plain(d.actual, 24)}`;
    case 'missing':
      return `${at}: missing`;
    case 'unexpected':
      return `${at}: unexpected`;
    case 'unmatched-item':
      return `${at}: no match`;
  }
}

function clip(s: string, max: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? one.slice(0, max - 1) + '…' : one;
}

/** The title of an example's lens: `Run example` until it has a result, then its verdict. */
export function exampleLensTitle(view: ExampleRunView | undefined): string {
  if (!view) return 'Run example';
  const r = view.run;
  let title: string;
  switch (r.verdict) {
    case 'pass': {
      const lat = median(r.latencies) ?? r.timing?.totalMs;
      title = lat === undefined ? '✓' : `✓ ${ms(lat)}`;
      break;
    }
    case 'wrong-value': {
      const [first, ...rest] = r.diffs ?? [];
      title = first ? `✗ ${diffTitle(first)}${rest.length ? ` (+${rest.length})` : ''}` : '✗ wrong value';
      break;
    }
    case 'schema-mismatch': {
      const [first, ...rest] = r.schemaErrors ?? [];
      title = first ? `✗ schema: ${clip(`${dotted(first.pointer)} ${first.message}`, 48)}${rest.length ? ` (+${rest.length})` : ''}` : '✗ schema mismatch';
      break;
    }
    case 'invalid-json':
      title = '✗ invalid JSON';
      break;
    case 'truncated':
      title = '✗ truncated';
      break;
    case 'error':
      title = `⚠ error: ${clip(r.message, 48)}`;
      break;
    case 'skipped':
      title = '– skipped';
      break;
    case 'cancelled':
      title = '– cancelled';
      break;
  }
  if (r.cached) title += ' (cached)';
  if (view.stale) title += ' (stale)';
  return title;
}

/** Budgets the lens checks (the contract's `budgets`). */
export interface LensBudgets {
  passRate?: number;
  p50Ms?: number;
  p95Ms?: number;
  ttftP95Ms?: number;
}

function pct(x: number): string {
  return `${Math.round(x * 1000) / 10}%`;
}

/**
 * The contract lens: `7/8 pass · p50 380 ms · p95 610 ms`, then missed budgets, stale results and
 * examples without one. Only current results count. `Run all` until something ran.
 */
export function contractLensTitle(check: CheckResult, runs: ContractRuns | undefined): string {
  if (!runs) return 'Run all';
  const budgets: LensBudgets = check.contract?.budgets ?? {};
  const skipped = new Set(check.contract?.examples.filter((e) => e.skip).map((e) => e.name) ?? []);
  let judged = 0;
  let passed = 0;
  let stale = 0;
  let notRun = 0;
  const latencies: number[] = [];
  const ttfts: number[] = [];
  const seen = new Set<string>();
  for (const ex of check.examples) {
    if (ex.name === undefined || seen.has(ex.name) || skipped.has(ex.name)) continue;
    seen.add(ex.name);
    const v = runs.examples.get(ex.name);
    if (!v || v.run.verdict === 'skipped' || v.run.verdict === 'cancelled') notRun++;
    else if (v.stale) stale++;
    else {
      judged++;
      if (v.run.verdict === 'pass') passed++;
      if (!v.run.timingFromEarlierRun) {
        latencies.push(...v.run.latencies);
        ttfts.push(...v.run.ttfts);
      }
    }
  }
  const parts: string[] = [];
  if (judged) parts.push(`${passed}/${judged} pass`);
  const lat = distribution(latencies);
  if (lat) parts.push(`p50 ${ms(lat.p50)}`, `p95 ${ms(lat.p95)}`);
  if (judged && budgets.passRate !== undefined && passed / judged + 1e-12 < budgets.passRate) parts.push(`✗ pass rate ${pct(passed / judged)} < ${pct(budgets.passRate)}`);
  if (lat && budgets.p50Ms !== undefined && lat.p50 > budgets.p50Ms) parts.push(`✗ p50 > ${ms(budgets.p50Ms)}`);
  if (lat && budgets.p95Ms !== undefined && lat.p95 > budgets.p95Ms) parts.push(`✗ p95 > ${ms(budgets.p95Ms)}`);
  const ttft = distribution(ttfts);
  if (ttft && budgets.ttftP95Ms !== undefined && ttft.p95 > budgets.ttftP95Ms) parts.push(`✗ first token p95 ${ms(ttft.p95)} > ${ms(budgets.ttftP95Ms)}`);
  if (stale) parts.push(`${stale} stale`);
  const failed = runs.failure !== undefined && !runs.failure.stale;
  if (failed) parts.push('✗ not run');
  if (!parts.length) return 'Run all';
  if (notRun && !failed) parts.push(`${notRun} not run`);
  return parts.join(' · ');
}

// --- hover ---------------------------------------------------------------------------------------

/** A fence longer than any backtick run in the text. */
function fenced(text: string, lang: string): string {
  const runs = text.match(/`{3,}/g) ?? [];
  const fence = '`'.repeat(Math.max(3, ...runs.map((r) => r.length + 1)));
  return `${fence}${lang}\n${text}\n${fence}`;
}

function modelLine(r: ExampleRun): string {
  const label = r.model.synthetic && !/SYNTHETIC/.test(r.model.label) ? `${r.model.label} (SYNTHETIC)` : r.model.label;
  return `Model: ${label}${r.model.synthetic ? ' — random weights: this verdict exercises the runtime and says nothing about the contract' : ''}`;
}

const MAX_OUTPUT_CHARS = 4000;

/** Markdown for an example's last run: verdict, state, timings, model and the output. */
export function runHoverMarkdown(view: ExampleRunView): string {
  const r = view.run;
  const head = [`**Last run** · ${exampleLensTitle({ run: r, stale: false })}`];
  if (view.stale) head.push('**stale**');
  const lines = [head.join(' · ')];
  if (view.stale) lines.push('The prompt, the schema, the model settings or this example changed since it ran: run it again for a current verdict.');
  if (r.verdict !== 'pass') lines.push(clip(r.message, 400));
  lines.push(modelLine(r));
  const t = r.timing;
  if (t) {
    const bits = [`first token ${ms(t.ttftMs)}`, `total ${ms(t.totalMs)}`, `${t.outputTokens} token${t.outputTokens === 1 ? '' : 's'}`];
    if (t.tokensPerSecond > 0) bits.push(`${t.tokensPerSecond.toFixed(1)} tok/s`);
    if (t.promptTokens !== undefined) bits.push(`prompt ${t.promptTokens} tokens${t.reusedPromptTokens ? ` (${t.reusedPromptTokens} reused)` : ''}`);
    const lat = distribution(r.latencies);
    if (lat && lat.n > 1) bits.push(`p50 ${ms(lat.p50)} over ${lat.n} runs`);
    lines.push(`Timings${r.timingFromEarlierRun ? ' (from an earlier run with the same inputs)' : ''}: ${bits.join(' · ')}`);
  } else if (r.cached) lines.push('Timings: none (the output came from the cache; run with the cache off to measure)');
  const state = [r.cached ? 'cached output (not generated again)' : undefined, `ran ${r.at}`].filter(Boolean);
  lines.push(state.join(' · '));
  if (r.parsed !== undefined) {
    const pretty = JSON.stringify(r.parsed, null, 2);
    lines.push(`Output:\n\n${fenced(pretty.length > MAX_OUTPUT_CHARS ? pretty.slice(0, MAX_OUTPUT_CHARS) + '\n…' : pretty, 'json')}`);
  } else if (r.output !== undefined) {
    const raw = r.output.length > MAX_OUTPUT_CHARS ? r.output.slice(0, MAX_OUTPUT_CHARS) + '…' : r.output;
    lines.push(`Output (raw${r.stopReason ? `, stopped: ${r.stopReason}` : ''}):\n\n${fenced(raw, 'text')}`);
  }
  return lines.join('\n\n');
}

/**
 * The run section for a hover at `offset`: on an example's item, its name or inside its
 * `expected` value. Undefined elsewhere or when the example has no result.
 */
export function runHoverAt(check: CheckResult, offset: number, runs: ContractRuns | undefined): { markdown: string; start: number; end: number } | undefined {
  if (!runs || !check.source) return undefined;
  const hit = pathAtOffset(check.source, offset);
  const p = hit.path;
  if (p[0] !== 'examples' || typeof p[1] !== 'number') return undefined;
  if (!(p.length === 2 || p[2] === 'name' || p[2] === 'expected')) return undefined;
  const ex = check.examples[p[1]];
  if (!ex || ex.name === undefined) return undefined;
  const view = runs.examples.get(ex.name);
  if (!view) return undefined;
  const range = nodeRange(hit.node) ?? nameRange(check, ex.index);
  if (!range) return undefined;
  return { markdown: runHoverMarkdown(view), start: range[0], end: range[1] };
}
