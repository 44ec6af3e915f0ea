import { ErrorCodes, ResponseError, type CancellationToken, type ExecuteCommandParams } from 'vscode-languageserver/node';
import { Commands, RunProgressNotification, type CompareQuantizationsParams, type CompareQuantizationsResult, type RunExamplesParams, type RunExamplesResult } from '../protocol';
import type { ServerContext } from './context';
import type { CompareRequest, RunRequest } from './runner';
import { uriToPath } from './workspace';

export const COMMANDS: string[] = Object.values(Commands);

function abortSignal(token: CancellationToken): AbortSignal {
  const controller = new AbortController();
  if (token.isCancellationRequested) controller.abort();
  else token.onCancellationRequested(() => controller.abort());
  return controller.signal;
}

/** `contracts/runExamples`: validates the request against the open document, then hands it to the runner. */
export async function runExamples(ctx: ServerContext, params: RunExamplesParams, token: CancellationToken): Promise<RunExamplesResult> {
  if (!params || typeof params.uri !== 'string') throw new ResponseError(ErrorCodes.InvalidParams, 'contracts/runExamples needs { uri }');
  const a = ctx.docs.analysisOf(params.uri);
  if (!a) throw new ResponseError(ErrorCodes.InvalidParams, `${params.uri} is not an open contract`);
  const names = new Set(a.result.examples.map((e) => e.name));
  const unknown = (params.examples ?? []).filter((n) => !names.has(n));
  if (unknown.length) throw new ResponseError(ErrorCodes.InvalidParams, `no example named ${unknown.map((n) => JSON.stringify(n)).join(', ')} in ${params.uri}`);
  const file = uriToPath(a.uri);
  const request: RunRequest = { params, check: a.result, settings: ctx.settings.current };
  if (file) request.file = file;
  const root = ctx.workspace.rootFor(file);
  if (root) request.workspaceRoot = root;
  return ctx.runner.run(request, abortSignal(token), (p) => void ctx.connection.sendNotification(RunProgressNotification, p));
}

export function executeCommand(ctx: ServerContext, params: ExecuteCommandParams, token: CancellationToken): Promise<RunExamplesResult | CompareQuantizationsResult> {
  const arg = (params.arguments?.[0] ?? {}) as { uri?: unknown; example?: unknown };
  if (params.command === Commands.recompareQuantizations) {
    if (typeof arg.uri !== 'string') return Promise.reject(new ResponseError(ErrorCodes.InvalidParams, `${params.command} needs an argument { uri }`));
    return compareQuantizations(ctx, { uri: arg.uri }, token);
  }
  if (params.command !== Commands.runAll && params.command !== Commands.runExample) {
    return Promise.reject(new ResponseError(ErrorCodes.InvalidParams, `unknown command ${params.command}`));
  }
  if (typeof arg.uri !== 'string') return Promise.reject(new ResponseError(ErrorCodes.InvalidParams, `${params.command} needs an argument { uri${params.command === Commands.runExample ? ', example' : ''} }`));
  if (params.command === Commands.runAll) return runExamples(ctx, { uri: arg.uri }, token);
  if (typeof arg.example !== 'string') return Promise.reject(new ResponseError(ErrorCodes.InvalidParams, `${Commands.runExample} needs an argument { uri, example }`));
  return runExamples(ctx, { uri: arg.uri, examples: [arg.example] }, token);
}

/** `contracts/compareQuantizations`: drift between the contract's quantizations, on the open document. */
export async function compareQuantizations(ctx: ServerContext, params: CompareQuantizationsParams, token: CancellationToken): Promise<CompareQuantizationsResult> {
  if (!params || typeof params.uri !== 'string') throw new ResponseError(ErrorCodes.InvalidParams, 'contracts/compareQuantizations needs { uri }');
  const a = ctx.docs.analysisOf(params.uri);
  if (!a) throw new ResponseError(ErrorCodes.InvalidParams, `${params.uri} is not an open contract`);
  if (!ctx.comparer) throw new ResponseError(ErrorCodes.InternalError, 'this server runs without a model runtime');
  if (a.result.findings.some((f) => f.severity === 'error') || !a.result.contract) return { uri: a.uri, status: 'not-run', lines: [], reason: 'the contract has static errors; fix them before comparing' };
  const file = uriToPath(a.uri);
  const request: CompareRequest = { params, check: a.result, settings: ctx.settings.current };
  if (file) request.file = file;
  const root = ctx.workspace.rootFor(file);
  if (root) request.workspaceRoot = root;
  return ctx.comparer.compare(request, abortSignal(token));
}
