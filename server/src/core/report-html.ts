/**
 * The run report as one self-contained HTML page: throughput and latency (histograms per
 * quantization with p50/p95 marks and budget lines, time to first token, tokens/s) and semantic
 * errors (failing output fields stacked by verdict kind, with the examples behind each bar; the
 * drift matrix across quantizations). Pure: a plain report model in, a string out.
 *
 * The charts are inline SVG drawn here, so the page needs no script to show them; the webview adds
 * a tiny script (with a nonce) only to swap in a newer body as runs finish. Nothing is loaded from
 * anywhere: the CSP allows inline styles and scripts carrying the nonce and data: images, nothing
 * else. Colours are CSS variables that VS Code's webview defines (`--vscode-*`), with fallbacks for
 * a browser, light or dark. Every string from a user's file is escaped.
 */
import { compareOutputs } from './drift-compare';
import { distribution, fmtMs, pct, type Distribution } from './stats';
import { FAILURE_KINDS, isFailure, type FailureKind, type VerdictKind } from './verdict';

// --- the model ---------------------------------------------------------------------------------

export interface ReportModel {
  title: string;
  /** ISO time the report was made (shown; omitted for reproducible output). */
  generatedAt?: string;
  /** Where it was made ("contracts run", "VS Code"), shown under the title. */
  source?: string;
  contracts: ReportContract[];
}

export interface ReportBudgets {
  passRate?: number;
  p50Ms?: number;
  p95Ms?: number;
  ttftP95Ms?: number;
  maxDrift?: number;
}

export interface ReportContract {
  name: string;
  /** Path of the contract, for people. */
  file?: string;
  /** pass | fail | not-run | …; absent when unknown (the editor's partial results). */
  status?: string;
  /** Why it was not run, or what else should be said about it. */
  reason?: string;
  budgets?: ReportBudgets;
  /** The contract's `output.ignore` pointers (outputs are compared across quantizations without them). */
  ignore?: readonly string[];
  /** Quantization order (reference first); quantizations seen only in `examples` follow. */
  quantizations?: readonly string[];
  examples: ReportExample[];
}

export interface ReportExample {
  name: string;
  quantization: string;
  status: VerdictKind;
  message?: string;
  /** Why it failed, each at a JSON Pointer into the output (schema errors) or into `expected` (wrong values). */
  problems?: readonly { pointer: string; message: string }[];
  /** Measured latencies (every measured run); empty when cached or not run: latency is never served from cache. */
  latencyMs?: readonly number[];
  ttftMs?: readonly number[];
  tokensPerSecond?: number;
  cached?: boolean;
  /** The raw output, to compare quantizations. */
  output?: string;
  /** The model's label (e.g. "gemma-3-270m-it Q8_0", "SYNTHETIC …"), as it came. */
  model?: string;
  synthetic?: boolean;
}

export interface RenderOptions {
  /** Nonce of the inline style and script (default: a random one). */
  nonce?: string;
  /** The webview's `cspSource`, added to style-src and img-src. */
  cspSource?: string;
  /** Adds the script that replaces the body when the webview posts `{ type: 'report', body }`. */
  live?: boolean;
}

// --- derived data (exported for tests and for callers that want the numbers) -------------------------

const NOT_JUDGED: ReadonlySet<VerdictKind> = new Set(['skipped', 'cancelled']);

export function quantizationsOf(c: ReportContract): string[] {
  const out = [...(c.quantizations ?? [])];
  for (const e of c.examples) if (!out.includes(e.quantization)) out.push(e.quantization);
  return out.filter((q) => c.examples.some((e) => e.quantization === q));
}

export interface QuantStats {
  quantization: string;
  judged: number;
  passed: number;
  cached: number;
  latency?: Distribution;
  ttft?: Distribution;
  tokensPerSecond: number[];
}

export function quantStats(c: ReportContract, q: string): QuantStats {
  const ex = c.examples.filter((e) => e.quantization === q);
  const judged = ex.filter((e) => !NOT_JUDGED.has(e.status));
  const lat = distribution(ex.filter((e) => !e.cached).flatMap((e) => e.latencyMs ?? []));
  const ttft = distribution(ex.filter((e) => !e.cached).flatMap((e) => e.ttftMs ?? []));
  return {
    quantization: q,
    judged: judged.length,
    passed: judged.filter((e) => e.status === 'pass').length,
    cached: ex.filter((e) => e.cached).length,
    ...(lat ? { latency: lat } : {}),
    ...(ttft ? { ttft } : {}),
    tokensPerSecond: ex.filter((e) => !e.cached && e.tokensPerSecond !== undefined && e.tokensPerSecond > 0 && Number.isFinite(e.tokensPerSecond)).map((e) => e.tokensPerSecond!),
  };
}

/** A "nice" step (1, 2 or 5 × 10^k) at least `raw`. */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw - 1e-12 * p) return m * p;
  return 10 * p;
}

export interface Axis {
  lo: number;
  hi: number;
  /** Bin width (the axis is a whole number of bins). */
  step: number;
}

