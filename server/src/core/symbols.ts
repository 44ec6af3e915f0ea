import type { Node } from 'yaml';
import type { CheckResult } from './check';
import { isMap, isScalar, isSeq, locate, nodeRange } from './yaml-source';

export type SymbolKind = 'contract' | 'section' | 'list' | 'example' | 'field';

export interface ContractSymbol {
  name: string;
  detail?: string;
  kind: SymbolKind;
  /** The whole construct. */
  start: number;
  end: number;
  /** What to reveal and select: its key or name. Inside [start, end]. */
  selStart: number;
  selEnd: number;
  children: ContractSymbol[];
}

const SECTIONS = ['description', 'model', 'prompt', 'output', 'examples', 'budgets', 'run'];

function sym(name: string, kind: SymbolKind, range: [number, number], sel: [number, number], children: ContractSymbol[] = [], detail?: string): ContractSymbol {
  const start = Math.min(range[0], sel[0]);
  const end = Math.max(range[1], sel[1]);
  const s: ContractSymbol = { name, kind, start, end, selStart: sel[0], selEnd: sel[1], children };
  if (detail) s.detail = detail;
  return s;
}

/** The outline: the contract, its sections, and each example by name. */
export function documentSymbols(r: CheckResult): ContractSymbol[] {
  const src = r.source;
  const root = src?.doc.contents as Node | null | undefined;
  if (!src || !isMap(root)) return [];
  const rootRange = nodeRange(root);
  if (!rootRange) return [];
  const children: ContractSymbol[] = [];
  for (const pair of root.items) {
    const key = pair.key as Node | null;
    const name = isScalar(key) ? String(key.value) : undefined;
    if (name === undefined || !SECTIONS.includes(name)) continue;
    const kr = nodeRange(key)!;
    const value = pair.value as Node | null;
    const vr = nodeRange(value) ?? kr;
    const range: [number, number] = [kr[0], vr[1]];
    if (name === 'examples' && isSeq(value)) {
      const items = value.items.flatMap((item, i) => {
        const ir = nodeRange(item as Node);
        if (!ir) return [];
        const ex = r.examples[i];
        const nameNode = locate(src, ['examples', i, 'name']).node;
        const nr = nodeRange(nameNode) ?? [ir[0], ir[0]];
        const raw = isMap(item) ? (item.get('description') as unknown) : undefined;
        return [sym(ex?.name ?? `example ${i + 1}`, 'example', ir, nr, [], typeof raw === 'string' ? raw : undefined)];
      });
      children.push(sym(name, 'list', range, kr, items, `${value.items.length} example${value.items.length === 1 ? '' : 's'}`));
    } else if (name === 'prompt' && isMap(value)) {
      const parts = value.items.flatMap((p) => {
        const k = p.key as Node | null;
        const pk = nodeRange(k);
        if (!pk || !isScalar(k)) return [];
        return [sym(String(k.value), 'field', [pk[0], nodeRange(p.value as Node)?.[1] ?? pk[1]], pk)];
      });
      children.push(sym(name, 'section', range, kr, parts));
    } else if (name !== 'description') children.push(sym(name, 'section', range, kr));
  }
  const contractNode = locate(src, ['contract']);
  const nameRange = nodeRange(contractNode.node) ?? nodeRange(contractNode.key) ?? [rootRange[0], rootRange[0]];
  const contractName = r.contract?.contract ?? (isScalar(contractNode.node) ? String(contractNode.node.value) : 'contract');
  const desc = isMap(root) ? root.get('description') : undefined;
  return [sym(contractName, 'contract', [0, Math.max(rootRange[1], r.text.length)], nameRange, children, typeof desc === 'string' ? desc : undefined)];
}
