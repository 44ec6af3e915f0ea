import { CodeActionKind, type CodeAction, type CodeActionParams, type Diagnostic, type TextEdit } from 'vscode-languageserver/node';
import { acceptOutputEdit } from '../core/accept-output';
import type { CheckResult } from '../core/check';
import type { ContractRuns } from '../core/results-store';
import { ACCEPT_ACTUAL_OUTPUT_TITLE, ClientSideCommands, DIAGNOSTIC_SOURCE, type AcceptActualOutputArgs } from '../protocol';
import type { ServerContext } from './context';

export const CODE_ACTION_KINDS = [CodeActionKind.QuickFix];

/** What the client said it can do with code actions (initializationOptions.clientCommands). */
export interface CodeActionClient {
  /** The client shows the diff and asks before applying (`contracts.acceptActualOutput`). */
  previewsAcceptOutput: boolean;
}

function exampleOf(d: Diagnostic): string | undefined {
  if (d.source !== DIAGNOSTIC_SOURCE || d.code !== 'run-wrong-value') return undefined;
  const e = (d.data as { example?: unknown } | undefined)?.example;
  return typeof e === 'string' ? e : undefined;
}

/** The example's current (not stale) output that could become its expected value. */
function acceptable(check: CheckResult, runs: ContractRuns | undefined, name: string): { index: number; output: unknown } | undefined {
  const view = runs?.examples.get(name);
  if (!view || view.stale || view.run.parsed === undefined) return undefined;
  const matches = check.examples.filter((e) => e.name === name);
  if (matches.length !== 1) return undefined; // duplicate names: which one ran is unclear
  const ex = matches[0]!;
  // Only a wrong value: an output that breaks the schema would make a broken expected value.
  return view.run.verdict === 'wrong-value' ? { index: ex.index, output: view.run.parsed } : undefined;
}

/**
 * `textDocument/codeAction`: "Accept actual output as expected" on a wrong-value run diagnostic
 * whose result is current (an example without `expected` never has one: the contract would not
 * run, and removing `expected` makes its result stale). The edit comes from the core; a client
 * that previews it gets a command, any other client the edit itself.
 */
export function codeActions(ctx: ServerContext, params: CodeActionParams, client: CodeActionClient): CodeAction[] | null {
  const only = params.context.only;
  if (only && !only.some((k) => k === CodeActionKind.QuickFix || k === CodeActionKind.Empty)) return null;
  const a = ctx.docs.analysisOf(params.textDocument.uri);
  if (!a || !a.result.source) return null;
  const check = a.result;
  const runs = ctx.results.runsOf?.(a.uri, check);
  if (!runs) return null;

  const wanted = new Map<string, Diagnostic[]>();
  for (const d of params.context.diagnostics) {
    const name = exampleOf(d);
    if (name !== undefined) wanted.set(name, [...(wanted.get(name) ?? []), d]);
  }

  const out: CodeAction[] = [];
  for (const [name, diagnostics] of wanted) {
    const found = acceptable(check, runs, name);
    if (!found) continue;
    const offsets = acceptOutputEdit(check, found.index, found.output);
    if (!offsets) continue;
    const edit: TextEdit = { range: check.lines.range(offsets.start, offsets.end), newText: offsets.newText };
    const title = wanted.size > 1 ? `${ACCEPT_ACTUAL_OUTPUT_TITLE} ("${name}")` : ACCEPT_ACTUAL_OUTPUT_TITLE;
    const action: CodeAction = { title, kind: CodeActionKind.QuickFix, diagnostics, isPreferred: true };
    if (client.previewsAcceptOutput) {
      const args: AcceptActualOutputArgs = { uri: a.uri, version: a.version, example: name, edit };
      action.command = { title, command: ClientSideCommands.acceptActualOutput, arguments: [args] };
    } else {
      action.edit = { changes: { [a.uri]: [edit] } };
    }
    out.push(action);
  }
  return out;
}
