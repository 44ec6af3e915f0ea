import type { CodeLens, CodeLensParams } from 'vscode-languageserver/node';
import { codeLenses } from '../core/lenses';
import { Commands, type RunAllArgs, type RunExampleArgs } from '../protocol';
import type { ServerContext } from './context';

export function lenses(ctx: ServerContext, params: CodeLensParams): CodeLens[] | null {
  const a = ctx.docs.analysisOf(params.textDocument.uri);
  if (!a) return null;
  const r = a.result;
  return codeLenses(r).map((l) => {
    const range = r.lines.range(l.start, l.end);
    if (l.action.kind === 'runAll') {
      const args: RunAllArgs = { uri: a.uri };
      return { range, command: { title: l.title, command: Commands.runAll, arguments: [args] } };
    }
    const args: RunExampleArgs = { uri: a.uri, example: l.action.example };
    return { range, command: { title: l.title, command: Commands.runExample, arguments: [args] } };
  });
}
