/**
 * Baselines: what a contract's examples answered, per quantization, recorded in
 * `<name>.baseline.json` next to the contract and committed, so that a later run (a PR that edits
 * the prompt) can say which answers changed. Pure: text and plain data in, plain data out; the
 * runtime reads and writes the file and computes the model files' hashes.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Contract } from './contract-schema';
import { change, compareOutputs, signedPct, type Change, type DriftFieldDiff, type LatencyChange } from './drift-compare';
import { VERDICT_KINDS, type VerdictKind } from './verdict';

export const BASELINE_FORMAT = 'prompt-contracts-baseline';
export const BASELINE_VERSION = 1;
export const BASELINE_SUFFIX = '.baseline.json';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 in hex (64 characters)');
const ms = z.number().nonnegative();
const Latency = z.strictObject({ p50: ms, p95: ms, n: z.number().int().min(1) });

const BaselineExample = z.strictObject({
  name: z.string().min(1),
  /** sha256 of the rendered prompt (system + user turn) this output answered. */
  promptHash: sha256Hex,
  /** Raw output; null when the example was not run (skipped). */
  output: z.string().nullable(),
  verdict: z.enum(VERDICT_KINDS),
  /** Median of the measured runs; null when the output came from the cache. */
  latencyMs: ms.nullable(),
});

const BaselineModel = z.strictObject({
  /** File name only: paths differ between machines. */
  file: z.string(),
  sha256: sha256Hex,
  sizeBytes: z.number().int().nonnegative(),
  label: z.string(),
  synthetic: z.boolean(),
});

const BaselineQuantization = z.strictObject({
  model: BaselineModel,
  decoding: z.enum(['constrained', 'free']),
  passRate: z.number().min(0).max(1).nullable(),
  /** Over every measured run; null when every output came from the cache. */
  latency: Latency.nullable(),
  examples: z.array(BaselineExample),
});

const Machine = z.strictObject({ cpu: z.string(), cores: z.number().int().min(1), platform: z.string() });

export const BaselineSchema = z.strictObject({
  format: z.literal(BASELINE_FORMAT),
  version: z.literal(BASELINE_VERSION),
  contract: z.string(),
  tool: z.string(),
  createdAt: z.string(),
  machine: Machine,
  hashes: z.strictObject({ prompt: sha256Hex, schema: sha256Hex }),
  reference: z.string(),
  quantizations: z.record(z.string(), BaselineQuantization),
});

export type Baseline = z.output<typeof BaselineSchema>;
export type BaselineQuantizationRecord = z.output<typeof BaselineQuantization>;
export type BaselineModelRecord = z.output<typeof BaselineModel>;
export type MachineRecord = z.output<typeof Machine>;

// --- hashes ------------------------------------------------------------------------------------------

function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as Record<string, unknown>)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The prompt templates (system and user), as written. */
export function promptHash(contract: Pick<Contract, 'prompt'>): string {
  return sha256(stable({ system: contract.prompt.system ?? null, user: contract.prompt.user }));
}

/** The output schema with the files it refers to (key order does not matter). */
export function schemaHash(schema: unknown, externals: readonly unknown[] = []): string {
  return sha256(stable({ schema, externals }));
}

// --- reading -------------------------------------------------------------------------------------------

export type BaselineParse = { ok: true; baseline: Baseline } | { ok: false; message: string };

function pointerOf(path: readonly PropertyKey[]): string {
  return path.length ? '/' + path.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/') : '/';
}

/** Parses and validates a baseline file's text. Never throws: a bad file yields a message saying what is wrong and what to do. */
export function parseBaseline(text: string): BaselineParse {
  const fix = 'run `contracts run --update-baseline` to write it again';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, message: `the baseline is corrupt: it is not valid JSON (${(e as Error).message}); ${fix}` };
  }
  if (!value || typeof value !== 'object' || Array.isArray(value) || (value as { format?: unknown }).format !== BASELINE_FORMAT) {
    return { ok: false, message: `this is not a Prompt Contracts baseline (no "format": "${BASELINE_FORMAT}"); ${fix}` };
  }
  const version = (value as { version?: unknown }).version;
  if (typeof version === 'number' && version > BASELINE_VERSION) {
    return { ok: false, message: `the baseline was written by a newer Prompt Contracts (format version ${version}; this one reads version ${BASELINE_VERSION}); update the tool, or ${fix}` };
  }
  const r = BaselineSchema.safeParse(value);
  if (!r.success) {
    const issues = r.error.issues;
    const first = issues[0]!;
    return { ok: false, message: `the baseline does not match its format (edited by hand or damaged): ${pointerOf(first.path)} ${first.message}${issues.length > 1 ? ` (+${issues.length - 1} more)` : ''}; ${fix}` };
  }
  const b = r.data;
  if (!Object.prototype.hasOwnProperty.call(b.quantizations, b.reference)) {
    return { ok: false, message: `the baseline names ${JSON.stringify(b.reference)} as its reference but records no such quantization (edited by hand or damaged); ${fix}` };
  }
  for (const [q, rec] of Object.entries(b.quantizations)) {
    const seen = new Set<string>();
    for (const e of rec.examples) {
      if (seen.has(e.name)) return { ok: false, message: `the baseline records example ${JSON.stringify(e.name)} twice under ${q} (edited by hand or damaged); ${fix}` };
      seen.add(e.name);
    }
  }
  return { ok: true, baseline: b };
}

