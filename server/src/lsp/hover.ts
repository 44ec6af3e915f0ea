import { MarkupKind, type Hover, type HoverParams } from 'vscode-languageserver/node';
import { hoverAt } from '../core/hover';
import type { ServerContext } from './context';

export function hover(ctx: ServerContext, params: HoverParams): Hover | null {
  const a = ctx.docs.analysisOf(params.textDocument.uri);
  if (!a) return null;
  const r = a.result;
  const h = hoverAt(r, r.lines.offset(params.position), { uri: a.uri, results: ctx.results });
  return h ? { contents: { kind: MarkupKind.Markdown, value: h.markdown }, range: r.lines.range(h.start, h.end) } : null;
}
