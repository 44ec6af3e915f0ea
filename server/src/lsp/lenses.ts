import type { CodeLens, CodeLensParams } from 'vscode-languageserver/node';
import { codeLenses } from '../core/lenses';
import { contractLensTitle, exampleLensTitle } from '../core/run-findings';
import { Commands, type RecompareQuantizationsArgs, type RunAllArgs, type RunExampleArgs } from '../protocol';
import type { ServerContext } from './context';

export function lenses(ctx: ServerContext, params: CodeLensParams): CodeLens[] | null {
  const a = ctx.docs.analysisOf(params.textDocument.uri);
  if (!a) return null;
  const r = a.result;
  const runs = ctx.results.runsOf?.(a.uri, r);
  const recompare: RecompareQuantizationsArgs = { uri: a.uri };
  const drift: CodeLens[] = (ctx.drift.viewOf(a.uri, r)?.lenses ?? []).map((l) => ({ range: r.lines.range(l.start, l.end), command: { title: l.title, command: Commands.recompareQuantizations, arguments: [recompare], tooltip: `${l.tooltip ? `${l.tooltip}\n\n` : ''}Click to compare the quantizations again` } }));
  return [...drift, ...codeLenses(r).map((l) => {
    const range = r.lines.range(l.start, l.end);
    if (l.action.kind === 'runAll') {
      const args: RunAllArgs = { uri: a.uri };
      const title = runs ? contractLensTitle(r, runs) : l.title;
      return { range, command: { title, command: Commands.runAll, arguments: [args], ...(title !== l.title ? { tooltip: 'Run all examples again' } : {}) } };
    }
    const args: RunExampleArgs = { uri: a.uri, example: l.action.example };
    const view = runs?.examples.get(l.action.example);
    const title = view ? exampleLensTitle(view) : l.title;
    return { range, command: { title, command: Commands.runExample, arguments: [args], ...(view ? { tooltip: 'Run this example again' } : {}) } };
  })];
}