// --- writing ---------------------------------------------------------------------------------------------

/** One quantization's run, as much of it as a baseline records. */
export interface BaselineRunInput {
  decoding: 'constrained' | 'free';
  passRate?: number;
  latency?: { p50: number; p95: number; n: number };
  examples: readonly { name: string; index: number; output?: string; verdict: VerdictKind; latencyP50?: number }[];
}

export interface BuildBaselineInput {
  contract: Pick<Contract, 'contract' | 'prompt' | 'examples'>;
  /** sha256 of each example's rendered prompt, by example index. */
  renderedPromptHashes: readonly string[];
  schemaHash: string;
  reference: string;
  runs: Readonly<Record<string, BaselineRunInput>>;
  models: Readonly<Record<string, BaselineModelRecord>>;
  machine: MachineRecord;
  tool: string;
  createdAt: string;
}

/** Latencies to 0.1 ms: more digits are noise, and noise in a committed file is diff churn. */
function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

export function buildBaseline(input: BuildBaselineInput): Baseline {
  const quantizations: Record<string, BaselineQuantizationRecord> = {};
  for (const [q, run] of Object.entries(input.runs)) {
    const model = input.models[q];
    if (!model) throw new Error(`no model identity for ${q}`);
    quantizations[q] = {
      model,
      decoding: run.decoding,
      passRate: run.passRate ?? null,
      latency: run.latency ? { p50: round1(run.latency.p50), p95: round1(run.latency.p95), n: run.latency.n } : null,
      examples: run.examples.map((e) => ({
        name: e.name,
        promptHash: input.renderedPromptHashes[e.index] ?? sha256(''),
        output: e.output ?? null,
        verdict: e.verdict,
        latencyMs: e.latencyP50 !== undefined ? round1(e.latencyP50) : null,
      })),
    };
  }
  return {
    format: BASELINE_FORMAT,
    version: BASELINE_VERSION,
    contract: input.contract.contract,
    tool: input.tool,
    createdAt: input.createdAt,
    machine: input.machine,
    hashes: { prompt: promptHash(input.contract), schema: input.schemaHash },
    reference: input.reference,
    quantizations,
  };
}

/** The file's text: two-space JSON, keys in a fixed order, a final newline (stable diffs in review). */
export function serializeBaseline(b: Baseline): string {
  return JSON.stringify(b, null, 2) + '\n';
}

/** `specialist-triage.contract.yaml` → `specialist-triage.baseline.json` (same folder). */
export function baselineFileName(contractFileName: string): string {
  return contractFileName.replace(/\.contract\.ya?ml$/i, '').replace(/\.ya?ml$/i, '') + BASELINE_SUFFIX;
}

// --- comparing ---------------------------------------------------------------------------------------------

export interface CurrentRun {
  quantization: string;
  model: BaselineModelRecord;
  run: BaselineRunInput;
}

export interface CompareBaselineInput {
  contract: Pick<Contract, 'contract' | 'prompt' | 'examples' | 'output'>;
  renderedPromptHashes: readonly string[];
  schemaHash: string;
  machine: MachineRecord;
  runs: readonly CurrentRun[];
}

export type BaselineExampleStatus = 'same' | 'changed' | 'new' | 'not-run';

export interface BaselineExampleChange {
  name: string;
  /** Index in the current contract. */
  index: number;
  status: BaselineExampleStatus;
  /** The example's rendered prompt differs from the one the baseline answered. */
  promptChanged: boolean;
  verdict: { baseline?: VerdictKind; current: VerdictKind };
  /** Fields that changed (reference = baseline, candidate = current). */
  diffs: DriftFieldDiff[];
  baselineOutput?: string;
  currentOutput?: string;
}

export interface BaselineQuantComparison {
  quantization: string;
  /** not-in-baseline: the baseline has no record of this quantization. */
  status: 'compared' | 'not-in-baseline';
  /** The baseline's model file is this one (same sha256). */
  sameModel: boolean;
  /** Why latency was not compared, or a warning about the outputs. */
  notes: string[];
  latency?: LatencyChange;
  passRate?: Change;
  compared: number;
  changed: number;
  examples: BaselineExampleChange[];
  /** Examples the baseline has and the contract no longer does. */
  removed: string[];
}

export interface BaselineComparison {
  contract: string;
  createdAt: string;
  promptChanged: boolean;
  schemaChanged: boolean;
  warnings: string[];
  quantizations: BaselineQuantComparison[];
}

function sameMachine(a: MachineRecord, b: MachineRecord): boolean {
  return a.cpu === b.cpu && a.cores === b.cores && a.platform === b.platform;
}