/** A shared axis for values: about `target` bins of a nice width, whole bins from lo to hi. */
export function binAxis(values: readonly number[], target = 12): Axis | undefined {
  const v = values.filter((x) => Number.isFinite(x));
  if (!v.length) return undefined;
  const min = Math.min(...v);
  const max = Math.max(...v);
  const step = niceStep((max - min) / target || Math.max(Math.abs(max), 1) / target);
  const lo = Math.floor(min / step) * step;
  let hi = Math.ceil(max / step) * step;
  if (hi <= max) hi += step;
  return { lo, hi, step };
}

export interface Bin {
  start: number;
  end: number;
  count: number;
}

/** Counts of values per bin of the axis ([start, end) each). */
export function histogram(values: readonly number[], axis: Axis): Bin[] {
  const n = Math.max(1, Math.round((axis.hi - axis.lo) / axis.step));
  const bins: Bin[] = Array.from({ length: n }, (_, i) => ({ start: axis.lo + i * axis.step, end: axis.lo + (i + 1) * axis.step, count: 0 }));
  for (const x of values) {
    if (!Number.isFinite(x)) continue;
    const i = Math.min(n - 1, Math.max(0, Math.floor((x - axis.lo) / axis.step + 1e-9)));
    bins[i]!.count++;
  }
  return bins;
}

export interface FieldFailures {
  /** The pointer with array indices as `*` ("" is the whole output). */
  field: string;
  total: number;
  byKind: Partial<Record<FailureKind, { example: string; quantization: string }[]>>;
}

/** Array indices become `*`, so `/items/0/label` and `/items/3/label` are one field. */
export function fieldOf(pointer: string): string {
  return pointer.split('/').map((s, i) => (i > 0 && /^\d+$/.test(s) ? '*' : s)).join('/');
}

/** Failing (example, quantization) results per output field, most failures first. */
export function fieldFailures(c: ReportContract): FieldFailures[] {
  const byField = new Map<string, FieldFailures>();
  for (const e of c.examples) {
    if (!isFailure(e.status)) continue;
    const kind = e.status as FailureKind;
    const fields = new Set((e.problems ?? []).map((p) => fieldOf(p.pointer)));
    if (!fields.size) fields.add('');
    for (const field of fields) {
      const f = byField.get(field) ?? { field, total: 0, byKind: {} };
      byField.set(field, f);
      f.total++;
      (f.byKind[kind] ??= []).push({ example: e.name, quantization: e.quantization });
    }
  }
  return [...byField.values()].sort((a, b) => b.total - a.total || (a.field < b.field ? -1 : a.field > b.field ? 1 : 0));
}

export interface DriftCell {
  row: string;
  col: string;
  compared: number;
  differing: string[];
  /** differing / compared; undefined when nothing could be compared. */
  share?: number;
}

/** Quantization × quantization: the share of examples (judged on both) whose outputs differ, under the contract's `ignore`. */
export function driftMatrix(c: ReportContract): { quantizations: string[]; cells: DriftCell[] } | undefined {
  const qs = quantizationsOf(c).filter((q) => c.examples.some((e) => e.quantization === q && e.output !== undefined));
  if (qs.length < 2) return undefined;
  const at = new Map(c.examples.map((e) => [`${e.quantization}\u0000${e.name}`, e]));
  const names = [...new Set(c.examples.map((e) => e.name))];
  const cells: DriftCell[] = [];
  for (const row of qs) {
    for (const col of qs) {
      let compared = 0;
      const differing: string[] = [];
      for (const name of names) {
        const a = at.get(`${row}\u0000${name}`);
        const b = at.get(`${col}\u0000${name}`);
        if (!a || !b) continue;
        const cmp = compareOutputs({ ...(a.output !== undefined ? { output: a.output } : {}), verdict: a.status }, { ...(b.output !== undefined ? { output: b.output } : {}), verdict: b.status }, c.ignore ?? []);
        if (!cmp.comparable) continue;
        compared++;
        if (cmp.differs) differing.push(name);
      }
      cells.push({ row, col, compared, differing, ...(compared ? { share: differing.length / compared } : {}) });
    }
  }
  return { quantizations: qs, cells };
}

// --- HTML ----------------------------------------------------------------------------------------

