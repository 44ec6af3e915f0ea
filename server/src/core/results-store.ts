/**
 * Where editor features read the latest run of an example. The runtime fills it after each run;
 * until then the store is empty and hovers and lenses show static information only.
 */

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
}

export interface ResultsStore {
  /** The latest run of the named example of the contract at `uri`, if any. */
  lastRun(uri: string, example: string): ExampleLastRun | undefined;
}

export const EMPTY_RESULTS: ResultsStore = { lastRun: () => undefined };
