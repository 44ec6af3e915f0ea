/**
 * Where editor features read the latest run of an example. The language server's run service
 * fills it after each example; hovers, lenses and diagnostics read it. Pure: no I/O.
 *
 * Every result is filed under a key: a hash of everything that determines it (the prompt
 * templates, the example's input and expected value, the output schema and the files it refers
 * to, match and ignore, the model section, the run section, and the settings that choose the
 * model file), computed from the check of the version the run started on. A result whose key
 * differs from the key the current version gives is stale: shown as such, never as current.
 */
import { createHash } from 'node:crypto';
import type { CheckResult } from './check';
import type { VerdictKind } from './verdict';

export interface ExampleLastRun {
  /** The verdict: pass, schema-mismatch, wrong-value, invalid-json, truncated, error, skipped... */
  status: string;
  quantization?: string;
  /** The output as JSON text or a short description of it. */
  output?: unknown;
  latencyMs?: number;
  ttftMs?: number;
  /** When it ran (ISO 8601). */
  at?: string;
  /** Why it failed, in one line. */
  message?: string;
  /** The prompt, schema, model settings or the example changed since it ran. */
  stale?: boolean;
}

export type RunVerdictKind = VerdictKind;

/** A difference from `expected` (the runtime's FieldDiff). */
export interface RunDiff {
  /** JSON Pointer into `expected`. */
  pointer: string;
  /** JSON Pointer into the output, when it differs from `pointer`. */
  actualPointer?: string;
  kind: 'missing' | 'unexpected' | 'different' | 'unmatched-item';
  expected?: unknown;
  actual?: unknown;
}

/** A schema error of the output (the runtime's SchemaErrorDetail). */
export interface RunSchemaError {
  /** JSON Pointer into the output. */
  pointer: string;
  keyword: string;
  message: string;
}

export interface RunTimingSummary {
  ttftMs: number;
  totalMs: number;
  outputTokens: number;
  tokensPerSecond: number;
  promptTokens?: number;
  reusedPromptTokens?: number;
}

/** One example's latest result, as the language server keeps it. */
export interface ExampleRun {
  example: string;
  /** The key of the version it ran on (see RunResults.keysOf). */
  key: string;
  verdict: RunVerdictKind;
  /** One line for people. */
  message: string;
  diffs?: RunDiff[];
  schemaErrors?: RunSchemaError[];
  /** The raw generated text. */
  output?: string;
  /** The parsed output (absent when it was not JSON). */
  parsed?: unknown;
  stopReason?: string;
  /** The output came from the results cache (not generated again). */
  cached: boolean;
  /** The first measured run; for a cached verdict, the last measured run with the same key. */
  timing?: RunTimingSummary;
  /** `timing` was measured by an earlier run (this verdict came from the cache). */
  timingFromEarlierRun?: boolean;
  /** Total latency of every measured run (more than one with `run.repeat`). */
  latencies: number[];
  ttfts: number[];
  model: { label: string; quantization: string; synthetic: boolean };
  /** When it ran (ISO 8601). */
  at: string;
}

/** A run that stopped before judging anything (the model could not be had, the grammar failed...). */
export interface ContractRunFailure {
  /** The contract-level key (model section and model settings) of the version it ran on. */
  key: string;
  reason: string;
  at: string;
}

export interface ExampleRunView {
  run: ExampleRun;
  stale: boolean;
}

/** The results of one contract, judged against a version's check. */
export interface ContractRuns {
  /** By example name; only examples that have a result. */
  examples: Map<string, ExampleRunView>;
  failure?: { failure: ContractRunFailure; stale: boolean };
}

export interface ResultsStore {
  /** The latest run of the named example of the contract at `uri`, if any. */
  lastRun(uri: string, example: string): ExampleLastRun | undefined;
  /** The results of the contract at `uri`, each marked current or stale against `check`. */
  runsOf?(uri: string, check: CheckResult): ContractRuns | undefined;
}

export const EMPTY_RESULTS: ResultsStore = { lastRun: () => undefined };

