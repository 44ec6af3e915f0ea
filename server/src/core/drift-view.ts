/**
 * Drift as the editor shows it: a code lens per candidate quantization on `model.quantizations`,
 * information diagnostics naming the fields that changed (between quantizations and since the
 * baseline), an error on `budgets.maxDrift` when it is exceeded, and hover text with the outputs
 * side by side. Pure: the current version's check plus drift results (plain data, as
 * `runDrift` in server/src/runtime/drift returns them) in; offsets, titles and Markdown out.
 * Results for examples the document no longer has (by name) are ignored.
 */
import type { CheckResult } from './check';
import { DRIFT_CODES, type DriftCode } from './codes';
import { baselineLine, type BaselineComparison } from './drift-baseline';
import { describeFieldDiff, fmtKl, sharePct, shortValue, summaryLine, type CandidateSummary, type DriftFieldDiff, type ExampleDrift } from './drift-compare';
import type { Finding } from './findings';
import { fieldRange, nameRange } from './run-findings';
import { keyRange, locate, pathAtOffset, valueRange } from './yaml-source';
import { parseJsonStrict } from './verdict';

export { DRIFT_CODES, type DriftCode };


/** The drift results drift-view reads (a subset of runtime/drift's ContractDrift; pass that object as it is). */
export interface DriftViewData {
  reference: { quantization: string };
  candidates: readonly {
    quantization: string;
    status: string;
    message?: string;
    summary?: CandidateSummary;
    examples: readonly ExampleDrift[];
  }[];
}

/** The baseline side: a comparison, or why the file could not be used. */
export type BaselineViewData = { status: 'compared'; comparison: BaselineComparison } | { status: 'invalid'; message: string; file?: string } | { status: 'missing' };

export interface DriftLens {
  start: number;
  end: number;
  title: string;
  /** The candidate the lens summarises. */
  quantization: string;
  /** Longer text for the lens's tooltip. */
  tooltip: string;
}

const MAX_FIELD_FINDINGS = 10;

function finding(code: DriftCode, [start, end]: [number, number], message: string, data: Record<string, unknown>): Finding {
  return { code, severity: DRIFT_CODES[code].severity, message, start, end, data };
}

/** Where the quantizations are written: the `quantizations` key, else `model`, else the first key. */
function quantizationsRange(check: CheckResult): [number, number] | undefined {
  const src = check.source;
  if (!src) return undefined;
  if (locate(src, ['model', 'quantizations']).key) return keyRange(src, ['model', 'quantizations']);
  if (locate(src, ['model']).key) return keyRange(src, ['model']);
  return keyRange(src, []);
}

function exampleIndex(check: CheckResult, name: string, hint: number): number | undefined {
  if (check.examples[hint]?.name === name) return hint;
  return check.examples.find((e) => e.name === name)?.index;
}

// --- lenses ----------------------------------------------------------------------------------------------

/** `⇄ Q4_0 vs Q8_0: 2/12 differ · top-1 97.1% · −31% p95`, one per candidate, on `model.quantizations`. */
export function driftLenses(check: CheckResult, drift: DriftViewData): DriftLens[] {
  const at = quantizationsRange(check);
  if (!at) return [];
  return drift.candidates.map((c) => {
    const title = c.summary ? `⇄ ${summaryLine(c.summary, { parts: ['top1', 'p95'] })}` : `⇄ ${c.quantization} vs ${drift.reference.quantization}: ${c.status === 'same-file' ? 'same file' : 'not compared'}`;
    return { start: at[0], end: at[1], title, quantization: c.quantization, tooltip: c.summary ? summaryTooltip(c.summary) : (c.message ?? c.status) };
  });
}

