import { MarkupKind, type Hover, type HoverParams } from 'vscode-languageserver/node';
import { hoverAt } from '../core/hover';
import { runHoverAt } from '../core/run-findings';
import type { ServerContext } from './context';

export function hover(ctx: ServerContext, params: HoverParams): Hover | null {
  const a = ctx.docs.analysisOf(params.textDocument.uri);
  if (!a) return null;
  const r = a.result;
  const offset = r.lines.offset(params.position);
  const runs = ctx.results.runsOf?.(a.uri, r);
  // With run views the last run gets its own section (state, timings, output); the core's one-line summary is for stores without them.
  const h = hoverAt(r, offset, runs ? { uri: a.uri } : { uri: a.uri, results: ctx.results });
  const run = runHoverAt(r, offset, runs);
  const drift = ctx.drift.viewOf(a.uri, r)?.hover(offset);
  if (!h && !run && !drift) return null;
  const markdown = [h?.markdown, run?.markdown, drift].filter((m): m is string => m !== undefined).join('\n\n---\n\n');
  const [start, end] = h ? [h.start, h.end] : run ? [run.start, run.end] : [offset, offset];
  return { contents: { kind: MarkupKind.Markdown, value: markdown }, range: r.lines.range(start, end) };
}
