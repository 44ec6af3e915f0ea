/** `contracts run --report FILE.html`: the engine's results as the report model core/report-html.ts draws. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { renderReportHtml, type ReportContract, type ReportExample, type ReportModel } from '../core/report-html';
import type { ContractRunResult, ExampleResult } from '../runtime/engine';
import { writeFileAtomic } from '../node-host';
import type { LoadedContract } from './command-common';

function modelLabel(r: ContractRunResult): string | undefined {
  if (!r.model) return undefined;
  return `${r.model.label}${r.model.synthetic && !/SYNTHETIC/i.test(r.model.label) ? ' (SYNTHETIC)' : ''}`;
}

export function reportExample(e: ExampleResult, r: ContractRunResult): ReportExample {
  const problems = [
    ...(e.verdict.schemaErrors ?? []).map((s) => ({ pointer: s.pointer, message: s.message })),
    ...(e.verdict.diffs ?? []).map((d) => ({ pointer: d.pointer, message: d.kind === 'different' ? `expected ${JSON.stringify(d.expected)}, got ${JSON.stringify(d.actual)}` : d.kind })),
  ];
  const label = modelLabel(r);
  const measured = e.cached ? [] : e.runs;
  const tps = measured[0]?.tokensPerSecond;
  return {
    name: e.name,
    quantization: r.model?.quantization ?? r.quantization,
    status: e.verdict.kind,
    message: e.verdict.message,
    ...(problems.length ? { problems } : {}),
    latencyMs: measured.map((x) => x.totalMs),
    ttftMs: measured.map((x) => x.ttftMs),
    ...(tps !== undefined ? { tokensPerSecond: tps } : {}),
    cached: e.cached,
    ...(e.output !== undefined ? { output: e.output } : {}),
    ...(label ? { model: label } : {}),
    ...(r.model?.synthetic ? { synthetic: true } : {}),
  };
}

/**
 * One section per contract: every quantization that ran (the reference and, when the contract
 * lists several and drift ran, the candidates), budgets and ignore pointers from the contract.
 */
export function runReportModel(
  loaded: readonly LoadedContract[],
  results: ReadonlyMap<string, ContractRunResult>,
  drift: { runs(file: string): ContractRunResult[] | undefined; failed(file: string): boolean } | undefined,
  now: Date,
): ReportModel {
  const contracts = loaded.map((l): ReportContract => {
    const c = l.check?.contract;
    const r = results.get(l.abs);
    const base = { name: c?.contract ?? l.file, file: l.file, ...(c?.budgets ? { budgets: c.budgets } : {}), ...(c ? { ignore: c.output.ignore, quantizations: c.model.quantizations } : {}) };
    if (!r) return { ...base, status: 'not-run', reason: l.unreadable ?? 'not run: the contract has static errors (contracts check shows them)', examples: [] };
    const runs = drift?.runs(l.abs) ?? [r];
    const status = r.status === 'pass' && drift?.failed(l.abs) ? 'fail' : r.status;
    const reasons = runs.filter((x) => x.reason).map((x) => (runs.length > 1 ? `${x.quantization}: ${x.reason}` : x.reason!));
    return { ...base, status, ...(reasons.length ? { reason: reasons.join('; ') } : {}), examples: runs.flatMap((x) => x.examples.map((e) => reportExample(e, x))) };
  });
  return { title: 'Prompt Contracts report', source: 'contracts run', generatedAt: now.toISOString(), contracts };
}

/** The folder a report goes to must exist (it is not created); undefined when it does, else why not. */
export function reportPathProblem(file: string): string | undefined {
  const dir = path.dirname(file);
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    return `--report: the folder ${dir} does not exist`;
  }
  if (!st.isDirectory()) return `--report: ${dir} is not a folder`;
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) return `--report: ${file} is a folder; name an .html file`;
  return undefined;
}

/** Writes the page next to its destination and renames it there, so a reader never sees half a file. */
export function writeHtmlReport(file: string, model: ReportModel): void {
  writeFileAtomic(file, renderReportHtml(model));
}
