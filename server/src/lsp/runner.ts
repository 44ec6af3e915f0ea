import { ResponseError } from 'vscode-languageserver/node';
import type { CheckResult } from '../core/check';
import { ContractsErrorCodes, type RunExamplesParams, type RunExamplesResult, type RunProgressParams } from '../protocol';
import type { Settings } from '../settings';

/** One run request, with the server's cached check of the document's current version. */
export interface RunRequest {
  params: RunExamplesParams;
  check: CheckResult;
  /** The contract's file path (undefined for untitled documents). */
  file?: string;
  /** The workspace folder that holds it. */
  workspaceRoot?: string;
  settings: Settings;
}

/** Runs a contract's examples on the model. The runtime provides the real one. */
export interface ExampleRunner {
  run(request: RunRequest, signal: AbortSignal, progress: (p: RunProgressParams) => void): Promise<RunExamplesResult>;
}

export const RUNTIME_UNAVAILABLE_MESSAGE =
  'Running examples is not available yet: the model runtime is not wired into contracts-language-server (contracts/runExamples has no runner). Static checks work; runs will come with the runtime.';

/** Until the runtime is wired: every run fails with a clear error. */
export const UNAVAILABLE_RUNNER: ExampleRunner = {
  run: () => Promise.reject(new ResponseError(ContractsErrorCodes.RuntimeUnavailable, RUNTIME_UNAVAILABLE_MESSAGE)),
};