export interface RunKeys {
  /** Example name → key. */
  examples: Map<string, string>;
  /** Key of what a contract-level failure depends on (the model section and model settings). */
  contract: string;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function hash(parts: unknown): string {
  // Key order is kept on purpose: the decoding grammar emits properties in the order they are written.
  return createHash('sha256').update(JSON.stringify(parts) ?? 'undefined').digest('hex').slice(0, 32);
}

/** The keys of a check's examples. `context` is what the settings add (the model file they choose). */
export function runKeys(check: CheckResult, context: unknown): RunKeys {
  const v = isObj(check.value) ? check.value : {};
  const output = isObj(v.output) ? v.output : {};
  const externals = check.prepared ? [...check.prepared.externals.values()].map((e) => [e.file, e.schema]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))) : [];
  const contract = hash({ model: v.model ?? null, context });
  const common = hash({ contract, prompt: v.prompt ?? null, schema: output.schema ?? null, externals, match: output.match ?? null, ignore: output.ignore ?? null, run: v.run ?? null });
  const examples = new Map<string, string>();
  for (const ex of check.examples) {
    if (ex.name === undefined || examples.has(ex.name)) continue;
    examples.set(ex.name, hash({ common, input: ex.input, expected: ex.hasExpected ? ex.expected : null }));
  }
  return { examples, contract };
}

const MAX_URIS = 500;

/** The language server's store: the latest result of each example of each contract, by URI. */
export class RunResults implements ResultsStore {
  private readonly byUri = new Map<string, { examples: Map<string, ExampleRun>; failure?: ContractRunFailure }>();
  private readonly keyCache = new WeakMap<CheckResult, { context: string; keys: RunKeys }>();

  /** `context`: the settings that choose the model (part of every key). */
  constructor(private readonly context: () => unknown = () => null) {}

  keysOf(check: CheckResult): RunKeys {
    const context = JSON.stringify(this.context() ?? null);
    const hit = this.keyCache.get(check);
    if (hit && hit.context === context) return hit.keys;
    const keys = runKeys(check, context);
    this.keyCache.set(check, { context, keys });
    return keys;
  }

  private entry(uri: string) {
    let e = this.byUri.get(uri);
    if (!e) {
      if (this.byUri.size >= MAX_URIS) this.byUri.delete(this.byUri.keys().next().value!);
      e = { examples: new Map() };
      this.byUri.set(uri, e);
    }
    return e;
  }

  /**
   * Files an example's result. A cached verdict has no latency of its own: it keeps the timing
   * of the previous result when that one had the same key.
   */
  record(uri: string, run: ExampleRun): ExampleRun {
    const e = this.entry(uri);
    const prev = e.examples.get(run.example);
    let stored = run;
    if (run.cached && !run.timing && prev && prev.key === run.key && prev.timing) {
      stored = { ...run, timing: prev.timing, timingFromEarlierRun: true, latencies: prev.latencies, ttfts: prev.ttfts };
    }
    e.examples.set(run.example, stored);
    return stored;
  }

  /** Files (or, with undefined, clears) the contract's run failure; true when that changed anything. */
  recordFailure(uri: string, failure: ContractRunFailure | undefined): boolean {
    const e = failure ? this.entry(uri) : this.byUri.get(uri);
    if (!e || (!failure && !e.failure)) return false;
    if (failure) e.failure = failure;
    else delete e.failure;
    return true;
  }

  latest(uri: string, example: string): ExampleRun | undefined {
    return this.byUri.get(uri)?.examples.get(example);
  }

  runsOf(uri: string, check: CheckResult): ContractRuns | undefined {
    const e = this.byUri.get(uri);
    if (!e) return undefined;
    const keys = this.keysOf(check);
    const examples = new Map<string, ExampleRunView>();
    for (const [name, run] of e.examples) {
      if (!keys.examples.has(name)) continue; // renamed or removed: dropped
      examples.set(name, { run, stale: keys.examples.get(name) !== run.key });
    }
    const out: ContractRuns = { examples };
    if (e.failure) out.failure = { failure: e.failure, stale: e.failure.key !== keys.contract };
    return out;
  }

  lastRun(uri: string, example: string): ExampleLastRun | undefined {
    const r = this.latest(uri, example);
    if (!r) return undefined;
    const last: ExampleLastRun = { status: r.verdict, quantization: r.model.quantization, at: r.at, message: r.message };
    if (r.parsed !== undefined) last.output = r.parsed;
    else if (r.output !== undefined) last.output = r.output;
    if (r.timing) {
      last.latencyMs = r.timing.totalMs;
      last.ttftMs = r.timing.ttftMs;
    }
    return last;
  }
}