function summaryTooltip(s: CandidateSummary): string {
  const lines = [summaryLine(s, { parts: ['pass', 'top1', 'kl', 'p95', 'size'] })];
  if (s.agreement) lines.push(`token agreement over ${s.agreement.positions} teacher-forced positions (${s.agreement.method === 'topk' ? `top-${s.agreement.k} method: KL is a lower bound, ${sharePct(s.agreement.meanCaptured ?? 1)} of the reference's probability covered` : 'full vocabulary'})`);
  else if (s.agreementUnavailable) lines.push(`no token agreement: ${s.agreementUnavailable}`);
  if (s.latency.unmeasured) lines.push(`latency: ${s.latency.unmeasured}`);
  if (s.budget) lines.push(`maxDrift ${sharePct(s.budget.limit)}: ${s.budget.exceeded ? 'EXCEEDED' : 'ok'}`);
  return lines.join('\n');
}

// --- diagnostics -----------------------------------------------------------------------------------------

/**
 * Findings: per differing example, one information finding per field (on the field of `expected`
 * it names, else on the example's name); an error on `budgets.maxDrift` when a candidate exceeds
 * it; a warning when quantizations are the same file or a candidate was not compared; baseline
 * changes as information, an unreadable baseline as a warning.
 */
export function driftFindings(check: CheckResult, drift: DriftViewData | undefined, baseline?: BaselineViewData): Finding[] {
  const out: Finding[] = [];
  const src = check.source;
  if (!src) return out;
  const ref = drift?.reference.quantization ?? '';
  for (const c of drift?.candidates ?? []) {
    const onQuant = quantizationsRange(check);
    if (c.status === 'same-file' && onQuant) out.push(finding('drift-same-file', onQuant, c.message ?? `${c.quantization} is the same file as ${ref}`, { quantization: c.quantization }));
    else if (c.status !== 'compared' && onQuant) out.push(finding('drift-not-compared', onQuant, c.message ?? `${c.quantization} was not compared`, { quantization: c.quantization }));
    const s = c.summary;
    if (s?.budget?.exceeded) {
      const at = locate(src, ['budgets', 'maxDrift']).node ? valueRange(src, ['budgets', 'maxDrift']) : onQuant;
      if (at) out.push(finding('drift-exceeded', at, `${c.quantization} vs ${ref}: ${s.differing}/${s.compared} examples differ (${sharePct(s.budget.actual)}), above maxDrift ${sharePct(s.budget.limit)}`, { quantization: c.quantization, driftRate: s.budget.actual, limit: s.budget.limit }));
    }
    for (const e of c.examples) {
      if (!e.comparison.differs) continue;
      const index = exampleIndex(check, e.name, e.index);
      if (index === undefined) continue;
      const names = { reference: ref, candidate: c.quantization };
      const verdict = e.comparison.verdictChanged ? ` (verdict ${e.reference.verdict} → ${e.candidate.verdict})` : '';
      for (const d of e.comparison.diffs.slice(0, MAX_FIELD_FINDINGS)) {
        const at = d.kind === 'text' ? nameRange(check, index) : fieldRange(check, index, d.pointer);
        if (at) out.push(finding('drift-example', at, `${c.quantization} vs ${ref}: ${describeFieldDiff(d, names)}${verdict}`, { example: e.name, quantization: c.quantization, pointer: d.pointer, kind: d.kind, reference: d.reference, candidate: d.candidate }));
      }
    }
  }
  if (baseline?.status === 'invalid') {
    const at = keyRange(src, locate(src, ['contract']).key ? ['contract'] : []);
    out.push(finding('baseline-invalid', at, `${baseline.file ? `${baseline.file}: ` : ''}${baseline.message}`, {}));
  } else if (baseline?.status === 'compared') {
    for (const q of baseline.comparison.quantizations) {
      for (const e of q.examples) {
        if (e.status !== 'changed') continue;
        const index = exampleIndex(check, e.name, e.index);
        if (index === undefined) continue;
        const names = { reference: 'baseline', candidate: 'now' };
        const verdict = e.verdict.baseline !== e.verdict.current ? ` (verdict ${e.verdict.baseline} → ${e.verdict.current})` : '';
        const diffs = e.diffs.length ? e.diffs : ([{ pointer: '', kind: 'text', reference: e.baselineOutput, candidate: e.currentOutput }] as DriftFieldDiff[]);
        for (const d of diffs.slice(0, MAX_FIELD_FINDINGS)) {
          const at = d.kind === 'text' ? nameRange(check, index) : fieldRange(check, index, d.pointer);
          if (at) out.push(finding('baseline-changed', at, `changed since baseline (${q.quantization}): ${describeFieldDiff(d, names)}${verdict}`, { example: e.name, quantization: q.quantization, pointer: d.pointer, kind: d.kind, baseline: d.reference, current: d.candidate }));
        }
      }
    }
  }
  return out;
}

// --- hover ---------------------------------------------------------------------------------------------

function leaves(v: unknown, prefix = '', out: Map<string, unknown> = new Map(), depth = 0): Map<string, unknown> {
  if (depth < 8 && v && typeof v === 'object' && (Array.isArray(v) ? v.length : Object.keys(v).length)) {
    const entries: [string, unknown][] = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.entries(v as Record<string, unknown>);
    for (const [k, x] of entries) leaves(x, `${prefix}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, out, depth + 1);
  } else out.set(prefix, v);
  return out;
}

function cell(v: unknown, present: boolean): string {
  if (!present) return '—';
  return shortValue(v, 48).replace(/\|/g, '\\|').replace(/`/g, "'");
}

/** A Markdown table of outputs side by side: one row per leaf field, differing rows in bold. */
export function sideBySide(columns: readonly { title: string; output?: string }[], maxRows = 24): string {
  const parsed = columns.map((c) => (c.output === undefined ? undefined : parseJsonStrict(c.output)));
  if (parsed.some((p) => p && !p.ok) || parsed.every((p) => !p)) {
    return columns.map((c) => `**${c.title}**\n\`\`\`json\n${c.output === undefined ? '(not run)' : c.output.slice(0, 2000)}\n\`\`\``).join('\n\n');
  }
  const maps = parsed.map((p) => (p && p.ok ? leaves(p.value) : new Map<string, unknown>()));
  const keys: string[] = [];
  for (const m of maps) for (const k of m.keys()) if (!keys.includes(k)) keys.push(k);
  const rows = keys.slice(0, maxRows).map((k) => {
    const vals = maps.map((m) => cell(m.get(k), m.has(k)));
    const differs = vals.some((v) => v !== vals[0]);
    const field = (k || '/').replace(/\|/g, '\\|');
    return `| ${differs ? `**${field}**` : field} | ${vals.map((v) => (differs ? `**${v}**` : v)).join(' | ')} |`;
  });
  const more = keys.length > maxRows ? `\n\n(${keys.length - maxRows} more fields)` : '';
  return `| field | ${columns.map((c) => c.title).join(' | ')} |\n|---|${columns.map(() => '---').join('|')}|\n${rows.join('\n')}${more}`;
}

/**
 * Hover text for the example at `offset` (anywhere inside its item): the reference's and each
 * candidate's output side by side, what changed, verdicts and token agreement; plus the baseline's
 * output when there is one. Undefined when the offset is not in an example with drift results.
 */
export function driftHover(check: CheckResult, drift: DriftViewData | undefined, offset: number, baseline?: BaselineViewData): string | undefined {
  const src = check.source;
  if (!src) return undefined;
  const hit = pathAtOffset(src, offset);
  if (hit.path[0] !== 'examples' || typeof hit.path[1] !== 'number') return undefined;
  const index = hit.path[1];
  const name = check.examples[index]?.name;
  if (name === undefined) return undefined;
  const ref = drift?.reference.quantization ?? '';
  const perCand = (drift?.candidates ?? []).flatMap((c) => {
    const e = c.examples.find((x) => x.name === name);
    return e ? [{ c, e }] : [];
  });
  const bq = baseline?.status === 'compared' ? baseline.comparison.quantizations.flatMap((q) => q.examples.filter((e) => e.name === name).map((e) => ({ q, e }))) : [];
  if (!perCand.length && !bq.length) return undefined;
  const parts: string[] = [];
  if (perCand.length) {
    const first = perCand[0]!.e;
    parts.push(`**Drift** of \`${name}\` (reference ${ref})`);
    parts.push(sideBySide([{ title: ref, ...(first.reference.output !== undefined ? { output: first.reference.output } : {}) }, ...perCand.map(({ c, e }) => ({ title: c.quantization, ...(e.candidate.output !== undefined ? { output: e.candidate.output } : {}) }))]));
    for (const { c, e } of perCand) {
      const bits = [e.comparison.comparable ? (e.comparison.differs ? `${e.comparison.diffs.length} field${e.comparison.diffs.length === 1 ? '' : 's'} differ` : 'same answer') : 'not compared'];
      if (e.comparison.verdictChanged) bits.push(`verdict ${e.reference.verdict} → ${e.candidate.verdict}`);
      else bits.push(`verdict ${e.candidate.verdict}`);
      if (e.agreement) bits.push(`top-1 ${sharePct(e.agreement.top1)} of ${e.agreement.positions} tokens, KL ${fmtKl(e.agreement.meanKl)}`);
      if (e.latencyMs?.reference !== undefined && e.latencyMs.candidate !== undefined) bits.push(`${Math.round(e.latencyMs.candidate)} ms vs ${Math.round(e.latencyMs.reference)} ms`);
      parts.push(`- **${c.quantization}**: ${bits.join(' · ')}`);
    }
  }
  for (const { q, e } of bq) {
    if (e.status === 'new') {
      parts.push(`**Baseline** (${q.quantization}): this example is new since the baseline`);
      continue;
    }
    const created = baseline?.status === 'compared' ? baseline.comparison.createdAt.slice(0, 10) : '';
    const head = `**Baseline** (${q.quantization}, ${created}): ${e.status === 'changed' ? 'changed since baseline' : e.status === 'same' ? 'unchanged' : 'not compared'}${e.promptChanged ? ' · prompt edited' : ''}`;
    parts.push(e.status === 'changed' ? `${head}\n\n${sideBySide([{ title: 'baseline', ...(e.baselineOutput !== undefined ? { output: e.baselineOutput } : {}) }, { title: 'now', ...(e.currentOutput !== undefined ? { output: e.currentOutput } : {}) }])}` : head);
  }
  return parts.join('\n\n');
}

/** Everything at once, for one version of a document. */
export function driftView(check: CheckResult, drift: DriftViewData | undefined, baseline?: BaselineViewData): { lenses: DriftLens[]; findings: Finding[]; hover(offset: number): string | undefined; baselineLines: string[] } {
  return {
    lenses: drift ? driftLenses(check, drift) : [],
    findings: driftFindings(check, drift, baseline),
    hover: (offset) => driftHover(check, drift, offset, baseline),
    baselineLines: baseline?.status === 'compared' ? baseline.comparison.quantizations.map((q) => baselineLine(baseline.comparison, q)) : [],
  };
}
