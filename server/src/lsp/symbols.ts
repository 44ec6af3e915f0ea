import { SymbolKind, type DocumentSymbol, type DocumentSymbolParams } from 'vscode-languageserver/node';
import type { CheckResult } from '../core/check';
import { documentSymbols, type ContractSymbol, type SymbolKind as CoreKind } from '../core/symbols';
import type { ServerContext } from './context';

const KIND: Record<CoreKind, SymbolKind> = {
  contract: SymbolKind.Module,
  section: SymbolKind.Namespace,
  list: SymbolKind.Array,
  example: SymbolKind.Object,
  field: SymbolKind.String,
};

function convert(s: ContractSymbol, r: CheckResult): DocumentSymbol {
  const d: DocumentSymbol = { name: s.name || '(unnamed)', kind: KIND[s.kind], range: r.lines.range(s.start, s.end), selectionRange: r.lines.range(s.selStart, s.selEnd), children: s.children.map((c) => convert(c, r)) };
  if (s.detail) d.detail = s.detail;
  return d;
}

export function symbols(ctx: ServerContext, params: DocumentSymbolParams): DocumentSymbol[] | null {
  const a = ctx.docs.analysisOf(params.textDocument.uri);
  if (!a) return null;
  return documentSymbols(a.result).map((s) => convert(s, a.result));
}
