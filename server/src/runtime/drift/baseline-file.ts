import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CheckResult } from '../../core/check';
import {
  baselineFileName,
  buildBaseline,
  compareWithBaseline,
  parseBaseline,
  schemaHash,
  serializeBaseline,
  sha256,
  type Baseline,
  type BaselineComparison,
  type BaselineModelRecord,
  type BaselineRunInput,
  type MachineRecord,
} from '../../core/drift-baseline';
import type { ContractRunResult } from '../engine';
import { renderPrompt } from '../prompt';
import type { RunnerModelInfo } from '../runner';
import { fileSha256 } from './model-facts';
import { writeFileAtomic } from '../../node-host';

/** Reading, writing and comparing `<name>.baseline.json` next to a contract (the format is core/drift-baseline.ts). */

export function baselinePath(contractFile: string): string {
  return path.join(path.dirname(contractFile), baselineFileName(path.basename(contractFile)));
}

export type BaselineRead = { status: 'missing'; file: string } | { status: 'invalid'; file: string; message: string } | { status: 'ok'; file: string; baseline: Baseline };

/** Reads the baseline next to a contract. A missing file is not an error; a bad one is a message, never a throw. */
export function readBaseline(contractFile: string): BaselineRead {
  const file = baselinePath(contractFile);
  let text: string;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return { status: 'invalid', file, message: 'the baseline path is not a regular file' };
    if (st.size > 64 * 1024 * 1024) return { status: 'invalid', file, message: `the baseline is ${Math.round(st.size / 1048576)} MiB, far larger than any baseline this tool writes; it is not read` };
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') return { status: 'missing', file };
    return { status: 'invalid', file, message: `the baseline cannot be read: ${err.message}` };
  }
  const p = parseBaseline(text);
  return p.ok ? { status: 'ok', file, baseline: p.baseline } : { status: 'invalid', file, message: p.message };
}

export function machineRecord(): MachineRecord {
  const cpus = os.cpus();
  return { cpu: (cpus[0]?.model ?? 'unknown').trim(), cores: Math.max(1, os.availableParallelism?.() ?? cpus.length), platform: `${process.platform}-${process.arch}` };
}

/** A model file's identity: its name and the sha256 of its content (a scripted runner: of its identity string). */
export async function modelRecord(info: RunnerModelInfo): Promise<BaselineModelRecord> {
  let isFile = false;
  let size = 0;
  try {
    const st = fs.statSync(info.path);
    isFile = st.isFile();
    size = st.size;
  } catch {
    // not a file (scripted runner)
  }
  const known = /^sha256:([0-9a-f]{64})$/.exec(info.identity)?.[1];
  return {
    file: isFile ? path.basename(info.path) : info.path,
    sha256: known ?? (isFile ? await fileSha256(info.path) : sha256(info.identity)),
    sizeBytes: size,
    label: info.label,
    synthetic: info.synthetic,
  };
}

export function runInput(r: ContractRunResult): BaselineRunInput {
  return {
    decoding: r.decoding,
    ...(r.passRate !== undefined ? { passRate: r.passRate } : {}),
    ...(r.latency ? { latency: { p50: r.latency.p50, p95: r.latency.p95, n: r.latency.n } } : {}),
    examples: r.examples.map((e) => ({ name: e.name, index: e.index, ...(e.output !== undefined ? { output: e.output } : {}), verdict: e.verdict.kind, ...(e.latency ? { latencyP50: e.latency.p50 } : {}) })),
  };
}

function renderedHashes(check: CheckResult): string[] {
  const c = check.contract!;
  return c.examples.map((ex) => sha256(renderPrompt(c.prompt, ex.input).text));
}

function schemaHashOf(check: CheckResult): string {
  const p = check.prepared;
  const externals = p ? [...p.externals.values()].map((e) => e.schema) : [];
  return schemaHash(p?.schema ?? check.contract?.output.schema, externals);
}

/** Writes the baseline for the runs given (atomically: a temporary file, then rename). */
export async function writeBaseline(check: CheckResult, contractFile: string, runs: Record<string, ContractRunResult>, reference: string, tool: string): Promise<{ file: string; baseline: Baseline }> {
  const contract = check.contract;
  if (!contract) throw new Error('the contract could not be read');
  const models: Record<string, BaselineModelRecord> = {};
  const inputs: Record<string, BaselineRunInput> = {};
  for (const [q, r] of Object.entries(runs)) {
    if (!r.model || (r.status !== 'pass' && r.status !== 'fail')) continue;
    models[q] = await modelRecord(r.model);
    inputs[q] = runInput(r);
  }
  if (!inputs[reference]) throw new Error(`the reference ${reference} did not run, so there is nothing to record`);
  const baseline = buildBaseline({ contract, renderedPromptHashes: renderedHashes(check), schemaHash: schemaHashOf(check), reference, runs: inputs, models, machine: machineRecord(), tool, createdAt: new Date().toISOString() });
  const file = baselinePath(contractFile);
  writeFileAtomic(file, serializeBaseline(baseline));
  return { file, baseline };
}

export type BaselineCheck = { status: 'missing'; file: string } | { status: 'invalid'; file: string; message: string } | { status: 'compared'; file: string; comparison: BaselineComparison };

/** Compares runs (one per quantization) with the baseline next to the contract, if there is one. Never throws. */
export async function checkAgainstBaseline(check: CheckResult, contractFile: string, runs: readonly ContractRunResult[]): Promise<BaselineCheck> {
  const read = readBaseline(contractFile);
  if (read.status !== 'ok') return read;
  const contract = check.contract;
  if (!contract) return { status: 'invalid', file: read.file, message: 'the contract could not be read' };
  try {
    const current = [];
    for (const r of runs) {
      if (!r.model || (r.status !== 'pass' && r.status !== 'fail')) continue;
      current.push({ quantization: r.quantization, model: await modelRecord(r.model), run: runInput(r) });
    }
    const comparison = compareWithBaseline(read.baseline, { contract, renderedPromptHashes: renderedHashes(check), schemaHash: schemaHashOf(check), machine: machineRecord(), runs: current });
    return { status: 'compared', file: read.file, comparison };
  } catch (e) {
    return { status: 'invalid', file: read.file, message: `the baseline could not be compared: ${(e as Error).message}` };
  }
}
