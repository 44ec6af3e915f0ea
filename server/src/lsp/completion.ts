import { CompletionItemKind, MarkupKind, type CompletionItem, type CompletionList, type CompletionParams } from 'vscode-languageserver/node';
import { completionsAt, type CompletionKind } from '../core/completion';
import type { ServerContext } from './context';

const KIND: Record<CompletionKind, CompletionItemKind> = {
  property: CompletionItemKind.Property,
  value: CompletionItemKind.Value,
  enum: CompletionItemKind.EnumMember,
  placeholder: CompletionItemKind.Variable,
  keyword: CompletionItemKind.Keyword,
};

export const COMPLETION_TRIGGERS = ['{', ' '];

export function completion(ctx: ServerContext, params: CompletionParams): CompletionList | null {
  const a = ctx.docs.analysisOf(params.textDocument.uri);
  if (!a) return null;
  const r = a.result;
  const items = completionsAt(r, r.lines.offset(params.position)).map((c): CompletionItem => {
    const item: CompletionItem = { label: c.label, kind: KIND[c.kind], textEdit: { range: r.lines.range(c.start, c.end), newText: c.insertText } };
    if (c.detail) item.detail = c.detail;
    if (c.documentation) item.documentation = { kind: MarkupKind.Markdown, value: c.documentation };
    if (c.sortText) item.sortText = c.sortText;
    if (c.kind === 'enum' || c.kind === 'value') item.filterText = c.insertText;
    return item;
  });
  return { isIncomplete: false, items };
}
