/**
 * The editor's run results (`contracts/runExamples` answers and progress) as the report model that
 * server/src/core/report-html.ts draws, with the budgets, ignore pointers and quantization order
 * read from the contract's text. Pure: no vscode.
 */
import * as path from 'node:path';
import { isMap, isSeq, isScalar, parseDocument } from 'yaml';
import type { ReportBudgets, ReportContract, ReportExample, ReportModel } from '../../server/src/core/report-html';
import type { ExampleRunResult, RunExamplesResult } from '../../server/src/protocol';
import { summarize } from './results-memory';

export interface ContractFacts {
  contract?: string;
  budgets?: ReportBudgets;
  ignore?: string[];
  quantizations?: string[];
}

const BUDGET_KEYS = ['passRate', 'p50Ms', 'p95Ms', 'ttftP95Ms', 'maxDrift'] as const;

/** What the report needs from a contract's text, as far as it parses (never throws). */
export function contractFacts(text: string): ContractFacts {
  const out: ContractFacts = {};
  let root: unknown;
  try {
    root = parseDocument(text, { uniqueKeys: false, prettyErrors: false }).contents;
  } catch {
    return out;
  }
  if (!isMap(root)) return out;
  const contract = root.get('contract');
  if (typeof contract === 'string') out.contract = contract;
  const budgets = root.get('budgets');
  if (isMap(budgets)) {
    const b: ReportBudgets = {};
    for (const k of BUDGET_KEYS) {
      const v = budgets.get(k);
      if (typeof v === 'number' && Number.isFinite(v)) b[k] = v;
    }
    if (Object.keys(b).length) out.budgets = b;
  }
  const strings = (node: unknown): string[] | undefined => (isSeq(node) ? node.items.flatMap((i) => (isScalar(i) && typeof i.value === 'string' ? [i.value] : [])) : undefined);
  const output = root.get('output');
  const ignore = isMap(output) ? strings(output.get('ignore')) : undefined;
  if (ignore) out.ignore = ignore;
  const model = root.get('model');
  const quantizations = isMap(model) ? strings(model.get('quantizations')) : undefined;
  if (quantizations) out.quantizations = quantizations;
  return out;
}

export function reportExampleOf(r: ExampleRunResult): ReportExample {
  return {
    name: r.example,
    quantization: r.quantization,
    status: r.status,
    ...(r.message !== undefined ? { message: r.message } : {}),
    ...(r.problems ? { problems: r.problems } : {}),
    // The server sends each example's median latency; a cached verdict has none.
    latencyMs: !r.cached && r.latencyMs !== undefined ? [r.latencyMs] : [],
    ttftMs: !r.cached && r.ttftMs !== undefined ? [r.ttftMs] : [],
    ...(r.tokensPerSecond !== undefined ? { tokensPerSecond: r.tokensPerSecond } : {}),
    cached: !!r.cached,
    ...(r.raw !== undefined ? { output: r.raw } : {}),
    ...(r.model !== undefined ? { model: r.model } : {}),
    ...(r.synthetic ? { synthetic: true } : {}),
  };
}

const key = (r: ExampleRunResult) => `${r.quantization}\u0000${r.example}`;

/**
 * The finished runs with the examples of runs still going on top (`live`: uri → results so far), so
 * the report moves as each example finishes.
 */
export function withLive(finished: readonly RunExamplesResult[], live: ReadonlyMap<string, readonly ExampleRunResult[]>, nameOf: (uri: string) => string): RunExamplesResult[] {
  const out = new Map(finished.map((r) => [r.uri, r]));
  for (const [uri, results] of live) {
    if (!results.length) continue;
    const before = out.get(uri);
    const merged = new Map((before?.results ?? []).map((r) => [key(r), r]));
    for (const r of results) merged.set(key(r), r);
    const all = [...merged.values()];
    out.set(uri, { uri, contract: before?.contract ?? nameOf(uri), results: all, summary: summarize(all) });
  }
  return [...out.values()].sort((a, b) => a.contract.localeCompare(b.contract));
}

/** The workspace report: one section per contract with results in this window. */
export function workspaceReportModel(results: readonly RunExamplesResult[], facts: (uri: string) => (ContractFacts & { file?: string }) | undefined, now: Date): ReportModel {
  const contracts = results.map((res): ReportContract => {
    const f = facts(res.uri) ?? {};
    return {
      name: res.contract,
      ...(f.file ? { file: f.file } : {}),
      ...(res.reason ? { reason: res.reason } : {}),
      ...(f.budgets ? { budgets: f.budgets } : {}),
      ...(f.ignore ? { ignore: f.ignore } : {}),
      ...(f.quantizations ? { quantizations: f.quantizations } : {}),
      examples: res.results.map(reportExampleOf),
    };
  });
  return { title: 'Prompt Contracts report', source: 'this window\'s latest results', generatedAt: now.toISOString(), contracts };
}

/** A contract's name before its first run finishes: its file name without `.contract.yaml`. */
export function nameFromUri(uri: string): string {
  return path.posix.basename(decodeURIComponent(uri.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, ''))).replace(/\.contract\.ya?ml$/, '');
}