/** Escapes text for HTML content and attribute values. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function num(x: number): string {
  return String(Math.round(x * 100) / 100);
}

function randomNonce(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function contentSecurityPolicy(nonce: string, cspSource?: string): string {
  const src = cspSource ? ` ${cspSource}` : '';
  return `default-src 'none'; style-src${src} 'nonce-${nonce}'; img-src${src} data:; script-src 'nonce-${nonce}'; base-uri 'none'; form-action 'none'`;
}

const STYLE = `
:root {
  --pc-fg: var(--vscode-editor-foreground, #1f2328);
  --pc-bg: var(--vscode-editor-background, #ffffff);
  --pc-muted: var(--vscode-descriptionForeground, #656d76);
  --pc-grid: var(--vscode-editorWidget-border, #d0d7de);
  --pc-accent: var(--vscode-charts-blue, #0969da);
  --pc-red: var(--vscode-charts-red, #cf222e);
  --pc-orange: var(--vscode-charts-orange, #bc4c00);
  --pc-yellow: var(--vscode-charts-yellow, #9a6700);
  --pc-purple: var(--vscode-charts-purple, #8250df);
  --pc-green: var(--vscode-charts-green, #1a7f37);
  --pc-font: var(--vscode-font-family, system-ui, -apple-system, "Segoe UI", sans-serif);
  --pc-mono: var(--vscode-editor-font-family, ui-monospace, "SFMono-Regular", Menlo, monospace);
}
@media (prefers-color-scheme: dark) {
  :root {
    --pc-fg: var(--vscode-editor-foreground, #e6edf3);
    --pc-bg: var(--vscode-editor-background, #0d1117);
    --pc-muted: var(--vscode-descriptionForeground, #8d96a0);
    --pc-grid: var(--vscode-editorWidget-border, #30363d);
    --pc-accent: var(--vscode-charts-blue, #4493f8);
    --pc-red: var(--vscode-charts-red, #f85149);
    --pc-orange: var(--vscode-charts-orange, #db6d28);
    --pc-yellow: var(--vscode-charts-yellow, #d29922);
    --pc-purple: var(--vscode-charts-purple, #ab7df8);
    --pc-green: var(--vscode-charts-green, #3fb950);
  }
}
body { color: var(--pc-fg); background: var(--pc-bg); font-family: var(--pc-font); font-size: 13px; margin: 0; padding: 16px 24px; line-height: 1.45; }
h1 { font-size: 1.5em; margin: 0 0 4px; }
h2 { font-size: 1.25em; margin: 28px 0 4px; border-bottom: 1px solid var(--pc-grid); padding-bottom: 4px; }
h3 { font-size: 1em; margin: 18px 0 6px; }
.muted, .sub { color: var(--pc-muted); }
.warn { color: var(--pc-orange); font-weight: 600; }
.bad { color: var(--pc-red); font-weight: 600; }
.good { color: var(--pc-green); }
code, .mono { font-family: var(--pc-mono); }
table { border-collapse: collapse; margin: 6px 0; }
.wide { overflow-x: auto; }
th, td { text-align: left; padding: 2px 10px 2px 0; border-bottom: 1px solid var(--pc-grid); vertical-align: top; }
th { font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 8px 0 16px; }
figcaption { color: var(--pc-muted); margin-bottom: 4px; }
svg.chart { display: block; max-width: 100%; height: auto; overflow: visible; }
svg text { fill: var(--pc-fg); font-family: var(--pc-font); font-size: 11px; }
svg text.muted { fill: var(--pc-muted); }
svg .axis { stroke: var(--pc-grid); stroke-width: 1; }
svg .grid { stroke: var(--pc-grid); stroke-width: 0.5; stroke-dasharray: 2 3; }
svg .bar { fill: var(--pc-accent); }
svg .q0 { fill: var(--pc-accent); } svg .q1 { fill: var(--pc-purple); } svg .q2 { fill: var(--pc-green); } svg .q3 { fill: var(--pc-orange); }
svg .mark { stroke: var(--pc-fg); stroke-width: 1.5; }
svg .mark.p50 { stroke-dasharray: 4 3; }
svg .budget { stroke: var(--pc-red); stroke-width: 1.5; stroke-dasharray: 6 3; }
svg text.budget-label { fill: var(--pc-red); }
svg .dot { fill-opacity: 0.7; }
svg .k-wrong-value { fill: var(--pc-red); }
svg .k-schema-mismatch { fill: var(--pc-orange); }
svg .k-invalid-json { fill: var(--pc-purple); }
svg .k-truncated { fill: var(--pc-yellow); }
svg .k-error { fill: var(--pc-muted); }
svg .cell { fill: var(--pc-red); }
svg .cell-frame { fill: none; stroke: var(--pc-grid); }
svg .cell-over { fill: none; stroke: var(--pc-red); stroke-width: 2; }
.legend span { margin-right: 12px; white-space: nowrap; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: middle; }
.sw-wrong-value { background: var(--pc-red); } .sw-schema-mismatch { background: var(--pc-orange); } .sw-invalid-json { background: var(--pc-purple); } .sw-truncated { background: var(--pc-yellow); } .sw-error { background: var(--pc-muted); }
details { margin: 2px 0; } summary { cursor: pointer; }
ul.examples, ul.models { margin: 2px 0 6px 18px; padding: 0; }
.synthetic { border-left: 3px solid var(--pc-orange); padding-left: 8px; }
`;

const LIVE_SCRIPT = `(function () {
  const vscode = typeof acquireVsCodeApi === 'function' ? acquireVsCodeApi() : undefined;
  window.addEventListener('message', (event) => {
    const m = event.data;
    const root = document.getElementById('report');
    if (!root || !m || m.type !== 'report' || typeof m.body !== 'string') return;
    const open = Array.from(document.querySelectorAll('details[open][id]')).map((d) => d.id);
    const y = window.scrollY;
    root.innerHTML = m.body;
    for (const id of open) { const d = document.getElementById(id); if (d) d.open = true; }
    window.scrollTo(0, y);
  });
  if (vscode) vscode.postMessage({ type: 'ready' });
})();`;

/** The whole page. */
export function renderReportHtml(model: ReportModel, opts: RenderOptions = {}): string {
  const nonce = opts.nonce ?? randomNonce();
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    // Quotes of the CSP keywords stay as they are: the attribute is double-quoted.
    `<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(nonce, opts.cspSource).replace(/[&<>"]/g, (c) => esc(c))}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="color-scheme" content="light dark">',
    `<title>${esc(model.title)}</title>`,
    `<style nonce="${esc(nonce)}">${STYLE}</style>`,
    '</head>',
    '<body>',
    `<main id="report">${renderReportBody(model)}</main>`,
    opts.live ? `<script nonce="${esc(nonce)}">${LIVE_SCRIPT}</script>` : '',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** The page's body (what the webview swaps in as runs finish). */
export function renderReportBody(model: ReportModel): string {
  const out: string[] = [`<h1>${esc(model.title)}</h1>`];
  const sub = [model.source, model.generatedAt].filter(Boolean).map(esc).join(' · ');
  if (sub) out.push(`<div class="sub">${sub}</div>`);
  if (!model.contracts.length) {
    out.push('<p class="muted">No runs yet. Run an example (its code lens, or <b>Prompt Contracts: Run All Examples in File</b>) and the report fills in as runs finish.</p>');
    return out.join('\n');
  }
  model.contracts.forEach((c, i) => out.push(renderContract(c, `c${i}`)));
  return out.join('\n');
}

function modelLine(c: ReportContract): string {
  const labels = [...new Set(c.examples.map((e) => e.model).filter((m): m is string => !!m))];
  const synthetic = c.examples.some((e) => e.synthetic) || labels.some((l) => /synthetic/i.test(l));
  const parts: string[] = [];
  if (labels.length === 1) parts.push(`<div>Model: <span class="mono">${esc(labels[0])}</span></div>`);
  else if (labels.length) parts.push(`<div>Models:</div><ul class="models">${labels.map((l) => `<li class="mono">${esc(l)}</li>`).join('')}</ul>`);
  if (synthetic) parts.push('<div class="synthetic warn">SYNTHETIC model: random weights; these verdicts and latencies exercise the runtime and say nothing about quality.</div>');
  return parts.join('\n');
}

function renderContract(c: ReportContract, id: string): string {
  const qs = quantizationsOf(c);
  const stats = qs.map((q) => quantStats(c, q));
  const b = c.budgets ?? {};
  const out: string[] = [`<section class="contract" data-contract="${esc(c.name)}" data-examples="${c.examples.length}">`];
  out.push(`<h2>${esc(c.name)}${c.status ? ` <span class="${c.status === 'pass' ? 'good' : 'bad'}">${esc(c.status.toUpperCase())}</span>` : ''}</h2>`);
  if (c.file) out.push(`<div class="sub mono">${esc(c.file)}</div>`);
  out.push(modelLine(c));
  if (c.reason) out.push(`<p class="warn">${esc(c.reason)}</p>`);
  if (!c.examples.length) {
    out.push('<p class="muted">No example results.</p></section>');
    return out.join('\n');
  }
  out.push(summaryTable(stats, b));

  out.push('<h3>Throughput and latency</h3>');
  const cached = stats.reduce((n, s) => n + s.cached, 0);
  if (cached) out.push(`<p class="muted">${cached} result${cached === 1 ? '' : 's'} from the cache: outputs only, never latencies (run with --no-cache to measure them).</p>`);
  out.push(
    histogramFigure({
      chart: 'latency',
      caption: 'Latency per measured run, by quantization',
      unit: 'latency',
      rows: stats.map((s) => ({ quantization: s.quantization, values: c.examples.filter((e) => e.quantization === s.quantization && !e.cached).flatMap((e) => e.latencyMs ?? []), dist: s.latency })),
      budgets: [
        ...(b.p50Ms !== undefined ? [{ name: 'p50', value: b.p50Ms }] : []),
        ...(b.p95Ms !== undefined ? [{ name: 'p95', value: b.p95Ms }] : []),
      ],
    }),
  );
  out.push(
    histogramFigure({
      chart: 'ttft',
      caption: 'Time to first token, by quantization',
      unit: 'time to first token',
      rows: stats.map((s) => ({ quantization: s.quantization, values: c.examples.filter((e) => e.quantization === s.quantization && !e.cached).flatMap((e) => e.ttftMs ?? []), dist: s.ttft })),
      budgets: b.ttftP95Ms !== undefined ? [{ name: 'p95', value: b.ttftP95Ms }] : [],
    }),
  );
  out.push(tokensFigure(stats));

  out.push('<h3>Semantic errors by field</h3>');
  out.push(fieldsFigure(fieldFailures(c), id));
  const drift = driftMatrix(c);
  if (drift) out.push(driftFigure(drift, qs[0], b.maxDrift));
  out.push(examplesTable(c, qs, id));
  out.push('</section>');
  return out.join('\n');
}

function summaryTable(stats: QuantStats[], b: ReportBudgets): string {
  const passLimit = b.passRate;
  const rows = stats.map((s) => {
    const rate = s.judged ? s.passed / s.judged : undefined;
    const rateCls = rate === undefined ? '' : rate + 1e-12 >= (passLimit ?? 1) ? 'good' : 'bad';
    const msCell = (v: number | undefined, limit: number | undefined) => (v === undefined ? '<td class="n muted">—</td>' : `<td class="n${limit !== undefined ? (v <= limit ? ' good' : ' bad') : ''}">${esc(fmtMs(v))}</td>`);
    const tps = median(s.tokensPerSecond);
    return `<tr><td class="mono">${esc(s.quantization)}</td><td class="n">${s.passed}/${s.judged}</td><td class="n ${rateCls}">${rate === undefined ? '—' : esc(pct(rate))}</td>${msCell(s.latency?.p50, b.p50Ms)}${msCell(s.latency?.p95, b.p95Ms)}${msCell(s.ttft?.p95, b.ttftP95Ms)}<td class="n">${tps === undefined ? '—' : tps.toFixed(1)}</td><td class="n">${s.latency?.n ?? 0}</td><td class="n">${s.cached}</td></tr>`;
  });
  const budgets = [
    passLimit !== undefined ? `pass rate ≥ ${pct(passLimit)}` : 'no passRate budget: every example must pass',
    b.p50Ms !== undefined ? `p50 ≤ ${fmtMs(b.p50Ms)}` : '',
    b.p95Ms !== undefined ? `p95 ≤ ${fmtMs(b.p95Ms)}` : '',
    b.ttftP95Ms !== undefined ? `first token p95 ≤ ${fmtMs(b.ttftP95Ms)}` : '',
    b.maxDrift !== undefined ? `drift ≤ ${pct(b.maxDrift)}` : '',
  ].filter(Boolean);
  return [
    '<div class="wide"><table class="summary"><thead><tr><th>Quantization</th><th>Passed</th><th>Pass rate</th><th>p50</th><th>p95</th><th>First token p95</th><th>Tokens/s (median)</th><th>Measured runs</th><th>Cached</th></tr></thead>',
    `<tbody>${rows.join('')}</tbody></table></div>`,
    `<div class="muted">Budgets: ${esc(budgets.join(' · '))}</div>`,
  ].join('\n');
}

function median(v: readonly number[]): number | undefined {
  if (!v.length) return undefined;
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const W = 720;
const LEFT = 90;
const RIGHT = 24;
const PLOT = W - LEFT - RIGHT;

function svgOpen(chart: string, height: number, label: string): string {
  return `<svg class="chart" data-chart="${chart}" role="img" aria-label="${esc(label)}" viewBox="0 0 ${W} ${num(height)}" width="${W}" height="${num(height)}" preserveAspectRatio="xMinYMin meet"><title>${esc(label)}</title>`;
}

interface HistogramRow {
  quantization: string;
  values: number[];
  dist?: Distribution;
}

function histogramFigure(spec: { chart: string; caption: string; unit: string; rows: HistogramRow[]; budgets: { name: string; value: number }[] }): string {
  const all = spec.rows.flatMap((r) => r.values);
  const measuredRows = spec.rows.filter((r) => r.values.length);
  if (!all.length) return `<figure data-chart="${spec.chart}" data-empty="true"><figcaption>${esc(spec.caption)}</figcaption><p class="muted">Nothing measured (every result was cached, skipped or not run).</p></figure>`;
  const maxV = Math.max(...all);
  // A budget far off the measurements would flatten them: it is drawn at the edge instead.
  const onScale = spec.budgets.filter((b) => b.value <= 2 * maxV);
  const axis = binAxis([...all, ...onScale.map((b) => b.value)])!;
  const x = (v: number) => LEFT + ((Math.min(Math.max(v, axis.lo), axis.hi) - axis.lo) / (axis.hi - axis.lo)) * PLOT;
  const rowH = 64;
  // one line of budget labels above the plot per budget
  const top = 18 + 12 * Math.max(0, spec.budgets.length - 1);
  const height = top + measuredRows.length * rowH + 34;
  const hists = measuredRows.map((r) => histogram(r.values, axis));
  const maxCount = Math.max(1, ...hists.flatMap((h) => h.map((b) => b.count)));
  const label = `${spec.caption}. ${measuredRows.map((r) => `${r.quantization}: n=${r.values.length}${r.dist ? `, p50 ${fmtMs(r.dist.p50)}, p95 ${fmtMs(r.dist.p95)}` : ''}`).join('; ')}${spec.budgets.length ? `. Budgets: ${spec.budgets.map((b) => `${b.name} ≤ ${fmtMs(b.value)}`).join(', ')}` : ''}.`;
  const parts: string[] = [svgOpen(spec.chart, height, label)];
  measuredRows.forEach((r, i) => {
    const y0 = top + i * rowH;
    const base = y0 + rowH - 14;
    const barMax = rowH - 22;
    parts.push(`<g data-quantization="${esc(r.quantization)}">`);
    parts.push(`<text x="${LEFT - 8}" y="${num(base - barMax / 2)}" text-anchor="end">${esc(r.quantization)}</text>`);
    parts.push(`<text x="${LEFT - 8}" y="${num(base - barMax / 2 + 13)}" text-anchor="end" class="muted">n=${r.values.length}</text>`);
    parts.push(`<line class="axis" x1="${LEFT}" x2="${LEFT + PLOT}" y1="${base}" y2="${base}"/>`);
    for (const bin of hists[i]!) {
      if (!bin.count) continue;
      const h = (bin.count / maxCount) * barMax;
      const bx = x(bin.start);
      const bw = Math.max(1, x(bin.end) - bx - 1);
      parts.push(`<rect class="q${i % 4}" data-bin-start="${num(bin.start)}" data-count="${bin.count}" x="${num(bx)}" y="${num(base - h)}" width="${num(bw)}" height="${num(h)}"><title>${esc(`${r.quantization}: ${bin.count} run${bin.count === 1 ? '' : 's'} in ${fmtMs(bin.start)}–${fmtMs(bin.end)}`)}</title></rect>`);
    }
    if (r.dist) {
      for (const [name, v] of [['p50', r.dist.p50], ['p95', r.dist.p95]] as const) {
        const mx = num(x(v));
        parts.push(`<line class="mark ${name}" data-mark="${name}" data-value="${num(v)}" x1="${mx}" x2="${mx}" y1="${num(base - barMax - 4)}" y2="${base}"><title>${esc(`${r.quantization} ${name} ${fmtMs(v)}`)}</title></line>`);
        parts.push(`<text x="${mx}" y="${num(base - barMax - 6)}" text-anchor="${name === 'p50' ? 'end' : 'start'}" class="muted">${name} ${esc(fmtMs(v))}</text>`);
      }
    }
    parts.push('</g>');
  });
  const axisY = top + measuredRows.length * rowH - 14;
  const tickStep = niceStep((axis.hi - axis.lo) / 6);
  for (let t = Math.ceil(axis.lo / tickStep) * tickStep; t <= axis.hi + 1e-9; t += tickStep) {
    parts.push(`<line class="grid" x1="${num(x(t))}" x2="${num(x(t))}" y1="${top}" y2="${axisY}"/><text x="${num(x(t))}" y="${axisY + 14}" text-anchor="middle" class="muted">${esc(fmtMs(t))}</text>`);
  }
  spec.budgets.forEach((b, i) => {
    const off = b.value > axis.hi;
    const bx = num(off ? LEFT + PLOT : x(b.value));
    const ly = top - 12 - 12 * i;
    parts.push(`<line class="budget" data-mark="budget-${b.name}" data-value="${num(b.value)}" x1="${bx}" x2="${bx}" y1="${ly + 2}" y2="${axisY}"><title>${esc(`budget ${b.name} ≤ ${fmtMs(b.value)}`)}</title></line>`);
    parts.push(`<text class="budget-label" x="${bx}" y="${ly}" text-anchor="end">budget ${b.name} ${esc(fmtMs(b.value))}${off ? ' (off scale →)' : ''}</text>`);
  });
  parts.push(`<text x="${LEFT + PLOT / 2}" y="${height - 2}" text-anchor="middle" class="muted">${esc(spec.unit)}</text>`);
  parts.push('</svg>');
  return `<figure><figcaption>${esc(spec.caption)}; dashed: p50, solid: p95${spec.budgets.length ? ', red: budget' : ''}</figcaption>${parts.join('')}</figure>`;
}

function tokensFigure(stats: QuantStats[]): string {
  const rows = stats.filter((s) => s.tokensPerSecond.length);
  const caption = 'Decode rate (tokens/s after the first token), one dot per example';
  if (!rows.length) return `<figure data-chart="tokens" data-empty="true"><figcaption>${esc(caption)}</figcaption><p class="muted">Nothing measured.</p></figure>`;
  const all = rows.flatMap((s) => s.tokensPerSecond);
  const hi = niceStep(Math.max(...all) / 5) * Math.ceil(Math.max(...all) / niceStep(Math.max(...all) / 5) + 1e-9);
  const x = (v: number) => LEFT + (v / (hi || 1)) * PLOT;
  const rowH = 26;
  const top = 8;
  const height = top + rows.length * rowH + 30;
  const label = `${caption}. ${rows.map((s) => `${s.quantization}: median ${median(s.tokensPerSecond)!.toFixed(1)} tokens/s (n=${s.tokensPerSecond.length})`).join('; ')}.`;
  const parts = [svgOpen('tokens', height, label)];
  rows.forEach((s, i) => {
    const cy = top + i * rowH + rowH / 2;
    parts.push(`<g data-quantization="${esc(s.quantization)}"><text x="${LEFT - 8}" y="${cy + 4}" text-anchor="end">${esc(s.quantization)}</text><line class="axis" x1="${LEFT}" x2="${LEFT + PLOT}" y1="${cy}" y2="${cy}"/>`);
    for (const v of s.tokensPerSecond) parts.push(`<circle class="dot q${i % 4}" cx="${num(x(v))}" cy="${cy}" r="4"><title>${esc(`${s.quantization}: ${v.toFixed(1)} tokens/s`)}</title></circle>`);
    const m = median(s.tokensPerSecond)!;
    parts.push(`<line class="mark" data-mark="median" data-value="${num(m)}" x1="${num(x(m))}" x2="${num(x(m))}" y1="${cy - 9}" y2="${cy + 9}"/></g>`);
  });
  const axisY = top + rows.length * rowH;
  const step = niceStep(hi / 6);
  for (let t = 0; t <= hi + 1e-9; t += step) parts.push(`<text x="${num(x(t))}" y="${axisY + 14}" text-anchor="middle" class="muted">${num(t)}</text>`);
  parts.push(`<text x="${LEFT + PLOT / 2}" y="${height - 2}" text-anchor="middle" class="muted">tokens/s</text></svg>`);
  return `<figure><figcaption>${esc(caption)}; line: median</figcaption>${parts.join('')}</figure>`;
}

function fieldName(field: string): string {
  return field === '' ? '(whole output)' : field;
}

function legend(kinds: readonly FailureKind[]): string {
  return `<div class="legend">${kinds.map((k) => `<span><span class="swatch sw-${k}"></span>${k}</span>`).join('')}</div>`;
}

function fieldsFigure(fields: FieldFailures[], id: string): string {
  const caption = 'Failing results by output field (JSON Pointer; array items as *), stacked by verdict';
  if (!fields.length) return `<figure data-chart="fields" data-empty="true"><figcaption>${esc(caption)}</figcaption><p class="good">No failing example.</p></figure>`;
  const shown = fields.slice(0, 25);
  const labelW = 200;
  const plot = W - labelW - RIGHT - 30;
  const rowH = 22;
  const top = 6;
  const height = top + shown.length * rowH + 6;
  const max = Math.max(...shown.map((f) => f.total));
  const label = `${caption}. ${shown.map((f) => `${fieldName(f.field)}: ${f.total} (${FAILURE_KINDS.filter((k) => f.byKind[k]).map((k) => `${k} ${f.byKind[k]!.length}`).join(', ')})`).join('; ')}.`;
  const parts = [svgOpen('fields', height, label)];
  shown.forEach((f, i) => {
    const y = top + i * rowH;
    const who = FAILURE_KINDS.filter((k) => f.byKind[k]).map((k) => `${k}: ${f.byKind[k]!.map((x) => `${x.example} (${x.quantization})`).join(', ')}`).join('\n');
    parts.push(`<g data-field="${esc(f.field)}" data-total="${f.total}"><title>${esc(`${fieldName(f.field)} — ${f.total} failing\n${who}`)}</title>`);
    const name = fieldName(f.field);
    parts.push(`<text x="${labelW - 8}" y="${y + 15}" text-anchor="end" class="mono">${esc(name.length > 30 ? `…${name.slice(-29)}` : name)}</text>`);
    let x = labelW;
    for (const k of FAILURE_KINDS) {
      const n = f.byKind[k]?.length ?? 0;
      if (!n) continue;
      const w = (n / max) * plot;
      parts.push(`<rect class="k-${k}" data-kind="${k}" data-count="${n}" x="${num(x)}" y="${y + 3}" width="${num(Math.max(1, w - 1))}" height="${rowH - 6}"/>`);
      x += w;
    }
    parts.push(`<text x="${num(x + 6)}" y="${y + 15}">${f.total}</text></g>`);
  });
  parts.push('</svg>');
  const kinds = FAILURE_KINDS.filter((k) => fields.some((f) => f.byKind[k]));
  const lists = shown
    .map((f, i) => {
      const items = FAILURE_KINDS.filter((k) => f.byKind[k]).map((k) => `<li><span class="swatch sw-${k}"></span>${k}: ${f.byKind[k]!.map((x) => `${esc(x.example)} <span class="muted">(${esc(x.quantization)})</span>`).join(', ')}</li>`);
      return `<details id="${id}-field-${i}" data-field="${esc(f.field)}"><summary><code>${esc(fieldName(f.field))}</code> — ${f.total} failing</summary><ul class="examples">${items.join('')}</ul></details>`;
    })
    .join('');
  const more = fields.length > shown.length ? `<p class="muted">${fields.length - shown.length} more fields not shown.</p>` : '';
  return `<figure><figcaption>${esc(caption)}</figcaption>${legend(kinds)}${parts.join('')}${lists}${more}</figure>`;
}

function driftFigure(m: { quantizations: string[]; cells: DriftCell[] }, reference: string | undefined, maxDrift: number | undefined): string {
  const n = m.quantizations.length;
  const cw = 84;
  const ch = 34;
  const labelW = 90;
  const top = 22;
  const width = labelW + n * cw + 10;
  const height = top + n * ch + 6;
  const caption = 'Drift: share of examples whose output differs between two quantizations (row vs column)';
  const off = m.cells.filter((c) => c.row !== c.col && c.row < c.col);
  const label = `${caption}. ${off.map((c) => `${c.row} vs ${c.col}: ${c.share === undefined ? 'not compared' : `${c.differing.length}/${c.compared} differ`}`).join('; ')}${maxDrift !== undefined ? `. Budget maxDrift ${pct(maxDrift)} against the reference ${reference ?? ''}` : ''}.`;
  const parts = [`<svg class="chart" data-chart="drift" role="img" aria-label="${esc(label)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" preserveAspectRatio="xMinYMin meet"><title>${esc(label)}</title>`];
  m.quantizations.forEach((q, i) => {
    parts.push(`<text x="${labelW + i * cw + cw / 2}" y="${top - 8}" text-anchor="middle">${esc(q)}${q === reference ? ' (ref)' : ''}</text>`);
    parts.push(`<text x="${labelW - 8}" y="${top + i * ch + ch / 2 + 4}" text-anchor="end">${esc(q)}</text>`);
  });
  for (const c of m.cells) {
    const i = m.quantizations.indexOf(c.row);
    const j = m.quantizations.indexOf(c.col);
    const x = labelW + j * cw;
    const y = top + i * ch;
    const diag = c.row === c.col;
    const over = !diag && maxDrift !== undefined && c.share !== undefined && (c.row === reference || c.col === reference) && c.share > maxDrift + 1e-12;
    const text = diag ? '—' : c.share === undefined ? 'n/a' : `${pct(c.share)}`;
    const title = diag ? `${c.row}` : `${c.row} vs ${c.col}: ${c.share === undefined ? 'nothing could be compared' : `${c.differing.length}/${c.compared} examples differ${c.differing.length ? `: ${c.differing.join(', ')}` : ''}`}${over ? ` (above maxDrift ${pct(maxDrift!)})` : ''}`;
    parts.push(`<g data-row="${esc(c.row)}" data-col="${esc(c.col)}"${c.share !== undefined && !diag ? ` data-share="${num(c.share)}"` : ''}><title>${esc(title)}</title>`);
    if (!diag && c.share) parts.push(`<rect class="cell" x="${x + 1}" y="${y + 1}" width="${cw - 2}" height="${ch - 2}" fill-opacity="${num(0.12 + 0.78 * c.share)}"/>`);
    parts.push(`<rect class="${over ? 'cell-over' : 'cell-frame'}" x="${x + 1}" y="${y + 1}" width="${cw - 2}" height="${ch - 2}"/>`);
    parts.push(`<text x="${x + cw / 2}" y="${y + ch / 2 + 4}" text-anchor="middle"${diag ? ' class="muted"' : ''}>${esc(text)}${!diag && c.share !== undefined ? ` (${c.differing.length}/${c.compared})` : ''}</text></g>`);
  }
  parts.push('</svg>');
  return `<figure><figcaption>${esc(caption)}${maxDrift !== undefined ? `; red frame: above maxDrift ${esc(pct(maxDrift))}` : ''}</figcaption>${parts.join('')}</figure>`;
}

function examplesTable(c: ReportContract, qs: string[], id: string): string {
  const names = [...new Set(c.examples.map((e) => e.name))];
  const at = new Map(c.examples.map((e) => [`${e.quantization}\u0000${e.name}`, e]));
  const rows = names.map((name) => {
    const cells = qs.map((q) => {
      const e = at.get(`${q}\u0000${name}`);
      if (!e) return '<td class="muted">—</td>';
      const cls = e.status === 'pass' ? 'good' : NOT_JUDGED.has(e.status) ? 'muted' : 'bad';
      const lat = e.cached ? 'cached' : e.latencyMs?.length ? fmtMs(median(e.latencyMs)!) : '';
      const why = e.status === 'pass' ? '' : (e.problems ?? []).map((p) => `${p.pointer || '/'}: ${p.message}`).join('; ') || e.message || '';
      return `<td><span class="${cls}">${esc(e.status)}</span>${lat ? ` <span class="muted">${esc(lat)}</span>` : ''}${why ? `<div class="muted">${esc(why)}</div>` : ''}</td>`;
    });
    return `<tr><td>${esc(name)}</td>${cells.join('')}</tr>`;
  });
  return `<details id="${id}-examples"><summary>Every example (${names.length})</summary><div class="wide"><table><thead><tr><th>Example</th>${qs.map((q) => `<th class="mono">${esc(q)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table></div></details>`;
}
