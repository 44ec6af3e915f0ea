import { ErrorCodes, ResponseError } from 'vscode-languageserver/node';
import { exportDataset, toJsonl } from '../core/dataset';
import { isFailure } from '../core/verdict';
import type { ExportDatasetParams, ExportDatasetResult } from '../protocol';
import type { ServerContext } from './context';

/** `contracts/exportDataset`: the core's export of the open contract, optionally without the examples its current results fail. */
export function exportDatasetRequest(ctx: ServerContext, params: ExportDatasetParams): ExportDatasetResult {
  if (!params || typeof params.uri !== 'string') throw new ResponseError(ErrorCodes.InvalidParams, 'contracts/exportDataset needs { uri }');
  const a = ctx.docs.analysisOf(params.uri);
  if (!a) throw new ResponseError(ErrorCodes.InvalidParams, `${params.uri} is not an open contract`);
  const check = a.result;
  const errors = check.findings.filter((f) => f.severity === 'error').length;
  if (!check.contract || errors) throw new ResponseError(ErrorCodes.InvalidParams, `the contract has ${errors || 'structural'} error${errors === 1 ? '' : 's'}; fix ${errors === 1 ? 'it' : 'them'} before exporting`);
  const contract = check.contract;
  const runs = ctx.results.runsOf?.(a.uri, check);
  const failed = (name: string) => {
    const v = runs?.examples.get(name);
    return v !== undefined && !v.stale && isFailure(v.run.verdict);
  };
  const failing = contract.examples.filter((e) => !e.skip && failed(e.name)).map((e) => e.name);
  const kept = params.includeFailing === false ? contract.examples.filter((e) => !e.skip && !failing.includes(e.name)).map((e) => e.name) : undefined;
  const rows = exportDataset(contract, kept ? { examples: kept } : {});
  return { uri: a.uri, contract: contract.contract, jsonl: toJsonl(rows), rows: rows.length, failing };
}