export function compareWithBaseline(b: Baseline, cur: CompareBaselineInput): BaselineComparison {
  const warnings: string[] = [];
  if (b.contract !== cur.contract.contract) warnings.push(`the baseline was written for contract ${JSON.stringify(b.contract)}, not ${JSON.stringify(cur.contract.contract)}; examples are matched by name`);
  const promptChanged = b.hashes.prompt !== promptHash(cur.contract);
  const schemaChanged = b.hashes.schema !== cur.schemaHash;
  const machineSame = sameMachine(b.machine, cur.machine);
  const quantizations: BaselineQuantComparison[] = [];
  for (const r of cur.runs) {
    const rec = b.quantizations[r.quantization];
    if (!rec) {
      quantizations.push({ quantization: r.quantization, status: 'not-in-baseline', sameModel: false, notes: [`the baseline has no record of ${r.quantization}`], compared: 0, changed: 0, examples: [], removed: [] });
      continue;
    }
    const notes: string[] = [];
    const sameModel = rec.model.sha256 === r.model.sha256;
    if (!sameModel) notes.push(`the baseline is from another model file (${rec.model.file}, ${rec.model.label}, sha256 ${rec.model.sha256.slice(0, 12)}…; now ${r.model.file}, sha256 ${r.model.sha256.slice(0, 12)}…): latencies are not compared, and outputs may differ because the model did`);
    if (rec.decoding !== r.run.decoding) notes.push(`the baseline decoded ${rec.decoding}, this run ${r.run.decoding}: outputs may differ for that reason`);
    let latency: LatencyChange | undefined;
    if (!sameModel) latency = { unmeasured: 'another model file' };
    else if (!machineSame) latency = { unmeasured: `the baseline was measured on another machine (${b.machine.cpu}, ${b.machine.cores} cores)` };
    else if (!rec.latency || !r.run.latency) latency = { unmeasured: !rec.latency ? 'the baseline has no measured latency (its outputs came from the cache)' : 'this run measured no latency (outputs from the cache; --no-cache measures)' };
    else latency = { p50: change(rec.latency.p50, r.run.latency.p50)!, p95: change(rec.latency.p95, r.run.latency.p95)! };
    if (latency.unmeasured && sameModel && machineSame) notes.push(`latency not compared: ${latency.unmeasured}`);
    const byName = new Map(rec.examples.map((e) => [e.name, e]));
    const examples: BaselineExampleChange[] = [];
    let compared = 0;
    let changed = 0;
    for (const e of r.run.examples) {
      const old = byName.get(e.name);
      const promptNow = cur.renderedPromptHashes[e.index];
      const current = { ...(e.output !== undefined ? { output: e.output } : {}), verdict: e.verdict };
      if (!old) {
        examples.push({ name: e.name, index: e.index, status: 'new', promptChanged: false, verdict: { current: e.verdict }, diffs: [], ...(e.output !== undefined ? { currentOutput: e.output } : {}) });
        continue;
      }
      const cmp = compareOutputs({ ...(old.output !== null ? { output: old.output } : {}), verdict: old.verdict }, current, cur.contract.output.ignore);
      const status: BaselineExampleStatus = !cmp.comparable ? 'not-run' : cmp.differs || cmp.verdictChanged ? 'changed' : 'same';
      if (cmp.comparable) compared++;
      if (status === 'changed') changed++;
      examples.push({
        name: e.name,
        index: e.index,
        status,
        promptChanged: promptNow !== undefined && promptNow !== old.promptHash,
        verdict: { baseline: old.verdict, current: e.verdict },
        diffs: cmp.diffs,
        ...(old.output !== null ? { baselineOutput: old.output } : {}),
        ...(e.output !== undefined ? { currentOutput: e.output } : {}),
      });
    }
    const names = new Set(r.run.examples.map((e) => e.name));
    const passRate = change(rec.passRate ?? undefined, r.run.passRate);
    quantizations.push({
      quantization: r.quantization,
      status: 'compared',
      sameModel,
      notes,
      ...(latency ? { latency } : {}),
      ...(passRate ? { passRate } : {}),
      compared,
      changed,
      examples,
      removed: rec.examples.filter((e) => !names.has(e.name)).map((e) => e.name),
    });
  }
  return { contract: b.contract, createdAt: b.createdAt, promptChanged, schemaChanged, warnings, quantizations };
}

/** One line per quantization: `baseline (2026-11-27): F16 2/12 changed since baseline · prompt edited`. */
export function baselineLine(c: BaselineComparison, q: BaselineQuantComparison): string {
  if (q.status === 'not-in-baseline') return `baseline: no record of ${q.quantization}`;
  const parts = [`${q.quantization}: ${q.changed}/${q.compared} changed since baseline`];
  const added = q.examples.filter((e) => e.status === 'new').length;
  if (added) parts.push(`${added} new`);
  if (q.removed.length) parts.push(`${q.removed.length} removed`);
  if (c.promptChanged) parts.push('prompt edited');
  if (c.schemaChanged) parts.push('schema edited');
  if (!q.sameModel) parts.push('other model file');
  if (q.latency?.p95?.relative !== undefined) parts.push(`${signedPct(q.latency.p95.relative)} p95`);
  return parts.join(' · ');
}
