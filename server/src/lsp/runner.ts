import { ResponseError } from 'vscode-languageserver/node';
import { ContractsErrorCodes, type RunExamplesParams, type RunExamplesResult, type RunProgressParams } from '../protocol';

/** Runs a contract's examples on the model. The runtime provides the real one. */
export interface ExampleRunner {
  run(params: RunExamplesParams, signal: AbortSignal, progress: (p: RunProgressParams) => void): Promise<RunExamplesResult>;
}

export const RUNTIME_UNAVAILABLE_MESSAGE =
  'Running examples is not available yet: the model runtime is not wired into contracts-language-server (contracts/runExamples has no runner). Static checks work; runs will come with the runtime.';

/** Until the runtime is wired: every run fails with a clear error. */
export const UNAVAILABLE_RUNNER: ExampleRunner = {
  run: () => Promise.reject(new ResponseError(ContractsErrorCodes.RuntimeUnavailable, RUNTIME_UNAVAILABLE_MESSAGE)),
};
