import type { CheckResult } from '../core/check';
import type { CompareQuantizationsParams, CompareQuantizationsResult, RunExamplesParams, RunExamplesResult, RunProgressParams } from '../protocol';
import type { Settings } from '../settings';

/** One run request, with the server's cached check of the document's current version. */
export interface RunRequest {
  params: RunExamplesParams;
  /** The check of the version the run starts from: the run uses it to the end, edits or not. */
  check: CheckResult;
  /** The contract's file path (undefined for untitled documents). */
  file?: string;
  /** The workspace folder that holds it (relative trace and cache folders are inside it). */
  workspaceRoot?: string;
  settings: Settings;
}

/**
 * Runs a contract's examples on the model. The server's RunService (run-service.ts) is the real
 * one; `startServer({ runner })` replaces it.
 */
export interface ExampleRunner {
  run(request: RunRequest, signal: AbortSignal, progress: (p: RunProgressParams) => void): Promise<RunExamplesResult>;
}

/** One comparison request (drift between the contract's quantizations). */
export interface CompareRequest extends Omit<RunRequest, 'params'> {
  params: CompareQuantizationsParams;
}

/** Compares a contract's quantizations (the RunService does; a test runner may not). */
export interface QuantizationComparer {
  compare(request: CompareRequest, signal: AbortSignal): Promise<CompareQuantizationsResult>;
}
